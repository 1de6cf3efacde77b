"""People at the edge: the directory from the people file, allocation rows kept item by
item in the store, and the `across: person` load rules evaluated over the people an event
touches (so one event reads the rows of one or two people, not the portfolio)."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import replace
from typing import Any

from config.people import Directory, resolve_person
from config.people_file import load_people
from config.settings import ConfigError
from connector.azure_devops.capacity import CapacityReader, IterationCapacity
from connector.errors import TrackerError
from connector.model import WorkItem
from rules.allocation import Ledger, Share, allocation_inputs, monday, shares
from rules.engine import Finding
from rules.load import load_rules, over_allocated, under_allocated
from webhooks.resources import Resources

HORIZON_WEEKS = 26
log = logging.getLogger(__name__)


def with_sprint_capacity(
    directory: Directory, sprint: IterationCapacity, tracker: str | None = None
) -> Directory:
    """People the sprint knows (by Azure DevOps unique name) get its days off, and its
    hours (per day x 5) when the people file gives them no hours of their own; items of
    `tracker` without dates take the sprint as their window."""
    members = dict(directory.members)
    for planned in sprint.members:
        member = resolve_person(directory, tracker or "azure-devops", planned.unique_name)
        if member is None or not member.mapped:
            continue
        current = members[member.id]
        hours = current.capacity.hours
        if hours is None and planned.hours_per_day > 0:
            hours = planned.hours_per_day * 5
        off = tuple(span for span in planned.days_off if span not in current.time_off)
        members[member.id] = replace(
            current,
            capacity=replace(current.capacity, hours=hours),
            time_off=current.time_off + off,
        )
    sprints = dict(directory.sprints)
    if tracker is not None and sprint.start and sprint.finish and tracker not in sprints:
        sprints[tracker] = (sprint.start, sprint.finish)
    return Directory.of(list(members.values()), directory.units, directory.sources, sprints)


def refresh_capacity(runtime: Resources) -> int:
    """Read the configured teams' sprint capacity into the directory (by the sweep);
    a team that cannot be read keeps what it had. Returns how many teams were read."""
    try:
        directory, read = load_people(runtime.settings), 0
    except ConfigError as exc:  # a broken edit of the file: keep the people loaded
        log.warning("people.file_unread", extra={"error": str(exc)})
        return 0
    for tracker, project, team in directory.sources:
        try:
            reader = CapacityReader(runtime.settings.tracker(tracker))
            sprint = reader.current(project, team)
        except (TrackerError, ValueError, ConfigError) as exc:
            log.warning("people.capacity_unread", extra={"team": team, "error": str(exc)})
            continue
        if sprint is not None:
            directory = with_sprint_capacity(directory, sprint, tracker)
            read += 1
    if directory.sources:
        runtime.people = runtime.store.people = directory
    return read


def horizon(today: dt.date, weeks: int = HORIZON_WEEKS) -> list[dt.date]:
    start = monday(today)
    return [start + dt.timedelta(weeks=n) for n in range(weeks)]


def record_allocation(
    runtime: Resources, key: str, item: WorkItem | None, *, previous: WorkItem | None = None
) -> set[str]:
    """Store the item's shares (none once deleted or done); the people whose load moved.
    `previous`: the item as stored before this event; when its shares are the item's
    shares now (none of the fields they follow from changed, or both belong to no one
    the people file knows), nothing is read or written. The sweep moves the windows on
    as weeks pass, and puts back any item's shares the store lost."""
    if (
        item is not None
        and previous is not None
        and allocation_inputs(previous) == allocation_inputs(item)
    ):
        return set()
    today = runtime.clock().date()
    new = shares(item, runtime.people, today) if item is not None else []
    if previous is not None and shares(previous, runtime.people, today) == new:
        return set()
    return runtime.store.replace_shares(key, new)


def people_of(runtime: Resources, items: list[WorkItem]) -> set[str]:
    found = set()
    for item in items:
        if item.assignee is not None:
            member = resolve_person(runtime.people, item.tracker, item.assignee)
            if member is not None:
                found.add(member.id)
    return found


def ledger_of(runtime: Resources, people: set[str] | None = None) -> Ledger:
    """The ledger of these people (None: everyone) from this week on."""
    today = runtime.clock().date()
    since = monday(today)
    store = runtime.store
    rows = store.all_shares(since) if people is None else store.shares_of(people, since)
    return Ledger.of_shares(rows, runtime.people, today)


def sync_allocations(runtime: Resources, items: list[WorkItem]) -> Ledger:
    """Every item's shares as of today (windows move on as weeks pass), written only for
    the items whose stored shares differ: one read of all shares, the changes in a few
    transactions. Returns everyone's ledger from this week on, as now stored (what
    `ledger_of` would read back)."""
    today = runtime.clock().date()
    stored: dict[str, list[Share]] = {}
    for share in runtime.store.all_shares():
        stored.setdefault(share.item, []).append(share)
    changes: dict[str, list[Share]] = {}
    for item in items:
        new = shares(item, runtime.people, today)
        if sorted(new, key=_share_order) != sorted(stored.get(item.key, ()), key=_share_order):
            changes[item.key] = new
    if changes:
        runtime.store.replace_shares_of(changes)
    stored.update(changes)
    since = monday(today)
    rows = [share for kept in stored.values() for share in kept if share.week >= since]
    return Ledger.of_shares(rows, runtime.people, today)


