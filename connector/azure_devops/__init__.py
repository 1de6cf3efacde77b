"""Azure DevOps: the webhook adapter (`adapter`), item mapping (`item`), field changes
(`changes`), text conversion and the write-back client (`client`). Other packages import
the adapter's and the mapping's public names from here; the client is built through
`connector.trackers`."""

from connector.azure_devops.adapter import (
    EVENT_PARSERS,
    IGNORED_EVENTS,
    SECRET_HEADER,
    delivery_id,
    parse_event,
    verify_request,
)
from connector.azure_devops.changes import (
    COMMON_FIELDS,
    NOISE_FIELDS,
    change_name,
    change_value,
)
from connector.azure_devops.item import (
    DEFAULT_FIELDS,
    DEFAULT_STATES,
    DEFAULT_TYPES,
    HIERARCHY_REVERSE,
    RESERVED_FIELD_NAMES,
    field_ids,
    item_from_work_item,
    item_type,
    person,
    status_category,
    tags,
    work_item_date,
    work_item_id_from_url,
)

__all__ = [
    "COMMON_FIELDS",
    "DEFAULT_FIELDS",
    "DEFAULT_STATES",
    "DEFAULT_TYPES",
    "EVENT_PARSERS",
    "HIERARCHY_REVERSE",
    "IGNORED_EVENTS",
    "NOISE_FIELDS",
    "RESERVED_FIELD_NAMES",
    "SECRET_HEADER",
    "change_name",
    "change_value",
    "delivery_id",
    "field_ids",
    "item_from_work_item",
    "item_type",
    "parse_event",
    "person",
    "status_category",
    "tags",
    "verify_request",
    "work_item_date",
    "work_item_id_from_url",
]
