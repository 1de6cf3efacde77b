"""Schedule figures of a rollup: throughput, forecast end, slip and progress behind plan.

Forecast method
---------------
A rollup measures work in story points when any leaf under it carries an estimate
(points_total > 0), otherwise in leaf items (each counts as one).

1. Throughput. A leaf counts as recently done when its status category is done and its
   `status_changed` timestamp (or, when the tracker does not say, its `updated` timestamp)
   lies within the last `throughput_window_days` days (default 28) before now. Throughput
   per day is the points (or leaf count) of those leaves divided by the window length in
   days. Leaves below a child rollup contribute through that child's stored
   `recent_done_points` / `recent_done_leaves`, which are as fresh as that child's last
   computation.
2. Remaining work is points_total - points_done (or leaves_total - leaves_done).
3. Forecast end = today + ceil(remaining / throughput) days. When nothing remains the
   forecast is today; when work remains but nothing was done in the window the forecast
   is unknown (None) rather than a guess.
4. Slip = forecast end - the parent's own due date, in days (negative means early). When
   the forecast is unknown, work remains and the due date has passed, slip is the number
   of days the parent is overdue. Without a due date, or for a done (or removed) parent,
   slip is None.
5. Progress behind plan = the share of the planned window already elapsed
   ((today - start) / (due - start), clamped to 0..1) minus actual progress. The window
   is the parent's start date (else the earliest start among its children) to the
   parent's due date; None when either end is unknown.

The method assumes the recent pace continues and that remaining work is estimated like
finished work; it is a conversation starter for the PMO, not a commitment.
"""

from __future__ import annotations

import datetime as dt
import math


def throughput_per_day(recent_done: float, window_days: int) -> float:
    """Points (or leaves) finished per day over the window."""
    if window_days <= 0:
        raise ValueError("the throughput window must be at least one day")
    return recent_done / window_days if recent_done > 0 else 0.0


def forecast_end(
    today: dt.date, remaining: float, recent_done: float, window_days: int
) -> dt.date | None:
    """today + ceil(remaining / throughput) days; today when nothing remains; None when
    work remains but nothing was finished in the window."""
    if remaining <= 0:
        return today
    if recent_done <= 0:
        return None
    # remaining / (recent_done / window) without the float error that turns 28.0 into 29
    ratio = round(remaining * window_days / recent_done, 6)
    if not math.isfinite(ratio) or ratio > (dt.date.max - today).days:
        return None  # beyond any calendar: as unknown as no throughput at all
    return today + dt.timedelta(days=math.ceil(ratio))


def slip_days(
    target_due: dt.date | None,
    forecast: dt.date | None,
    today: dt.date,
    *,
    closed: bool,
    remaining: float,
) -> int | None:
    """Days the forecast lies past the parent's due date (negative: early); the days
    overdue when there is no forecast; None when unknown or the parent is closed."""
    if closed or target_due is None:
        return None
    if forecast is not None:
        return (forecast - target_due).days
    if remaining > 0 and target_due < today:
        return (today - target_due).days
    return None


def progress_behind(
    progress: float,
    planned_start: dt.date | None,
    planned_end: dt.date | None,
    today: dt.date,
) -> float | None:
    """Elapsed share of the planned window minus actual progress (0.25: a quarter behind)."""
    if planned_start is None or planned_end is None:
        return None
    span = (planned_end - planned_start).days
    if span <= 0:
        expected = 1.0 if today >= planned_end else 0.0
    else:
        expected = min(1.0, max(0.0, (today - planned_start).days / span))
    return round(expected - progress, 4)
