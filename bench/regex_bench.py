"""Rule regexes: what running `matches` on RE2 costs against the standard library's
backtracking `re`, and what it saves on a catastrophic pattern.

    python bench/regex_bench.py [--items 100000] [--rounds 5]

Part 1: a one-rule pack (`title matches '^[A-Z]{2,}-[0-9]+ '`) over generated titles:
the engine as shipped (RE2) vs the same engine with the pattern compiled by `re` (the
baseline: what the engine did before), best of N rounds, interleaved. Part 2: `^(a+)+$` against titles of 20-24 "a"s and a "!": `re` time per
title (doubling per character) vs RE2."""

from __future__ import annotations

import argparse
import random
import re
import time

import rules.checks
from connector.model import ItemType, StatusCategory, WorkItem
from rules import Context, evaluate
from rules.pack import parse_pack
from rules.regexes import compile_search

PACK = """version: 1
rules:
  - id: title-has-ticket
    require:
      - {field: title, matches: '^[A-Z]{2,}-[0-9]+ '}
"""


def items(count: int, seed: int) -> list[WorkItem]:
    rng = random.Random(seed)
    words = ["Checkout", "saved", "cards", "login", "slow", "report", "export", "fix"]
    out = []
    for n in range(count):
        title = " ".join(rng.choice(words) for _ in range(rng.randint(2, 8)))
        if rng.random() < 0.7:
            title = f"PAY-{n} {title}"
        out.append(
            WorkItem(
                key=f"jira:PAY-{n}",
                tracker="jira",
                native_id=f"PAY-{n}",
                project="PAY",
                type=ItemType.STORY,
                title=title,
                status="In Progress",
                status_category=StatusCategory.IN_PROGRESS,
            )
        )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    re2_pack, _positions, errors = parse_pack(PACK, "bench.yaml")
    assert re2_pack is not None and not errors
    shipped = rules.checks.compile_search
    rules.checks.compile_search = lambda pattern: re.compile(pattern).search
    try:
        re_pack, _positions, errors = parse_pack(PACK, "bench.yaml")
    finally:
        rules.checks.compile_search = shipped
    assert re_pack is not None and not errors
    work = items(args.items, args.seed)
    context = Context.at()
    packs = {"re2": re2_pack, "re": re_pack}
    best = dict.fromkeys(packs, float("inf"))
    found = {}
    for _ in range(args.rounds):
        for name, pack in packs.items():
            started = time.perf_counter()
            found[name] = sum(1 for item in work if evaluate(pack, item, context))
            best[name] = min(best[name], time.perf_counter() - started)
    assert found["re2"] == found["re"], found
    print(f"command: python bench/regex_bench.py --items {args.items} --rounds {args.rounds}")
    print(f"items: {args.items}, failing: {found['re2']}, best of {args.rounds} rounds")
    print(f"engine, RE2 (shipped):  {args.items / best['re2']:>10,.0f} item-evaluations/s")
    print(f"engine, re (baseline):  {args.items / best['re']:>10,.0f} item-evaluations/s")
    print(f"ratio RE2/re: {best['re'] / best['re2']:.2f}")

    catastrophic = r"^(a+)+$"
    linear = compile_search(catastrophic)
    for length in (20, 22, 24):
        title = "a" * length + "!"
        started = time.perf_counter()
        re.search(catastrophic, title)
        slow = time.perf_counter() - started
        started = time.perf_counter()
        linear(title)
        fast = time.perf_counter() - started
        print(
            f"^(a+)+$ on {length + 1} characters: re {slow * 1000:9.1f} ms, RE2 {fast * 1e6:6.1f} us"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
