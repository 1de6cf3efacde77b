"""Jira webhook adapter: verify a delivery, name it, and turn its payload into an `Event`.

Jira Cloud and Server/Data Center send the same payload families: issue events carry the
whole issue (REST v2 shape) plus a `changelog`; comment events carry the comment and a
slim issue; issue-link events carry only numeric issue ids. Events that carry less than
a full issue come back with `partial=True` so the worker re-fetches the item before rules
run. Nothing here talks to Jira.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

from config.settings import TrackerConfig
from connector.errors import PayloadError
from connector.jira_text import plain_value, rich_text
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

SIGNATURE_HEADER = "X-Hub-Signature"
DELIVERY_HEADER = "X-Atlassian-Webhook-Identifier"
_SIGNATURE = re.compile(r"sha256=([0-9a-f]{64})", re.IGNORECASE)

RESERVED_FIELDS = frozenset({"estimate", "start_date", "due_date", "epic_link", "parent_link"})
DEFAULT_FIELDS: Mapping[str, str] = {
    "estimate": "customfield_10016",
    "start_date": "customfield_10015",
    "due_date": "duedate",
}
_PARENT_FIELDS = ("epic_link", "parent_link")
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
_COMMENT_TYPE_NAMES = frozenset(
    {"issue_commented", "issue_comment_edited", "issue_comment_deleted"}
)
_COMMENT_ISSUE_ID = re.compile(r"/issue/(\d+)/comment/")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


# --- request verification and identity ------------------------------------------------


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    wanted = name.casefold()
    for key, value in getattr(headers, "items", lambda: ())():
        if isinstance(key, str) and key.casefold() == wanted and isinstance(value, str):
            return value
    return None


def verify_request(headers: Mapping[str, str], raw_body: bytes, secret: str | None) -> bool:
    """True when `X-Hub-Signature: sha256=<hex>` is the HMAC-SHA256 of the raw body under
    `secret` (hex in either case). No secret configured: every delivery is accepted."""
    if secret is None:
        return True
    header = _header(headers, SIGNATURE_HEADER)
    match = _SIGNATURE.fullmatch(header.strip()) if header else None
    if match is None or not isinstance(raw_body, bytes | bytearray | memoryview):
        return False
    expected = hmac.new(secret.encode("utf-8"), bytes(raw_body), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, match.group(1).lower())


def delivery_id(headers: Mapping[str, str], payload: Mapping[str, Any]) -> str | None:
    """Jira's `X-Atlassian-Webhook-Identifier` (the same on every retry), else a hash of
    what identifies the change in the body, so a redelivered body still dedupes."""
    header = (_header(headers, DELIVERY_HEADER) or "").strip()
    if 0 < len(header) <= 200:
        return header
    if not isinstance(payload, Mapping) or not isinstance(payload.get("webhookEvent"), str):
        return None

    def nested(outer: str, inner: str) -> Any:
        value = payload.get(outer)
        return value.get(inner) if isinstance(value, Mapping) else None

    parts = [
        payload["webhookEvent"],
        nested("issue", "id"),
        payload.get("timestamp"),
        nested("changelog", "id"),
        nested("comment", "id"),
        nested("issueLink", "id"),
        nested("worklog", "id"),
    ]
    text = json.dumps([None if p is None else str(p) for p in parts])
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:40]


# --- small typed readers: wrong shapes become PayloadError, never KeyError -------------


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise PayloadError(f"{where} must be an object, not {type(value).__name__}")
    return value


def _text(value: Any, where: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise PayloadError(f"{where} must be a string, not {type(value).__name__}")


def _person(value: Any, where: str) -> Person | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):  # very old Server payloads name users by login only
        return Person(value, value)
    user = _mapping(value, where)
    ident = user.get("accountId") or user.get("name") or user.get("key")
    name = user.get("displayName") or ident
    if not name:
        return None
    return Person(str(name), None if ident is None else str(ident))


def _number(value: Any) -> float | None:
    value = plain_value(value)
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _date(value: Any) -> dt.date | None:
    try:
        return parse_date(plain_value(value))
    except (TypeError, ValueError):
        return None


def _datetime(value: Any) -> dt.datetime | None:
    try:
        return parse_datetime(value)
    except (TypeError, ValueError, OverflowError):
        return None


def _occurred(payload: Mapping[str, Any]) -> dt.datetime | None:
    stamp = payload.get("timestamp")
    if isinstance(stamp, str) and stamp.isdigit():
        stamp = int(stamp)
    if isinstance(stamp, int | float) and not isinstance(stamp, bool):
        return _datetime(stamp)
    return None


def _issue_ref(tracker: TrackerConfig, value: Any) -> str | None:
    """An item key from an issue key, `{key: ...}` or Advanced Roadmaps `{data: {key}}`."""
    if isinstance(value, Mapping):
        value = value.get("key") or _mapping(value.get("data"), "parent link").get("key")
    return f"{tracker.name}:{value}" if isinstance(value, str) and value else None


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
    category = _mapping(status.get("statusCategory"), "status.statusCategory")
    # Older Server payloads omit the category; the localised name is never guessed at.
    return _CATEGORIES.get(str(category.get("key")), StatusCategory.TODO)


def _links(value: Any, tracker: TrackerConfig) -> list[Link]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise PayloadError("fields.issuelinks must be a list")
    links = []
    for entry in value:
        entry = _mapping(entry, "fields.issuelinks[]")
        kind = _mapping(entry.get("type"), "issuelinks[].type")
        for side, label in (("outwardIssue", "outward"), ("inwardIssue", "inward")):
            other = _mapping(entry.get(side), f"issuelinks[].{side}")
            if isinstance(other.get("key"), str):
                name = kind.get(label) or kind.get("name") or label
                links.append(Link(str(name), f"{tracker.name}:{other['key']}"))
    return links


def _site(issue: Mapping[str, Any], tracker: TrackerConfig) -> str | None:
    if tracker.url:
        return tracker.url.rstrip("/")
    self_url = issue.get("self")
    if isinstance(self_url, str) and "/rest/" in self_url:
        return self_url.split("/rest/", 1)[0]
    return None


def item_from_issue(issue: Mapping[str, Any], tracker: TrackerConfig) -> WorkItem:
    """A `WorkItem` from a REST v2/v3 issue (the webhook `issue` has the same shape).

    Fields the payload lacks keep their model defaults, so a slim issue (comment events)
    still gives a usable, if partial, item. Raises `PayloadError` for wrong shapes."""
    issue = _mapping(issue, "issue")
    key = issue.get("key")
    if not isinstance(key, str) or not key.strip():
        raise PayloadError("issue has no key")
    fields = _mapping(issue.get("fields"), "issue.fields")
    ids = field_ids(tracker)
    status = _mapping(fields.get("status"), "fields.status")
    status_name = _text(status.get("name"), "fields.status.name") or ""
    project = _mapping(fields.get("project"), "fields.project")
    labels = [] if fields.get("labels") is None else fields["labels"]
    if not isinstance(labels, list):
        raise PayloadError("fields.labels must be a list")
    parent = _issue_ref(tracker, _mapping(fields.get("parent"), "fields.parent").get("key"))
    for name in _PARENT_FIELDS:
        if parent is None and name in ids:
            parent = _issue_ref(tracker, fields.get(ids[name]))
    updated = _datetime(fields.get("updated"))
    site = _site(issue, tracker)
    return WorkItem(
        key=f"{tracker.name}:{key}",
        tracker=tracker.name,
        native_id=key,
        project=str(project.get("key") or key.rsplit("-", 1)[0]),
        type=_item_type(_mapping(fields.get("issuetype"), "fields.issuetype"), tracker),
        title=_text(fields.get("summary"), "fields.summary") or "",
        status=status_name,
        status_category=_status_category(status_name, status, tracker),
        description=rich_text(fields.get("description")),
        assignee=_person(fields.get("assignee"), "fields.assignee"),
        reporter=_person(fields.get("reporter"), "fields.reporter"),
        priority=_text(_mapping(fields.get("priority"), "fields.priority").get("name"), "priority"),
        labels=tuple(str(label) for label in labels),
        estimate=_number(fields.get(ids["estimate"])),
        start_date=_date(fields.get(ids["start_date"])),
        due_date=_date(fields.get(ids["due_date"])),
        parent=parent,
        links=tuple(_links(fields.get("issuelinks"), tracker)),
        created=_datetime(fields.get("created")),
        updated=updated,
        status_changed=_datetime(fields.get("statuscategorychangedate")),
        revision=(updated - _EPOCH) // dt.timedelta(milliseconds=1) if updated else 0,
        url=f"{site}/browse/{key}" if site else None,
        custom={
            name: plain_value(fields.get(field_id))
            for name, field_id in tracker.fields.items()
            if name not in RESERVED_FIELDS
        },
    )


# --- changelog -------------------------------------------------------------------------


def _changelog_names(tracker: TrackerConfig) -> dict[str, str]:
    names = dict(_SYSTEM_FIELDS)
    for name, aliases in _DEFAULT_FIELD_NAMES.items():
        if name not in tracker.fields:
            names.update(dict.fromkeys(aliases, name))
    for name, field_id in field_ids(tracker).items():
        names[field_id.casefold()] = "parent" if name in _PARENT_FIELDS else name
    return names


def _change_value(field: str, raw: Any, shown: Any, tracker: TrackerConfig) -> Any:
    if field == "labels":
        return tuple(str(shown or "").split())
    if field in ("assignee", "reporter"):
        return _person({"accountId": raw, "displayName": shown}, field) if raw or shown else None
    if field == "parent":
        return _issue_ref(tracker, shown or raw)
    if field in ("due_date", "start_date"):
        return _date(raw) or _date(shown)
    if field == "estimate":
        number = _number(shown if shown is not None else raw)
        return number if number is not None else shown
    return shown if shown is not None else raw


def changes_from(payload: Mapping[str, Any], tracker: TrackerConfig) -> list[FieldChange]:
    """`FieldChange`s from `changelog.items`, under common-model names where they map."""
    changelog = _mapping(payload.get("changelog"), "changelog")
    items = [] if changelog.get("items") is None else changelog["items"]
    if not isinstance(items, list):
        raise PayloadError("changelog.items must be a list")
    names = _changelog_names(tracker)
    changes = []
    for index, entry in enumerate(items):
        entry = _mapping(entry, f"changelog.items[{index}]")
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


# --- events ----------------------------------------------------------------------------


def _comment(value: Any) -> Comment | None:
    comment = _mapping(value, "comment")
    if comment.get("id") is None:
        return None
    author = _person(comment.get("author"), "comment.author")
    return Comment(str(comment["id"]), rich_text(comment.get("body")), author)


def _issue_event(payload: Mapping[str, Any], tracker: TrackerConfig, kind: EventKind) -> Event:
    if payload.get("issue") is None:
        raise PayloadError(f"{payload['webhookEvent']} carries no issue")
    item = item_from_issue(payload["issue"], tracker)
    changes = changes_from(payload, tracker)
    occurred = _occurred(payload)
    status_moved = any(change.field == "status" for change in changes)
    if status_moved and item.status_changed is None and occurred is not None:
        item = item.with_changes(status_changed=occurred)
    return Event(
        kind=kind,
        tracker=tracker.name,
        item_key=item.key,
        native_event=payload["webhookEvent"],
        item=item,
        changes=tuple(changes),
        actor=_person(payload.get("user"), "user"),
        occurred=occurred,
        revision=item.revision,
        comment=_comment(payload.get("comment")),
    )


def _issue_created(payload: Mapping[str, Any], tracker: TrackerConfig) -> Event:
    return _issue_event(payload, tracker, EventKind.CREATED)


def _issue_updated(payload: Mapping[str, Any], tracker: TrackerConfig) -> Event:
    # issue_event_type_name is absent in some Server versions: then it is an edit.
    type_name = payload.get("issue_event_type_name")
    commented = type_name in _COMMENT_TYPE_NAMES
    return _issue_event(payload, tracker, EventKind.COMMENTED if commented else EventKind.UPDATED)


def _issue_deleted(payload: Mapping[str, Any], tracker: TrackerConfig) -> Event:
    return _issue_event(payload, tracker, EventKind.DELETED)


def _comment_event(payload: Mapping[str, Any], tracker: TrackerConfig) -> Event:
    """comment_* events: the comment plus a slim issue (summary, type, status, project,
    assignee, priority), so the item is always partial."""
    raw_comment = _mapping(payload.get("comment"), "comment")
    issue = _mapping(payload.get("issue"), "issue")
    item = item_from_issue(issue, tracker) if issue.get("key") else None
    issue_id = issue.get("id")
    if issue_id is None:
        found = _COMMENT_ISSUE_ID.search(str(raw_comment.get("self") or ""))
        issue_id = found.group(1) if found else None
    if item is None and issue_id is None:
        raise PayloadError(f"{payload['webhookEvent']} names no issue")
    deleted = payload["webhookEvent"] == "comment_deleted"
    # The deleter is not in the payload; the comment's author is not who deleted it.
    actor = None if deleted else raw_comment.get("updateAuthor") or raw_comment.get("author")
    return Event(
        kind=EventKind.COMMENTED,
        tracker=tracker.name,
        item_key=item.key if item else f"{tracker.name}:{issue_id}",
        native_event=payload["webhookEvent"],
        item=item,
        actor=_person(actor, "comment.author"),
        occurred=_occurred(payload),
        revision=item.revision if item and item.updated else None,
        comment=_comment(raw_comment),
        partial=True,
    )


def _numeric_id(value: Any, where: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value.isdigit():
        return value
    raise PayloadError(f"{where} must be a numeric issue id")


def _issuelink_event(payload: Mapping[str, Any], tracker: TrackerConfig) -> Event:
    """issuelink_* events name both ends only by numeric issue id. The item key uses that
    id (`jira:10001`); the worker re-fetches by it, which GET /rest/api/*/issue/{idOrKey}
    accepts, and the store learns the key from the fetched issue."""
    link = payload.get("issueLink")
    if not isinstance(link, Mapping):
        raise PayloadError(f"{payload['webhookEvent']} carries no issueLink object")
    source = _numeric_id(link.get("sourceIssueId"), "issueLink.sourceIssueId")
    target = _numeric_id(link.get("destinationIssueId"), "issueLink.destinationIssueId")
    kind = _mapping(link.get("issueLinkType"), "issueLink.issueLinkType")
    label = kind.get("outwardName") or kind.get("outward") or kind.get("name") or "relates to"
    created = payload["webhookEvent"] == "issuelink_created"
    return Event(
        kind=EventKind.LINKED if created else EventKind.UNLINKED,
        tracker=tracker.name,
        item_key=f"{tracker.name}:{source}",
        native_event=payload["webhookEvent"],
        occurred=_occurred(payload),
        link=Link(str(label), f"{tracker.name}:{target}"),
        partial=True,
    )


EventParser = Callable[[Mapping[str, Any], TrackerConfig], Event]

EVENT_PARSERS: dict[str, EventParser] = {
    "jira:issue_created": _issue_created,
    "jira:issue_updated": _issue_updated,
    "jira:issue_deleted": _issue_deleted,
    "comment_created": _comment_event,
    "comment_updated": _comment_event,
    "comment_deleted": _comment_event,
    "issuelink_created": _issuelink_event,
    "issuelink_deleted": _issuelink_event,
}


# Known event families the service acknowledges without acting on: reason, event names.
_IGNORED_FAMILIES = (
    (
        "worklogs change no field the rules read",
        "worklog_created worklog_updated worklog_deleted jira:worklog_updated",
    ),
    (
        "sprints are not work items",
        "sprint_created sprint_updated sprint_deleted sprint_started sprint_closed",
    ),
    (
        "boards are views, not work items",
        "board_created board_updated board_deleted board_configuration_changed",
    ),
    (
        "project changes carry no work item",
        "project_created project_updated project_deleted project_soft_deleted "
        "project_restored_deleted project_archived project_restored_archived",
    ),
    (
        "versions are not work items",
        "jira:version_created jira:version_updated jira:version_deleted jira:version_released "
        "jira:version_unreleased jira:version_moved jira:version_merged",
    ),
    ("user directory changes", "user_created user_updated user_deleted"),
    ("issue type scheme changes", "issuetype_created issuetype_updated issuetype_deleted"),
    (
        "global Jira option toggles",
        "option_voting_changed option_watching_changed option_unassigned_issues_changed "
        "option_subtasks_changed option_attachments_changed option_issuelinks_changed "
        "option_timetracking_changed",
    ),
    ("attachments are not read by rules", "attachment_created attachment_deleted"),
    ("issue properties are not read by rules", "issue_property_set issue_property_deleted"),
    ("saved filters are not work items", "filter_created filter_updated filter_deleted"),
)
IGNORED_EVENTS: dict[str, str] = {
    event: reason for reason, names in _IGNORED_FAMILIES for event in names.split()
}


def parse_event(payload: Any, tracker: TrackerConfig) -> Event | Ignored:
    """One webhook body -> `Event`, or `Ignored` for events the service does not act on
    (known ones with their reason, unknown ones as "unknown event ...").

    Raises `PayloadError` with a one-line reason when the body is not a usable event."""
    if not isinstance(payload, Mapping):
        raise PayloadError(f"expected a JSON object, got {type(payload).__name__}")
    event = payload.get("webhookEvent")
    if not isinstance(event, str) or not event.strip():
        raise PayloadError("missing webhookEvent")
    parser = EVENT_PARSERS.get(event)
    if parser is None:
        return Ignored(event, IGNORED_EVENTS.get(event) or f"unknown event {event!r}")
    try:
        return parser(payload, tracker)
    except PayloadError:
        raise
    except (KeyError, TypeError, AttributeError, ValueError, RecursionError) as exc:
        detail = " ".join(str(exc).split())[:200]
        raise PayloadError(f"{event}: unusable payload ({type(exc).__name__}: {detail})") from None
