"""Allocation: one event's incremental update against a full recompute.

    python bench/people_bench.py [--people 1000] [--items 100000] [--weeks 26]
                                 [--samples 50] [--no-store]

1,000 people (Jira account ids and Azure DevOps unique names mapped in one people
file), 100,000 open items on both trackers with remaining work spread over windows of
0-6 weeks inside a 26-week horizon. Measured:

- in memory (`rules.allocation.Ledger`): full = every item's shares built and each
  person's load computed for every week; incremental = one item moved to another
  person (`Ledger.apply`) and the load of the people it touched recomputed;
- through the store (SQLite file, the path the worker takes): full = all shares read
  back and every person's load computed; incremental = the item's shares replaced
  (`replace_shares`) and the touched people's shares read and their load computed.

Target: incremental at least 100x cheaper than full.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from config.people import Capacity, Directory, Member
from connector.model import ItemType, Person, StatusCategory, WorkItem
from rules.allocation import Ledger, shares
from webhooks.store import Store

TODAY = dt.date(2026, 12, 7)


def people(count: int) -> Directory:
    members = [
        Member(f"p{n}", f"Person {n}", team=f"team{n % 40}",
               accounts=(f"712020:{n:08x}", f"person{n}@fabrikam.com"),
               capacity=Capacity(hours=40, points=10))
        for n in range(count)
    ]  # fmt: skip
    return Directory.of(members, {"jira": "hours", "azure-devops": "points"})


def portfolio(count: int, persons: int, weeks: int, rng: random.Random) -> list[WorkItem]:
    items = []
    for n in range(count):
        jira = n % 2 == 0
        who = rng.randrange(persons)
        start = TODAY + dt.timedelta(days=rng.randrange(0, weeks * 7 - 42))
        assignee = (
            Person(f"Person {who}", f"712020:{who:08x}")
            if jira
            else Person(f"Person {who}", f"person{who}@fabrikam.com")
        )
        items.append(
            WorkItem(
                key=f"jira:P-{n}" if jira else f"azure-devops:{n}", tracker="jira" if jira else "azure-devops",
                native_id=str(n), project="P", type=ItemType.STORY, title=f"item {n}",
                status="In Progress", status_category=StatusCategory.IN_PROGRESS,
                assignee=assignee, remaining_hours=float(rng.randrange(1, 40)),
                estimate=float(rng.choice((1, 2, 3, 5, 8))), start_date=start,
                due_date=start + dt.timedelta(days=rng.randrange(0, 42)),
            )
        )  # fmt: skip
    return items


def loads(ledger: Ledger, persons, horizon) -> int:
    return sum(1 for p in persons for w in horizon if ledger.fraction(p, w) is not None)


def timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--weeks", type=int, default=26)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--no-store", action="store_true")
    args = parser.parse_args()
    rng = random.Random(18)
    directory = people(args.people)
    items = portfolio(args.items, args.people, args.weeks, rng)
    horizon = [TODAY + dt.timedelta(weeks=n) for n in range(args.weeks)]
    everyone = list(directory.members)

    def full_memory() -> Ledger:
        ledger = Ledger.build(items, directory, TODAY)
        loads(ledger, everyone, horizon)
        return ledger

    full = timed(full_memory)
    ledger = full_memory()
    incremental = []
    for _ in range(args.samples):
        moved = rng.choice(items)
        who = rng.randrange(args.people)
        moved = moved.with_changes(assignee=Person(f"Person {who}", f"712020:{who:08x}"))

        def one_event(moved=moved) -> None:
            touched = ledger.apply(moved)
            loads(ledger, touched, horizon)

        incremental.append(timed(one_event))
    median = statistics.median(incremental)
    print(f"{args.people} people, {args.items} items, {args.weeks} weeks")
    print("[memory]")
    print(f"  full recompute          {full:8.2f} s")
    print(f"  incremental median      {median * 1000:8.3f} ms")
    print(f"  full / incremental      {full / median:8.0f} x   target met: {full / median >= 100}")
    if args.no_store:
        return
    with tempfile.TemporaryDirectory() as folder:
        store = Store(f"sqlite:///{folder}/store.db")
        store.migrate()
        start = time.perf_counter()
        count = store.add_shares(s for item in items for s in shares(item, directory, TODAY))
        print("[store, sqlite]")
        print(f"  first build             {time.perf_counter() - start:8.2f} s   ({count} shares)")

        def full_store() -> None:
            rebuilt = Ledger.of_shares(store.all_shares(TODAY), directory, TODAY)
            loads(rebuilt, everyone, horizon)

        full = timed(full_store)
        incremental = []
        for _ in range(args.samples):
            moved = rng.choice(items)
            who = rng.randrange(args.people)
            moved = moved.with_changes(assignee=Person(f"Person {who}", f"712020:{who:08x}"))

            def one_stored_event(moved=moved) -> None:
                touched = store.replace_shares(moved.key, shares(moved, directory, TODAY))
                part = Ledger.of_shares(store.shares_of(touched, TODAY), directory, TODAY)
                loads(part, touched, horizon)

            incremental.append(timed(one_stored_event))
        median = statistics.median(incremental)
        p95 = sorted(incremental)[int(len(incremental) * 0.95) - 1]
        print(f"  full recompute          {full:8.2f} s")
        print(f"  incremental median      {median * 1000:8.3f} ms   p95 {p95 * 1000:.3f} ms")
        ratio = full / median
        print(f"  full / incremental      {ratio:8.0f} x   target met: {ratio >= 100}")


if __name__ == "__main__":
    main()
