"""Portfolio rollups: the figures of an epic or initiative, computed from its direct children.

Rollups are recomputed bottom-up when a child changes, each parent from its DIRECT
children only: a child that is itself a rollup parent contributes its stored rollup, a
child without one (or with an empty one) is a leaf and contributes its own estimate and
status. So `compute_rollup(spec, parent, children, now)` is a pure function, O(children).

Figures: counts by status category of the direct children (removed ones are counted in
`by_category` and excluded from everything else); points and leaf counts done/total,
recursive through child rollups (a child rollup replaces its item's own estimate, so
nothing is counted twice); progress (points when any leaf is estimated, else leaves);
earliest start and latest due among children and their rollups; overdue direct children
(not done, due date passed); blocked children (open direct children whose status or a
label is in the spec's blocked sets, plus the blocked counts of child rollups);
non-compliant children (direct, plus child rollups' counts); forecast end, slip and
progress behind plan as described in `rules.forecast`; and a RAG status: red if any red
threshold is met, else amber if any amber threshold is met, else green (a done or removed
parent is green, except a done parent with open children: amber, or red when its spec's
`closed_with_open_children` says so). A threshold is met when the measured value >= the threshold.

Specs (what a rules file asks for: `RollupSpec`, `rollup_spec_from_dict`, the metric,
RAG and threshold names) live in `rules.rollup_spec`, and what a rollup becomes on the
tracker (RAG labels, field values, comment rows) in `rules.rollup_output`; their public
names are importable from here as before.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from types import MappingProxyType
from typing import Any

from connector.model import StatusCategory, WorkItem, parse_date, parse_datetime
from rules import forecast as fc
from rules.rollup_facts import ChildFacts
from rules.rollup_output import (
    RAG_LABELS,
    field_values,
    metric_value,
    rag_label,
    rollup_document_rows,
)
from rules.rollup_schedule import Schedule, plural, schedule_of
from rules.rollup_spec import (
    AMBER,
    DEFAULT_AMBER,
    DEFAULT_RED,
    GREEN,
    METRICS,
    RAG_VALUES,
    RED,
    SPEC_KEYS,
    THRESHOLD_NAMES,
    THRESHOLDS,
    RagThresholds,
    RollupSpec,
    WriteBackSpec,
    rollup_spec_from_dict,
)

__all__ = [
    "AMBER",
    "CATEGORIES",
    "DEFAULT_AMBER",
    "DEFAULT_RED",
    "GREEN",
    "METRICS",
    "RAG_LABELS",
    "RAG_VALUES",
    "RED",
    "SPEC_KEYS",
    "THRESHOLDS",
    "THRESHOLD_NAMES",
    "ChildFacts",
    "ChildView",
    "RagThresholds",
    "Rollup",
    "RollupSpec",
    "Schedule",
    "WriteBackSpec",
    "compute_rollup",
    "field_values",
    "metric_value",
    "rag_label",
    "rollup_document_rows",
    "rollup_spec_from_dict",
    "schedule_of",
]

CATEGORIES = tuple(c.value for c in StatusCategory)
_CLOSED = (StatusCategory.DONE, StatusCategory.REMOVED)


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


def compute_rollup(
    spec: RollupSpec, parent: WorkItem, children: Sequence[ChildView], now: dt.datetime
) -> Rollup:
    """The rollup of `parent` from its direct children; pure and O(len(children))."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.UTC)
    today = now.date()
    window_start = now - dt.timedelta(days=spec.throughput_window_days)
    by_category = dict.fromkeys(CATEGORIES, 0)
    points_total = points_done = recent_points = 0.0
    leaves_total = leaves_done = recent_leaves = 0
    overdue = blocked = noncompliant = 0
    start: dt.date | None = None
    due: dt.date | None = None

    for view in children:
        item = view.item
        by_category[item.status_category.value] += 1
        if item.status_category is StatusCategory.REMOVED:
            continue
        is_done = item.status_category is StatusCategory.DONE
        noncompliant += view.noncompliant
        if not is_done:
            blocked += spec.is_blocked(item)
            overdue += item.due_date is not None and item.due_date < today
        start = _earliest(start, item.start_date)
        due = _latest(due, item.due_date)
        sub = view.rollup
        if sub is not None and sub.leaves_total > 0:
            points_total += sub.points_total
            points_done += sub.points_done
            leaves_total += sub.leaves_total
            leaves_done += sub.leaves_done
            recent_points += sub.recent_done_points
            recent_leaves += sub.recent_done_leaves
            blocked += sub.blocked_children
            noncompliant += sub.noncompliant_children
            start = _earliest(start, sub.start)
            due = _latest(due, sub.due)
            continue
        estimate = max(item.estimate or 0.0, 0.0)
        leaves_total += 1
        points_total += estimate
        if is_done:
            leaves_done += 1
            points_done += estimate
            finished = item.status_changed or item.updated
            if finished is not None and finished.tzinfo is None:
                finished = finished.replace(tzinfo=dt.UTC)
            if finished is not None and finished >= window_start:
                recent_leaves += 1
                recent_points += estimate

    # rounded so that summing in another order cannot change the content hash
    points_total, points_done = round(points_total, 4), round(points_done, 4)
    recent_points = round(recent_points, 4)
    if points_total > 0:
        progress = points_done / points_total
        remaining, recent = points_total - points_done, recent_points
    else:
        progress = leaves_done / leaves_total if leaves_total else 0.0
        remaining, recent = float(leaves_total - leaves_done), float(recent_leaves)
    progress = round(progress, 4)
    window = spec.throughput_window_days
    forecast = fc.forecast_end(today, remaining, recent, window)
    closed = parent.status_category in _CLOSED
    draft = Rollup(
        parent_key=parent.key,
        children=len(children) - by_category[StatusCategory.REMOVED.value],
        by_category=by_category,
        done=by_category[StatusCategory.DONE.value],
        points_total=points_total,
        points_done=points_done,
        leaves_total=leaves_total,
        leaves_done=leaves_done,
        progress=progress,
        start=start,
        due=due,
        target_due=parent.due_date,
        forecast_end=forecast,
        overdue_children=overdue,
        blocked_children=blocked,
        noncompliant_children=noncompliant,
        slip_days=fc.slip_days(
            parent.due_date, forecast, today, closed=closed, remaining=remaining
        ),
        progress_behind=None
        if closed
        else fc.progress_behind(progress, parent.start_date or start, parent.due_date, today),
        rag=GREEN,
        rag_reasons=(),
        throughput_per_day=round(fc.throughput_per_day(recent, window), 4),
        recent_done_points=recent_points,
        recent_done_leaves=recent_leaves,
        computed_at=now,
    )
    if closed:
        still_open = draft.children - draft.done
        if parent.status_category is StatusCategory.DONE and still_open:
            reason = f"done with {plural(still_open, 'open child', 'open children')}"
            return _replace(draft, rag=spec.closed_with_open_children, rag_reasons=(reason,))
        return _replace(draft, rag_reasons=(parent.status_category.value,))
    red, amber = spec.red.met(draft), spec.amber.met(draft)
    rag = RED if red else AMBER if amber else GREEN
    reasons = tuple(_reason(draft, name) for name in THRESHOLDS if name in red or name in amber)
    return _replace(draft, rag=rag, rag_reasons=reasons)


