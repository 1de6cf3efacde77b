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
parent is always green). A threshold is met when the measured value >= the threshold.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

from connector.model import ItemType, StatusCategory, WorkItem, parse_date, parse_datetime
from rules import forecast as fc

METRICS = (
    "children", "done", "progress", "points_total", "points_done", "start", "due",
    "forecast_end", "overdue", "blocked", "noncompliant", "rag",
)  # fmt: skip
GREEN, AMBER, RED = "green", "amber", "red"
RAG_VALUES = (GREEN, AMBER, RED)
# threshold name -> (kind, Rollup attribute it is measured on); order = order of reasons
THRESHOLDS: dict[str, tuple[type, str]] = {
    "slip_days": (int, "slip_days"),
    "blocked_children": (int, "blocked_children"),
    "overdue_children": (int, "overdue_children"),
    "noncompliant_children": (int, "noncompliant_children"),
    "progress_behind": (float, "progress_behind"),
}
THRESHOLD_NAMES = tuple(THRESHOLDS)
CATEGORIES = tuple(c.value for c in StatusCategory)
_CLOSED = (StatusCategory.DONE, StatusCategory.REMOVED)


@dataclass(frozen=True, slots=True)
class RagThresholds:
    """One RAG level; a threshold is met when the measured value >= it; None = not used."""

    slip_days: int | None = None
    blocked_children: int | None = None
    noncompliant_children: int | None = None
    overdue_children: int | None = None
    progress_behind: float | None = None  # fraction: 0.2 = 20 percentage points behind plan

    def met(self, rollup: Rollup) -> list[str]:
        """Names of the thresholds this rollup meets, in reason order."""
        out = []
        for name, (_, attribute) in THRESHOLDS.items():
            threshold, value = getattr(self, name), getattr(rollup, attribute)
            if threshold is not None and value is not None and value >= threshold:
                out.append(name)
        return out


@dataclass(frozen=True, slots=True)
class WriteBackSpec:
    comment: bool = True
    labels: bool = True
    fields: Mapping[str, str] = field(default_factory=dict)  # metric name -> tracker field id

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields", MappingProxyType(dict(self.fields)))


@dataclass(frozen=True, slots=True)
class RollupSpec:
    id: str
    parent_types: frozenset[str]
    metrics: tuple[str, ...]
    red: RagThresholds
    amber: RagThresholds
    write_back: WriteBackSpec
    blocked_statuses: frozenset[str] = frozenset({"blocked"})
    blocked_labels: frozenset[str] = frozenset({"blocked"})
    throughput_window_days: int = 28

    def __post_init__(self) -> None:
        # matching is case-insensitive: Jira says "Blocked", a team may tag "BLOCKED"
        for name in ("parent_types", "blocked_statuses", "blocked_labels"):
            object.__setattr__(self, name, frozenset(v.casefold() for v in getattr(self, name)))
        object.__setattr__(self, "metrics", tuple(self.metrics))
        if self.throughput_window_days < 1:
            raise ValueError(f"rollup {self.id!r}: throughput_window_days must be at least 1")

    def applies_to(self, item: WorkItem) -> bool:
        return item.type.value in self.parent_types

    def is_blocked(self, item: WorkItem) -> bool:
        return item.status.casefold() in self.blocked_statuses or any(
            label.casefold() in self.blocked_labels for label in item.labels
        )


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
    """A direct child as the rollup sees it: the item, its own stored rollup when it is a
    rollup parent, and whether the rule engine found it non-compliant."""

    item: WorkItem
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


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def _reason(rollup: Rollup, threshold: str) -> str:
    if threshold == "slip_days":
        days = rollup.slip_days or 0
        if rollup.forecast_end is None:
            return f"{_plural(days, 'day', 'days')} overdue, no recent throughput"
        if days < 0:
            return f"forecast {_plural(-days, 'day', 'days')} before due"
        return f"forecast {_plural(days, 'day', 'days')} past due"
    if threshold == "blocked_children":
        return _plural(rollup.blocked_children, "blocked child", "blocked children")
    if threshold == "overdue_children":
        return _plural(rollup.overdue_children, "overdue child", "overdue children")
    if threshold == "noncompliant_children":
        return _plural(
            rollup.noncompliant_children, "non-compliant child", "non-compliant children"
        )
    return f"progress {round((rollup.progress_behind or 0) * 100)}% behind plan"


# --- spec from the rules file ---------------------------------------------------------

SPEC_KEYS = (
    "id", "title", "parents", "metrics", "rag", "write_back", "blocked_statuses", "blocked_labels",
    "throughput_window_days",
)  # fmt: skip
# used when a rollup has no `rag:` at all (the contract's example)
DEFAULT_RED = RagThresholds(slip_days=10, blocked_children=1)
DEFAULT_AMBER = RagThresholds(slip_days=1, noncompliant_children=1)


