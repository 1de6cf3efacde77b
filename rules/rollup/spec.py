"""Rollup specs: one entry of a rules file's `rollups:` list, checked and turned into a
`RollupSpec` (parent types, metrics, RAG thresholds, what is written back), plus the
names a spec may use (metrics, RAG values, thresholds)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from connector.model import ItemType, WorkItem
from rules.rollup.facts import ChildFacts
from rules.rollup.figures import Rollup

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
    # the RAG of a done parent whose children are not all done: a parent closed early
    closed_with_open_children: str = "amber"

    def __post_init__(self) -> None:
        # matching is case-insensitive: Jira says "Blocked", a team may tag "BLOCKED"
        for name in ("parent_types", "blocked_statuses", "blocked_labels"):
            object.__setattr__(self, name, frozenset(v.casefold() for v in getattr(self, name)))
        object.__setattr__(self, "metrics", tuple(self.metrics))
        if self.throughput_window_days < 1:
            raise ValueError(f"rollup {self.id!r}: throughput_window_days must be at least 1")
        if self.closed_with_open_children not in CLOSED_EARLY_RAGS:
            raise ValueError(
                f"rollup {self.id!r}: closed_with_open_children must be one of "
                f"{', '.join(CLOSED_EARLY_RAGS)}"
            )

    def applies_to(self, item: WorkItem) -> bool:
        return item.type.value in self.parent_types

    def is_blocked(self, item: WorkItem | ChildFacts) -> bool:
        return item.status.casefold() in self.blocked_statuses or any(
            label.casefold() in self.blocked_labels for label in item.labels
        )


# --- from the rules file ---------------------------------------------------------

SPEC_KEYS = (
    "id", "title", "parents", "metrics", "rag", "write_back", "blocked_statuses", "blocked_labels",
    "throughput_window_days", "closed_with_open_children",
)  # fmt: skip
CLOSED_EARLY_RAGS = ("amber", "red")
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
        check_metric(name, f"{where}: metrics")

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
        check_metric(metric, f"{where}: write_back.fields")
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
        closed_with_open_children=_closed_early(data, where),
    )


def _closed_early(data: Mapping[str, Any], where: str) -> str:
    value = data.get("closed_with_open_children", "amber")
    if value not in CLOSED_EARLY_RAGS:
        raise ValueError(
            f"{where}: closed_with_open_children must be one of {', '.join(CLOSED_EARLY_RAGS)}, "
            f"got {value!r}"
        )
    return value


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


def check_metric(name: Any, where: str) -> None:
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


def spec_for(specs: Iterable[RollupSpec], item: WorkItem) -> RollupSpec | None:
    """The first of the specs (a rule set's `rollups`) that makes `item` a rollup parent."""
    for spec in specs:
        if spec.applies_to(item):
            return spec
    return None
