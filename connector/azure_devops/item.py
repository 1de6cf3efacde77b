"""Azure DevOps work items in their REST shape {id, rev, fields, relations, _links, url}
as `WorkItem`s (the service hook `resource` / `resource.revision` are the same shape), and
the readers the adapter shares: ids, identities, tags, types and states."""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from config.settings import TrackerConfig
from connector.bounds import area_text, azure_int32, checked_item
from connector.errors import PayloadError
from connector.html_text import html_to_text
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
log = logging.getLogger("connector.azure_devops.adapter")

HIERARCHY_REVERSE = "System.LinkTypes.Hierarchy-Reverse"  # "Parent" link

# Work item type -> common type, for the Agile, Scrum, CMMI and Basic processes plus the
# usual custom portfolio level. "Issue" is Basic's backlog item, so it is a story; Agile
# teams that use "Issue" for impediments map it with `type_map: {issue: risk}`.
DEFAULT_TYPES: dict[str, ItemType] = {
    "initiative": ItemType.INITIATIVE,
    "epic": ItemType.EPIC,
    "feature": ItemType.FEATURE,
    "user story": ItemType.STORY,
    "product backlog item": ItemType.STORY,
    "requirement": ItemType.STORY,
    "issue": ItemType.STORY,
    "task": ItemType.TASK,
    "bug": ItemType.BUG,
    "risk": ItemType.RISK,
    "impediment": ItemType.RISK,
}

# State -> category for the four stock processes. States not listed (custom ones such as
# "Blocked" or "In Review") count as in progress: inherited processes only let teams add
# states to the Proposed, In Progress and Resolved categories, and most are in-flight.
DEFAULT_STATES: dict[str, StatusCategory] = {
    **dict.fromkeys(("new", "proposed", "to do", "approved", "design"), StatusCategory.TODO),
    **dict.fromkeys(
        ("active", "committed", "in progress", "doing", "resolved"), StatusCategory.IN_PROGRESS
    ),
    **dict.fromkeys(("closed", "done", "completed"), StatusCategory.DONE),
    **dict.fromkeys(("removed", "cut"), StatusCategory.REMOVED),
}

REMAINING_WORK = "Microsoft.VSTS.Scheduling.RemainingWork"  # hours
RESERVED_FIELD_NAMES = frozenset(
    {"estimate", "start_date", "due_date", "epic_link", "parent_link", "area"}
)
DEFAULT_FIELDS: dict[str, tuple[str, ...]] = {
    "estimate": ("Microsoft.VSTS.Scheduling.StoryPoints", "Microsoft.VSTS.Scheduling.Effort"),
    "start_date": ("Microsoft.VSTS.Scheduling.StartDate",),
    "due_date": ("Microsoft.VSTS.Scheduling.TargetDate", "Microsoft.VSTS.Scheduling.DueDate"),
    "area": ("System.AreaPath",),  # "Fabrikam\\Payments\\Checkout"
}
_WORK_ITEM_URL = re.compile(r"/_apis/wit/workitems/(\d+)/?$", re.IGNORECASE)
_NAME_AND_UNIQUE = re.compile(r"^(?P<name>.*?)\s*<(?P<unique>[^<>]+)>$")


def as_mapping(value: Any, where: str, *, required: bool = True) -> Mapping[str, Any] | None:
    if value is None and not required:
        return None
    if type(value) is not dict and not isinstance(value, Mapping):  # dict: no ABC check
        raise PayloadError(f"{where} must be an object, got {type(value).__name__}")
    return value