def _share_order(share: Share) -> tuple[str, dt.date, str, float]:
    return (share.person, share.week, share.unit, share.amount)


def load_findings(
    runtime: Resources, ruleset: Any, item: WorkItem, memo: dict[str, Any] | None = None
) -> list[Finding]:
    """Over-allocation findings for `item` (it drives its person's load over a bound).
    `memo`, kept by a caller checking many items (the sweep): everyone's ledger (its
    "ledger", else read) is judged once, not once per item (which re-read a person's
    shares per item)."""
    rules = [r for r in load_rules(ruleset) if r.load is not None and r.load.max is not None]
    if not rules:
        return []
    if memo is not None:
        if "over" not in memo:
            ledger = memo.get("ledger") or ledger_of(runtime)
            weeks, everyone = horizon(ledger.today), set(ledger.by_person)
            memo["over"] = [over_allocated(rule, ledger, everyone, weeks) for rule in rules]
        return [found for over in memo["over"] if (found := over.get(item.key)) is not None]
    people = people_of(runtime, [item])
    if not people:
        return []
    ledger = ledger_of(runtime, people)
    weeks = horizon(ledger.today)
    found = []
    for rule in rules:
        finding = over_allocated(rule, ledger, people, weeks).get(item.key)
        if finding is not None:
            found.append(finding)
    return found


def load_rechecks(runtime: Resources, ruleset: Any, items: list[WorkItem]) -> set[str]:
    """Items of the people `items` belong (or belonged) to whose over-allocation finding
    no longer matches their person's load: they are re-governed."""
    rules = [r for r in load_rules(ruleset) if r.load is not None and r.load.max is not None]
    people = people_of(runtime, items)
    if not rules or not people:
        return set()
    ledger = ledger_of(runtime, people)
    weeks = horizon(ledger.today)
    keys = [key for person in people for key in ledger.by_person.get(person, ())]
    stale: set[str] = set()
    for rule in rules:
        flagged = runtime.store.keys_with_open_finding(rule.id, keys)
        over = over_allocated(rule, ledger, people, weeks)
        stale |= {key for key in keys if (key in over) != (key in flagged)}
    return stale


def people_report(runtime: Resources, team: str | None = None, weeks: int = 12) -> dict[str, Any]:
    """Load by person and week (fractions of capacity), the items behind it, and the
    under-allocation the rules report: the people view and `/api/people`."""
    ledger = ledger_of(runtime)
    span = horizon(ledger.today, weeks)
    ids = set(runtime.people.members) | set(ledger.load)
    members = sorted((ledger.member(i) for i in ids), key=lambda m: (m.name.casefold(), m.id))
    if team:
        members = [m for m in members if m.team == team]
    people = []
    for member in members:
        load = [ledger.fraction(member.id, week) for week in span]
        items: dict[str, dict[str, Any]] = {}
        for key in sorted(ledger.by_person.get(member.id, ())):
            for share in ledger.by_item[key]:
                entry = items.setdefault(key, {"key": key, "unit": share.unit, "weeks": {}})
                entry["weeks"][share.week.isoformat()] = round(share.amount, 2)
        people.append(
            {
                "id": member.id,
                "name": member.name,
                "team": member.team,
                "mapped": member.mapped,
                "capacity": {"hours": member.capacity.hours, "points": member.capacity.points},
                "load": [None if f is None else round(f, 3) for f in load],
                "items": list(items.values()),
            }
        )
    under = []
    for rule in load_rules(runtime.rules.current()):
        under += under_allocated(rule, ledger, [m.id for m in members], span)
    teams = sorted({m.team for m in runtime.people.members.values() if m.team})
    return {
        "weeks": [w.isoformat() for w in span],
        "teams": teams,
        "people": people,
        "under_allocated": under,
    }


def report_people(runtime: Resources) -> dict[str, Any] | None:
    """The people view's data for the PMO report; None without a people register (the
    report then counts work in progress instead)."""
    if not runtime.people.members:
        return None
    return people_report(runtime)


def people_line(report: dict[str, Any], url: str) -> str:
    """One line on who is over and who has room this week, for the demo's ending."""
    over, room = [], []
    for person in report["people"]:
        load = person["load"][0] if person["load"] else None
        if load is None:
            continue
        trackers = sorted({i["key"].split(":", 1)[0] for i in person["items"]})
        where = " and ".join(trackers) or "no tracker"
        text = f"{person['name']} {load * 100:.0f}% this week ({where})"
        (over if load > 1.1 else room if load < 0.5 else []).append(text)
    parts = [f"over-allocated: {', '.join(over) or 'nobody'}",
             f"room: {', '.join(room) or 'nobody'}"]  # fmt: skip
    return f"People: {'; '.join(parts)}. Heat map: {url}"
