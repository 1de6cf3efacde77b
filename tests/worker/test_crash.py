"""A worker process killed with SIGKILL in the middle of the queue loses nothing and
writes nothing twice: a second worker over the same SQLite queue and store takes the
queued work, recovers the deliveries the dead one had in flight, and every item ends
with exactly one managed comment.

The tracker is a slow stub of Jira Cloud on 127.0.0.1, so the kill lands while writes
are under way; it applies each write when it arrives and answers only after a delay,
the worst case for a crash (the tracker has the write, the worker never heard so)."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask, jsonify, request
from werkzeug.serving import make_server

from tests.support.helpers import ROOT
from tests.support.service import SERVICE_PACK, jira_headers
from tests.support.spec_check import INVALID_INPUT, comment_problems
from tests.support.worker_helpers import JIRA_BOT, jira_unowned
from webhooks.http.app import create_app

SECRET = "jira-crash-secret"
ITEMS = [f"TEST-{n}" for n in range(1, 11)]
WRITE_DELAY = 0.25  # seconds the stub takes to answer a write
RECOVER_AFTER = 1.0
LOCK_SECONDS = 2.0


@dataclass
class StubJira:
    """Jira Cloud's comment and issue-edit endpoints, recording every call."""

    delay: float
    calls: list[tuple[str, str, str]] = field(default_factory=list)  # (method, op, key)
    labels: dict[str, set[str]] = field(default_factory=dict)
    comments: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(10500))

    def app(self) -> Flask:
        app = Flask("stub-jira")
        api = "/rest/api/3/issue/<key>"

        @app.get(f"{api}/comment")
        def list_comments(key: str):
            with self.lock:
                self.calls.append(("GET", "comments", key))
                found = list(self.comments.get(key, []))
            if request.args.get("orderBy") == "-created":
                found.reverse()
            return jsonify(startAt=0, maxResults=100, total=len(found), comments=found)

        def new_comment(key: str, body: Any) -> dict[str, Any]:
            comment = {"id": str(next(self.ids)), "body": body, "author": {"accountId": JIRA_BOT}}
            self.comments.setdefault(key, []).append(comment)
            return comment

        @app.post(f"{api}/comment")
        def add_comment(key: str):
            if comment_problems("3", request.get_json()):  # as Jira Cloud refuses it
                return jsonify(INVALID_INPUT), 400
            body = request.get_json()["body"]
            with self.lock:
                self.calls.append(("POST", "comment", key))
                comment = new_comment(key, body)
            time.sleep(self.delay)
            return jsonify(id=comment["id"]), 201

        @app.put(f"{api}/comment/<comment_id>")
        def edit_comment(key: str, comment_id: str):
            if comment_problems("3", request.get_json()):
                return jsonify(INVALID_INPUT), 400
            body = request.get_json()["body"]
            with self.lock:
                self.calls.append(("PUT", "edit_comment", key))
                for comment in self.comments.get(key, []):
                    if comment["id"] == comment_id:
                        comment["body"] = body
            time.sleep(self.delay)
            return jsonify(id=comment_id)

        @app.put(api)
        def edit_issue(key: str):
            # labels, and a comment added by the same edit (`update.comment`)
            update = request.get_json()["update"]
            changes = update.get("labels", [])
            added = [op["add"]["body"] for op in update.get("comment", [])]
            if any(comment_problems("3", {"body": body}) for body in added):
                return jsonify(INVALID_INPUT), 400
            with self.lock:
                for body in added:
                    self.calls.append(("POST", "comment", key))  # a comment made, as above
                    new_comment(key, body)
                labels = self.labels.setdefault(key, set())
                before = set(labels)
                for change in changes:
                    if "add" in change:
                        labels.add(change["add"])
                    else:
                        labels.discard(change["remove"])
                # a write that changed nothing (an idempotent add repeated) is told apart
                self.calls.append(("PUT", "labels" if labels != before else "labels-noop", key))
            time.sleep(self.delay)
            return "", 204

        return app

    def count(self, op: str) -> Counter[str]:
        with self.lock:
            return Counter(key for _, called, key in self.calls if called == op)


