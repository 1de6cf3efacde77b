"""The periodic sweep over a large store: 100,000 stored items (the rules bench's
generated portfolio, both trackers' shapes, 30% with defects), the bundled PMO standard
pack, open findings in the store matching the rules except on `--changed` items.

    python bench/sweep_bench.py [--items 100000] [--changed 1000] [--postgres URL]

Prints the sweep's wall time and this process's CPU time, how many items it checked and
how many re-governs it queued: exactly the changed items, nothing for the others.
Target: under 30 s for 100,000 items on two cores.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.rules_bench import NOW, make_items
from config.settings import STANDARD_PACK, Settings
from rules import Context, evaluate
from rules.portfolio import person_key
from rules.rollup import ChildFacts
from webhooks.governance import evaluation
from webhooks.governance.people import sync_allocations
from webhooks.governance.portfolio_groups import across_findings
from webhooks.governance.sweep import IN_FLIGHT, sweep
from webhooks.resources import Resources
from webhooks.store.items import _assignee_id, content_hash
from webhooks.store.models import FindingRow, ItemRow

CHUNK = 2000


def seed(runtime: Resources, items: list, changed: set[str]) -> int:
    """Items and their open findings, written in chunks; returns the findings stored."""
    store = runtime.store
    ruleset = runtime.rules.current()
    rows = []
    for item in unique(items):
        data = item.to_dict()
        rows.append(
            {
                "key": item.key, "tracker": item.tracker, "project": item.project,
                "type": item.type.value, "status_category": item.status_category.value,
                "parent_key": item.parent, "assignee_id": _assignee_id(item),
                "assignee_name": person_key(item.assignee), "revision": item.revision,
                "deleted": False, "updated_at": item.updated, "stored_at": NOW,
                "content_hash": content_hash(data), "data": data,
                "rollup_facts": ChildFacts.of(item).to_dict(),
            }
        )  # fmt: skip
    insert = store._insert(ItemRow)
    with store._write_engine.begin() as conn:
        for start in range(0, len(rows), CHUNK):
            conn.execute(insert, rows[start : start + CHUNK])
    finding_rows = []
    parents = {p.key: p for _, p in items if p is not None}
    groups: dict = {}
    counted: dict = {}
    loads: dict = {}
    in_flight = [i for i in unique(items) if i.status_category.value in IN_FLIGHT]
    sync_allocations(runtime, in_flight)  # the shares as the last sweep left them
    for item in in_flight:
        parent = parents.get(item.parent) if item.parent else None
        context = Context(now=NOW, parent=parent)
        found = evaluate(ruleset, item, context) + across_findings(
            runtime, ruleset, item, context, groups, counted, loads
        )
        found = [f.to_dict() for f in found]
        if item.key in changed:  # the store misses one finding, or has one too many
            found = found[1:] if found else [_stale_finding()]
        finding_rows += [
            {"item_key": item.key, **f, "first_seen": NOW, "last_seen": NOW, "resolved_at": None}
            for f in found
        ]
    with store._write_engine.begin() as conn:
        for start in range(0, len(finding_rows), CHUNK):
            conn.execute(FindingRow.__table__.insert(), finding_rows[start : start + CHUNK])
    return len(finding_rows)


def unique(items: list) -> list:
    """The parents, then the generated items whose keys the parents do not have."""
    by_key = {p.key: p for _, p in items if p is not None}
    for item, _ in items:
        by_key.setdefault(item.key, item)
    return list(by_key.values())


def _stale_finding() -> dict[str, str]:
    return {"rule": "fixed-since", "severity": "low", "enforcement": "advise",
            "message": "fixed since the last sweep", "status": "fail"}  # fmt: skip


class CountingFollowUps:
    """Stands in for the queue's tasks: counts the re-governs and rollups the sweep asks."""

    def __init__(self) -> None:
        self.regoverned: list[str] = []
        self.rollups: list[str] = []

    def regovern(self, key: str, *, delay: float = 0.5) -> bool:
        self.regoverned.append(key)
        return True

    def recompute_rollup(self, key: str) -> bool:
        self.rollups.append(key)
        return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--changed", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--postgres", help="a PostgreSQL URL for the store (default SQLite)")
    parser.add_argument(
        "--baseline",
        action="store_true",
        help="also sweep as before: each portfolio group read and counted once per member",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pmo-bridge-sweep-") as tmp:
        folder = Path(tmp)
        settings = Settings(
            trackers={},
            rules=(str(STANDARD_PACK),),
            database_url=args.postgres or f"sqlite:///{folder / 'store.db'}",
            queue_path=str(folder / "queue.db"),
            sweep_interval_minutes=0,
        )
        runtime = Resources.from_settings(settings, clock=lambda: NOW)
        items = make_items(args.items, args.seed, 0.3)
        in_flight = [i.key for i in unique(items) if i.status_category.value in IN_FLIGHT]
        changed = set(random.Random(args.seed).sample(in_flight, min(args.changed, len(in_flight))))
        started = time.monotonic()
        findings = seed(runtime, items, changed)
        print(f"seeded {len(unique(items)):,} items, {findings:,} open findings "
              f"({time.monotonic() - started:.1f} s)")  # fmt: skip
        if args.baseline:
            real = evaluation.across_findings
            evaluation.across_findings = lambda runtime, ruleset, item, context, *_: real(
                runtime, ruleset, item, context
            )
            wall = time.monotonic()
            sweep(runtime, CountingFollowUps())
            print(f"baseline sweep (groups per member) wall {time.monotonic() - wall:.1f} s")
            evaluation.across_findings = real
        follow_ups = CountingFollowUps()
        replaced: list[int] = []  # allocation rows the sweep writes (none unless moved)
        write_shares = runtime.store.replace_shares_of
        runtime.store.replace_shares_of = lambda changes, **kw: (
            replaced.append(len(changes)) or write_shares(changes, **kw)
        )
        cpu, wall = time.process_time(), time.monotonic()
        result = sweep(runtime, follow_ups)
        cpu, wall = time.process_time() - cpu, time.monotonic() - wall
        queued = set(follow_ups.regoverned)
        requested = follow_ups.rollups
        print(f"sweep: checked {result['checked']:,}, re-governs queued {result['changed']:,} "
              f"(changed items {len(changed):,}, missed {len(changed - queued)}, "
              f"unchanged queued {len(queued - changed)}), rollups requested {len(requested):,}")  # fmt: skip
        print(f"items whose allocation the sweep rewrote: {sum(replaced):,}")
        print(f"sweep wall {wall:.1f} s, CPU {cpu:.1f} s (target: < 30 s wall)   "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")  # fmt: skip
        runtime.store.close()


if __name__ == "__main__":
    main()
