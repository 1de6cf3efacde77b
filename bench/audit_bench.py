"""Audit reads at tracker speed: the sandbox trackers hold `--items` items each and answer
every call `--latency` seconds late (a distant tracker); the audit's read of them is timed
against the sequential `*all` paging it replaced (the baseline, sent by this script the
way the old client sent it), in the same run, with the bytes each way transferred.

    python bench/audit_bench.py [--items 10000] [--latency 0.2] [--concurrency 8]
                                [--tracker jira|azure-devops|both] [--skip-serial]
                                [--same-process]

The sandbox trackers run in a child process (a tracker is another machine: its CPU is not
the auditor's), unless `--same-process`.

Jira Cloud now: id-only search pages, then issue/bulkfetch of 100 with the mapped fields,
`--concurrency` in flight. Azure DevOps now: WIQL, then workitemsbatch of 200 with the
mapped fields, `--concurrency` in flight; before: the same batches, one at a time, with
relations and so every field. Target: 5x faster or better.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.replay_stream import (
    AZURE_BOT,
    AZURE_BOT_PAT,
    AZURE_PEOPLE,
    AZURE_PROJECT,
    JIRA_BOT,
    JIRA_BOT_TOKEN,
    JIRA_PEOPLE,
    prepare_sandbox,
)
from config.settings import TrackerConfig
from connector.azure_devops.item import item_from_work_item
from connector.azure_devops.wiql import PAGE as WIQL_PAGE
from connector.azure_devops.wiql import paged_query
from connector.jira.item import item_from_issue
from connector.trackers import make_client
from sandbox import Sandbox

JQL = "project = PAY ORDER BY key"
WIQL = "SELECT [System.Id] FROM WorkItems WHERE [System.TeamProject] = 'Fabrikam'"
ENV = {"BENCH_JIRA_USER": JIRA_BOT, "BENCH_JIRA_TOKEN": JIRA_BOT_TOKEN,
       "BENCH_AZURE_PAT": AZURE_BOT_PAT}  # fmt: skip


class Bytes:
    """Response bytes received, counted by a `requests` response hook."""

    def __init__(self) -> None:
        self.total = 0
        self._lock = threading.Lock()  # the hook runs on every reading thread

    def __call__(self, response: requests.Response, *args: object, **kwargs: object) -> None:
        with self._lock:
            self.total += len(response.content)


def seed(sandbox: Sandbox, items: int) -> None:
    jira, azure = sandbox.jira_state, sandbox.azure_state
    for n in range(items):
        person = JIRA_PEOPLE[n % len(JIRA_PEOPLE)]
        jira.create_issue(
            "PAY", "Story", f"Story {n}", actor=person,
            fields={"labels": ["team-a"], "assignee": {"accountId": jira.user(person)["accountId"]}},
        )  # fmt: skip
        azure.create_work_item(
            AZURE_PROJECT, "User Story", f"Story {n}", actor=AZURE_PEOPLE[n % 3],
            fields={"System.Tags": "team-a", "Microsoft.VSTS.Scheduling.StoryPoints": n % 8},
        )  # fmt: skip


@contextmanager
def trackers_serving(items: int, latency: float, *, same_process: bool):
    """(jira URL, azure URL, seconds spent seeding) of sandbox trackers holding `items` each
    and answering every call `latency` seconds late; in a child process unless told."""
    if same_process:
        with seeded_sandbox(items, latency) as (sandbox, seeded):
            yield sandbox.jira_url, sandbox.azure_url, seeded
        return
    ours, theirs = multiprocessing.get_context("fork").Pipe()
    child = multiprocessing.get_context("fork").Process(
        target=_serve, args=(theirs, items, latency), daemon=True
    )
    child.start()
    try:
        yield ours.recv()
    finally:
        ours.send("stop")
        child.join(30)


@contextmanager
def seeded_sandbox(items: int, latency: float):
    """(sandbox holding `items` in each tracker, answering `latency` late; seconds seeding)"""
    with Sandbox() as sandbox:
        prepare_sandbox(sandbox)
        started = time.monotonic()
        seed(sandbox, items)
        seeded = time.monotonic() - started
        sandbox.latency(latency)
        yield sandbox, seeded


def _serve(conn, items: int, latency: float) -> None:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with seeded_sandbox(items, latency) as (sandbox, seeded):
        conn.send((sandbox.jira_url, sandbox.azure_url, seeded))
        conn.recv()


def jira_baseline(tracker: TrackerConfig, counter: Bytes) -> int:
    """The replaced read: search/jql pages of 100 with every field, one after another."""
    session = requests.Session()
    session.auth = (JIRA_BOT, JIRA_BOT_TOKEN)
    session.hooks["response"].append(counter)
    url = f"{tracker.url}/rest/api/3/search/jql"
    body: dict = {"jql": JQL, "maxResults": 100, "fields": ["*all"]}
    seen = 0
    while True:
        page = session.post(url, json=body, timeout=30).json()
        seen += len([item_from_issue(i, tracker) for i in page.get("issues") or []])
        if page.get("isLast") or not page.get("nextPageToken"):
            return seen
        body = {**body, "nextPageToken": page["nextPageToken"]}


def ado_baseline(tracker: TrackerConfig, counter: Bytes) -> int:
    """The replaced read: WIQL, then workitemsbatch of 200 with relations, one at a time.
    The ids in WIQL pages of 19,999, as the service refuses an answer of over 20,000
    (the replaced read asked once, and failed there)."""
    session = requests.Session()
    session.auth = ("", AZURE_BOT_PAT)
    session.hooks["response"].append(counter)
    base = f"{tracker.url}/{AZURE_PROJECT}/_apis/wit"
    version = {"api-version": "7.1"}
    ids: list[int] = []
    while True:
        query = {"query": paged_query(WIQL, max(ids, default=0))}
        paging = {**version, "$top": WIQL_PAGE}
        found = session.post(f"{base}/wiql", params=paging, json=query, timeout=30)
        page = [ref["id"] for ref in found.json()["workItems"]]
        ids += page
        if len(page) < WIQL_PAGE:
            break
    seen = 0
    for start in range(0, len(ids), 200):
        request = {"ids": ids[start : start + 200], "$expand": "relations", "errorPolicy": "omit"}
        batch = session.post(f"{base}/workitemsbatch", params=version, json=request, timeout=30)
        seen += len([item_from_work_item(wi, tracker) for wi in batch.json()["value"]])
    return seen


def now_read(tracker: TrackerConfig, counter: Bytes, query: str) -> int:
    client = make_client(tracker, environ=ENV, timeout=30)
    if tracker.kind == "jira":
        client._jira._session.hooks["response"].append(counter)  # bytes, as the baseline's
    else:
        client._wit.config.hooks.append(counter)
    _total, items = client.search(query, page_size=200, links=False)
    return sum(1 for _ in items)


def timed(read: Callable[[], int]) -> tuple[int, float]:
    started = time.monotonic()
    count = read()
    return count, time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--tracker", choices=("jira", "azure-devops", "both"), default="both")
    parser.add_argument("--skip-serial", action="store_true", help="no one-call-at-a-time run")
    parser.add_argument("--same-process", action="store_true", help="sandbox in this process")
    args = parser.parse_args()
    os.environ.update(ENV)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per sandbox request
    serving = trackers_serving(args.items, args.latency, same_process=args.same_process)
    with serving as (jira_url, azure_url, seeded):
        where = "this process" if args.same_process else "a child process"
        print(f"seeded {args.items:,} items in each tracker ({seeded:.1f} s), sandbox in {where}")
        trackers = {
            "jira": TrackerConfig(
                name="jira", kind="jira", url=jira_url, deployment="cloud",
                user_env="BENCH_JIRA_USER", token_env="BENCH_JIRA_TOKEN",
                read_concurrency=args.concurrency,
            ),
            "azure-devops": TrackerConfig(
                name="azure-devops", kind="azure-devops", url=azure_url,
                project=AZURE_PROJECT, token_env="BENCH_AZURE_PAT", bot_account=AZURE_BOT,
                read_concurrency=args.concurrency,
            ),
        }  # fmt: skip
        names = ["jira", "azure-devops"] if args.tracker == "both" else [args.tracker]
        for name in names:
            tracker = trackers[name]
            query, baseline = (JQL, jira_baseline) if name == "jira" else (WIQL, ado_baseline)
            before, now = Bytes(), Bytes()
            old_count, old_wall = timed(lambda t=tracker, b=before, f=baseline: f(t, b))
            new_count, new_wall = timed(lambda t=tracker, b=now, q=query: now_read(t, b, q))
            print(
                f"{name}: {new_count:,} items (baseline {old_count:,}), {args.latency * 1000:.0f} ms"
                f" per call\n  baseline (sequential, every field) {old_wall:7.1f} s"
                f" {before.total / 1e6:8.1f} MB\n  now (concurrency {args.concurrency:>2})"
                f"              {new_wall:7.1f} s {now.total / 1e6:8.1f} MB"
                f"   {old_wall / new_wall:.1f}x faster, {before.total / max(now.total, 1):.1f}x"
                f" fewer bytes (target 5x)   load average {os.getloadavg()[0]:.1f}",
                flush=True,
            )
            if not args.skip_serial:
                one_at_a_time = replace(tracker, read_concurrency=1)
                _, serial_wall = timed(lambda t=one_at_a_time, q=query: now_read(t, Bytes(), q))
                print(f"  now, one call at a time            {serial_wall:7.1f} s", flush=True)
            assert new_count == old_count, "the audit read must see every item"


if __name__ == "__main__":
    main()
