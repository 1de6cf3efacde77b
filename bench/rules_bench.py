"""Rule-engine throughput: the bundled PMO standard pack over generated work items.

    python bench/rules_bench.py [--items 100000] [--seed 7] [--noncompliant 0.3] [--rounds 5]

Prints item-evaluations per second for `rules.evaluate` and for a hand-written plain
Python function doing the same checks, in the same run, and the ratio between them.
Contexts (now + parent) are built before timing for both, as the service builds one per
item anyway. Both sides must agree on every item's failing rules, or the bench fails.
`--noncompliant` is the share of generated items that break PMO standards (each broken
item gets one to three random defects); failures cost more than passes because a finding
carries a rendered message, so the figures are printed with the findings per item. Each
side runs `--rounds` times, interleaved, and the best round counts (as timeit does), which
keeps a busy machine from skewing the ratio.
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import random
import sys
import time
from pathlib import Path

from connector.model import ItemType, Person, StatusCategory, WorkItem
from rules import Context, evaluate, load_pack

PACK = Path(__file__).resolve().parents[1] / "config" / "packs" / "pmo-standard.yaml"
NOW = dt.datetime(2026, 11, 1, 9, tzinfo=dt.UTC)
STATUSES = {
    "jira": {
        StatusCategory.TODO: ["To Do", "Backlog"],
        StatusCategory.IN_PROGRESS: ["In Progress", "In Review", "Blocked"],
        StatusCategory.DONE: ["Done"],
        StatusCategory.REMOVED: ["Won't Do"],
    },
    "azure-devops": {
        StatusCategory.TODO: ["New", "Proposed"],
        StatusCategory.IN_PROGRESS: ["Active", "Committed", "On Hold"],
        StatusCategory.DONE: ["Closed", "Resolved"],
        StatusCategory.REMOVED: ["Removed"],
    },
}
TYPES = [ItemType.STORY] * 5 + [ItemType.TASK] * 3 + [ItemType.BUG] * 2 + [
    ItemType.EPIC, ItemType.FEATURE, ItemType.RISK, ItemType.SUBTASK, ItemType.INITIATIVE,
]  # fmt: skip
CATEGORIES = (
    [StatusCategory.TODO] * 3
    + [StatusCategory.IN_PROGRESS] * 4
    + [StatusCategory.DONE] * 2
    + [StatusCategory.REMOVED]
)
PEOPLE = [
    Person(n, f"acct-{i}")
    for i, n in enumerate(["Dana Lee", "Sam Ortiz", "Jamal Hartnett", "Ana Silva"])
]


def make_items(
    count: int, seed: int, noncompliant: float
) -> list[tuple[WorkItem, WorkItem | None]]:
    rng = random.Random(seed)
    parents = [
        WorkItem(
            key=f"jira:PAY-{n}", tracker="jira", native_id=f"PAY-{n}", project="PAY",
            type=ItemType.EPIC, title=f"Parent epic {n}", status="In Progress",
            status_category=StatusCategory.IN_PROGRESS,
            due_date=NOW.date() + dt.timedelta(days=rng.randint(60, 120)) if rng.random() < 0.8 else None,
        )
        for n in range(200)
    ]  # fmt: skip
    return [_item(rng, n, parents, rng.random() < noncompliant) for n in range(count)]


DEFECTS = (
    "title",
    "assignee",
    "estimate",
    "dates",
    "description",
    "priority",
    "stale",
    "blocked",
    "parent",
    "mitigation",
)


def _item(
    rng: random.Random, n: int, parents: list[WorkItem], broken: bool
) -> tuple[WorkItem, WorkItem | None]:
    """A compliant item of a random shape, then (when `broken`) one to three defects."""
    tracker = "jira" if rng.random() < 0.6 else "azure-devops"
    native = f"PAY-{n}" if tracker == "jira" else str(4000 + n)
    item_type = rng.choice(TYPES)
    category = rng.choice(CATEGORIES)
    statuses = [s for s in STATUSES[tracker][category] if s not in ("Blocked", "On Hold")]
    parent = rng.choice(parents) if item_type is not ItemType.INITIATIVE else None
    start = NOW.date() - dt.timedelta(days=rng.randint(0, 60))
    due = NOW.date() + dt.timedelta(days=rng.randint(1, 50))
    fields = {
        "title": rng.choice(
            [
                "Checkout shows saved cards",
                "Refund flow for partial orders",
                "Migrate ledger service",
            ]
        ),
        "status": rng.choice(statuses),
        "assignee": rng.choice(PEOPLE),
        "description": "Business case: lower fees.\nSuccess criteria: 95% migrated.\nMitigation: dual vendor.",
        "priority": rng.choice(["High", "Medium", "Low"]),
        "estimate": rng.choice([1.0, 2.0, 3.0, 5.0, 8.0, 13.0]),
        "start_date": start,
        "due_date": due,
        "parent": parent.key if parent else None,
        "status_changed": NOW - dt.timedelta(hours=rng.randint(1, 24 * 10))
        if rng.random() < 0.8
        else None,
        "custom": {"mitigation": "dual vendor"} if rng.random() < 0.5 else {},
    }
    for defect in rng.sample(DEFECTS, rng.randint(1, 3)) if broken else ():
        if defect == "title":
            fields["title"] = rng.choice(["fix", "tbd", "todo"])
        elif defect == "assignee":
            fields["assignee"] = None
        elif defect == "estimate":
            fields["estimate"] = rng.choice([None, 21.0])
        elif defect == "dates":
            fields["due_date"] = rng.choice(
                [None, NOW.date() - dt.timedelta(days=3), NOW.date() + dt.timedelta(days=200)]
            )
            fields["start_date"] = rng.choice([None, start])
        elif defect == "description":
            fields["description"] = rng.choice(["", "Some notes."])
        elif defect == "priority":
            fields["priority"] = None
        elif defect == "stale":
            fields["status_changed"] = NOW - dt.timedelta(days=rng.randint(15, 40))
        elif defect == "blocked":
            fields["status"] = "Blocked" if tracker == "jira" else "On Hold"
            fields["status_changed"] = NOW - dt.timedelta(days=rng.randint(1, 12))
        elif defect == "parent":
            fields["parent"], parent = None, None
        elif defect == "mitigation":
            fields["custom"], fields["description"] = {}, "Risk of vendor outage."
    item = WorkItem(
        key=f"{tracker}:{native}", tracker=tracker, native_id=native,
        project="PAY" if tracker == "jira" else "Fabrikam", type=item_type,
        status_category=category, created=NOW - dt.timedelta(days=rng.randint(20, 200)),
        updated=NOW - dt.timedelta(days=rng.randint(0, 10)), **fields,
    )  # fmt: skip
    return item, parent


BLOCKED = {"blocked", "impeded", "on hold"}
FIVE_DAYS, FOURTEEN_DAYS, ONE_DAY = (
    dt.timedelta(days=5),
    dt.timedelta(days=14),
    dt.timedelta(days=1),
)
T = ItemType
C = StatusCategory


def hand_written(
    item: WorkItem, parent: WorkItem | None, now: dt.datetime, today: dt.date
) -> list[str]:
    """The same standard as pmo-standard.yaml, written out by hand."""
    failed = []
    t, c = item.type, item.status_category
    open_ = c is C.TODO or c is C.IN_PROGRESS
    if t in (T.INITIATIVE, T.EPIC) and c is C.IN_PROGRESS and item.assignee is None:
        failed.append("epic-has-owner")
    if t in (T.STORY, T.TASK, T.BUG, T.SUBTASK) and c is C.IN_PROGRESS and item.assignee is None:
        failed.append("work-in-progress-assigned")
    if (
        t is T.STORY
        and (c is C.IN_PROGRESS or c is C.DONE)
        and (item.estimate is None or item.estimate > 13)
    ):
        failed.append("story-estimated")
    if (
        t in (T.STORY, T.FEATURE, T.EPIC, T.TASK, T.BUG)
        and item.due_date
        and parent is not None
        and parent.due_date
        and item.due_date > parent.due_date
    ):
        failed.append("due-within-parent")
    if (
        t in (T.EPIC, T.INITIATIVE)
        and c is C.IN_PROGRESS
        and (item.start_date is None or item.due_date is None or item.due_date < item.start_date)
    ):
        failed.append("epic-stage-gate")
    if t is T.EPIC and open_:
        text = item.description.casefold()
        if "business case" not in text or "success criteria" not in text:
            failed.append("epic-template")
    if item.status.casefold() in BLOCKED:
        since = item.status_changed or item.updated or item.created
        if since is not None and now - since > FIVE_DAYS:
            failed.append("blocked-escalation")
    if open_ and item.due_date is not None and not item.due_date > today - ONE_DAY:
        failed.append("not-overdue")
    if t is T.BUG and open_ and not item.priority:
        failed.append("bug-has-priority")
    if (
        t is T.RISK
        and open_
        and (
            item.assignee is None
            or (
                not item.custom.get("mitigation")
                and "mitigation" not in item.description.casefold()
            )
        )
    ):
        failed.append("risk-owned-mitigated")
    if t in (T.STORY, T.TASK, T.BUG, T.FEATURE) and c is C.IN_PROGRESS:
        since = item.status_changed or item.updated or item.created
        if since is not None and now - since > FOURTEEN_DAYS:
            failed.append("stale-in-progress")
    if t is T.STORY and c is not C.REMOVED and not item.parent:
        failed.append("story-has-parent")
    if open_ and len(item.title.strip()) < 10:
        failed.append("title-meaningful")
    return failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--noncompliant", type=float, default=0.3, help="share of items with defects"
    )
    parser.add_argument(
        "--rounds", type=int, default=5, help="timed rounds per side; the best counts"
    )
    args = parser.parse_args(argv)

    pack = load_pack(PACK)
    pairs = make_items(args.items, args.seed, args.noncompliant)
    contexts = [Context(NOW, parent) for _, parent in pairs]
    items = [item for item, _ in pairs]
    parents = [parent for _, parent in pairs]
    today = NOW.date()

    def run_engine() -> list[list[str]]:
        return [
            [f.rule for f in evaluate(pack, item, ctx)]
            for item, ctx in zip(items, contexts, strict=True)
        ]

    def run_hand() -> list[list[str]]:
        return [
            hand_written(item, parent, NOW, today)
            for item, parent in zip(items, parents, strict=True)
        ]

    engine_best = hand_best = float("inf")
    for _ in range(args.rounds):
        started = time.perf_counter()
        engine_results = run_engine()
        engine_best = min(engine_best, time.perf_counter() - started)
        started = time.perf_counter()
        hand_results = run_hand()
        hand_best = min(hand_best, time.perf_counter() - started)

    mismatches = sum(
        1
        for got, expected in zip(engine_results, hand_results, strict=True)
        if sorted(got) != sorted(expected)
    )
    findings = sum(len(r) for r in engine_results)
    engine_rate = args.items / engine_best
    hand_rate = args.items / hand_best
    print(
        f"command: python bench/rules_bench.py --items {args.items} --seed {args.seed} "
        f"--noncompliant {args.noncompliant} --rounds {args.rounds}"
    )
    print(
        f"python {platform.python_version()} on {platform.machine()}, one core, best of {args.rounds} rounds"
    )
    print(
        f"pack: {PACK.name}, {len(pack.rules)} rules ({sum(r.across is None for r in pack.rules)} per item)"
    )
    print(
        f"items: {args.items} ({args.noncompliant:.0%} with defects), findings: {findings} "
        f"({findings / args.items:.2f} per item), mismatches vs hand-written: {mismatches}"
    )
    print(f"engine:       {engine_rate:12,.0f} item-evaluations/s ({engine_best:.3f}s)")
    print(f"hand-written: {hand_rate:12,.0f} item-evaluations/s ({hand_best:.3f}s)")
    print(f"ratio engine/hand-written: {engine_rate / hand_rate:.2f}")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
