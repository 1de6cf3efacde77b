"""The outbox: intake commits a delivery as "received" and nothing else; the relay beside
each consumer claims received rows (each by one relay), marks them "queued" and puts
their tasks on the queue. On SQLite and Huey's SQLite queue, and on the real PostgreSQL
and Redis."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.support.helpers import fixture_bytes
from tests.support.queue_helpers import drain
from tests.support.service import JIRA_SECRET_ENV, jira_headers, make_settings
from webhooks.http.app import create_app
from webhooks.store import Store
from webhooks.worker.consumer import build_consumer
from webhooks.worker.relay import Relay
from webhooks.worker.runtime import Runtime

SECRET = "relay-test-secret"
BODY = fixture_bytes("jira", "issue_updated__status_cloud")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture(params=["sqlite", pytest.param("postgres+redis", marks=pytest.mark.postgres)])
def runtime(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch) -> Runtime:
    monkeypatch.setenv(JIRA_SECRET_ENV, SECRET)
    extra = {}
    if request.param != "sqlite":
        extra = {
            "database_url": request.getfixturevalue("postgres_url"),
            "redis_url": request.getfixturevalue("redis_url"),
        }
    # One body posted under many delivery ids: the body-hash dedupe is not what is tested.
    built = Runtime.from_settings(make_settings(tmp_path, replay_window_seconds=0, **extra))
    yield built
    built.huey.flush()
    built.store.close()


def post(client, delivery: str):
    return client.post("/webhooks/jira", data=BODY, headers=jira_headers(BODY, SECRET, delivery))


def test_intake_commits_the_delivery_received_and_queues_nothing(runtime: Runtime) -> None:
    client = create_app(settings=runtime.settings, runtime=runtime).test_client()
    assert post(client, "r-1").status_code == 202
    assert runtime.store.delivery_counts()["received"] == 1
    assert runtime.huey.pending_count() == 0
    assert runtime.queue_depth() == 1  # what operators see counts the outbox too


def test_relay_queues_each_received_delivery_once(runtime: Runtime) -> None:
    client = create_app(settings=runtime.settings, runtime=runtime).test_client()
    for n in range(5):
        assert post(client, f"r-{n}").status_code == 202

    assert runtime.relay_received() == 5
    assert runtime.relay_received() == 0  # nothing left: nothing queued twice
    counts = runtime.store.delivery_counts()
    assert counts["received"] == 0 and counts["queued"] == 5
    assert runtime.huey.pending_count() == 1  # one task carries the five
    assert runtime.queue_depth() == 5

    assert drain(runtime) >= 1
    assert runtime.store.delivery_counts()["done"] == 5


def test_relay_takes_batches_oldest_first(runtime: Runtime) -> None:
    ids = [
        runtime.store.record_delivery(
            "jira", f"b-{n}", "jira:issue_updated", b"{}", status="received"
        )
        for n in range(7)
    ]
    assert runtime.store.claim_received(limit=3) == ids[:3]
    assert runtime.store.claim_received(limit=3) == ids[3:6]
    assert runtime.store.claim_received(limit=3) == ids[6:]
    assert runtime.store.claim_received(limit=3) == []


def test_concurrent_relays_never_claim_the_same_row(store_url: str) -> None:
    """Relays of several workers (here: several stores, as processes would have) take
    disjoint sets that together are every received row."""
    stores = [Store(store_url) for _ in range(4)]
    stores[0].migrate()
    try:
        expected = {
            stores[0].record_delivery("jira", f"c-{n}", "e", b"{}", status="received")
            for n in range(200)
        }
        barrier = threading.Barrier(len(stores))

        def relay(store: Store) -> list[int]:
            barrier.wait()
            taken: list[int] = []
            while batch := store.claim_received(limit=7):
                taken += batch
            return taken

        with ThreadPoolExecutor(len(stores)) as pool:
            claims = list(pool.map(relay, stores))
        every = [row for claim in claims for row in claim]
        assert len(every) == len(set(every)) == 200
        assert set(every) == expected
        assert stores[0].delivery_counts()["queued"] == 200
    finally:
        for store in stores:
            store.close()


def test_a_running_consumer_processes_what_intake_accepted(runtime: Runtime) -> None:
    """The relay starts and stops with the consumer: posting is all a sender does."""
    client = create_app(settings=runtime.settings, runtime=runtime).test_client()
    consumer = build_consumer(runtime, 2)
    consumer._set_signal_handlers = lambda: None  # a guest on the test's thread
    consumer.start()
    try:
        for n in range(3):
            assert post(client, f"live-{n}").status_code == 202
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and runtime.store.delivery_counts()["done"] < 3:
            time.sleep(0.05)
        assert runtime.store.delivery_counts()["done"] == 3
    finally:
        consumer.stop(graceful=True)
    assert not consumer.relay._thread.is_alive()


def test_enqueue_failure_leaves_rows_for_recovery(runtime: Runtime, monkeypatch) -> None:
    """Claimed but not queued (the queue went away): the rows are "queued" with no task,
    and recovery, which looks for exactly that, queues them."""
    for n in range(3):
        runtime.store.record_delivery("jira", f"f-{n}", "e", BODY, status="received")

    def queue_down(row_ids: list[int]) -> None:
        raise ConnectionError("queue unreachable")

    monkeypatch.setattr(runtime.tasks, "enqueue_deliveries", queue_down)
    with pytest.raises(ConnectionError):
        runtime.relay_received()
    monkeypatch.undo()
    assert runtime.huey.pending_count() == 0
    assert runtime.store.delivery_counts()["queued"] == 3

    assert runtime.tasks.recover_now(at_start=True) == 3
    assert runtime.huey.pending_count() == 3


def test_the_relay_thread_survives_errors_and_goes_on(runtime: Runtime, monkeypatch, caplog):
    failures = iter([RuntimeError("store unreachable")] * 2)
    real_claim = runtime.store.claim_received

    def flaky_claim(limit: int = 500) -> list[int]:
        error = next(failures, None)
        if error is not None:
            raise error
        return real_claim(limit)

    monkeypatch.setattr(runtime.store, "claim_received", flaky_claim)
    runtime.store.record_delivery("jira", "s-1", "e", BODY, status="received")
    worker = Relay(runtime.store, runtime.tasks, interval=0.01)
    with caplog.at_level(logging.WARNING, logger="webhooks.worker.relay"):
        worker.start()
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and runtime.huey.pending_count() == 0:
                time.sleep(0.02)
        finally:
            worker.stop()
    assert runtime.huey.pending_count() == 1
    assert [r.message for r in caplog.records].count("relay.failed") == 2
