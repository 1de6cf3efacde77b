"""Group commit: concurrent intake inserts of one process share a transaction, and each
caller still gets its own row id, its own duplicate answer or its own error."""

from __future__ import annotations

import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from webhooks.store import Store
from webhooks.store import deliveries as store_deliveries
from webhooks.store.group_commit import GroupCommit, Pending


def test_concurrent_writes_share_batches_and_each_gets_its_result() -> None:
    batches: list[list[int]] = []

    def write(batch: list[Pending]) -> None:
        time.sleep(0.01)  # a commit's worth of time, so others arrive meanwhile
        batches.append([each.args for each in batch])
        for each in batch:
            each.result = each.args * 10

    group = GroupCommit(write)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(group.submit, range(40)))

    assert results == [n * 10 for n in range(40)]
    written = [n for batch in batches for n in batch]
    assert sorted(written) == list(range(40))  # each exactly once
    assert len(batches) < 40 and max(map(len, batches)) > 1


def test_a_write_the_batch_failed_raises_for_its_caller_only() -> None:
    def write(batch: list[Pending]) -> None:
        for each in batch:
            if each.args == "bad":
                each.error = ValueError("bad row")
            else:
                each.result = each.args

    group = GroupCommit(write)
    assert group.submit("good") == "good"
    with pytest.raises(ValueError, match="bad row"):
        group.submit("bad")
    assert group.submit("again") == "again"  # the group is not stuck


def test_an_interrupted_leader_leaves_nobody_waiting() -> None:
    started, release = threading.Event(), threading.Event()

    def write(batch: list[Pending]) -> None:
        if batch[0].args == "leader":
            started.set()
            release.wait(5)
            raise KeyboardInterrupt
        for each in batch:
            each.result = each.args

    group = GroupCommit(write)
    outcomes: dict[str, object] = {}

    def call(name: str) -> None:
        try:
            outcomes[name] = group.submit(name)
        except BaseException as exc:
            outcomes[name] = type(exc).__name__

    leader = threading.Thread(target=call, args=("leader",))
    leader.start()
    assert started.wait(5)
    follower = threading.Thread(target=call, args=("follower",))
    follower.start()
    time.sleep(0.05)
    release.set()
    leader.join(5)
    follower.join(5)
    assert outcomes == {"leader": "KeyboardInterrupt", "follower": "follower"}


def test_a_write_given_no_outcome_is_an_error_not_a_hang() -> None:
    group = GroupCommit(lambda batch: None)
    with pytest.raises(RuntimeError, match="no outcome"):
        group.submit("x")


# -- the store's batches ------------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path):
    s = Store(f"sqlite:///{tmp_path / 'store.db'}")
    s.migrate()
    yield s
    s.close()


def _insert(store: Store, tracker: str | None, delivery: str) -> Pending:
    """A pending insert as intake makes it (through record_delivery's prepared SQL)."""
    captured: list[tuple] = []
    original = store._intake_batches.submit
    store._intake_batches.submit = lambda args: captured.append(args)  # type: ignore[method-assign]
    try:
        store.record_delivery(tracker, delivery, "jira:issue_updated", b"{}", status="received")
    finally:
        store._intake_batches.submit = original  # type: ignore[method-assign]
    return Pending(captured[0])


def test_one_batch_dedupes_within_itself(store: Store) -> None:
    batch = [_insert(store, "jira", "same"), _insert(store, "jira", "same")]
    store._write_deliveries(batch)
    assert isinstance(batch[0].result, int) and batch[1].result is None
    assert store.delivery_counts()["received"] == 1


def test_a_bad_row_fails_alone_and_the_rest_of_its_batch_is_written(store: Store) -> None:
    batch = [
        _insert(store, "jira", "a"),
        _insert(store, None, "no-tracker"),  # NOT NULL: the transaction fails
        _insert(store, "jira", "b"),
    ]
    store._write_deliveries(batch)
    assert isinstance(batch[0].result, int) and isinstance(batch[2].result, int)
    assert isinstance(batch[1].error, sqlite3.IntegrityError)
    assert "NOT NULL" in str(batch[1].error)
    assert store.delivery_counts()["received"] == 2


def test_concurrent_record_delivery_every_row_once(store: Store) -> None:
    def deliver(n: int) -> int | None:
        return store.record_delivery("jira", f"d-{n % 150}", "e", b"{}", status="received")

    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(deliver, range(300)))
    accepted = [i for i in ids if i is not None]
    assert len(accepted) == len(set(accepted)) == 150  # each id once, each repeat None
    assert store.delivery_counts()["received"] == 150


def test_intake_commits_leave_the_wal_to_the_checkpointer(tmp_path: Path, monkeypatch) -> None:
    """Intake's commits never copy the WAL into the database themselves (that work, and
    its fsync, would hold the write turn); the process's checkpointer thread does, soon
    after, while writes go on."""
    monkeypatch.setattr(store_deliveries, "CHECKPOINT_EVERY_SECONDS", 0.05)
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    store.migrate()
    try:
        store.checkpoint()
        database = tmp_path / "store.db"
        before = database.stat().st_size
        payload = b"x" * 100_000  # 50 of them: past SQLite's own threshold of 1000 pages
        store._intake_connection()  # its checkpointer, paused so the commits show alone
        checkpointer = store._intake.checkpointer
        real_checkpoint, checkpointer._checkpoint = checkpointer._checkpoint, lambda: None
        for n in range(50):
            store.record_delivery("jira", f"w-{n}", "e", payload, status="received")
        time.sleep(0.2)
        assert database.stat().st_size == before  # everything still in the WAL

        checkpointer._checkpoint = real_checkpoint
        store.record_delivery("jira", "w-last", "e", payload, status="received")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and database.stat().st_size <= before:
            time.sleep(0.02)
        assert database.stat().st_size > before + 50 * len(payload)
    finally:
        store.close()
    assert not checkpointer._thread.is_alive()  # stopped with the store
