"""Atlassian Document Format: Atlassian's own JSON schema (`@atlaskit/adf-schema`,
`dist/json-schema/v1/full.json`, in `sandbox/specs/adf/` with its licence) and the check
the Jira sandbox and the tests run on every ADF document written."""

from __future__ import annotations

import functools
import json
from importlib.resources import files
from typing import Any

from jsonschema import Draft4Validator, ValidationError, validators

SCHEMA_PACKAGE = "@atlaskit/adf-schema"
SCHEMA_VERSION = "57.7.22"


@functools.cache
def schema() -> dict[str, Any]:
    text = files("sandbox").joinpath("specs/adf/full.json").read_text(encoding="utf-8")
    return json.loads(text)


@functools.cache
def _node_types(ref: str) -> frozenset[str] | None:
    """The node `type` values a `#/definitions/...` alternative accepts (None: any)."""
    if not ref.startswith("#/definitions/"):
        return None
    target = schema()["definitions"].get(ref.rsplit("/", 1)[1]) or {}
    enum = ((target.get("properties") or {}).get("type") or {}).get("enum")
    return frozenset(enum) if enum else None


def _any_of(validator: Any, alternatives: Any, instance: Any, _schema: Any) -> Any:
    """`anyOf` that skips the alternatives for other node types before descending.
    Same verdict as the standard keyword (an alternative whose `type` enum excludes the
    node fails on that property alone), but without validating a whole subtree against
    each of the schema's dozens of node kinds at every level, which is exponential."""
    kind = instance.get("type") if isinstance(instance, dict) else None
    errors: list[ValidationError] = []
    for index, alternative in enumerate(alternatives):
        types = _node_types(alternative.get("$ref", "")) if isinstance(alternative, dict) else None
        if isinstance(kind, str) and types is not None and kind not in types:
            continue
        found = list(validator.descend(instance, alternative, schema_path=index))
        if not found:
            return
        errors.extend(found)
    yield ValidationError(
        f"{instance!r} is not valid under any of the given schemas", context=errors
    )


_AdfValidator = validators.extend(Draft4Validator, {"anyOf": _any_of})


@functools.cache
def _validator() -> Any:
    return _AdfValidator(schema())


def _reach(error: ValidationError) -> tuple[int, bool]:
    """How far into the document an error (or its best alternative) got: the deepest
    is the most telling; at the same depth, "another node type" is the least."""
    if error.context:
        return max(_reach(e) for e in error.context)
    return len(error.absolute_path), error.validator != "enum"


def adf_problems(document: Any) -> list[str]:
    """Why `document` is not a valid ADF document; [] when it is. Each problem names the
    place (`content/2/content/0`) and the most specific reason the schema gives."""
    errors = list(_validator().iter_errors(document))
    if not errors:
        return []
    problems = []
    for error in errors:
        deepest = error
        while deepest.context:  # the alternative that got furthest into the node
            deepest = max(deepest.context, key=_reach)
        where = "/".join(str(p) for p in deepest.absolute_path) or "(document)"
        problems.append(f"{where}: {deepest.message[:200]}")
    return problems


def is_valid_adf(document: Any) -> bool:
    return _validator().is_valid(document)
