"""A rollup's schedule as every reader shows it: the managed comment, `/api/portfolio` and
the dashboard all take due date, forecast and slip from here, so they cannot disagree.

Due is the parent's own due date (the date slip is measured against); only when the
parent has none is it the latest due date among its children, marked so. Forecast and
slip are the rollup's own figures (`rules.forecast`), never recomputed by a reader.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rules.rollup.figures import Rollup


@dataclass(frozen=True, slots=True)
class Schedule:
    due: dt.date | None
    due_source: str | None  # "parent", "children" (the parent has no due date) or None
    forecast_end: dt.date | None
    slip_days: int | None  # positive: late; negative: early; None: unknown
    slip: str  # the slip in words ("" when unknown)

    def to_dict(self) -> dict[str, Any]:
        return {
            "due": self.due.isoformat() if self.due else None,
            "due_source": self.due_source,
            "forecast_end": self.forecast_end.isoformat() if self.forecast_end else None,
            "slip_days": self.slip_days,
            "slip": self.slip,
        }


def schedule_of(rollup: Rollup) -> Schedule:
    if rollup.target_due is not None:
        due, source = rollup.target_due, "parent"
    elif rollup.due is not None:
        due, source = rollup.due, "children"
    else:
        due, source = None, None
    return Schedule(
        due=due,
        due_source=source,
        forecast_end=rollup.forecast_end,
        slip_days=rollup.slip_days,
        slip=slip_words(rollup.slip_days, rollup.forecast_end),
    )


def slip_words(slip_days: int | None, forecast_end: dt.date | None) -> str:
    """'9 days late', '20 days early', 'on time', '267 days overdue' (no forecast: nothing
    was done recently); '' when the slip is unknown."""
    if slip_days is None:
        return ""
    if forecast_end is None:
        return f"{plural(slip_days, 'day', 'days')} overdue"
    if slip_days < 0:
        return f"{plural(-slip_days, 'day', 'days')} early"
    if slip_days == 0:
        return "on time"
    return f"{plural(slip_days, 'day', 'days')} late"


def plural(count: int, one: str, many: str) -> str:
    """'1 finding', '2 findings', '0 findings'."""
    return f"{count} {one if count == 1 else many}"