def item_native_id(value: Any, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise PayloadError(f"{where} must be a work item id, got {type(value).__name__}")
    text = str(value).strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 12 or int(text) <= 0:
        raise PayloadError(f"{where} must be a positive work item id, got {text[:40]!r}")
    return str(azure_int32(int(text), where))


def work_item_id_from_url(url: Any) -> str | None:
    match = _WORK_ITEM_URL.search(str(url or ""))
    return match.group(1) if match else None


def person(value: Any) -> Person | None:
    """Identity as newer payloads send it ({displayName, uniqueName, id}) or as older ones
    do ("Name <unique>" or just a name)."""
    if isinstance(value, Mapping):
        # identity fields that are not text are read as missing
        unique, ident = _text_or_none(value.get("uniqueName")), _text_or_none(value.get("id"))
        name = _text_or_none(value.get("displayName")) or unique
        return Person(name, unique or ident) if name else None
    if isinstance(value, str) and value.strip():
        match = _NAME_AND_UNIQUE.match(value.strip())
        if match:
            return Person(match["name"] or match["unique"], match["unique"])
        return Person(value.strip())
    return None


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def tags(value: Any) -> tuple[str, ...]:
    return tuple(tag.strip() for tag in str(value or "").split(";") if tag.strip())


NEXT_DAY_FROM_UTC_HOUR = 11


def work_item_date(value: Any) -> dt.date | None:
    """The calendar day of a date-only field (Start Date, Target Date, Due Date).

    Azure DevOps stores such a day as the UTC instant of midnight in the time zone of the
    user who set it: 28 June set two hours ahead of UTC arrives as 2024-06-27T22:00:00Z,
    which cutting the time off would read as the 27th. Local midnight falls somewhere from
    12:00 UTC on the same day (UTC-12) to 10:00 UTC on the day before (UTC+14), so no cut
    is right everywhere. An instant at or after 11:00 UTC is read as the next day, before
    it as the same day: right from UTC-10 (Hawaii) to UTC+13 (New Zealand daylight time,
    Tonga, Samoa), where nearly every team works; wrong only for UTC-11/-12 (American
    Samoa, Niue) and UTC+14 (Kiribati's Line Islands).
    """
    if isinstance(value, dt.datetime) or (isinstance(value, str) and len(value.strip()) > 10):
        try:
            instant = parse_datetime(value).astimezone(dt.UTC)
        except (ValueError, OverflowError):
            return parse_date(value)  # not a timestamp: read it as before, or refuse it
        day = instant.date()
        return (
            day + dt.timedelta(days=1)
            if instant.hour >= NEXT_DAY_FROM_UTC_HOUR and day < dt.date.max
            else day
        )
    return parse_date(value)


def as_number(value: Any) -> float | None:
    if value in (None, "") or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        number = math.nan
    if usable_number(number) is None:  # "NaN", "Infinity", 1e300: no estimate
        log.warning("azure_devops.field.not_a_number", extra={"value": str(value)[:40]})
        return None
    return number


def item_type(name: Any, tracker: TrackerConfig) -> ItemType:
    key = str(name or "").strip().casefold()
    override = tracker.type_map.get(key) or tracker.type_map.get(str(name or ""))
    if override:
        try:
            return ItemType(str(override).casefold())
        except ValueError:
            log.warning("azure_devops.type_map.invalid", extra={"type": key, "to": override})
    return DEFAULT_TYPES.get(key, ItemType.OTHER)


def status_category(state: Any, tracker: TrackerConfig) -> StatusCategory:
    key = str(state or "").strip().casefold()
    for name, category in tracker.state_map.items():
        if name.casefold() == key:
            return StatusCategory(category)
    return DEFAULT_STATES.get(key, StatusCategory.IN_PROGRESS)


def field_ids(tracker: TrackerConfig, name: str) -> tuple[str, ...]:
    """Tracker field ids for a reserved name: the configured one, else the defaults."""
    configured = tracker.fields.get(name)
    return (configured,) if configured else DEFAULT_FIELDS.get(name, ())


# The fields `item_from_work_item` reads by fixed id (see there); audits ask for these and
# the configured ones (`work_item_fields`) rather than every field of the process.
MAPPED_FIELDS = (
    *("System.Id", "System.Rev", "System.Parent", "System.TeamProject", "System.State"),
    *("System.WorkItemType", "System.Title", "System.AssignedTo", "System.CreatedBy"),
    *("System.Tags", "System.CreatedDate", "System.ChangedDate", "System.Description"),
    *("Microsoft.VSTS.TCM.ReproSteps", "Microsoft.VSTS.Common.Priority"),
    "Microsoft.VSTS.Common.StateChangeDate",
)


def work_item_fields(tracker: TrackerConfig) -> list[str]:
    """The field ids an audit asks for so `item_from_work_item` sees all it maps."""
    wanted = dict.fromkeys(MAPPED_FIELDS)
    for name in DEFAULT_FIELDS:
        wanted.update(dict.fromkeys(field_ids(tracker, name)))
    wanted.update(dict.fromkeys(tracker.fields.values()))
    return list(wanted)


def _first(fields: Mapping[str, Any], ids: tuple[str, ...]) -> Any:
    return next((fields[i] for i in ids if fields.get(i) not in (None, "")), None)


def parent_key(value: Any, tracker: TrackerConfig) -> str | None:
    if value in (None, "", 0) or isinstance(value, bool):
        return None
    return f"{tracker.name}:{item_native_id(value, 'System.Parent')}"


def links_of(relations: Any, where: str, tracker: TrackerConfig) -> list[tuple[str, Link]]:
    """(rel, Link) for each relation; work item urls become item keys, others stay urls."""
    if relations is None:
        return []
    if not isinstance(relations, list):
        raise PayloadError(f"{where} must be a list, got {type(relations).__name__}")
    out = []
    for index, relation in enumerate(relations):
        relation = as_mapping(relation, f"{where}[{index}]")
        attributes = relation.get("attributes")
        name = attributes.get("name") if isinstance(attributes, Mapping) else None
        rel = str(relation.get("rel") or name or "")
        url = str(relation.get("url") or "")
        native = work_item_id_from_url(url)
        out.append((rel, Link(rel, f"{tracker.name}:{native}" if native else url)))
    return out


def item_from_work_item(wi: Mapping[str, Any], tracker: TrackerConfig) -> WorkItem:
    """A work item in its REST shape {id, rev, fields, relations, _links, url} -> WorkItem.
    Raises `PayloadError` when it is not one (wrong types, a date that is not a date)."""
    try:
        return _item(wi, tracker)
    except (TypeError, ValueError, AttributeError, LookupError, ArithmeticError) as exc:
        if isinstance(exc, PayloadError):
            raise
        raise PayloadError(f"unusable work item ({type(exc).__name__}: {exc})") from None


def _item(wi: Mapping[str, Any], tracker: TrackerConfig) -> WorkItem:
    wi = as_mapping(wi, "work item")
    native_id = item_native_id(wi.get("id"), "work item id")
    fields = as_mapping(wi.get("fields"), "work item fields")
    relations = links_of(wi.get("relations"), "work item relations", tracker)
    parent = parent_key(fields.get("System.Parent"), tracker) or next(
        (link.key for rel, link in relations if rel == HIERARCHY_REVERSE), None
    )
    project = str(fields.get("System.TeamProject") or tracker.project or "")
    state = str(fields.get("System.State") or "")
    links = wi.get("_links")
    html = links.get("html") if isinstance(links, Mapping) else None
    url = html.get("href") if isinstance(html, Mapping) else None
    if not url and tracker.url and project:
        url = f"{tracker.url.rstrip('/')}/{quote(project)}/_workitems/edit/{native_id}"
    # Bugs keep their narrative in Repro Steps rather than Description.
    description = fields.get("System.Description") or fields.get("Microsoft.VSTS.TCM.ReproSteps")
    rev = wi.get("rev", fields.get("System.Rev"))
    priority = fields.get("Microsoft.VSTS.Common.Priority")
    custom = {
        name: _plain(fields.get(field_id))
        for name, field_id in tracker.fields.items()
        if name not in RESERVED_FIELD_NAMES
    }
    return checked_item(
        WorkItem(
            key=f"{tracker.name}:{native_id}",
            tracker=tracker.name,
            native_id=native_id,
            project=project,
            type=item_type(fields.get("System.WorkItemType"), tracker),
            title=str(fields.get("System.Title") or ""),
            status=state,
            status_category=status_category(state, tracker),
            description=html_to_text(str(description)) if description else "",
            assignee=person(fields.get("System.AssignedTo")),
            reporter=person(fields.get("System.CreatedBy")),
            priority=None if priority in (None, "") else str(priority),
            labels=tags(fields.get("System.Tags")),
            estimate=as_number(_first(fields, field_ids(tracker, "estimate"))),
            remaining_hours=as_number(fields.get(REMAINING_WORK)),
            start_date=work_item_date(_first(fields, field_ids(tracker, "start_date"))),
            due_date=work_item_date(_first(fields, field_ids(tracker, "due_date"))),
            parent=parent,
            links=tuple(link for rel, link in relations if rel != HIERARCHY_REVERSE),
            created=parse_datetime(fields.get("System.CreatedDate")),
            updated=parse_datetime(fields.get("System.ChangedDate")),
            status_changed=parse_datetime(fields.get("Microsoft.VSTS.Common.StateChangeDate")),
            revision=azure_int32(int(rev or 0), "work item rev"),
            url=url,
            custom=custom,
            area=area_text(_plain(_first(fields, field_ids(tracker, "area")))),
        )
    )


def _plain(value: Any) -> Any:
    """Identity values in custom fields become display names; others pass through."""
    found = person(value) if isinstance(value, Mapping) else None
    return found.display_name if found else value
