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

The figures themselves (`Rollup`, `ChildView`) are in `rules.rollup.figures`, specs in
`rules.rollup.spec`, what a rollup becomes on the tracker in `rules.rollup.output`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import fields
from typing import Any

from connector.model import StatusCategory, WorkItem
from rules import forecast as fc
from rules.rollup.figures import CATEGORIES, CLOSED, ChildView, Rollup
from rules.rollup.spec import AMBER, GREEN, RED, THRESHOLDS, RollupSpec


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
    closed = parent.status_category in CLOSED
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
            reason = f"done with {_plural(still_open, 'open child', 'open children')}"
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
