"""Escalation run cost: the worker runs escalation every minute over every open finding
of a rule with a chain, so an idle run (nothing due) must stay cheap.

    python bench/escalation_bench.py [--episodes 2000] [--rounds 3]

A SQLite store with `--episodes` items, each with an open finding of a rule with a
three-step chain. Prints, in the same run: reading the open findings alone (the baseline:
what any run must do), an idle escalation run (no step due), and the run that fires the
first step of every episode (records, one tracker comment queued each), with the ratio of
the idle run to the baseline. Best of `--rounds`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
import time

from config.notify import Notify
from connector.model import ItemType, Person, StatusCategory, WorkItem
from rules.escalate import compile_steps
from webhooks.governance.escalation import Chain, Escalator
from webhooks.governance.escalation_people import UserDirectory
from webhooks.store import Store

T0 = dt.datetime(2026, 11, 30, 9, tzinfo=dt.UTC)
RULE = "blocked-escalation"
STEPS = compile_steps(
    [
        {"after": "2d", "to": "assignee", "via": ["comment"]},
        {"after": "5d", "to": "assignee", "via": ["comment"]},
        {"after": "10d", "to": "assignee", "via": ["comment"]},
    ]
)
CHAINS = {RULE: Chain(RULE, "Blocked", "critical", STEPS)}


def _store(episodes: int) -> Store:
    path = os.path.join(tempfile.mkdtemp(prefix="esc-bench-"), "store.db")
    store = Store(f"sqlite:///{path}")
    store.migrate()
    for n in range(episodes):
        key = f"jira:PAY-{n}"
        store.upsert_item(
            WorkItem(
                key=key,
                tracker="jira",
                native_id=f"PAY-{n}",
                project="PAY",
                type=ItemType.STORY,
                title=f"Story {n}",
                status="Blocked",
                status_category=StatusCategory.IN_PROGRESS,
                assignee=Person("Sam Lee", "557058:sam"),
            )
        )
        store.save_findings(key, [{"rule": RULE, "message": "blocked", "status": "fail"}], T0)
    return store


def _best(fn, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--episodes", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    store = _store(args.episodes)
    escalator = Escalator(store, Notify(), UserDirectory(lambda tracker: None))
    baseline = _best(lambda: store.open_findings(), args.rounds)
    idle = _best(lambda: escalator.run(CHAINS, T0 + dt.timedelta(days=1)), args.rounds)
    started = time.perf_counter()
    fired = escalator.run(CHAINS, T0 + dt.timedelta(days=3))
    firing = time.perf_counter() - started
    assert len(fired) == args.episodes, len(fired)
    after = _best(lambda: escalator.run(CHAINS, T0 + dt.timedelta(days=3)), args.rounds)
    n = args.episodes
    print(f"episodes: {n} open findings of one rule with a 3-step chain (SQLite)")
    print(f"baseline  read open findings        {baseline * 1000:8.1f} ms")
    print(
        f"idle run  nothing due               {idle * 1000:8.1f} ms  ({idle / baseline:.1f}x baseline)"
    )
    print(
        f"firing    step 1 of every episode   {firing * 1000:8.1f} ms  ({firing / n * 1e6:.0f} us per step)"
    )
    print(
        f"after     all due steps fired       {after * 1000:8.1f} ms  ({after / baseline:.1f}x baseline)"
    )
    store.close()


if __name__ == "__main__":
    main()