def _replace(rollup: Rollup, **changes: Any) -> Rollup:
    values = {f.name: getattr(rollup, f.name) for f in fields(rollup)}
    values.update(changes)
    return Rollup(**values)


def _earliest(a: dt.date | None, b: dt.date | None) -> dt.date | None:
    return b if a is None or (b is not None and b < a) else a


def _latest(a: dt.date | None, b: dt.date | None) -> dt.date | None:
    return b if a is None or (b is not None and b > a) else a


def _reason(rollup: Rollup, threshold: str) -> str:
    if threshold == "slip_days":
        days = rollup.slip_days or 0
        if rollup.forecast_end is None:
            return f"{plural(days, 'day', 'days')} overdue, no recent throughput"
        if days < 0:
            return f"forecast {plural(-days, 'day', 'days')} before due"
        return f"forecast {plural(days, 'day', 'days')} past due"
    if threshold == "blocked_children":
        return plural(rollup.blocked_children, "blocked child", "blocked children")
    if threshold == "overdue_children":
        return plural(rollup.overdue_children, "overdue child", "overdue children")
    if threshold == "noncompliant_children":
        return plural(rollup.noncompliant_children, "non-compliant child", "non-compliant children")
    return f"progress {round((rollup.progress_behind or 0) * 100)}% behind plan"
