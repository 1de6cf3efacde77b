"""Azure DevOps service-hook adapter: verify a delivery, name it, turn it into an `Event`.

Payload shapes (https://learn.microsoft.com/azure/devops/service-hooks/events): for
created/deleted/restored/commented `resource` is the work item in its REST shape
{id, rev, fields, relations, _links, url}. For `workitem.updated` `resource` is a
WorkItemUpdate: `id` is the update number, `workItemId` the item, `fields` maps field
names to {oldValue, newValue}, `relations` has added/removed lists, and `revision` is the
whole item after the update.

Work item -> WorkItem mapping lives in `connector.azure_devops.item`, update ->
FieldChange in `connector.azure_devops.changes`.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Callable, Mapping
from typing import Any

from config.settings import TrackerConfig
from connector.azure_devops.changes import (
    field_changes,
    relation_changes,
    with_new_values,
)
from connector.azure_devops.item import (
    as_mapping,
    item_from_work_item,
    item_native_id,
    person,
    work_item_id_from_url,
)
from connector.bounds import azure_int32, checked_event
from connector.errors import PayloadError
from connector.headers import header_value
from connector.html_text import html_to_text
from connector.model import Comment, Event, EventKind, Ignored, parse_datetime

__all__ = [
    "EVENT_PARSERS",
    "IGNORED_EVENTS",
    "SECRET_HEADER",
    "delivery_id",
    "parse_event",
    "verify_request",
]

SECRET_HEADER = "X-PMO-Bridge-Secret"  # noqa: S105 - a header name, not a secret
# Event ids are GUIDs; a longer one (the store keeps 255 characters) is read as missing.
MAX_DELIVERY_ID = 200


# --- verification ---------------------------------------------------------------------


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
    authorization = header_value(headers, "Authorization")
    if authorization is not None:
        password = _basic_password(authorization)
        if password is not None:
            matched |= hmac.compare_digest(password, expected)
    given = header_value(headers, SECRET_HEADER)
    if given is not None:
        matched |= hmac.compare_digest(given.encode("utf-8"), expected)
    return matched


def delivery_id(headers: Mapping[str, str], payload: Mapping) -> str | None:
    """The notification's event `id`, which a retried delivery repeats; else
    `subscriptionId:notificationId`; else None."""
    if not isinstance(payload, Mapping):
        return None
    event_id = payload.get("id")
    if isinstance(event_id, str) and 0 < len(event_id.strip()) <= MAX_DELIVERY_ID:
        return event_id.strip()
    notification, subscription = payload.get("notificationId"), payload.get("subscriptionId")
    if isinstance(notification, str | int) and isinstance(subscription, str | int):
        joined = f"{subscription}:{notification}"
        if 2 < len(joined) <= MAX_DELIVERY_ID:
            return joined
    return None  # none usable (an id too long to store counts as none): the body's hash


# --- events -------------------------------------------------------------------------


def _updated_item_id(resource: Mapping[str, Any], revision: Mapping[str, Any] | None) -> str:
    # `resource.id` is the update number, never the item. Microsoft's sample sends
    # workItemId 0, so fall back to the revision's id, then the `_links.parent` href.
    candidates = [resource.get("workItemId"), revision.get("id") if revision else None]
    links = resource.get("_links")
    if isinstance(links, Mapping) and isinstance(links.get("parent"), Mapping):
        candidates.append(work_item_id_from_url(links["parent"].get("href")))
    for candidate in candidates:
        if candidate not in (None, "", 0, "0"):
            return item_native_id(candidate, "resource.workItemId")
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
        resource = as_mapping(payload.get("resource"), "resource")
        native_id = item_native_id(resource.get("id"), "resource.id")
        fields = as_mapping(resource.get("fields"), "resource.fields", required=False)
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
    resource = as_mapping(payload.get("resource"), "resource")
    fields = as_mapping(resource.get("fields"), "resource.fields", required=False) or {}
    relations = as_mapping(resource.get("relations"), "resource.relations", required=False) or {}
    revision = as_mapping(resource.get("revision"), "resource.revision", required=False)
    native_id = _updated_item_id(resource, revision)

    changes = field_changes(fields, tracker)
    parent_known = any(change.field == "parent" for change in changes)
    changes += relation_changes(relations, tracker, parent_known=parent_known)

    item = actor = None
    if revision is not None:
        item_fields = with_new_values(
            as_mapping(revision.get("fields"), "resource.revision.fields"), fields
        )
        item = item_from_work_item({**revision, "id": native_id, "fields": item_fields}, tracker)
        actor = person(item_fields.get("System.ChangedBy"))
    actor = person(resource.get("revisedBy")) or actor
    rev = resource.get("rev")
    if isinstance(rev, int) and not isinstance(rev, bool):
        azure_int32(rev, "resource.rev")
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
        return checked_event(parser(payload, tracker))
    except PayloadError:
        raise
    except (TypeError, ValueError, AttributeError, LookupError, ArithmeticError) as exc:
        # A value of the wrong kind deep inside, e.g. a date that is not a date.
        message = f"{event_type}: unusable payload ({type(exc).__name__}: {exc})"
        raise PayloadError(message) from None
