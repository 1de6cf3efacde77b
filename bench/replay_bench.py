"""Replay a realistic webhook stream through `pmo-bridge serve` and through a naive
comment-per-event consumer, against the sandbox trackers, and compare.

    python bench/replay_bench.py [--events 10000] [--items 150] [--faults]
                                 [--postgres URL] [--redis URL] [--workers N]
                                 [--scaling] [--rate R] [--skip-naive] [--seed 7]

The stream (bench/replay_stream.py): ~150 items over two Jira projects (PAY, WEB) and one
Azure DevOps project (Fabrikam); their creation events, then PM activity in bursts:
90% edits that change no compliance state (title tweaks, description edits that keep the
template words, comments, priority changes, status moves within a category), 10% that do
(status moves, estimate removed/added, assignee removed/added), 5% duplicate deliveries
(same delivery id and body), 2% sent after a newer delivery for the same item. Payloads
come from the sandbox's own renderers; Jira ones are signed, Azure DevOps ones carry the
Basic-auth secret. `serve` is a real subprocess (embedded SQLite store and queue in a
temporary folder, its worker running, trackers at the sandbox URLs, bot accounts set).

`--workers N` runs N queue worker processes (serve's embedded one and N-1 `pmo-bridge
worker` processes); give `--postgres` and `--redis` (a Redis database the bench may
fill; the queue's keys are left behind) for several. `--scaling` posts the whole stream
before any worker starts, then drains it with one worker process and, in a second run,
with N (`--workers`, default 2), and prints the ratio of their rates: the workers'
capacity alone, not intake's. `--rate R` posts at a steady R deliveries per second (no
bursts) and reports post-to-write latency and tracker write calls per state change.
Every run prints the CPU time its worker and web processes used per delivery.

`--faults` runs a clean replay and a faulted one of the same stream and compares the
final managed state per item: the worker SIGKILLed three times, both trackers answering
503 for 30 s, 429 bursts with Retry-After, and with `--postgres` the store's connections
terminated twice (PostgreSQL mode). Loopback only; stops by itself.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.replay_run import (
    Fault,
    Result,
    create_database,
    drop_database,
    median,
    percentile,
    run_replay,
)
from bench.replay_service import effective
from bench.replay_stream import Plan

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def figures(result: Result) -> dict[str, str]:
    latencies, no_op, superseded = result.attribution()
    if result.name == "naive":
        latencies, superseded = result.first_write_latencies(), 0
    accepted = result.accepted
    ok = accepted.get(202, 0) + accepted.get(200, 0)
    changes = result.state_changes
    kinds = Counter(w.kind for w in result.writes)
    processed = max(ok, 1)
    return {
        "deliveries posted": f"{len(result.sent)}",
        "worker processes": f"{result.workers}",
        "answers": ", ".join(f"{code}: {n}" for code, n in sorted(accepted.items())),
        "accepted events/s": f"{ok / result.post_seconds:.0f} (over {result.post_seconds:.1f} s)",
        "drained after last post": f"{result.drain_seconds:.1f} s"
        + ("" if result.drained else " (NOT drained)"),
        "compliance state changes": f"{changes}",
        "tracker write calls": f"{len(result.writes)} (comment {kinds['comment']}, "
        f"labels {kinds['labels']}; refused {result.refused})",
        "write calls per state change": f"{len(result.writes) / max(changes, 1):.2f}"
        " (target <= 1.0)",
        "writes that changed nothing": f"{no_op} (target 0)"
        + (f": {'; '.join(result.no_op_writes[:3])}" if result.no_op_writes else ""),
        "state changes written": f"{len(latencies)} (superseded before written: {superseded})",
        "latency post->write p50": f"{median(latencies) * 1000:.0f} ms",
        "latency post->write p99": f"{percentile(latencies, 0.99) * 1000:.0f} ms",
        "max managed comments/item": f"{max((len(v[1]) for v in result.state.values()), default=0)}",
        "dead letters": f"{result.dead_letters}",
        "drain rate (accepted/drain s)": f"{ok / max(result.drain_seconds, 1e-9):.0f}/s",
        "worker CPU per delivery": f"{result.worker_cpu / processed * 1000:.2f} ms",
        "web CPU per delivery": f"{result.web_cpu / processed * 1000:.2f} ms",
        "machine busy while draining": f"{result.machine_busy / max(result.drain_seconds, 1e-9):.2f}"
        f" of {os.cpu_count()} cores",
    }


def side_by_side(results: list[Result]) -> None:
    table = [figures(r) for r in results]
    width = max(len(k) for k in table[0])
    print(f"\n  {'':<{width}}  " + "  ".join(f"{r.name:<34}" for r in results))
    for key in table[0]:
        print(f"  {key:<{width}}  " + "  ".join(f"{t[key]:<34}" for t in table))


def compare_states(clean: Result, faulted: Result) -> list[str]:
    problems = []
    for item in sorted(set(clean.state) | set(faulted.state)):
        a, b = clean.state.get(item), faulted.state.get(item)
        if a is None or b is None or effective(a) != effective(b):
            problems.append(f"{item}: clean {_show(a)} vs faulted {_show(b)}")
        if b is not None and len(b[1]) > 1:
            problems.append(f"{item}: {len(b[1])} managed comments")
    return problems


def report_off_stream(results: list[Result]) -> bool:
    """Print, per run, whether every item ends as its newest delivery calls for."""
    ok = True
    for result in results:
        if result.name == "naive":
            continue
        off = result.off_stream()
        ok = ok and not off
        print(
            f"  {result.name}: final state as the newest delivery per item calls for: "
            f"{'yes' if not off else 'NO'} ({len(off)} items off)"
        )
        for line in off[:20]:
            print(f"    {line}")
    return ok


def _show(state: object) -> str:
    if state is None:
        return "missing"
    labels, comments = state  # type: ignore[misc]
    return f"labels {list(labels)}, {len(comments)} comment(s)"


def print_traces(results: list[Result]) -> None:
    for result in results:
        if result.stuck:
            print(f"\n  not drained, {result.name}:")
            for line in result.stuck:
                print(f"    {line}")
        if result.trace:
            print(f"\n  trace, {result.name}:")
            for line in result.trace:
                print(f"    {line}")


def load_average() -> str:
    return "load average " + ", ".join(f"{v:.2f}" for v in os.getloadavg())


def scaling(plan: Plan, args: argparse.Namespace, name: str | None, load: Any) -> int:
    """The backlog drained by one worker process, then by N, each on a fresh store."""
    many = args.workers or 2
    results: list[Result] = []
    for count in (1, many):
        database_url = None
        if args.postgres:
            database_url = create_database(args.postgres, f"{name}_{count}")
        try:
            print(f"  [{count} worker process(es)] {load()}", flush=True)
            result = run_replay(
                plan,
                drain_timeout=args.drain_timeout,
                database_url=database_url,
                redis_url=args.redis,
                workers=count,
                backlog=True,
                threads=args.threads,
            )
            result.name = f"{count} worker process(es)"
            results.append(result)
        finally:
            if database_url:
                drop_database(args.postgres, f"{name}_{count}")
    side_by_side(results)
    one, more = (r.drain_seconds for r in results)
    print(
        f"\n  backlog of {len(results[0].sent)} deliveries drained in {one:.1f} s by one worker "
        f"process, {more:.1f} s by {many}: {one / more:.2f}x (target >= 1.7x for 2)"
    )
    print()
    on_stream = report_off_stream(results)
    print(f"  {load()}")
    return 0 if on_stream and all(r.drained for r in results) else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000, help="deliveries (10000)")
    parser.add_argument("--items", type=int, default=150, help="portfolio items (150)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--faults", action="store_true", help="clean vs faulted replay")
    parser.add_argument("--outage-seconds", type=float, default=30.0)
    parser.add_argument(
        "--postgres",
        nargs="?",
        const=DEFAULT_POSTGRES,
        help="with --faults: store on a fresh PostgreSQL database (default server %(const)s)",
    )
    parser.add_argument("--redis", help="a Redis URL for the queue (default: SQLite)")
    parser.add_argument("--workers", type=int, default=None, help="queue worker processes")
    parser.add_argument(
        "--scaling", action="store_true", help="backlog drained by 1, then N worker processes"
    )
    parser.add_argument("--threads", type=int, help="worker threads per worker process")
    parser.add_argument("--rate", type=float, help="post at this steady rate (per second)")
    parser.add_argument("--skip-naive", action="store_true", help="no naive baseline run")
    parser.add_argument("--drain-timeout", type=float, default=300.0)
    parser.add_argument(
        "--trace",
        metavar="ITEM",
        help="print ITEM's deliveries, store rows, service log lines and tracker calls "
        "(e.g. azure-devops:6) after each run",
    )
    args = parser.parse_args()

    print(f"command: {shlex.join([Path(sys.executable).name, *sys.argv])}")
    print(
        f"machine: nproc {os.cpu_count()}, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()} {platform.machine()}"
    )
    plan = Plan(events=args.events, items=args.items, seed=args.seed)
    print(
        f"stream: {plan.events} deliveries, {plan.items} items (PAY, WEB on Jira; Fabrikam on "
        f"Azure DevOps), seed {plan.seed}; bursts of {plan.burst[0]}-{plan.burst[1]} with "
        f"{plan.pause[0]}-{plan.pause[1]} s pauses; {plan.duplicate_share:.0%} duplicates, "
        f"~{plan.reorder_share:.0%} out of order; 8 posting threads"
    )
    print(
        "service: pmo-bridge serve (2 web workers x 4 threads), "
        f"{args.workers or 1} worker process(es) x {args.threads or 2} threads, "
        f"store {'PostgreSQL' if args.postgres else 'SQLite'}, "
        f"queue {'Redis' if args.redis else 'SQLite'}"
    )
    started = time.monotonic()

    database_url = name = None
    if args.postgres:
        name = f"pmo_replay_{uuid.uuid4().hex[:10]}"
    options = {"redis_url": args.redis, "threads": args.threads}
    if args.scaling:
        return scaling(plan, args, name, load_average)
    if args.rate:
        plan = Plan(events=args.events, items=args.items, seed=args.seed, burst=(1, 1))
        print(f"steady rate: {args.rate:g} deliveries/s, no bursts")
    if not args.faults:
        try:
            if name:
                database_url = create_database(args.postgres, name)
            results = [
                run_replay(
                    plan,
                    drain_timeout=args.drain_timeout,
                    trace_item=args.trace,
                    database_url=database_url,
                    workers=args.workers or 1,
                    rate=args.rate,
                    **options,
                )
            ]
        finally:
            if name:
                drop_database(args.postgres, name)
        if not args.skip_naive:
            results.append(run_replay(plan, naive=True))
        side_by_side(results)
        print()
        on_stream = report_off_stream(results)
        print_traces(results)
        print(f"\ntotal wall time {time.monotonic() - started:.0f} s   {load_average()}")
        return 0 if on_stream and all(r.drained for r in results) else 1

    faults = [
        Fault(0.15, "kill"),
        Fault(0.25, "throttle", seconds=2.0, count=4),
        Fault(0.35, "kill"),
        Fault(0.45, "outage", seconds=args.outage_seconds),
        Fault(0.60, "throttle", seconds=3.0, count=4),
        Fault(0.70, "kill"),
    ]
    if args.postgres:
        database_url = create_database(args.postgres, name)
        faults += [Fault(0.30, "pg-restart"), Fault(0.65, "pg-restart")]
    try:
        clean = run_replay(plan, drain_timeout=args.drain_timeout, trace_item=args.trace)
        clean.name = "clean run"
        faulted = run_replay(
            plan,
            faults=faults,
            database_url=database_url,
            drain_timeout=args.drain_timeout,
            trace_item=args.trace,
        )
        faulted.name = "faulted run" + (" (PostgreSQL)" if database_url else "")
    finally:
        if name and args.postgres:
            drop_database(args.postgres, name)
    print("\nfaults injected:")
    for line in faulted.fault_log:
        print(f"  {line}")
    side_by_side([clean, faulted])
    problems = compare_states(clean, faulted)
    violations = faulted.retry_after_violations()
    print(
        f"\n  final state (managed labels + comment text per item) equal to the clean run: "
        f"{'yes' if not problems else 'NO'} ({len(faulted.state)} items)"
    )
    for problem in problems[:20]:
        print(f"    {problem}")
    on_stream = report_off_stream([clean, faulted])
    print(
        f"  429 answers: {len(faulted.throttles)}; calls before Retry-After ran out: "
        f"{len(violations)}"
    )
    for violation in violations[:10]:
        print(f"    {violation}")
    print_traces([clean, faulted])
    print(f"\ntotal wall time {time.monotonic() - started:.0f} s   {load_average()}")
    ok = not problems and not violations and faulted.dead_letters == 0 and faulted.drained
    ok = ok and on_stream
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
