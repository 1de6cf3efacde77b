"""Allocation: each person's remaining work spread over the weeks it is planned in.

Pure: items and the people directory in, numbers out. An item's remaining work (hours
from time tracking / RemainingWork, or story points, by the unit of its tracker) is spread
evenly over the working days (Mon-Fri) of its start -> due window, clipped to today;
without dates it takes its tracker's current sprint (when read, `config.people`), else it
lands in the current week, and work already past due lands there too
(it is still to be done now). Weeks are keyed by their Monday.

`Ledger` keeps each item's contribution, so one event changes only the weeks of the
people it touches: the old contribution is taken off and the new one put on.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from config.people import Directory, Member, resolve_person
from connector.model import ItemType, StatusCategory, WorkItem

OPEN = (StatusCategory.TODO, StatusCategory.IN_PROGRESS)
# Their estimates are their children's work again (rollups), so they carry no load.
CONTAINERS = (ItemType.INITIATIVE, ItemType.EPIC, ItemType.FEATURE)
MAX_WINDOW_DAYS = 366  # a two-year "due" date spreads over one year, not hundreds of weeks


def monday(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


@dataclass(frozen=True, slots=True)
class Share:
    """One item's work in one person's week, in the unit of its tracker."""

    item: str
    person: str
    week: dt.date
    unit: str
    amount: float


def allocation_inputs(item: WorkItem) -> tuple[Any, ...]:
    """Every field of the item `shares` reads: equal inputs, equal shares (on one day,
    with one people directory)."""
    return (
        item.assignee,
        item.status_category,
        item.type,
        item.estimate,
        item.remaining_hours,
        item.start_date,
        item.due_date,
    )


def remaining_work(item: WorkItem, unit: str) -> float | None:
    """What is left of `item`, in `unit`; None when the tracker gives nothing."""
    if item.status_category not in OPEN or item.type in CONTAINERS:
        return None
    value = item.remaining_hours if unit == "hours" else item.estimate
    return value if value is not None and value > 0 else None


def spread(
    item: WorkItem,
    amount: float,
    today: dt.date,
    sprint: tuple[dt.date, dt.date] | None = None,
) -> dict[dt.date, float]:
    """`amount` split over the working days of the item's window, summed by week; an
    item with no dates at all takes its tracker's current sprint as its window."""
    first, last = item.start_date, item.due_date
    if first is None and last is None and sprint is not None:
        first, last = sprint
    start = max(first or today, today)
    end = last or start
    if end < today:  # overdue: all of it is due now
        start = end = today
    end = min(max(end, start), start + dt.timedelta(days=MAX_WINDOW_DAYS))
    days = [
        start + dt.timedelta(days=n)
        for n in range((end - start).days + 1)
        if (start + dt.timedelta(days=n)).weekday() < 5
    ]
    if not days:  # a window of one weekend: the week it falls in
        return {monday(start): amount}
    per_day = amount / len(days)
    weeks: dict[dt.date, float] = defaultdict(float)
    for day in days:
        weeks[monday(day)] += per_day
    return dict(weeks)


def shares(item: WorkItem, directory: Directory, today: dt.date) -> list[Share]:
    """The item's shares of work, or none (done, unassigned, nothing left)."""
    if item.assignee is None:
        return []
    member = resolve_person(directory, item.tracker, item.assignee)
    unit = directory.unit(item.tracker)
    amount = remaining_work(item, unit)
    if member is None or amount is None:
        return []
    return [
        Share(item.key, member.id, week, unit, value)
        for week, value in spread(item, amount, today, directory.sprints.get(item.tracker)).items()
    ]


def week_capacity(member: Member, week: dt.date, unit: str) -> float | None:
    """The member's capacity in one week, less the working days they are off."""
    weekly = member.capacity.of(unit)
    if weekly is None:
        return None
    working = sum(1 for n in range(5) if not member.off_on(week + dt.timedelta(days=n)))
    return weekly * working / 5


class Ledger:
    """Allocation per person per week, kept up to date item by item."""

    def __init__(self, directory: Directory, today: dt.date) -> None:
        self.directory, self.today = directory, today
        self.by_item: dict[str, list[Share]] = {}
        self.by_person: dict[str, set[str]] = {}
        # person -> week -> unit -> amount
        self.load: dict[str, dict[dt.date, dict[str, float]]] = {}
        self.names: dict[str, str] = {}  # unmapped people's display names

    @classmethod
    def build(cls, items: Iterable[WorkItem], directory: Directory, today: dt.date) -> Ledger:
        ledger = cls(directory, today)
        for item in items:
            ledger.apply(item)
        return ledger

    @classmethod
    def of_shares(cls, shares: Iterable[Share], directory: Directory, today: dt.date) -> Ledger:
        """A ledger from stored shares (those of some people, or all)."""
        ledger = cls(directory, today)
        for share in shares:
            ledger.by_item.setdefault(share.item, []).append(share)
            ledger.by_person.setdefault(share.person, set()).add(share.item)
            ledger._add(share, 1.0)
        return ledger

    def apply(self, item: WorkItem) -> set[str]:
        """Take the item's old shares off and its current ones on; the people touched."""
        touched = self.remove(item.key)
        new = shares(item, self.directory, self.today)
        for share in new:
            self._add(share, 1.0)
            touched.add(share.person)
        if new and item.assignee is not None and new[0].person.startswith("name:"):
            self.names[new[0].person] = item.assignee.display_name
        if new:
            self.by_item[item.key] = new
            self.by_person.setdefault(new[0].person, set()).add(item.key)
        return touched

    def remove(self, key: str) -> set[str]:
        old = self.by_item.pop(key, [])
        if old:
            self.by_person.get(old[0].person, set()).discard(key)
        for share in old:
            self._add(share, -1.0)
        return {share.person for share in old}

    def _add(self, share: Share, sign: float) -> None:
        units = self.load.setdefault(share.person, {}).setdefault(share.week, {})
        value = units.get(share.unit, 0.0) + sign * share.amount
        if sign < 0 and abs(value) < 1e-9:
            units.pop(share.unit, None)
            if not units:
                del self.load[share.person][share.week]
                if not self.load[share.person]:
                    del self.load[share.person]
        else:
            units[share.unit] = value

    def member(self, person: str) -> Member:
        found = self.directory.members.get(person)
        if found is not None:
            return found
        return Member(id=person, name=self.names.get(person, person[5:]), mapped=False)

    def fraction(self, person: str, week: dt.date) -> float | None:
        """Load as a fraction of capacity (1.0 = full), summed over units; None when the
        person has no capacity for any unit they have work in (or none at all)."""
        member = self.member(person)
        work = self.load.get(person, {}).get(week, {})
        total, known = 0.0, False
        for unit in work or {u: 0.0 for u in ("hours", "points") if member.capacity.of(u)}:
            capacity = week_capacity(member, week, unit)
            if capacity is None:
                continue
            known = True
            amount = work.get(unit, 0.0)
            total += amount / capacity if capacity else (float("inf") if amount else 0.0)
        return total if known else None

    def drivers(self, person: str, week: dt.date) -> list[str]:
        """Keys of the items with work in that person's week, largest share first."""
        found = [
            (s.amount, key)
            for key in self.by_person.get(person, ())
            for s in self.by_item[key]
            if s.person == person and s.week == week
        ]
        return [key for _amount, key in sorted(found, reverse=True)]
