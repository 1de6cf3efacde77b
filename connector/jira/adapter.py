"""Jira webhook adapter: verify a delivery, name it, and turn its payload into an `Event`.

Jira Cloud and Server/Data Center send the same payload families: issue events carry the
whole issue (REST v2 shape) plus a `changelog`; comment events carry the comment and a
slim issue; issue-link events carry only numeric issue ids. Events that carry less than
a full issue come back with `partial=True` so the worker re-fetches the item before rules
run. Nothing here talks to Jira.

Issue -> WorkItem mapping lives in `connector.jira.item`, changelog -> FieldChange in
`connector.jira.changes`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from config.settings import TrackerConfig
from connector.bounds import checked_event, jira_issue_id
from connector.errors import PayloadError
from connector.headers import header_value
from connector.jira.changes import changes_from
from connector.jira.item import (
    as_datetime,
    as_mapping,
    item_from_issue,
    person_from,
)
from connector.jira.text import rich_text
from connector.model import Comment, Event, EventKind, Ignored, Link

__all__ = [
    "DELIVERY_HEADER",
    "EVENT_PARSERS",
    "IGNORED_EVENTS",
    "SIGNATURE_HEADER",
    "EventParser",
    "delivery_id",
    "parse_event",
    "verify_request",
]


SIGNATURE_HEADER = "X-Hub-Signature"
DELIVERY_HEADER = "X-Atlassian-Webhook-Identifier"
_SIGNATURE = re.compile(r"sha256=([0-9a-f]{64})", re.IGNORECASE)
_COMMENT_TYPE_NAMES = frozenset(
    {"issue_commented", "issue_comment_edited", "issue_comment_deleted"}
)
_COMMENT_ISSUE_ID = re.compile(r"/issue/(\d+)/comment/")


# --- request verification and identity ------------------------------------------------


def verify_request(headers: Mapping[str, str], raw_body: bytes, secret: str | None) -> bool:
    """True when `X-Hub-Signature: sha256=<hex>` is the HMAC-SHA256 of the raw body under
    `secret` (hex in either case). No secret configured: every delivery is accepted."""
    if secret is None:
        return True
    header = header_value(headers, SIGNATURE_HEADER)
    match = _SIGNATURE.fullmatch(header.strip()) if header else None
    if match is None or not isinstance(raw_body, bytes | bytearray | memoryview):
        return False
    expected = hmac.new(secret.encode("utf-8"), bytes(raw_body), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, match.group(1).lower())


def delivery_id(headers: Mapping[str, str], payload: Mapping[str, Any]) -> str | None:
    """Jira's `X-Atlassian-Webhook-Identifier` (the same on every retry), else a hash of
    what identifies the change in the body, so a redelivered body still dedupes."""
    header = (header_value(headers, DELIVERY_HEADER) or "").strip()
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


# --- events ----------------------------------------------------------------------------


def _occurred(payload: Mapping[str, Any]) -> dt.datetime | None:
    stamp = payload.get("timestamp")
    if isinstance(stamp, str) and stamp.isdigit():
        stamp = int(stamp)
    if isinstance(stamp, int | float) and not isinstance(stamp, bool):
        return as_datetime(stamp)
    return None


def _comment(value: Any) -> Comment | None:
    comment = as_mapping(value, "comment")
    if not isinstance(comment.get("id"), str | int) or isinstance(comment.get("id"), bool):
        return None  # no id, or one of the wrong type: no comment to speak of
    author = person_from(comment.get("author"), "comment.author")
    return Comment(str(comment["id"]), rich_text(comment.get("body")), author)


def _issue_event(payload: Mapping[str, Any], tracker: TrackerConfig, kind: EventKind) -> Event:
    if payload.get("issue") is None:
        raise PayloadError(f"{payload['webhookEvent']} carries no issue")
    item = item_from_issue(payload["issue"], tracker)
    changes = changes_from(payload, tracker)
    occurred = _occurred(payload)
    # Jira only dates changes of status *category*; a move within one (In Progress ->
    # Blocked) is dated by the event, so "blocked for 5 days" counts from the block.
    status_moved = any(change.field == "status" for change in changes)
    if status_moved and occurred is not None:
        item = item.with_changes(status_changed=max(occurred, item.status_changed or occurred))
    # An Epic Link / Parent Link change names the new parent even where the issue's own
    # fields do not (the custom field's id not configured, or not in the payload).
    new_parent = next((c.new for c in reversed(changes) if c.field == "parent" and c.new), None)
    if item.parent is None and isinstance(new_parent, str):
        item = item.with_changes(parent=new_parent)
    return Event(
        kind=kind,
        tracker=tracker.name,
        item_key=item.key,
        native_event=payload["webhookEvent"],
        item=item,
        changes=tuple(changes),
        actor=person_from(payload.get("user"), "user"),
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
    raw_comment = as_mapping(payload.get("comment"), "comment")
    issue = as_mapping(payload.get("issue"), "issue")
    item = item_from_issue(issue, tracker) if issue.get("key") else None
    issue_id = issue.get("id")
    if issue_id is None:
        found = _COMMENT_ISSUE_ID.search(str(raw_comment.get("self") or ""))
        issue_id = found.group(1) if found else None
    if issue_id is not None:
        issue_id = jira_issue_id(issue_id, "issue.id")
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
        actor=person_from(actor, "comment.author"),
        occurred=_occurred(payload),
        revision=item.revision if item and item.updated else None,
        comment=_comment(raw_comment),
        partial=True,
    )


def _numeric_id(value: Any, where: str) -> str:
    return jira_issue_id(value, where)


def _issuelink_event(payload: Mapping[str, Any], tracker: TrackerConfig) -> Event:
    """issuelink_* events name both ends only by numeric issue id. The item key uses that
    id (`jira:10001`); the worker re-fetches by it, which GET /rest/api/*/issue/{idOrKey}
    accepts, and the store learns the key from the fetched issue."""
    link = payload.get("issueLink")
    if not isinstance(link, Mapping):
        raise PayloadError(f"{payload['webhookEvent']} carries no issueLink object")
    source = _numeric_id(link.get("sourceIssueId"), "issueLink.sourceIssueId")
    target = _numeric_id(link.get("destinationIssueId"), "issueLink.destinationIssueId")
    kind = as_mapping(link.get("issueLinkType"), "issueLink.issueLinkType")
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
        return checked_event(parser(payload, tracker))
    except PayloadError:
        raise
    except (
        LookupError,
        TypeError,
        AttributeError,
        ValueError,
        ArithmeticError,
        RecursionError,
    ) as exc:
        detail = " ".join(str(exc).split())[:200]
        raise PayloadError(f"{event}: unusable payload ({type(exc).__name__}: {detail})") from None
