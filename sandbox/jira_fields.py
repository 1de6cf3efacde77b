"""Jira field values: REST input -> canonical value, changelog items, JQL documents.

Canonical values kept in `Issue.fields`: summary str; description ADF doc or None;
issuetype/status/priority names; labels list; assignee/reporter user name or None;
parent issue key or None; dates "YYYY-MM-DD"; story points a number; datetimes for
created/updated/statuscategorychangedate.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sandbox.jira_catalog import CATEGORIES, FIELDS, ISSUE_TYPES, PRIORITIES, STATUSES
from sandbox.validation import (
    FieldError,
    adf_required,
    adf_to_text,
    check_date,
    check_labels,
    check_number,
    string_required,
    text_to_adf,
)

if TYPE_CHECKING:
    from sandbox.jira_state import Issue, JiraState

DATE_FIELDS = {"duedate", "customfield_10015"}
USER_FIELDS = {"assignee", "reporter"}


def _not_settable(field_id: str) -> FieldError:
    reason = "It is not on the appropriate screen, or unknown."
    return FieldError({field_id: f"Field '{field_id}' cannot be set. {reason}"})


def _by_name_or_id(value: Any, table: Mapping[str, Any], field_id: str, id_of) -> str:
    if isinstance(value, Mapping):
        if value.get("name") in table:
            return value["name"]
        for name in table:
            if "id" in value and str(value["id"]) == id_of(name):
                return name
    raise FieldError({field_id: f"Specify a valid '{field_id}' id or name"})


def coerce(state: JiraState, field_id: str, value: Any, api_version: int) -> Any:
    if field_id == "summary":
        if not isinstance(value, str) or not value.strip():
            raise FieldError({"summary": "You must specify a summary of the issue."})
        if "\n" in value:
            raise FieldError(
                {"summary": "The summary is invalid because it contains newline characters."}
            )
        return value
    if field_id == "description":
        if api_version >= 3:
            return adf_required(value, field_id)
        value = string_required(value, field_id)
        return None if value is None else text_to_adf(value)
    if field_id == "labels":
        return check_labels(value if value is not None else [])
    if field_id in USER_FIELDS:
        if value is None:
            return None
        user = state.find_user(value) if isinstance(value, Mapping) else None
        if user is None:
            raise FieldError(
                {field_id: "Specified user does not exist or you do not have required permissions"}
            )
        return user["name"]
    if field_id == "priority":
        try:
            return _by_name_or_id(value, PRIORITIES, field_id, PRIORITIES.get)
        except FieldError:
            # the live refusal of a priority the site does not take, as reported from
            # Jira Cloud (community.developer.atlassian.com/t/98369)
            raise FieldError(
                {"priority": "Specify the Priority (name) in the string format"}
            ) from None
    if field_id == "issuetype":
        return _by_name_or_id(value, ISSUE_TYPES, field_id, lambda n: ISSUE_TYPES[n][0])
    if field_id == "parent":
        if value is None:
            return None
        ref = value.get("key") or value.get("id") if isinstance(value, Mapping) else None
        try:
            return state.get(ref).key
        except LookupError:
            raise FieldError({"parent": "Could not find issue by id or key."}) from None
    if field_id in DATE_FIELDS:
        return check_date(value, field_id)
    if field_id == "customfield_10016":
        return check_number(value, field_id)
    if field_id in state.extra_fields:
        return value
    raise _not_settable(field_id)


def coerce_all(state: JiraState, fields: dict[str, Any], api_version: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for field_id, value in fields.items():
        try:
            out[field_id] = coerce(state, field_id, value, api_version)
        except FieldError as exc:
            errors.update(exc.errors)
    if errors:
        raise FieldError(errors)
    return out


def apply_update(
    state: JiraState, issue: Issue, fields: dict[str, Any], update: dict[str, Any], api_version: int
) -> dict[str, Any]:
    """New canonical values from PUT's `fields` (set) and `update` (add/remove/set verbs)."""
    for locked in ("project", "status", "created", "updated"):
        if locked in fields:
            raise _not_settable(locked)
    new = coerce_all(state, fields, api_version)
    errors: dict[str, str] = {}
    for field_id, operations in update.items():
        if not isinstance(operations, list):
            errors[field_id] = "Operations must be a list"
            continue
        current = new.get(field_id, issue.fields.get(field_id))
        for op in operations:
            verb, value = next(iter(op.items())) if isinstance(op, Mapping) and op else ("", None)
            try:
                if field_id == "labels" and verb in ("add", "remove"):
                    label = check_labels([value])[0]
                    labels = list(current or [])
                    if verb == "add" and label not in labels:
                        labels.append(label)
                    if verb == "remove" and label in labels:
                        labels.remove(label)
                    current = labels
                elif verb == "set":
                    current = coerce(state, field_id, value, api_version)
                else:
                    errors[field_id] = f"Field '{field_id}' does not support operation '{verb}'"
                    break
            except FieldError as exc:
                errors.update(exc.errors)
                break
        new[field_id] = current
    if errors:
        raise FieldError(errors)
    return new


def _display(state: JiraState, field_id: str, value: Any) -> tuple[Any, Any]:
    """(raw, string) for a changelog item side, the way Jira writes them."""
    if value is None or value == []:
        return None, None
    if field_id in USER_FIELDS:
        user = state.user(value)
        return user["accountId"], user["displayName"]
    if field_id == "status":
        return STATUSES[value][0], value
    if field_id == "priority":
        return PRIORITIES[value], value
    if field_id == "issuetype":
        return ISSUE_TYPES[value][0], value
    if field_id == "parent":
        return str(state.get(value).id), value
    if field_id == "labels":
        return None, " ".join(value)
    if field_id in DATE_FIELDS:
        return value, f"{value} 00:00:00.0"
    if field_id == "description":
        return None, adf_to_text(value)
    if field_id in ("summary",):
        return None, value
    return None, str(value)


def changelog_items(
    state: JiraState, old: Mapping[str, Any], new: Mapping[str, Any]
) -> list[dict[str, Any]]:
    items = []
    for field_id, value in new.items():
        if field_id == "statuscategorychangedate" or old.get(field_id) == value:
            continue
        from_raw, from_str = _display(state, field_id, old.get(field_id))
        to_raw, to_str = _display(state, field_id, value)
        meta = FIELDS.get(field_id)
        custom = field_id.startswith("customfield_")
        name = (
            "IssueParentAssociation"
            if field_id == "parent"
            else (
                (meta[0] if meta else state.extra_fields.get(field_id, field_id))
                if custom
                else field_id
            )
        )
        item = {
            "field": name,
            "fieldtype": "custom" if custom else "jira",
            "fieldId": field_id,
            "from": from_raw,
            "fromString": from_str,
            "to": to_raw,
            "toString": to_str,
        }
        if field_id in USER_FIELDS:
            item["tmpFromAccountId"], item["tmpToAccountId"] = from_raw, to_raw
        items.append(item)
    return items


def jql_doc(issue: Issue) -> dict[str, list[str]]:
    f = issue.fields
    category = STATUSES[f["status"]][1]
    return {
        "project": [issue.project],
        "key": [issue.key],
        "issuetype": [f["issuetype"]],
        "status": [f["status"]],
        "statuscategory": [category, CATEGORIES[category][1]],
        "labels": list(f["labels"]),
        "assignee": [f["assignee"]] if f["assignee"] else ["empty"],
        "parent": [f["parent"]] if f["parent"] else [],
    }
