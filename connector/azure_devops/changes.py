"""Azure DevOps `workitem.updated` changes ({oldValue, newValue} per field, added and
removed relations) as `FieldChange`s under common-model names where they map."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from config.settings import TrackerConfig
from connector.azure_devops.item import (
    HIERARCHY_REVERSE,
    as_mapping,
    as_number,
    field_ids,
    item_type,
    links_of,
    parent_key,
    person,
    tags,
    work_item_date,
)
from connector.html_text import html_to_text
from connector.model import FieldChange

COMMON_FIELDS = {
    "System.State": "status",
    "System.AssignedTo": "assignee",
    "System.Title": "title",
    "System.Description": "description",
    "System.Tags": "labels",
    "System.Parent": "parent",
    "System.WorkItemType": "type",
    "Microsoft.VSTS.Common.Priority": "priority",
}
# Bookkeeping that changes on every save; never a change worth reporting. The service's
# own tag write comes back with ChangedBy among the changed fields (it is the bot now),
# so without it here that echo would look like a person's edit.
NOISE_FIELDS = frozenset(
    {
        "System.ChangedBy",
        "System.Rev",
        "System.AuthorizedDate",
        "System.RevisedDate",
        "System.ChangedDate",
        "System.Watermark",
        "System.PersonId",
        "System.AuthorizedAs",
    }
)


def change_name(field_id: str, tracker: TrackerConfig) -> str:
    if field_id in COMMON_FIELDS:
        return COMMON_FIELDS[field_id]
    for name in ("estimate", "start_date", "due_date"):
        if field_id in field_ids(tracker, name):
            return name
    return field_id


def change_value(name: str, value: Any, tracker: TrackerConfig) -> Any:
    """A changed value in common-model terms (labels as a list, assignee as a Person, ...)."""
    converters: dict[str, Callable[[Any], Any]] = {
        "labels": lambda v: list(tags(v)),
        "assignee": person,
        "parent": lambda v: parent_key(v, tracker),
        "type": lambda v: None if v in (None, "") else item_type(v, tracker),
        "description": lambda v: html_to_text(str(v)) if v else "",
        "estimate": as_number,
        "start_date": work_item_date,
        "due_date": work_item_date,
        "priority": lambda v: None if v in (None, "") else str(v),
    }
    convert = converters.get(name)
    if convert:
        return convert(value)
    if isinstance(value, Mapping) and ("displayName" in value or "uniqueName" in value):
        return person(value)  # identity fields such as ActivatedBy: keep name and account
    return value


def field_changes(fields: Mapping[str, Any], tracker: TrackerConfig) -> list[FieldChange]:
    changes = []
    for field_id, change in fields.items():
        if field_id in NOISE_FIELDS:
            continue
        change = as_mapping(change, f"resource.fields[{field_id!r}]")
        name = change_name(field_id, tracker)
        old = change_value(name, change.get("oldValue"), tracker)
        new = change_value(name, change.get("newValue"), tracker)
        changes.append(FieldChange(name, old, new))
    return changes


def relation_changes(
    relations: Mapping[str, Any], tracker: TrackerConfig, *, parent_known: bool
) -> list[FieldChange]:
    added = links_of(relations.get("added"), "resource.relations.added", tracker)
    removed = links_of(relations.get("removed"), "resource.relations.removed", tracker)
    changes = []
    new_parent = next((link.key for rel, link in added if rel == HIERARCHY_REVERSE), None)
    old_parent = next((link.key for rel, link in removed if rel == HIERARCHY_REVERSE), None)
    if (new_parent or old_parent) and not parent_known:
        changes.append(FieldChange("parent", old_parent, new_parent))
    # For links, `old` holds the links this update removed and `new` those it added.
    links_added = tuple(link for rel, link in added if rel != HIERARCHY_REVERSE)
    links_removed = tuple(link for rel, link in removed if rel != HIERARCHY_REVERSE)
    if links_added or links_removed:
        changes.append(FieldChange("links", links_removed, links_added))
    return changes


def with_new_values(item_fields: Mapping[str, Any], changes: Mapping[str, Any]) -> dict:
    # The revision should already hold the new values; Microsoft's own sample does not (its
    # revision still says State "New" after New -> Approved), so the update's values win.
    merged = dict(item_fields)
    for field_id, change in changes.items():
        if isinstance(change, Mapping) and "newValue" in change:
            merged[field_id] = change["newValue"]
        elif isinstance(change, Mapping) and "oldValue" in change:
            merged.pop(field_id, None)  # the field was cleared
    return merged
