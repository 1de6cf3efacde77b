"""What a rollup becomes on the tracker: its RAG label, the values of the fields a spec
writes back, and the label/value rows of the managed comment."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rules.rollup.figures import Rollup
from rules.rollup.schedule import schedule_of
from rules.rollup.spec import RAG_VALUES, RollupSpec, check_metric


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
    check_metric(metric, "field_values")
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
    schedule = schedule_of(rollup)
    parts = []
    if rollup.start is not None:
        parts.append(f"start {rollup.start.isoformat()}")
    if schedule.due is not None:
        parts.append(f"due {schedule.due.isoformat()}")
    if schedule.forecast_end is not None:
        late = f" ({schedule.slip})" if schedule.slip else ""
        parts.append(f"forecast {schedule.forecast_end.isoformat()}{late}")
    elif rollup.leaves_done < rollup.leaves_total:
        parts.append("forecast unknown (nothing done recently)")
    if rollup.target_due and rollup.due and rollup.due > rollup.target_due:
        parts.append(f"latest child due {rollup.due.isoformat()}")
    if schedule.forecast_end is None and schedule.slip:
        parts.append(schedule.slip)
    return ", ".join(parts) or "not set"