def rollup_spec_from_dict(data: Mapping[str, Any]) -> RollupSpec:
    """A RollupSpec from one entry of a rules file's `rollups:` list.

    Defaults: every metric, the contract's RAG thresholds when `rag` is absent (a level
    left out of a given `rag` is unused), comment and labels written, no fields, status
    and label "blocked", a 28-day throughput window. Raises ValueError naming the key.
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"a rollup must be a mapping, got {type(data).__name__}")
    rid = data.get("id")
    if not isinstance(rid, str) or not rid.strip():
        raise ValueError("a rollup needs an id (a non-empty string)")
    where = f"rollup {rid!r}"
    _only(data, SPEC_KEYS, where)

    parents = data.get("parents")
    if not isinstance(parents, Mapping) or "type" not in parents:
        raise ValueError(f"{where}: parents must be a mapping like {{type: [initiative, epic]}}")
    _only(parents, ("type",), f"{where}: parents")
    types = _strings(parents["type"], f"{where}: parents.type")
    allowed_types = [t.value for t in ItemType]
    for name in types:
        if name.casefold() not in allowed_types:
            raise ValueError(
                f"{where}: parents.type {name!r} is not an item type "
                f"(allowed: {', '.join(allowed_types)})"
            )

    metrics = _strings(data.get("metrics", list(METRICS)), f"{where}: metrics")
    for name in metrics:
        _known_metric(name, f"{where}: metrics")

    rag = data.get("rag")
    if rag is None:
        red, amber = DEFAULT_RED, DEFAULT_AMBER
    elif isinstance(rag, Mapping):
        _only(rag, ("red", "amber"), f"{where}: rag")
        red = _thresholds(rag.get("red"), f"{where}: rag.red")
        amber = _thresholds(rag.get("amber"), f"{where}: rag.amber")
    else:
        raise ValueError(f"{where}: rag must be a mapping with red and/or amber")

    write_back = data.get("write_back") or {}
    if not isinstance(write_back, Mapping):
        raise ValueError(f"{where}: write_back must be a mapping {{comment, labels, fields}}")
    _only(write_back, ("comment", "labels", "fields"), f"{where}: write_back")
    flags = {}
    for flag in ("comment", "labels"):
        flags[flag] = write_back.get(flag, True)
        if not isinstance(flags[flag], bool):
            raise ValueError(f"{where}: write_back.{flag} must be true or false")
    field_ids = write_back.get("fields") or {}
    if not isinstance(field_ids, Mapping):
        raise ValueError(f"{where}: write_back.fields must map a metric to a field id")
    for metric, field_id in field_ids.items():
        _known_metric(metric, f"{where}: write_back.fields")
        if not isinstance(field_id, str) or not field_id.strip():
            raise ValueError(f"{where}: write_back.fields.{metric} must be a tracker field id")

    window = data.get("throughput_window_days", 28)
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise ValueError(f"{where}: throughput_window_days must be a whole number >= 1")
    return RollupSpec(
        id=rid,
        parent_types=frozenset(types),
        metrics=tuple(dict.fromkeys(metrics)),
        red=red,
        amber=amber,
        write_back=WriteBackSpec(flags["comment"], flags["labels"], dict(field_ids)),
        blocked_statuses=frozenset(
            _strings(data.get("blocked_statuses", ["blocked"]), f"{where}: blocked_statuses")
        ),
        blocked_labels=frozenset(
            _strings(data.get("blocked_labels", ["blocked"]), f"{where}: blocked_labels")
        ),
        throughput_window_days=window,
    )


def _only(data: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
    allowed = tuple(allowed)
    for key in data:
        if key not in allowed:
            raise ValueError(f"{where}: unknown key {key!r} (allowed: {', '.join(allowed)})")


def _strings(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not value:
        raise ValueError(f"{where} must be a non-empty list of names")
    if not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError(f"{where} must contain only non-empty names")
    return list(value)


def _known_metric(name: Any, where: str) -> None:
    if name not in METRICS:
        raise ValueError(f"{where}: unknown metric {name!r} (allowed: {', '.join(METRICS)})")


def _thresholds(value: Any, where: str) -> RagThresholds:
    if value is None:
        return RagThresholds()
    if not isinstance(value, Mapping):
        raise ValueError(f"{where} must be a mapping of thresholds")
    _only(value, THRESHOLDS, where)
    out: dict[str, Any] = {}
    for name, threshold in value.items():
        kind = THRESHOLDS[name][0]
        if threshold is None:
            continue
        if isinstance(threshold, bool) or not isinstance(threshold, int | float):
            raise ValueError(f"{where}.{name} must be a number, got {threshold!r}")
        if kind is int and threshold != int(threshold):
            raise ValueError(f"{where}.{name} must be a whole number, got {threshold!r}")
        if name == "progress_behind" and not 0 <= threshold <= 1:
            raise ValueError(f"{where}.{name} must be a fraction from 0 to 1 (0.2 = 20%)")
        if threshold < 0:
            raise ValueError(f"{where}.{name} must be 0 or more")
        out[name] = kind(threshold)
    return RagThresholds(**out)


# --- what is written back -------------------------------------------------------------


def rag_label(prefix: str, rag: str) -> str:
    """The managed label of a RAG status: rag_label("pmo-", "red") == "pmo-rag-red"."""
    if rag not in RAG_VALUES:
        raise ValueError(f"unknown RAG status {rag!r} (allowed: {', '.join(RAG_VALUES)})")
    return f"{prefix}rag-{rag}"


def RAG_LABELS(prefix: str) -> frozenset[str]:
    """All three RAG labels, so write-back can remove the stale ones."""
    return frozenset(rag_label(prefix, rag) for rag in RAG_VALUES)


def metric_value(rollup: Rollup, metric: str) -> Any:
    """A metric as a tracker field holds it: progress in percent (one decimal), dates as
    ISO strings or None, RAG as its lower-case name, counts and points as numbers."""
    _known_metric(metric, "field_values")
    if metric == "progress":
        return round(rollup.progress * 100, 1)
    if metric in ("start", "due", "forecast_end"):
        value = getattr(rollup, metric)
        return value.isoformat() if value is not None else None
    if metric in ("overdue", "blocked", "noncompliant"):
        return getattr(rollup, f"{metric}_children")
    return getattr(rollup, metric)


def field_values(spec: RollupSpec, rollup: Rollup) -> dict[str, Any]:
    """{tracker field id: value} for the spec's write_back.fields."""
    return {
        field_id: metric_value(rollup, metric)
        for metric, field_id in spec.write_back.fields.items()
    }


