"""What the store hands out: frozen values, never ORM rows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

DELIVERY_STATUSES = ("received", "queued", "processing", "done", "ignored", "failed", "dead")
# not finished yet: waiting for the relay, waiting in the queue, or being processed
UNFINISHED_STATUSES = ("received", "queued", "processing")
# queued or processing rows may have lost their queue message in a crash; received rows
# have none yet (the relay queues them)
RECOVERABLE_STATUSES = ("queued", "processing")


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    id: int
    tracker: str
    delivery_id: str | None
    native_event: str
    payload: bytes
    headers: dict[str, Any]
    status: str
    error: str | None
    attempts: int  # times marked "processing"
    received_at: dt.datetime
    updated_at: dt.datetime
    # what intake read of the event: `webhooks.store.supersession.DeliveryMarks`
    item_key: str | None = None
    event_kind: str | None = None
    item_revision: int | None = None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: int
    delivery_id: str | None  # the tracker's delivery id, as in `DeliveryRecord.delivery_id`
    tracker: str
    native_event: str
    payload: bytes
    error: str
    attempts: int
    created_at: dt.datetime
    replayed_at: dt.datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """The admin API's and `deadletters list --format json`'s view: the payload is
        left out (it can be large); its size says it is there."""
        return {
            "id": self.id,
            "delivery_id": self.delivery_id,
            "tracker": self.tracker,
            "native_event": self.native_event,
            "error": self.error,
            "attempts": self.attempts,
            "payload_bytes": len(self.payload),
            "created_at": self.created_at.isoformat(),
            "replayed_at": self.replayed_at.isoformat() if self.replayed_at else None,
        }


@dataclass(frozen=True, slots=True)
class Ledger:
    """What the service last wrote to one item. The empty ledger means "nothing yet"."""

    comment_id: str | None = None
    comment_hash: str | None = None
    labels: frozenset[str] = frozenset()
    fields: dict[str, Any] = field(default_factory=dict)
    rollup_hash: str | None = None
    item_revision: int | None = None
    findings_hash: str | None = None  # the findings the last finished write-back was for
    # the plain text of the managed comment as last written, hashed (`comment_guard`):
    # what a read of the comment by id is compared with
    comment_text_hash: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", frozenset(self.labels))
        object.__setattr__(self, "fields", dict(self.fields))


@dataclass(frozen=True, slots=True)
class FindingRecord:
    item_key: str
    rule: str
    severity: str
    enforcement: str
    message: str
    status: str  # "fail" | "error"
    first_seen: dt.datetime
    last_seen: dt.datetime
    resolved_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class TrendPoint:
    """Findings on one UTC day: open at the end of it, raised and resolved during it."""

    day: dt.date
    open: int
    raised: int
    resolved: int
