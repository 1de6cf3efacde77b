"""Jira: the webhook adapter (`adapter`), item mapping (`item`), field changes
(`changes`), text conversion and the write-back client (`client`). Other packages import
the adapter's and the mapping's public names from here; the client is built through
`connector.trackers`."""

from connector.jira.adapter import (
    DELIVERY_HEADER,
    EVENT_PARSERS,
    IGNORED_EVENTS,
    SIGNATURE_HEADER,
    EventParser,
    delivery_id,
    parse_event,
    verify_request,
)
from connector.jira.changes import (
    changes_from,
)
from connector.jira.item import (
    DEFAULT_FIELDS,
    RESERVED_FIELDS,
    field_ids,
    item_from_issue,
)

__all__ = [
    "DEFAULT_FIELDS",
    "DELIVERY_HEADER",
    "EVENT_PARSERS",
    "IGNORED_EVENTS",
    "RESERVED_FIELDS",
    "SIGNATURE_HEADER",
    "EventParser",
    "changes_from",
    "delivery_id",
    "field_ids",
    "item_from_issue",
    "parse_event",
    "verify_request",
]
