"""Worker CPU per event, in one process: the replay stream's deliveries are stored as
intake stores them, then handed one by one to the worker pipeline (`Processor.process`)
against the sandbox trackers on loopback, each as soon as the stream makes it. The
worker thread's own CPU time is measured
per delivery (`time.thread_time`: the sandbox answers in other threads and is not
counted), split into deliveries that change an item's compliance state and those that
change nothing.

    python bench/worker_cpu_bench.py [--events 3000] [--items 150] [--seed 7]
                                     [--profile out.prof] [--profile-only KIND]
                                     [--postgres URL]
                                     [--against REV] [--rounds 2]

`--against REV` runs the same stream, in alternating rounds, on the code of commit REV
(a `git archive` of it in a temporary folder, this script copied in) as the baseline,
and prints the ratio of the means. REV must have the service's present layout (the
rooms of docs/architecture.md): the script imports its modules by those names.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.replay_stream import (
    AZURE_BOT,
    AZURE_BOT_PAT,
    AZURE_PROJECT,
    JIRA_BOT,
    JIRA_BOT_TOKEN,
    Plan,
    Stream,
    deliveries,
    prepare_sandbox,
    write_pack,
)
from config.settings import Settings, TrackerConfig
from connector import trackers
from sandbox import Sandbox
from webhooks.governance.process import Processor
from webhooks.worker.runtime import Runtime

ROOT = Path(__file__).resolve().parents[1]


def settings_for(folder: Path, sandbox: Sandbox, pack: Path, database_url: str | None) -> Settings:
    os.environ.update(
        BENCH_JIRA_USER=JIRA_BOT, BENCH_JIRA_TOKEN=JIRA_BOT_TOKEN, BENCH_AZURE_PAT=AZURE_BOT_PAT
    )
    return Settings(
        trackers={
            "jira": TrackerConfig(
                name="jira",
                kind="jira",
                url=sandbox.jira_url,
                deployment="cloud",
                user_env="BENCH_JIRA_USER",
                token_env="BENCH_JIRA_TOKEN",
                bot_account=JIRA_BOT,
            ),
            "azure-devops": TrackerConfig(
                name="azure-devops",
                kind="azure-devops",
                url=sandbox.azure_url,
                project=AZURE_PROJECT,
                token_env="BENCH_AZURE_PAT",
                bot_account=AZURE_BOT,
            ),
        },
        rules=(str(pack),),
        database_url=database_url or f"sqlite:///{folder / 'store.db'}",
        queue_path=str(folder / "queue.db"),
        sweep_interval_minutes=0,
    )


def run(args: argparse.Namespace) -> dict[str, list[float]]:
    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="pmo-bridge-cpu-") as tmp, Sandbox() as sandbox:
        folder = Path(tmp)
        prepare_sandbox(sandbox)
        pack = write_pack(folder)
        stream = Stream(sandbox, pack, items=args.items, seed=args.seed)
        plan = Plan(events=args.events, items=args.items, seed=args.seed)
        # Processed as generated: each PM action reaches the sandbox just before its
        # delivery is processed, as in real life (a stream generated in full first would
        # leave the final state in the sandbox for every fetch of a partial event).
        batch = (d for d in deliveries(stream, plan) if not isinstance(d, float))
        runtime = Runtime.from_settings(settings_for(folder, sandbox, pack, args.postgres))
        processor = Processor(runtime, runtime.tasks)
        cpu: dict[str, list[float]] = {"no-op": [], "state-changing": [], "duplicate": []}
        profiler = cProfile.Profile() if args.profile else None
        outcomes: Counter[str] = Counter()
        by_outcome: dict[str, list[float]] = {}  # no-op deliveries by the path they took
        for d in batch:
            payload = json.loads(d.body)
            tracker = runtime.settings.tracker(d.tracker)
            event = trackers.adapter(tracker).parse_event(payload, tracker)
            row = runtime.accept(d.tracker, d.delivery_id, event, d.body)
            if row is None:
                cpu["duplicate"].append(0.0)
                continue
            record = runtime.store.get_delivery(row)
            profiling = profiler is not None and args.profile_only in (None, kind_of(d))
            if profiling:
                profiler.enable()
            started = time.thread_time()
            outcome = processor.process(record)
            spent = time.thread_time() - started
            if profiling:
                profiler.disable()
            cpu[kind_of(d)].append(spent)
            name = outcome.split(",")[-1].strip().split(" ")[-1]
            if name == "writes":  # governed: "N findings, W writes"
                name = "governed, wrote nothing" if " 0 writes" in outcome else "governed, wrote"
            if kind_of(d) == "no-op":
                fetched = " (partial event)" if event.partial or event.item is None else ""
                by_outcome.setdefault(name + fetched, []).append(spent)
            outcomes[name] += 1
        if profiler is not None:
            profiler.dump_stats(args.profile)
        runtime.store.close()
        if not args.json:
            print("worker outcomes:", ", ".join(f"{k} {n}" for k, n in outcomes.most_common()))
            print("no-op deliveries by path (count, mean worker CPU, share of the no-op total):")
            total = sum(sum(v) for v in by_outcome.values()) or 1.0
            for name, values in sorted(by_outcome.items(), key=lambda kv: -sum(kv[1])):
                print(
                    f"  {name:<22} {len(values):>6}  {statistics.fmean(values) * 1000:6.2f} ms"
                    f"  {sum(values) / total:5.0%}"
                )
        return cpu


def kind_of(delivery: object) -> str:
    return "state-changing" if getattr(delivery, "changes_state", False) else "no-op"


def summary(cpu: dict[str, list[float]]) -> dict[str, float]:
    return {
        kind: statistics.fmean(v) * 1000 for kind, v in cpu.items() if v and kind != "duplicate"
    }


def run_tree(tree: Path, argv: list[str]) -> dict[str, float]:
    """One round in a subprocess on the code in `tree`; its means (ms) by kind."""
    script = tree / "bench" / "worker_cpu_bench.py"
    if tree != ROOT:
        shutil.copy(Path(__file__), script)
    out = subprocess.run(
        [sys.executable, str(script), *argv, "--json"],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def compare(args: argparse.Namespace) -> None:
    argv = [*("--events", str(args.events), "--items", str(args.items), "--seed", str(args.seed))]
    with tempfile.TemporaryDirectory(prefix="pmo-bridge-base-") as tmp:
        base = Path(tmp)
        archive = subprocess.run(
            ["git", "archive", args.against], cwd=ROOT, capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(base)], input=archive, check=True)
        rounds: dict[str, list[dict[str, float]]] = {"current": [], "baseline": []}
        for n in range(args.rounds):
            for name, tree in (("baseline", base), ("current", ROOT))[:: 1 if n % 2 else -1]:
                rounds[name].append(run_tree(tree, argv))
                print(
                    f"round {n + 1} {name:<8} "
                    + "  ".join(f"{kind} {ms:.2f} ms" for kind, ms in rounds[name][-1].items()),
                    flush=True,
                )
    print(f"worker CPU per event, mean of {args.rounds} rounds each (baseline: {args.against})")
    for kind in ("no-op", "state-changing"):
        now = statistics.fmean(r[kind] for r in rounds["current"])
        then = statistics.fmean(r[kind] for r in rounds["baseline"])
        print(
            f"  {kind:<15} current {now:6.2f} ms   baseline {then:6.2f} ms   ratio {then / now:.2f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--items", type=int, default=150)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", help="write a cProfile of the worker calls here")
    parser.add_argument(
        "--profile-only", choices=("no-op", "state-changing"), help="profile only these"
    )
    parser.add_argument("--postgres", help="a PostgreSQL URL for the store (default SQLite)")
    parser.add_argument("--against", help="a commit whose code is the baseline")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.against:
        compare(args)
        return
    wall = time.monotonic()
    cpu = run(args)
    if args.json:
        print(json.dumps(summary(cpu)))
        return
    print(f"deliveries: {sum(len(v) for v in cpu.values())} ({time.monotonic() - wall:.1f} s)")
    for kind, values in cpu.items():
        if not values or kind == "duplicate":
            print(f"  {kind:<15} {len(values):>6}")
            continue
        ms = sorted(v * 1000 for v in values)
        print(
            f"  {kind:<15} {len(ms):>6}  worker CPU mean {statistics.fmean(ms):6.2f} ms"
            f"  p50 {ms[len(ms) // 2]:6.2f} ms  p99 {ms[int(len(ms) * 0.99)]:6.2f} ms"
        )


if __name__ == "__main__":
    main()