@pytest.fixture
def stub_jira() -> Iterator[tuple[StubJira, str]]:
    stub = StubJira(delay=WRITE_DELAY)
    server = make_server("127.0.0.1", 0, stub.app(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield stub, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Callable[[str], subprocess.Popen]]:
    """Start `pmo-bridge worker --config F` processes; all are stopped after the test."""
    started: list[subprocess.Popen] = []

    def start(config: str) -> subprocess.Popen:
        log = open(tmp_path / f"worker-{len(started)}.log", "wb")
        code = "import sys; from webhooks.commands.main import main; sys.exit(main(sys.argv[1:]))"
        proc = subprocess.Popen(
            [sys.executable, "-c", code, "worker", "--config", config],
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def write_config(tmp_path: Path, tracker_url: str) -> str:
    config = {
        "trackers": {
            "jira": {
                "kind": "jira",
                "url": tracker_url,
                "deployment": "cloud",
                "auth": {"user_env": "TEST_JIRA_EMAIL", "token_env": "TEST_JIRA_TOKEN"},
                "webhook_secret_env": "TEST_JIRA_WEBHOOK_SECRET",
                "bot_account": JIRA_BOT,
            }
        },
        "rules": [str(SERVICE_PACK)],
        "database_url": f"sqlite:///{tmp_path / 'store.db'}",
        "queue_path": str(tmp_path / "queue.db"),
        "worker_threads": 2,
        "retry_base_seconds": 0.05,
        "rollup_delay_seconds": 0.0,
        "sweep_interval_minutes": 0,
        # Two webhooks send the same change with the same body: both must reach a worker
        # here, so the body-hash dedupe (which would take the second as a replay) is off.
        "replay_window_seconds": 0,
        # Both default to 5 minutes: a delivery the killed worker had in flight is retaken
        # by a worker starting this long after it was taken, and the item lock the killed
        # worker held expires after this long (longer than one item's processing).
        "recover_after_seconds": RECOVER_AFTER,
        "item_lock_seconds": LOCK_SECONDS,
    }
    path = tmp_path / "pmo-bridge.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return str(path)


def test_killed_worker_loses_nothing_and_duplicates_no_comment(
    tmp_path, monkeypatch, stub_jira, workers
):
    stub, url = stub_jira
    monkeypatch.setenv("TEST_JIRA_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("TEST_JIRA_EMAIL", "pmo-bot@example.com")
    monkeypatch.setenv("TEST_JIRA_TOKEN", "api-token")
    config = write_config(tmp_path, url)
    app = create_app(config)
    store = app.extensions["pmo_bridge"].store
    client = app.test_client()

    # Two deliveries per item of the same change (as two webhooks on one site send it),
    # so either may be the one that finds the work undone.
    deliveries = [(key, jira_unowned(key), f"{key}-{n}") for n in "ab" for key in ITEMS]
    for _, payload, delivery in deliveries:
        body = json.dumps(payload).encode()
        answer = client.post(
            "/webhooks/jira", data=body, headers=jira_headers(body, SECRET, delivery)
        )
        assert answer.status_code == 202
    assert (
        store.delivery_counts()["received"] == len(deliveries) == 20
    )  # the workers' relay queues them

    first = workers(config)
    assert wait_for(
        lambda: store.delivery_counts()["done"] >= 3 and store.delivery_counts()["processing"],
        timeout=20,
    ), store.delivery_counts()
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=10)
    at_kill = store.delivery_counts()
    in_flight = {
        json.loads(record.payload)["issue"]["key"]
        for record in map(store.get_delivery, store.pending_deliveries(older_than=store.now()))
        if record.status == "processing"
    }
    assert at_kill["done"] < len(deliveries), "the kill came too late to test anything"
    assert at_kill["processing"] >= 1  # work the killed worker had taken, now lost

    # Restarted after a back-off (as a supervisor would): long enough for the lost
    # deliveries to count as stale and for the dead worker's item locks to expire.
    time.sleep(max(RECOVER_AFTER, LOCK_SECONDS) + 0.2)
    workers(config)
    assert wait_for(lambda: store.delivery_counts()["done"] == len(deliveries), timeout=30), (
        store.delivery_counts()
    )

    posts = stub.count("comment")
    assert posts == Counter({key: 1 for key in ITEMS}), posts
    # Each item's labels changed once. Only a label write the killed worker had sent
    # and not yet heard back about is sent again (its ledger entry was never saved); the
    # repeat is Jira's idempotent "add" and changes nothing.
    assert stub.count("labels") == Counter({key: 1 for key in ITEMS})
    repeated = stub.count("labels-noop")
    assert set(repeated) <= in_flight and all(n == 1 for n in repeated.values()), repeated
    assert all(stub.labels[key] == {"pmo-unowned"} for key in ITEMS)
    for key in ITEMS:
        (comment,) = stub.comments[key]
        ledger = store.get_ledger(f"jira:{key}")
        assert ledger.comment_id == comment["id"]
        assert ledger.labels == frozenset({"pmo-unowned"})
    counts = store.delivery_counts()
    assert counts["dead"] == 0
    assert counts["received"] == counts["queued"] == counts["processing"] == 0