def _number(value: float) -> str:
    return f"{value:g}" if value == int(value) else f"{value:.1f}"


def _percent(rollup: Rollup) -> str:
    percent = round(rollup.progress * 100)
    if percent == 100 and rollup.progress < 1:
        percent = 99  # never show 100% while work remains
    return f"{percent}%"


# row label -> the metrics that show it
_ROW_METRICS = {
    "Progress": ("progress", "points_total", "points_done"),
    "Children": ("children", "done"),
    "Dates": ("start", "due", "forecast_end"),
    "RAG": ("rag",),
    "Blocked": ("blocked",),
    "Overdue": ("overdue",),
    "Non-compliant": ("noncompliant",),
}


def rollup_document_rows(
    rollup: Rollup, metrics: Iterable[str] | None = None
) -> list[tuple[str, str]]:
    """Label/value rows a PM takes in at a glance; `metrics` (e.g. spec.metrics) limits
    them to the rows showing those metrics."""
    if rollup.uses_points:
        amount = f"{_number(rollup.points_done)}/{_number(rollup.points_total)} pts"
    else:
        amount = f"{rollup.leaves_done}/{rollup.leaves_total} items"
    counts = rollup.by_category
    children = (
        f"{rollup.children}: {counts['todo']} to do, {counts['in_progress']} in progress, "
        f"{counts['done']} done"
        if rollup.children
        else "none"
    )
    if counts["removed"]:
        children += f" ({counts['removed']} removed)"
    rows = {
        "Progress": f"{_percent(rollup)} ({amount})",
        "Children": children,
        "Dates": _dates(rollup),
        "RAG": rollup.rag.upper()
        + (f": {'; '.join(rollup.rag_reasons)}" if rollup.rag_reasons else ""),
        "Blocked": str(rollup.blocked_children),
        "Overdue": str(rollup.overdue_children),
        "Non-compliant": str(rollup.noncompliant_children),
    }
    wanted = None if metrics is None else set(metrics)
    return [
        (label, text)
        for label, text in rows.items()
        if wanted is None or wanted.intersection(_ROW_METRICS[label])
    ]


def _dates(rollup: Rollup) -> str:
    parts = []
    if rollup.start is not None:
        parts.append(f"start {rollup.start.isoformat()}")
    due = rollup.target_due or rollup.due
    if due is not None:
        parts.append(f"due {due.isoformat()}")
    if rollup.forecast_end is not None:
        parts.append(f"forecast {rollup.forecast_end.isoformat()}")
    elif rollup.leaves_done < rollup.leaves_total:
        parts.append("forecast unknown (nothing done recently)")
    if rollup.target_due and rollup.due and rollup.due > rollup.target_due:
        parts.append(f"latest child due {rollup.due.isoformat()}")
    return ", ".join(parts) or "not set"
