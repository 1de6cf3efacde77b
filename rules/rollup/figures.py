"""The figures of one rollup (`Rollup`) and a direct child as a rollup sees it
(`ChildView`): plain values, stored as JSON and compared by content hash."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from types import MappingProxyType
from typing import Any

from connector.model import StatusCategory, WorkItem, parse_date, parse_datetime
from rules.rollup.facts import ChildFacts

CATEGORIES = tuple(c.value for c in StatusCategory)
CLOSED = (StatusCategory.DONE, StatusCategory.REMOVED)


@dataclass(frozen=True, slots=True)
class Rollup:
    parent_key: str
    children: int  # direct children, removed ones excluded
    by_category: Mapping[str, int]  # direct children per status category, removed included
    done: int  # direct children done
    points_total: float
    points_done: float
    leaves_total: int
    leaves_done: int
    progress: float  # 0..1
    start: dt.date | None
    due: dt.date | None  # latest due date among children and their rollups
    target_due: dt.date | None  # the parent's own due date: slip is measured against it
    forecast_end: dt.date | None
    overdue_children: int
    blocked_children: int
    noncompliant_children: int
    slip_days: int | None
    progress_behind: float | None
    rag: str
    rag_reasons: tuple[str, ...]
    throughput_per_day: float
    recent_done_points: float
    recent_done_leaves: int
    computed_at: dt.datetime | None = None

    def __post_init__(self) -> None:
        counts = {name: int(self.by_category.get(name, 0)) for name in CATEGORIES}
        object.__setattr__(self, "by_category", MappingProxyType(counts))
        # 16 and 16.0 must hash alike, whichever way a rollup was stored and read back
        for name in _FLOAT_FIGURES:
            object.__setattr__(self, name, float(getattr(self, name)))
        if self.progress_behind is not None:
            object.__setattr__(self, "progress_behind", float(self.progress_behind))
        object.__setattr__(self, "rag_reasons", tuple(self.rag_reasons))

    @property
    def uses_points(self) -> bool:
        return self.points_total > 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; `Rollup.from_dict(r.to_dict()) == r`."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, dt.date):  # datetimes too
                value = value.isoformat()
            elif isinstance(value, Mapping):
                value = dict(value)
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Rollup:
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in data:
                if f.name in _OPTIONAL_ON_LOAD:
                    continue
                raise ValueError(f"stored rollup lacks {f.name!r}")
            values[f.name] = data[f.name]
        for name in ("start", "due", "target_due", "forecast_end"):
            values[name] = parse_date(values.get(name))
        values["computed_at"] = parse_datetime(values.get("computed_at"))
        return cls(**values)

    def content_hash(self) -> str:
        """sha256 of the figures (not the timestamp): equal hashes mean nothing to write."""
        figures = self.to_dict()
        figures.pop("computed_at")
        text = json.dumps(figures, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


_FLOAT_FIGURES = (
    "points_total", "points_done", "progress", "throughput_per_day", "recent_done_points",
)  # fmt: skip
_OPTIONAL_ON_LOAD = frozenset({"computed_at", "target_due", "progress_behind"})


@dataclass(frozen=True, slots=True)
class ChildView:
    """A direct child as the rollup sees it: the item (whole, or only the facts a rollup
    reads), its own stored rollup when it is a rollup parent, and whether the rule engine
    found it non-compliant."""

    item: WorkItem | ChildFacts
    rollup: Rollup | None = None
    noncompliant: bool = False
