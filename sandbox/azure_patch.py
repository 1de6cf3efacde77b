"""JSON Patch for work items, with Azure DevOps' rules and error bodies.

`apply` changes `item` in place (callers pass a copy, so a failed document changes
nothing) and returns the changed field names, any System.History text and the relation
changes (including the reciprocal ends to update on the linked items).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sandbox.azure_catalog import (
    DATE_FIELDS,
    IDENTITY_FIELDS,
    KNOWN_FIELDS,
    NUMBER_FIELDS,
    PARENT,
    PRIORITY,
    PRIORITY_VALUES,
    READ_ONLY_FIELDS,
    RECIPROCAL,
    AzureError,
)

if TYPE_CHECKING:
    from sandbox.azure_state import AzureState, WorkItem

PATCH_TYPE = (
    "Microsoft.VisualStudio.Services.WebApi.Patch.{}, Microsoft.VisualStudio.Services.WebApi"
)
_ITEM_URL = re.compile(r"/_apis/wit/work[iI]tems/(\d+)$")


def _bad(message: str, type_key: str = "RuleValidationException") -> AzureError:
    return AzureError(400, message, type_key)


def normalise_tags(value: Any) -> str | None:
    """System.Tags as the service stores it: unique, sorted, "; "-separated."""
    if value is None:
        return None
    seen: dict[str, str] = {}
    for tag in str(value).split(";"):
        tag = tag.strip()
        if tag and tag.lower() not in seen:
            seen[tag.lower()] = tag
    return "; ".join(sorted(seen.values(), key=str.lower)) or None


def _coerce(state: AzureState, ref: str, value: Any) -> Any:
    if value is None or value == "":
        return None
    if ref == "System.Tags":
        return normalise_tags(value)
    if ref in IDENTITY_FIELDS:
        name = value.get("uniqueName") if isinstance(value, Mapping) else str(value)
        unique = state.resolve_identity(name or "")
        if unique is None:
            raise _bad(
                f"TF401320: Rule Error for field {ref.split('.')[-1]}. Error code: "
                f"InvalidIdentity. The identity value '{name}' is an unknown identity."
            )
        return unique
    if ref in NUMBER_FIELDS:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise _bad(f"TF401326: Invalid field value '{value}' for field '{ref}'.") from None
        if ref == PRIORITY and number not in PRIORITY_VALUES:
            # a value outside the field's allowed list breaks its LimitedToValues rule
            # (TF401320, as MicrosoftPremier/VstsExtensions#149 quotes it)
            raise _bad(
                "TF401320: Rule Error for field Priority. Error code: Required, HasValues, "
                "LimitedToValues, AllowsOldValue, InvalidEmpty."
            )
        return number
    if ref in DATE_FIELDS:
        try:
            parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise _bad(f"TF401326: Invalid field value '{value}' for field '{ref}'.") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        return parsed.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def _test(actual: Any, expected: Any, path: str) -> None:
    if str(actual) != str(expected):
        raise AzureError(
            412,
            f"VS403351: Test Operation for path {path} failed, value {actual} "
            f"was not equal to test value {expected}.",
            "TestPatchOperationFailedException",
            PATCH_TYPE.format("TestPatchOperationFailedException"),
        )


def _relation_target(state: AzureState, item: WorkItem, value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping) or not value.get("rel") or not value.get("url"):
        raise _bad(
            "TF401349: An unexpected error has occurred, please verify your request and try again.",
            "WorkItemLinkInvalidException",
        )
    rel = str(value["rel"])
    match = _ITEM_URL.search(str(value["url"]).rstrip("/"))
    if rel not in RECIPROCAL or match is None:
        return {
            "rel": rel,
            "url": str(value["url"]),
            "attributes": dict(value.get("attributes") or {}),
        }
    target = int(match.group(1))
    state.get(target)  # 404 when the linked item does not exist
    if target == item.id:
        raise _bad(
            "TF201036: You cannot add a link to the work item itself.",
            "WorkItemLinkInvalidException",
        )
    if rel == PARENT and any(r["rel"] == PARENT for r in item.relations):
        raise _bad(
            "TF201036: You cannot add a Parent link between work items "
            f"{item.id} and {target} because a work item can have only one Parent link.",
            "WorkItemLinkInvalidException",
        )
    if any(r.get("target") == target and r["rel"] == rel for r in item.relations):
        raise _bad(
            f"TF201035: The link to work item {target} already exists.",
            "WorkItemLinkInvalidException",
        )
    attributes = {"isLocked": False, **dict(value.get("attributes") or {})}
    return {"rel": rel, "target": target, "attributes": attributes}


def apply(
    state: AzureState, item: WorkItem, ops: list[Mapping[str, Any]], *, creating: bool = False
) -> tuple[dict[str, bool], str | None, dict[str, list]]:
    if not isinstance(ops, list) or not all(isinstance(o, Mapping) for o in ops):
        raise _bad(
            "You must pass a valid patch document in the body of the request.",
            "VssPropertyValidationException",
        )
    changes: dict[str, bool] = {}
    history: str | None = None
    relations: dict[str, list] = {"added": [], "removed": [], "reciprocal": []}
    known = KNOWN_FIELDS | state.extra_fields
    for op in ops:
        kind, path, value = str(op.get("op", "")).lower(), str(op.get("path", "")), op.get("value")
        if kind not in ("add", "replace", "remove", "test"):
            raise _bad(
                f"Operation '{kind}' is not supported on work items.",
                "VssPropertyValidationException",
            )
        if kind == "test":
            if path in ("/rev", "/id"):
                _test(item.rev if path == "/rev" else item.id, value, path)
            elif path.startswith("/fields/"):
                _test(item.fields.get(path[8:]), value, path)
            continue
        if path.startswith("/fields/"):
            ref = path[8:]
            if ref not in known:
                raise _bad(f"TF51535: Cannot find field {ref}.", "WorkItemFieldInvalidException")
            if ref in READ_ONLY_FIELDS and not creating:
                raise _bad(f"TF401326: Invalid field status 'ReadOnly' for field '{ref}'.")
            if ref == "System.History":
                history = None if kind == "remove" else str(value or "") or None
                if history:
                    item.fields[ref] = history
                    changes[ref] = True
                continue
            new = None if kind == "remove" else _coerce(state, ref, value)
            if ref == "System.Tags" and kind == "add" and new is not None:
                # The service merges an `add` on the tags into those already there; only
                # `replace` or `remove` takes a tag away.
                new = normalise_tags(f"{item.fields.get(ref) or ''};{new}")
            if item.fields.get(ref) != new:
                if new is None:
                    item.fields.pop(ref, None)
                else:
                    item.fields[ref] = new
                changes[ref] = True
        elif path == "/relations/-" and kind == "add":
            entry = _relation_target(state, item, value)
            item.relations.append(entry)
            relations["added"].append(entry)
            if "target" in entry:
                relations["reciprocal"].append((entry["target"], {"rel": RECIPROCAL[entry["rel"]]}))
        elif path.startswith("/relations/") and kind == "remove":
            try:
                entry = item.relations.pop(int(path.rsplit("/", 1)[-1]))
            except (ValueError, IndexError):
                raise _bad(
                    f"Invalid relation index in path '{path}'.", "VssPropertyValidationException"
                ) from None
            relations["removed"].append(entry)
            if "target" in entry:
                relations["reciprocal"].append(
                    (entry["target"], {"rel": RECIPROCAL[entry["rel"]], "remove": True})
                )
        else:
            raise _bad(
                f"The path '{path}' is not valid for operation '{kind}'.",
                "VssPropertyValidationException",
            )
    return changes, history, relations
