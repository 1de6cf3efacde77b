"""Azure DevOps service-hook adapter: verify a delivery, name it, turn it into an `Event`.

Payload shapes (https://learn.microsoft.com/azure/devops/service-hooks/events): for
created/deleted/restored/commented `resource` is the work item in its REST shape
{id, rev, fields, relations, _links, url}. For `workitem.updated` `resource` is a
WorkItemUpdate: `id` is the update number, `workItemId` the item, `fields` maps field
names to {oldValue, newValue}, `relations` has added/removed lists, and `revision` is the
whole item after the update.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from config.settings import TrackerConfig
from connector.errors import PayloadError
from connector.html_text import html_to_text
from connector.model import (
    Comment,
    Event,
    EventKind,
    FieldChange,
    Ignored,
    ItemType,
    Link,
    Person,
    StatusCategory,
    WorkItem,
    parse_date,
    parse_datetime,
)

log = logging.getLogger(__name__)

SECRET_HEADER = "X-PMO-Bridge-Secret"  # noqa: S105 - a header name, not a secret
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

RESERVED_FIELD_NAMES = frozenset({"estimate", "start_date", "due_date", "epic_link", "parent_link"})
DEFAULT_FIELDS: dict[str, tuple[str, ...]] = {
    "estimate": ("Microsoft.VSTS.Scheduling.StoryPoints", "Microsoft.VSTS.Scheduling.Effort"),
    "start_date": ("Microsoft.VSTS.Scheduling.StartDate",),
    "due_date": ("Microsoft.VSTS.Scheduling.TargetDate", "Microsoft.VSTS.Scheduling.DueDate"),
}
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
# Bookkeeping that changes on every save; never a change worth reporting.
NOISE_FIELDS = frozenset(
    {
        "System.Rev",
        "System.AuthorizedDate",
        "System.RevisedDate",
        "System.ChangedDate",
        "System.Watermark",
        "System.PersonId",
        "System.AuthorizedAs",
    }
)

_WORK_ITEM_URL = re.compile(r"/_apis/wit/workitems/(\d+)/?$", re.IGNORECASE)
_NAME_AND_UNIQUE = re.compile(r"^(?P<name>.*?)\s*<(?P<unique>[^<>]+)>$")


# --- verification ---------------------------------------------------------------------


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if str(key).lower() == wanted:
            return str(value)
    return None


def _basic_password(authorization: str) -> bytes | None:
    scheme, _, encoded = authorization.strip().partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    _user, colon, password = decoded.partition(b":")
    return password if colon else None


def verify_request(headers: Mapping[str, str], raw_body: bytes, secret: str | None) -> bool:
    """True when the delivery carries the shared secret, as the HTTP Basic password (any user
    name) or in the `X-PMO-Bridge-Secret` header. Azure DevOps cannot sign bodies, so
    `raw_body` is unused. No secret configured (None or empty) accepts every delivery."""
    if not secret:
        return True
    expected = secret.encode("utf-8")
    matched = False
    authorization = _header(headers, "Authorization")
    if authorization is not None:
        password = _basic_password(authorization)
        if password is not None:
            matched |= hmac.compare_digest(password, expected)
    given = _header(headers, SECRET_HEADER)
    if given is not None:
        matched |= hmac.compare_digest(given.encode("utf-8"), expected)
    return matched


def delivery_id(headers: Mapping[str, str], payload: Mapping) -> str | None:
    """The notification's event `id`, which a retried delivery repeats; else
    `subscriptionId:notificationId`; else None."""
    if not isinstance(payload, Mapping):
        return None
    event_id = payload.get("id")
    if isinstance(event_id, str) and event_id.strip():
        return event_id.strip()
    notification, subscription = payload.get("notificationId"), payload.get("subscriptionId")
    if notification not in (None, "") and subscription not in (None, ""):
        return f"{subscription}:{notification}"
    return None


# --- work items -----------------------------------------------------------------------


def _mapping(value: Any, where: str, *, required: bool = True) -> Mapping[str, Any] | None:
    if value is None and not required:
        return None
    if not isinstance(value, Mapping):
        raise PayloadError(f"{where} must be an object, got {type(value).__name__}")
    return value


def _native_id(value: Any, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise PayloadError(f"{where} must be a work item id, got {type(value).__name__}")
    text = str(value).strip()
    if not (text.isascii() and text.isdigit()) or int(text) <= 0:
        raise PayloadError(f"{where} must be a positive work item id, got {text!r}")
    return str(int(text))


def work_item_id_from_url(url: Any) -> str | None:
    match = _WORK_ITEM_URL.search(str(url or ""))
    return match.group(1) if match else None


def person(value: Any) -> Person | None:
    """Identity as newer payloads send it ({displayName, uniqueName, id}) or as older ones
    do ("Name <unique>" or just a name)."""
    if isinstance(value, Mapping):
        name = value.get("displayName") or value.get("uniqueName")
        return Person(str(name), value.get("uniqueName") or value.get("id")) if name else None
    if isinstance(value, str) and value.strip():
        match = _NAME_AND_UNIQUE.match(value.strip())
        if match:
            return Person(match["name"] or match["unique"], match["unique"])
        return Person(value.strip())
    return None


def tags(value: Any) -> tuple[str, ...]:
    return tuple(tag.strip() for tag in str(value or "").split(";") if tag.strip())


def _number(value: Any) -> float | None:
    if value in (None, "") or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        log.warning("azure_devops.field.not_a_number", extra={"value": str(value)[:40]})
        return None


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


def _first(fields: Mapping[str, Any], ids: tuple[str, ...]) -> Any:
    return next((fields[i] for i in ids if fields.get(i) not in (None, "")), None)


def _parent_key(value: Any, tracker: TrackerConfig) -> str | None:
    if value in (None, "", 0) or isinstance(value, bool):
        return None
    return f"{tracker.name}:{_native_id(value, 'System.Parent')}"


def _links(relations: Any, where: str, tracker: TrackerConfig) -> list[tuple[str, Link]]:
    """(rel, Link) for each relation; work item urls become item keys, others stay urls."""
    if relations is None:
        return []
    if not isinstance(relations, list):
        raise PayloadError(f"{where} must be a list, got {type(relations).__name__}")
    out = []
    for index, relation in enumerate(relations):
        relation = _mapping(relation, f"{where}[{index}]")
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
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        if isinstance(exc, PayloadError):
            raise
        raise PayloadError(f"unusable work item ({type(exc).__name__}: {exc})") from None


def _item(wi: Mapping[str, Any], tracker: TrackerConfig) -> WorkItem:
    wi = _mapping(wi, "work item")
    native_id = _native_id(wi.get("id"), "work item id")
    fields = _mapping(wi.get("fields"), "work item fields")
    relations = _links(wi.get("relations"), "work item relations", tracker)
    parent = _parent_key(fields.get("System.Parent"), tracker) or next(
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
    return WorkItem(
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
        estimate=_number(_first(fields, field_ids(tracker, "estimate"))),
        start_date=parse_date(_first(fields, field_ids(tracker, "start_date"))),
        due_date=parse_date(_first(fields, field_ids(tracker, "due_date"))),
        parent=parent,
        links=tuple(link for rel, link in relations if rel != HIERARCHY_REVERSE),
        created=parse_datetime(fields.get("System.CreatedDate")),
        updated=parse_datetime(fields.get("System.ChangedDate")),
        status_changed=parse_datetime(fields.get("Microsoft.VSTS.Common.StateChangeDate")),
        revision=int(rev or 0),
        url=url,
        custom=custom,
    )


def _plain(value: Any) -> Any:
    """Identity values in custom fields become display names; others pass through."""
    found = person(value) if isinstance(value, Mapping) else None
    return found.display_name if found else value


# --- changes --------------------------------------------------------------------------


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
        "parent": lambda v: _parent_key(v, tracker),
        "type": lambda v: None if v in (None, "") else item_type(v, tracker),
        "description": lambda v: html_to_text(str(v)) if v else "",
        "estimate": _number,
        "start_date": parse_date,
        "due_date": parse_date,
        "priority": lambda v: None if v in (None, "") else str(v),
    }
    convert = converters.get(name)
    if convert:
        return convert(value)
    if isinstance(value, Mapping) and ("displayName" in value or "uniqueName" in value):
        return person(value)  # identity fields such as ActivatedBy: keep name and account
    return value


def _field_changes(fields: Mapping[str, Any], tracker: TrackerConfig) -> list[FieldChange]:
    changes = []
    for field_id, change in fields.items():
        if field_id in NOISE_FIELDS:
            continue
        change = _mapping(change, f"resource.fields[{field_id!r}]")
        name = change_name(field_id, tracker)
        old = change_value(name, change.get("oldValue"), tracker)
        new = change_value(name, change.get("newValue"), tracker)
        changes.append(FieldChange(name, old, new))
    return changes


def _relation_changes(
    relations: Mapping[str, Any], tracker: TrackerConfig, *, parent_known: bool
) -> list[FieldChange]:
    added = _links(relations.get("added"), "resource.relations.added", tracker)
    removed = _links(relations.get("removed"), "resource.relations.removed", tracker)
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


def _with_new_values(item_fields: Mapping[str, Any], changes: Mapping[str, Any]) -> dict:
    # The revision should already hold the new values; Microsoft's own sample does not (its
    # revision still says State "New" after New -> Approved), so the update's values win.
    merged = dict(item_fields)
    for field_id, change in changes.items():
        if isinstance(change, Mapping) and "newValue" in change:
            merged[field_id] = change["newValue"]
        elif isinstance(change, Mapping) and "oldValue" in change:
            merged.pop(field_id, None)  # the field was cleared
    return merged


def _updated_item_id(resource: Mapping[str, Any], revision: Mapping[str, Any] | None) -> str:
    # `resource.id` is the update number, never the item. Microsoft's sample sends
    # workItemId 0, so fall back to the revision's id, then the `_links.parent` href.
    candidates = [resource.get("workItemId"), revision.get("id") if revision else None]
    links = resource.get("_links")
    if isinstance(links, Mapping) and isinstance(links.get("parent"), Mapping):
        candidates.append(work_item_id_from_url(links["parent"].get("href")))
    for candidate in candidates:
        if candidate not in (None, "", 0, "0"):
            return _native_id(candidate, "resource.workItemId")
    raise PayloadError("workitem.updated carries no work item id")


def _event(kind: EventKind, payload: Mapping, tracker: TrackerConfig, native_id: str, **kw: Any):
    item = kw.get("item")
    revision = kw.pop("revision", None)
    occurred = item.updated if item is not None and kind is not EventKind.DELETED else None
    return Event(
        kind=kind,
        tracker=tracker.name,
        item_key=f"{tracker.name}:{native_id}",
        native_event=str(payload["eventType"]),
        delivery_id=delivery_id({}, payload),
        occurred=occurred or parse_datetime(payload.get("createdDate")),
        revision=item.revision if item is not None else revision,
        partial=item is None,  # no item in the payload: the worker fetches it
        **kw,
    )


def _whole_item_parser(kind: EventKind) -> Callable[[Mapping[str, Any], TrackerConfig], Event]:
    """created / deleted / restored / commented: `resource` is the work item itself."""

    def parse(payload: Mapping[str, Any], tracker: TrackerConfig) -> Event:
        resource = _mapping(payload.get("resource"), "resource")
        native_id = _native_id(resource.get("id"), "resource.id")
        fields = _mapping(resource.get("fields"), "resource.fields", required=False)
        if fields is None:  # the subscription sends minimal resource details
            return _event(kind, payload, tracker, native_id)
        item = item_from_work_item(resource, tracker)
        actor = person(fields.get("System.ChangedBy"))
        comment = None
        if kind is EventKind.COMMENTED and fields.get("System.History"):
            comment = Comment(
                id=f"{native_id}@{item.revision}",  # the hook carries no comment id
                body=html_to_text(str(fields["System.History"])),
                author=actor,
            )
        return _event(kind, payload, tracker, native_id, item=item, actor=actor, comment=comment)

    return parse


def _parse_updated(payload: Mapping[str, Any], tracker: TrackerConfig) -> Event:
    resource = _mapping(payload.get("resource"), "resource")
    fields = _mapping(resource.get("fields"), "resource.fields", required=False) or {}
    relations = _mapping(resource.get("relations"), "resource.relations", required=False) or {}
    revision = _mapping(resource.get("revision"), "resource.revision", required=False)
    native_id = _updated_item_id(resource, revision)

    changes = _field_changes(fields, tracker)
    parent_known = any(change.field == "parent" for change in changes)
    changes += _relation_changes(relations, tracker, parent_known=parent_known)

    item = actor = None
    if revision is not None:
        item_fields = _with_new_values(
            _mapping(revision.get("fields"), "resource.revision.fields"), fields
        )
        item = item_from_work_item({**revision, "id": native_id, "fields": item_fields}, tracker)
        actor = person(item_fields.get("System.ChangedBy"))
    actor = person(resource.get("revisedBy")) or actor
    rev = resource.get("rev")
    return _event(
        EventKind.UPDATED,
        payload,
        tracker,
        native_id,
        item=item,
        changes=changes,
        actor=actor,
        revision=rev if isinstance(rev, int) and not isinstance(rev, bool) else None,
    )


EVENT_PARSERS: dict[str, Callable[[Mapping[str, Any], TrackerConfig], Event]] = {
    "workitem.created": _whole_item_parser(EventKind.CREATED),
    "workitem.updated": _parse_updated,
    "workitem.commented": _whole_item_parser(EventKind.COMMENTED),
    "workitem.deleted": _whole_item_parser(EventKind.DELETED),
    "workitem.restored": _whole_item_parser(EventKind.RESTORED),
}

_CODE = "code events carry no work item state"
_PIPELINE = "build, release and pipeline events carry no work item state"
IGNORED_EVENTS: dict[str, str] = {
    "git.push": _CODE,
    "git.pullrequest.created": _CODE,
    "git.pullrequest.updated": _CODE,
    "git.pullrequest.merged": _CODE,
    "ms.vss-code.git-pullrequest-comment-event": _CODE,
    "tfvc.checkin": _CODE,
    "build.complete": _PIPELINE,
    "ms.vss-release.release-created-event": _PIPELINE,
    "ms.vss-release.release-abandoned-event": _PIPELINE,
    "ms.vss-release.deployment-approval-pending-event": _PIPELINE,
    "ms.vss-release.deployment-approval-completed-event": _PIPELINE,
    "ms.vss-release.deployment-started-event": _PIPELINE,
    "ms.vss-release.deployment-completed-event": _PIPELINE,
    "ms.vss-pipelines.run-state-changed-event": _PIPELINE,
    "ms.vss-pipelines.stage-state-changed-event": _PIPELINE,
    "ms.vss-pipelines.job-state-changed-event": _PIPELINE,
    "ms.vss-pipelinechecks-events.approval-pending": _PIPELINE,
    "ms.vss-pipelinechecks-events.approval-completed": _PIPELINE,
    "message.posted": "team room messages are not work item changes",
}


def parse_event(payload: Any, tracker: TrackerConfig) -> Event | Ignored:
    """One service-hook payload -> `Event`, or `Ignored` for event types the service does
    not act on. Raises `PayloadError` (one line) for JSON that is not a usable event."""
    if not isinstance(payload, Mapping):
        raise PayloadError(f"payload must be a JSON object, got {type(payload).__name__}")
    event_type = payload.get("eventType")
    if not isinstance(event_type, str) or not event_type.strip():
        raise PayloadError("payload has no eventType")
    parser = EVENT_PARSERS.get(event_type)
    if parser is None:
        reason = IGNORED_EVENTS.get(event_type, f"unsupported event type {event_type!r}")
        return Ignored(event_type, reason)
    try:
        return parser(payload, tracker)
    except PayloadError:
        raise
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        # A value of the wrong kind deep inside, e.g. a date that is not a date.
        message = f"{event_type}: unusable payload ({type(exc).__name__}: {exc})"
        raise PayloadError(message) from None
