"""The weekly PMO report, built from the store: what turned red and why, findings raised,
resolved and open per project and rule (with the trend), overdue items, escalations fired,
forecast slips, the most over-allocated people (the people register; without one, the
people carrying the most work in progress), and waivers expiring.

`build_report` gathers (I/O through the store only); `webhooks.governance.report_render` writes it
as Markdown, HTML e-mail or CSV.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from connector.model import ItemType
from webhooks.store.escalation import Escalation
from webhooks.store.reports import FindingActivity

PARENT_TYPES = (ItemType.EPIC, ItemType.INITIATIVE)
TOP = 10  # rows in the people and slip tables
MAX_ROWS = 500  # rows in any other table; the rest are counted


@dataclass(frozen=True)
class RagChange:
    key: str
    title: str
    before: str | None  # None: not in the last report
    now: str
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Overdue:
    key: str
    project: str
    title: str
    due: dt.date
    assignee: str


@dataclass(frozen=True)
class Slip:
    key: str
    title: str
    slip_days: int
    forecast_end: dt.date | None
    target_due: dt.date | None


@dataclass(frozen=True)
class PersonLoad:
    """A person's allocation against capacity (fractions: 1.0 is full) from the people
    register, for the weeks the report looks ahead."""

    name: str
    team: str | None
    this_week: float | None  # None: no capacity this week (time off, none given)
    peak: float
    peak_week: dt.date
    items: int


@dataclass(frozen=True)
class Report:
    since: dt.datetime
    until: dt.datetime
    projects: tuple[str, ...]  # empty: the whole portfolio
    rag_changes: tuple[RagChange, ...]
    rag_now: Mapping[str, str]  # parent key -> RAG, kept for the next report
    activity: tuple[FindingActivity, ...]
    overdue: tuple[Overdue, ...]
    escalations: tuple[Escalation, ...]
    slips: tuple[Slip, ...]
    busiest: tuple[tuple[str, int], ...]  # (person, items in progress)
    waivers_expiring: tuple[Mapping[str, Any], ...] | None  # None: no waiver source
    trends: Mapping[str, tuple[int, ...]] = field(default_factory=dict)  # project -> daily open
    first: bool = False  # no earlier report to compare RAG with
    truncated: dict[str, int] = field(default_factory=dict)
    # the most over-allocated people (the people register); None: no register, so the
    # report shows who has the most work in progress instead
    over_allocated: tuple[PersonLoad, ...] | None = None


WaiverSource = Callable[[dt.datetime, dt.datetime], Iterable[Mapping[str, Any]]]
# the people view's data (`webhooks.governance.people.people_report`): weeks, and per
# person their load by week and items; None when there is no people register
PeopleSource = Callable[[], Mapping[str, Any] | None]


def over_allocated_people(people: Mapping[str, Any], top: int = TOP) -> tuple[PersonLoad, ...]:
    """People whose load goes over their capacity in a week ahead, the highest peak first."""
    weeks = [dt.date.fromisoformat(w) for w in people.get("weeks") or ()]
    found = []
    for person in people.get("people") or ():
        loads = [(f, w) for f, w in zip(person.get("load") or (), weeks, strict=False) if f]
        if not loads:
            continue
        peak, week = max(loads, key=lambda fw: (fw[0], -fw[1].toordinal()))
        if peak <= 1.0:
            continue
        first = (person.get("load") or [None])[0]
        found.append(
            PersonLoad(
                str(person["name"]),
                person.get("team"),
                first,
                float(peak),
                week,
                len(person.get("items") or ()),
            )
        )
    found.sort(key=lambda p: (-p.peak, p.name.casefold()))
    return tuple(found[:top])


def build_report(
    store: Any,
    now: dt.datetime,
    *,
    since_days: int = 7,
    projects: Iterable[str] = (),
    previous_rag: Mapping[str, str] | None = None,
    waivers: WaiverSource | None = None,
    people: PeopleSource | None = None,
) -> Report:
    """The report for the `since_days` before `now`. `previous_rag`: parent key -> RAG in
    the last report (None: first report, so every red parent is listed as new).
    `waivers(now, until)`: waivers expiring in the next week, from the waiver register.
    `people()`: load against capacity from the people register (the people view)."""
    since = now - dt.timedelta(days=since_days)
    wanted = frozenset(projects)

    def in_scope(project: str) -> bool:
        return not wanted or project in wanted

    today = now.date()
    overdue: list[Overdue] = []
    busy: Counter[str] = Counter()
    parents: dict[str, Any] = {}
    for item in store.iter_items():
        if not in_scope(item.project):
            continue
        if item.type in PARENT_TYPES:
            parents[item.key] = item
        if item.status_category == "done":
            continue
        if item.due_date is not None and item.due_date < today:
            who = item.assignee.display_name if item.assignee else "unassigned"
            overdue.append(Overdue(item.key, item.project, item.title, item.due_date, who))
        if item.assignee is not None and item.status_category == "in_progress":
            busy[item.assignee.display_name] += 1

    rollups = store.get_rollups(parents)
    rag_now = {key: rollup.rag for key, rollup in rollups.items()}
    changes = []
    for key, rollup in sorted(rollups.items()):
        before = (previous_rag or {}).get(key)
        if rollup.rag != before and (previous_rag is not None or rollup.rag == "red"):
            changes.append(
                RagChange(key, parents[key].title, before, rollup.rag, rollup.rag_reasons)
            )
    slips = sorted(
        (
            Slip(key, parents[key].title, r.slip_days, r.forecast_end, r.target_due)
            for key, r in rollups.items()
            if r.slip_days and r.slip_days > 0
        ),
        key=lambda s: (-s.slip_days, s.key),
    )
    activity = [a for a in store.finding_activity(since, now) if in_scope(a.project)]
    fired = [
        e
        for e in store.escalations(since=since)
        if not wanted or in_scope(_project_of(e.item_key, store))
    ]
    days = min(since_days, 30)
    moments = [now - dt.timedelta(days=days - n) for n in range(days + 1)]
    trends = {p: tuple(v) for p, v in store.open_by_project(moments).items() if in_scope(p)}
    expiring = None
    if waivers is not None:
        expiring = tuple(waivers(now, now + dt.timedelta(days=7)))
    loads = people() if people is not None else None
    over = over_allocated_people(loads) if loads is not None else None
    overdue.sort(key=lambda o: (o.due, o.key))
    truncated = {
        name: len(rows) - MAX_ROWS
        for name, rows in (("overdue", overdue), ("activity", activity), ("escalations", fired))
        if len(rows) > MAX_ROWS
    }
    return Report(
        since=since, until=now, projects=tuple(sorted(wanted)), rag_changes=tuple(changes),
        rag_now=rag_now, activity=tuple(activity[:MAX_ROWS]), overdue=tuple(overdue[:MAX_ROWS]),
        escalations=tuple(fired[:MAX_ROWS]), slips=tuple(slips[:TOP]),
        busiest=tuple(busy.most_common(TOP)), waivers_expiring=expiring,
        first=previous_rag is None, truncated=truncated, trends=trends, over_allocated=over,
    )  # fmt: skip


def _project_of(item_key: str, store: Any) -> str:
    item = store.get_item(item_key)
    return item.project if item is not None else "?"


SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(values: Iterable[int]) -> str:
    """Open findings day by day as a line of block characters (scaled to the maximum)."""
    points = list(values)
    top = max(points, default=0)
    if top == 0:
        return SPARKS[0] * len(points)
    return "".join(SPARKS[round(v / top * (len(SPARKS) - 1))] for v in points)


def trend_arrow(then: int, now: int) -> str:
    if now > then:
        return "▲"
    if now < then:
        return "▼"
    return "="
