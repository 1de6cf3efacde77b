"""Jira `changelog.items` as `FieldChange`s under common-model names where they map."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from config.settings import TrackerConfig
from connector.errors import PayloadError
from connector.jira.item import (
    PARENT_FIELDS,
    as_date,
    as_mapping,
    as_number,
    field_ids,
    issue_ref,
    person_from,
)
from connector.model import FieldChange

# Changelog field ids/names (casefolded) -> common-model names; the tracker's field map
# is consulted first. Server and older Cloud items carry only the display name.
_SYSTEM_FIELDS: Mapping[str, str] = {
    "status": "status",
    "assignee": "assignee",
    "reporter": "reporter",
    "summary": "title",
    "description": "description",
    "labels": "labels",
    "priority": "priority",
    "issuetype": "type",
    "resolution": "resolution",
    "parent": "parent",
    "issueparentassociation": "parent",
    "epic link": "parent",
    "parent link": "parent",
    "link": "links",
}
# Display names Jira uses for the default estimate/start fields, for changelog items
# without a fieldId; only applied while those fields keep their defaults.
_DEFAULT_FIELD_NAMES = {
    "estimate": ("story points", "story point estimate"),
    "start_date": ("start date",),
}


def _changelog_names(tracker: TrackerConfig) -> dict[str, str]:
    names = dict(_SYSTEM_FIELDS)
    for name, aliases in _DEFAULT_FIELD_NAMES.items():
        if name not in tracker.fields:
            names.update(dict.fromkeys(aliases, name))
    for name, label in tracker.field_labels.items():  # found by name on this site
        names[label.casefold()] = "parent" if name in PARENT_FIELDS else name
    for name, field_id in field_ids(tracker).items():
        names[field_id.casefold()] = "parent" if name in PARENT_FIELDS else name
    return names


def _change_value(field: str, raw: Any, shown: Any, tracker: TrackerConfig) -> Any:
    if field == "labels":
        return tuple(str(shown or "").split())
    if field in ("assignee", "reporter"):
        return (
            person_from({"accountId": raw, "displayName": shown}, field) if raw or shown else None
        )
    if field == "parent":
        return issue_ref(tracker, shown or raw)
    if field in ("due_date", "start_date"):
        return as_date(raw) or as_date(shown)
    if field == "estimate":
        number = as_number(shown if shown is not None else raw)
        return number if number is not None else shown
    return shown if shown is not None else raw


def changes_from(payload: Mapping[str, Any], tracker: TrackerConfig) -> list[FieldChange]:
    """`FieldChange`s from `changelog.items`, under common-model names where they map."""
    changelog = as_mapping(payload.get("changelog"), "changelog")
    items = [] if changelog.get("items") is None else changelog["items"]
    if not isinstance(items, list):
        raise PayloadError("changelog.items must be a list")
    names = _changelog_names(tracker)
    changes = []
    for index, entry in enumerate(items):
        entry = as_mapping(entry, f"changelog.items[{index}]")
        ident = entry.get("fieldId") or entry.get("field")
        if not isinstance(ident, str):
            raise PayloadError(f"changelog.items[{index}] names no field")
        candidates = (entry.get("fieldId"), entry.get("field"))
        field = next(
            (
                names[c.casefold()]
                for c in candidates
                if isinstance(c, str) and c.casefold() in names
            ),
            ident,
        )
        old = _change_value(field, entry.get("from"), entry.get("fromString"), tracker)
        new = _change_value(field, entry.get("to"), entry.get("toString"), tracker)
        changes.append(FieldChange(field, old, new))
    return changes
