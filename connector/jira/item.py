"""Jira REST issues (v2 or v3 shape; the webhook `issue` is the same) as `WorkItem`s, and
the small typed readers the Jira adapter uses on payloads: wrong shapes become
`PayloadError`, never KeyError."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

from config.settings import TrackerConfig
from connector.bounds import area_text, checked_item, jira_issue_key
from connector.errors import PayloadError
from connector.jira.text import plain_value, rich_text
from connector.model import (
    ItemType,
    Link,
    Person,
    StatusCategory,
    WorkItem,
    parse_date,
    parse_datetime,
    usable_number,
)

# The adapter's logger, so log lines keep the source they had before this module split off.
log = logging.getLogger("connector.jira.adapter")

RESERVED_FIELDS = frozenset(
    {"estimate", "start_date", "due_date", "epic_link", "parent_link", "area"}
)
DEFAULT_FIELDS: Mapping[str, str] = {
    "estimate": "customfield_10016",
    "start_date": "customfield_10015",
    "due_date": "duedate",
}
PARENT_FIELDS = ("epic_link", "parent_link")
_TYPES: Mapping[str, ItemType] = {
    "initiative": ItemType.INITIATIVE,
    "epic": ItemType.EPIC,
    "feature": ItemType.FEATURE,
    "story": ItemType.STORY,
    "task": ItemType.TASK,
    "bug": ItemType.BUG,
    "sub-task": ItemType.SUBTASK,
    "subtask": ItemType.SUBTASK,
    "risk": ItemType.RISK,
}
_CATEGORIES: Mapping[str, StatusCategory] = {
    "new": StatusCategory.TODO,
    "indeterminate": StatusCategory.IN_PROGRESS,
    "done": StatusCategory.DONE,
}
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


# --- small typed readers: wrong shapes become PayloadError, never KeyError -------------


def as_mapping(value: Any, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if type(value) is not dict and not isinstance(value, Mapping):  # dict: no ABC check
        raise PayloadError(f"{where} must be an object, not {type(value).__name__}")
    return value


def _text(value: Any, where: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise PayloadError(f"{where} must be a string, not {type(value).__name__}")


def person_from(value: Any, where: str) -> Person | None:
    """A user; identity fields that are not text (or numbers) are read as missing."""
    if value is None or value == "":
        return None
    if isinstance(value, str):  # very old Server payloads name users by login only
        return Person(value, value)
    user = as_mapping(value, where)
    ident = _identity(user.get("accountId")) or _identity(user.get("name"))
    ident = ident or _identity(user.get("key"))
    name = _identity(user.get("displayName")) or ident
    if not name:
        return None
    return Person(name, ident)


def _identity(value: Any) -> str | None:
    if isinstance(value, str):
        return value or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def as_number(value: Any) -> float | None:
    """A usable number, else None: "NaN", "Infinity" and 1e300 are no estimate."""
    value = plain_value(value)
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return usable_number(number)


def _remaining_hours(fields: Mapping[str, Any]) -> float | None:
    """Remaining estimate in hours: `timetracking.remainingEstimateSeconds` when the issue
    was fetched, else the `timeestimate` system field (seconds) that webhooks carry."""
    tracking = fields.get("timetracking")
    seconds = tracking.get("remainingEstimateSeconds") if isinstance(tracking, Mapping) else None
    if seconds is None:
        seconds = fields.get("timeestimate")
    number = as_number(seconds)
    return None if number is None or number < 0 else number / 3600


def as_date(value: Any) -> dt.date | None:
    try:
        return parse_date(plain_value(value))
    except (TypeError, ValueError):
        return None


def as_datetime(value: Any) -> dt.datetime | None:
    try:
        return parse_datetime(value)
    except (TypeError, ValueError, OverflowError):
        return None


def issue_ref(tracker: TrackerConfig, value: Any) -> str | None:
    """An item key from an issue key, `{key: ...}` or Advanced Roadmaps `{data: {key}}`."""
    if isinstance(value, Mapping):
        value = value.get("key") or as_mapping(value.get("data"), "parent link").get("key")
    if not isinstance(value, str) or not value:
        return None
    return f"{tracker.name}:{jira_issue_key(value, 'parent')}"


# --- the issue -------------------------------------------------------------------------


def field_ids(tracker: TrackerConfig) -> dict[str, str]:
    """Common/custom name -> Jira field id: the documented defaults, then configuration."""
    return {**DEFAULT_FIELDS, **dict(tracker.fields)}


def _item_type(issuetype: Mapping[str, Any], tracker: TrackerConfig) -> ItemType:
    name = (_text(issuetype.get("name"), "issuetype.name") or "").casefold()
    overrides = {str(k).casefold(): str(v).casefold() for k, v in tracker.type_map.items()}
    if name in overrides:
        try:
            return ItemType(overrides[name])
        except ValueError:
            log.warning("jira.config.bad_type_map", extra={"type_name": name})
    if name in _TYPES:
        return _TYPES[name]
    return ItemType.SUBTASK if issuetype.get("subtask") is True else ItemType.OTHER


def _status_category(
    name: str, status: Mapping[str, Any], tracker: TrackerConfig
) -> StatusCategory:
    overrides = {str(k).casefold(): str(v) for k, v in tracker.state_map.items()}
    if name.casefold() in overrides:
        try:
            return StatusCategory(overrides[name.casefold()])
        except ValueError:
            log.warning("jira.config.bad_state_map", extra={"status": name})
    category = as_mapping(status.get("statusCategory"), "status.statusCategory")
    # Older Server payloads omit the category; the localised name is never guessed at.
    return _CATEGORIES.get(str(category.get("key")), StatusCategory.TODO)


def _links(value: Any, tracker: TrackerConfig) -> list[Link]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise PayloadError("fields.issuelinks must be a list")
    links = []
    for entry in value:
        entry = as_mapping(entry, "fields.issuelinks[]")
        kind = as_mapping(entry.get("type"), "issuelinks[].type")
        for side, label in (("outwardIssue", "outward"), ("inwardIssue", "inward")):
            other = as_mapping(entry.get(side), f"issuelinks[].{side}")
            if isinstance(other.get("key"), str):
                name = kind.get(label) or kind.get("name") or label
                other_key = jira_issue_key(other["key"], f"issuelinks[].{side}.key")
                links.append(Link(str(name), f"{tracker.name}:{other_key}"))
    return links


# The issue fields `item_from_issue` reads by fixed id (see there); audits ask for
# these and the configured ones (`issue_fields`) rather than every field of the site.
MAPPED_FIELDS = (
    *("summary", "status", "project", "labels", "parent", "issuetype", "description"),
    *("assignee", "reporter", "priority", "issuelinks", "created", "updated"),
    *("statuscategorychangedate", "components"),
)


def issue_fields(tracker: TrackerConfig) -> list[str]:
    """The field ids an audit must ask for so `item_from_issue` sees all it maps."""
    wanted = dict.fromkeys(MAPPED_FIELDS)
    wanted.update(dict.fromkeys(field_ids(tracker).values()))
    return list(wanted)


def _site(issue: Mapping[str, Any], tracker: TrackerConfig) -> str | None:
    if tracker.url:
        return tracker.url.rstrip("/")
    self_url = issue.get("self")
    if isinstance(self_url, str) and "/rest/" in self_url:
        return self_url.split("/rest/", 1)[0]
    return None


def _area(fields: Mapping[str, Any], ids: Mapping[str, str]) -> str | None:
    """The field configured as `area` (a team or select field), else the issue's
    components (`fields.components`: [{id, name, self}], Jira's ProjectComponent)."""
    if "area" in ids:
        return area_text(plain_value(fields.get(ids["area"])))
    return area_text(fields.get("components"))


def item_from_issue(issue: Mapping[str, Any], tracker: TrackerConfig) -> WorkItem:
    """A `WorkItem` from a REST v2/v3 issue (the webhook `issue` has the same shape).

    Fields the payload lacks keep their model defaults, so a slim issue (comment events)
    still gives a usable, if partial, item. Raises `PayloadError` for wrong shapes."""
    issue = as_mapping(issue, "issue")
    key = issue.get("key")
    if not isinstance(key, str) or not key.strip():
        raise PayloadError("issue has no key")
    key = jira_issue_key(key, "issue.key")
    fields = as_mapping(issue.get("fields"), "issue.fields")
    ids = field_ids(tracker)
    status = as_mapping(fields.get("status"), "fields.status")
    status_name = _text(status.get("name"), "fields.status.name") or ""
    project = as_mapping(fields.get("project"), "fields.project")
    labels = [] if fields.get("labels") is None else fields["labels"]
    if not isinstance(labels, list):
        raise PayloadError("fields.labels must be a list")
    parent = issue_ref(tracker, as_mapping(fields.get("parent"), "fields.parent").get("key"))
    for name in PARENT_FIELDS:
        if parent is None and name in ids:
            parent = issue_ref(tracker, fields.get(ids[name]))
    updated = as_datetime(fields.get("updated"))
    site = _site(issue, tracker)
    return checked_item(
        WorkItem(
            key=f"{tracker.name}:{key}",
            tracker=tracker.name,
            native_id=key,
            project=str(project.get("key") or key.rsplit("-", 1)[0]),
            type=_item_type(as_mapping(fields.get("issuetype"), "fields.issuetype"), tracker),
            title=_text(fields.get("summary"), "fields.summary") or "",
            status=status_name,
            status_category=_status_category(status_name, status, tracker),
            description=rich_text(fields.get("description")),
            assignee=person_from(fields.get("assignee"), "fields.assignee"),
            reporter=person_from(fields.get("reporter"), "fields.reporter"),
            priority=_text(
                as_mapping(fields.get("priority"), "fields.priority").get("name"), "priority"
            ),
            labels=tuple(str(label) for label in labels),
            estimate=as_number(fields.get(ids["estimate"])),
            remaining_hours=_remaining_hours(fields),
            start_date=as_date(fields.get(ids["start_date"])),
            due_date=as_date(fields.get(ids["due_date"])),
            parent=parent,
            links=tuple(_links(fields.get("issuelinks"), tracker)),
            created=as_datetime(fields.get("created")),
            updated=updated,
            status_changed=as_datetime(fields.get("statuscategorychangedate")),
            revision=(updated - _EPOCH) // dt.timedelta(milliseconds=1) if updated else 0,
            url=f"{site}/browse/{key}" if site else None,
            custom={
                name: plain_value(fields.get(field_id))
                for name, field_id in tracker.fields.items()
                if name not in RESERVED_FIELDS
            },
            area=_area(fields, ids),
        )
    )
