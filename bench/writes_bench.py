"""Tracker calls per compliance state change, with and without the one-call writes.

The replay stream's deliveries (90% edits that change no compliance state) are handed one
by one to the worker pipeline (`Processor.process`) against the sandbox trackers on
loopback, as in `worker_cpu_bench.py`, and every call the trackers receive is counted by
route. Each delivery is processed before the next, so no state change is superseded:
every one is written. The same stream runs twice, on fresh trackers and stores:

- two calls: the labels/tags write and the new managed comment apart (the way before
  the one-call form; the client's `update_labels_with_comment` is not offered);
- one call: Jira `update.comment` beside `update.labels` in one edit, Azure DevOps
  `System.History` in the tags PATCH, then a read of the new comment's id.

    python bench/writes_bench.py [--events 3000] [--items 150] [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from collections import Counter
from dataclasses import replace
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.replay_stream import Plan, Stream, deliveries, prepare_sandbox, write_pack
from bench.worker_cpu_bench import settings_for
from connector import trackers
from sandbox import Sandbox
from webhooks.governance.process import Processor
from webhooks.governance.writeback import WriteBack
from webhooks.worker.runtime import Runtime


def run(args: argparse.Namespace, *, one_call: bool) -> tuple[Counter, Counter, int]:
    """(calls by (tracker, method, route), state changes by tracker, comments made)."""
    logging.disable(logging.WARNING)
    apart = mock.patch.object(WriteBack, "_labels_with_comment", return_value=None)
    with tempfile.TemporaryDirectory(prefix="pmo-bridge-writes-") as tmp, Sandbox() as sandbox:
        folder = Path(tmp)
        prepare_sandbox(sandbox)
        pack = write_pack(folder)
        stream = Stream(sandbox, pack, items=args.items, seed=args.seed)
        plan = Plan(events=args.events, items=args.items, seed=args.seed)
        batch = [d for d in deliveries(stream, plan) if not isinstance(d, float)]
        before = sandbox.api_calls()  # the stream's own setup (creating the items)
        settings = settings_for(folder, sandbox, pack, None)
        # The bot as Jira Cloud names a comment's author: by its accountId.
        jira = replace(
            settings.trackers["jira"],
            bot_account=sandbox.jira_state.user(settings.trackers["jira"].bot_account)["accountId"],
        )
        settings = replace(settings, trackers={**settings.trackers, "jira": jira})
        runtime = Runtime.from_settings(settings)
        processor = Processor(runtime, runtime.tasks)
        changes: Counter[str] = Counter()
        with apart if not one_call else _nothing():
            for d in batch:
                tracker = runtime.settings.tracker(d.tracker)
                event = trackers.adapter(tracker).parse_event(json.loads(d.body), tracker)
                row = runtime.accept(d.tracker, d.delivery_id, event, d.body)
                if row is None:
                    continue
                processor.process(runtime.store.get_delivery(row))
                if d.changes_state:
                    changes[d.tracker] += 1
        calls = sandbox.api_calls()
        calls.subtract(before)
        comments = sum(len(i.comments) for i in sandbox.jira_state.issues.values())
        comments += sum(len(i.comments) for i in sandbox.azure_state.items.values())
        runtime.store.close()
        return +calls, changes, comments


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def report(name: str, calls: Counter, changes: Counter, comments: int) -> dict[str, float]:
    total_changes = sum(changes.values())
    print(f"{name}: {total_changes} state changes ({dict(changes)}), {comments} comments")
    out: dict[str, float] = {}
    for tracker in ("jira", "azure-devops"):
        mine = {k: n for k, n in calls.items() if k[0] == tracker}
        writes = sum(n for (_, method, _), n in mine.items() if method != "GET")
        reads = sum(n for (_, method, _), n in mine.items() if method == "GET")
        per = max(changes[tracker], 1)
        out[f"{tracker} writes"], out[f"{tracker} calls"] = writes / per, (writes + reads) / per
        print(
            f"  {tracker:<13} writes {writes:5d} ({writes / per:.2f} per change)"
            f"   reads {reads:5d}   all calls {(writes + reads) / per:.2f} per change"
        )
        for (_, method, route), n in sorted(mine.items(), key=lambda kv: -kv[1]):
            print(f"      {n:5d}  {method:<5} {route}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--items", type=int, default=150)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    before = report("two calls (labels and new comment apart)", *run(args, one_call=False))
    after = report("one call (labels and new comment together)", *run(args, one_call=True))
    for key in before:
        print(f"{key} per state change: {before[key]:.2f} -> {after[key]:.2f}")
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
