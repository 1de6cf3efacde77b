"""The few fields of a child item that its parent's rollup reads.

`compute_rollup` and `RollupSpec.is_blocked` read a child's status, status category,
labels, estimate, start and due dates, and when it was last updated or moved status;
nothing else. The store keeps these beside each item (`ChildFacts.to_dict`, the same
names and JSON forms as `WorkItem.to_dict`), so a child's event recomputes its ancestors
from every sibling's facts instead of decoding every sibling's whole item.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connector.model import StatusCategory, WorkItem, parse_date, parse_datetime

# WorkItem fields a rollup reads; keep in step with compute_rollup and RollupSpec.is_blocked
FACT_FIELDS = (
    "status", "status_category", "labels", "estimate", "start_date", "due_date", "updated",
    "status_changed",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ChildFacts:
    """A child as its parent's rollup reads it; has the same attribute names as `WorkItem`,
    so either can stand in a `ChildView`."""

    key: str
    status: str
    status_category: StatusCategory
    labels: tuple[str, ...] = ()
    estimate: float | None = None
    start_date: dt.date | None = None
    due_date: dt.date | None = None
    updated: dt.datetime | None = None
    status_changed: dt.datetime | None = None

    @classmethod
    def of(cls, item: WorkItem) -> ChildFacts:
        return cls(item.key, *(getattr(item, name) for name in FACT_FIELDS))

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "status_category": self.status_category.value,
            "labels": list(self.labels),
            "estimate": self.estimate,
            "start_date": _iso(self.start_date),
            "due_date": _iso(self.due_date),
            "updated": _iso(self.updated),
            "status_changed": _iso(self.status_changed),
        }

    @classmethod
    def from_dict(cls, key: str, data: Mapping[str, Any]) -> ChildFacts:
        """Read back `to_dict`, or a whole `WorkItem.to_dict()`, as `WorkItem.from_dict`
        reads those fields: a rollup from facts equals one from the whole items."""
        estimate = data.get("estimate")
        return cls(
            key=key,
            status=data.get("status") or "",
            status_category=StatusCategory(data["status_category"]),
            labels=tuple(data.get("labels") or ()),
            estimate=None if estimate is None else float(estimate),
            start_date=_date(data.get("start_date")),
            due_date=_date(data.get("due_date")),
            updated=_datetime(data.get("updated")),
            status_changed=_datetime(data.get("status_changed")),
        )


def _iso(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def _date(value: Any) -> dt.date | None:
    if value.__class__ is str and len(value) == 10:  # what isoformat() wrote: the fast way
        return dt.date.fromisoformat(value)
    return parse_date(value)


def _datetime(value: Any) -> dt.datetime | None:
    if value.__class__ is str and value[-6:-5] in ("+", "-"):  # isoformat() of an aware time
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            pass
    return parse_datetime(value)
