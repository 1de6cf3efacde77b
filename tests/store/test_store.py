"""The durable store, on a SQLite file and on the real PostgreSQL, method by method."""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import random
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from connector.model import ItemType, Person, StatusCategory
from tests.support.helpers import ROOT
from tests.support.items import T0, item
from webhooks.store import DELIVERY_STATUSES, Ledger, Store
from webhooks.store.models import Base


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


# -- schema -------------------------------------------------------------------------


def test_migrate_is_idempotent_and_ping_answers(store: Store) -> None:
    store.migrate()
    store.migrate()
    assert store.schema_revision() == "0010_delivery_marks"
    assert store.ping() is True


def test_models_and_migration_agree(store: Store) -> None:
    with store._engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    # the version table is Alembic's own, not a model
    assert [d for d in diffs if "pmo_bridge_version" not in repr(d)] == []


def test_schema_revision_is_none_before_migrate(store_url: str) -> None:
    fresh = Store(store_url)
    assert fresh.schema_revision() is None
    fresh.close()


def test_migrate_from_several_processes_at_once(store_url: str) -> None:
    code = "import sys; from webhooks.store import Store; Store(sys.argv[1]).migrate()"
    procs = [
        subprocess.Popen([sys.executable, "-c", code, store_url], stderr=subprocess.PIPE)
        for _ in range(4)
    ]
    errors = [p.communicate(timeout=60)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], errors
    assert Store(store_url).schema_revision() == "0010_delivery_marks"


def test_ping_is_false_when_the_database_is_unreachable() -> None:
    assert Store("postgresql+psycopg://postgres@127.0.0.1:1/none").ping() is False


def test_plain_postgres_urls_use_psycopg() -> None:
    assert Store("postgresql://u@h/db").url == "postgresql+psycopg://u@h/db"


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    s = Store(f"sqlite:///{tmp_path / 'wal.db'}")
    s.migrate()
    with s._engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000


# -- deliveries ---------------------------------------------------------------------


def test_record_delivery_and_duplicates(store: Store) -> None:
    first = store.record_delivery(
        "jira", "d-1", "jira:issue_updated", b'{"a": 1}', {"X-Atlassian-Webhook-Identifier": "d-1"}
    )
    assert isinstance(first, int)
    assert store.record_delivery("jira", "d-1", "jira:issue_updated", b"{}") is None
    # the same id from another tracker, and deliveries without an id, are distinct
    assert store.record_delivery("azure-devops", "d-1", "workitem.updated", b"{}") not in (
        None,
        first,
    )
    assert store.record_delivery("jira", None, "jira:issue_updated", b"{}") is not None
    assert store.record_delivery("jira", None, "jira:issue_updated", b"{}") is not None

    record = store.get_delivery(first)
    assert record is not None
    assert (record.tracker, record.delivery_id, record.native_event) == (
        "jira",
        "d-1",
        "jira:issue_updated",
    )
    assert record.payload == b'{"a": 1}'
    assert record.headers == {"X-Atlassian-Webhook-Identifier": "d-1"}
    assert record.status == "queued" and record.attempts == 0 and record.error is None
    assert record.received_at.tzinfo is dt.UTC
    assert store.get_delivery(10_000) is None


def test_concurrent_duplicate_deliveries_insert_once(store: Store) -> None:
    barrier = threading.Barrier(8)

    def deliver(_: int) -> int | None:
        barrier.wait()
        return store.record_delivery("jira", "same", "jira:issue_updated", b"{}")

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(deliver, range(8)))
    assert len([r for r in results if r is not None]) == 1
    assert store.delivery_counts()["queued"] == 1


def test_mark_delivery_counts_attempts_and_keeps_errors(store: Store) -> None:
    row = store.record_delivery("jira", "d-2", "jira:issue_updated", b"{}")
    assert store.mark_delivery(row, "processing")
    assert store.mark_delivery(row, "queued", error="TrackerUnavailable: 503")
    assert store.mark_delivery(row, "processing")
    record = store.get_delivery(row)
    assert (record.status, record.attempts, record.error) == ("processing", 2, None)
    assert store.mark_delivery(row, "failed", error="boom")
    assert store.get_delivery(row).error == "boom"
    assert store.mark_delivery(999_999, "done") is False
    with pytest.raises(ValueError, match="unknown delivery status"):
        store.mark_delivery(row, "finished")


def test_pending_deliveries_are_the_unfinished_old_ones(store_url: str) -> None:
    clock = Clock(T0)
    s = Store(store_url, clock=clock)
    s.migrate()
    queued = s.record_delivery("jira", "q", "e", b"{}")
    processing = s.record_delivery("jira", "p", "e", b"{}")
    done = s.record_delivery("jira", "d", "e", b"{}")
    s.mark_delivery(processing, "processing")
    s.mark_delivery(done, "done")
    clock.now = T0 + dt.timedelta(minutes=10)
    recent = s.record_delivery("jira", "r", "e", b"{}")

    assert s.pending_deliveries(T0 + dt.timedelta(minutes=5)) == [queued, processing]
    assert s.pending_deliveries(T0 + dt.timedelta(minutes=11)) == [queued, processing, recent]
    assert s.pending_deliveries(T0) == []
    s.close()


def test_delivery_counts_has_every_status(store: Store) -> None:
    assert store.delivery_counts() == dict.fromkeys(DELIVERY_STATUSES, 0)
    a = store.record_delivery("jira", "a", "e", b"{}")
    store.record_delivery("jira", "b", "e", b"{}")
    store.mark_delivery(a, "ignored")
    counts = store.delivery_counts()
    assert counts["queued"] == 1 and counts["ignored"] == 1 and sum(counts.values()) == 2


# -- items --------------------------------------------------------------------------


def test_upsert_and_get_roundtrip(store: Store) -> None:
    original = item(revision=5)
    assert store.upsert_item(original) is True
    assert store.get_item(original.key) == original
    assert store.get_item("jira:NOPE-1") is None
    assert store.count_items() == 1


def test_stale_and_repeated_revisions_change_nothing(store: Store) -> None:
    assert store.upsert_item(item(revision=5))
    assert store.upsert_item(item(revision=5)) is False  # same revision, same content
    assert store.upsert_item(item(revision=4, title="older")) is False
    assert store.get_item("jira:PAY-1").title == "jira:PAY-1 at rev 5"
    # same revision with new content (e.g. a fuller re-fetch) is taken
    assert store.upsert_item(item(revision=5, title="re-fetched")) is True
    assert store.get_item("jira:PAY-1").title == "re-fetched"


def test_out_of_order_events_end_at_the_latest_revision(store: Store) -> None:
    applied = [store.upsert_item(item(revision=r)) for r in (3, 1, 2, 5, 4)]
    assert applied == [True, False, False, True, False]
    assert store.get_item("jira:PAY-1").revision == 5


def test_concurrent_upserts_latest_revision_wins(store: Store) -> None:
    revisions = list(range(1, 41))
    random.Random(7).shuffle(revisions)
    barrier = threading.Barrier(8)

    def write(rev: int) -> bool:
        if rev <= 8:
            barrier.wait()
        return store.upsert_item(item(revision=rev))

    # Jira revisions are epoch milliseconds: use bigint-sized ones too
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(write, revisions))
    stored = store.get_item("jira:PAY-1")
    assert stored.revision == 40 and stored.title == "jira:PAY-1 at rev 40"

    big = 1_717_400_000_000
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda r: store.upsert_item(item(revision=big + r)), revisions))
    assert store.get_item("jira:PAY-1").revision == big + 40


def test_get_items_children_and_assignees(store: Store) -> None:
    store.upsert_item(item("jira:PAY-1", type=ItemType.EPIC))
    for n in (2, 3, 4):
        store.upsert_item(item(f"jira:PAY-{n}", parent="jira:PAY-1"))
    store.upsert_item(item("jira:PAY-5", parent="jira:PAY-1", assignee=Person("Bo", None)))
    store.upsert_item(
        item("jira:PAY-6", parent="jira:PAY-1", status_category=StatusCategory.DONE, status="Done")
    )
    store.mark_deleted("jira:PAY-4")

    found = store.get_items(["jira:PAY-2", "jira:PAY-4", "jira:NOPE-1", "jira:PAY-2"])
    assert sorted(found) == ["jira:PAY-2"]
    assert [c.key for c in store.children("jira:PAY-1")] == [
        "jira:PAY-2",
        "jira:PAY-3",
        "jira:PAY-5",
        "jira:PAY-6",
    ]
    assert [
        i.key for i in store.items_by_assignee("acc-ann", status_categories=["in_progress"])
    ] == [
        "jira:PAY-1",
        "jira:PAY-2",
        "jira:PAY-3",
    ]
    assert [i.key for i in store.items_by_assignee("Bo")] == ["jira:PAY-5"]
    assert store.assignee_counts(status_categories=[StatusCategory.IN_PROGRESS]) == {
        "acc-ann": 3,
        "Bo": 1,
    }
    assert store.count_items() == 5
    assert store.count_items(include_deleted=True) == 6


def test_get_items_handles_more_keys_than_one_query_takes(store: Store) -> None:
    for n in range(1, 6):
        store.upsert_item(item(f"jira:PAY-{n}"))
    keys = [f"jira:PAY-{n}" for n in range(1, 1200)]
    assert len(store.get_items(keys)) == 5


def test_ancestors_nearest_first_with_depth_limit(store: Store) -> None:
    store.upsert_item(item("jira:PAY-1", type=ItemType.INITIATIVE))
    store.upsert_item(item("jira:PAY-2", type=ItemType.EPIC, parent="jira:PAY-1"))
    store.upsert_item(item("jira:PAY-3", parent="jira:PAY-2"))
    store.upsert_item(item("jira:PAY-4", type=ItemType.SUBTASK, parent="jira:PAY-3"))
    assert [a.key for a in store.ancestors("jira:PAY-4")] == [
        "jira:PAY-3",
        "jira:PAY-2",
        "jira:PAY-1",
    ]
    assert [a.key for a in store.ancestors("jira:PAY-4", max_depth=2)] == [
        "jira:PAY-3",
        "jira:PAY-2",
    ]
    assert store.ancestors("jira:PAY-1") == []
    assert store.ancestors("jira:UNKNOWN-1") == []
    # a parent that is not (yet) stored ends the chain
    store.upsert_item(item("jira:PAY-9", parent="jira:MISSING-1"))
    assert store.ancestors("jira:PAY-9") == []


def test_ancestors_survive_parent_cycles(store: Store) -> None:
    store.upsert_item(item("jira:PAY-1", parent="jira:PAY-3"))
    store.upsert_item(item("jira:PAY-2", parent="jira:PAY-1"))
    store.upsert_item(item("jira:PAY-3", parent="jira:PAY-2"))
    assert [a.key for a in store.ancestors("jira:PAY-3")] == ["jira:PAY-2", "jira:PAY-1"]
    store.upsert_item(item("jira:PAY-7", parent="jira:PAY-7"))
    assert store.ancestors("jira:PAY-7") == []


def test_delete_and_restore(store: Store) -> None:
    store.upsert_item(item(revision=5))
    assert store.mark_deleted("jira:PAY-1", revision=4) is False  # the item lived on after it
    assert store.get_item("jira:PAY-1") is not None
    assert store.mark_deleted("jira:PAY-1", revision=6) is True
    assert store.mark_deleted("jira:PAY-1") is False  # already deleted
    assert store.get_item("jira:PAY-1") is None
    assert store.children("jira:PAY-0") == []
    # newer events do not bring it back by themselves; restore() does
    assert store.upsert_item(item(revision=6, title="older than the delete")) is True
    assert store.get_item("jira:PAY-1") is None
    assert store.restore("jira:PAY-1") is True
    assert store.restore("jira:PAY-1") is False
    assert store.get_item("jira:PAY-1").title == "older than the delete"


def test_delete_before_create_leaves_a_tombstone(store: Store) -> None:
    assert store.mark_deleted("azure-devops:4711", revision=3) is True
    assert store.upsert_item(item("azure-devops:4711", revision=2)) is False
    assert store.get_item("azure-devops:4711") is None
    assert store.count_items() == 0
    assert list(store.iter_items()) == []


def test_iter_items_in_batches_with_filters(store: Store) -> None:
    for n in range(1, 8):
        category = StatusCategory.DONE if n % 2 else StatusCategory.TODO
        store.upsert_item(item(f"jira:PAY-{n}", status_category=category))
    store.upsert_item(item("azure-devops:1"))
    store.mark_deleted("jira:PAY-3")
    keys = [i.key for i in store.iter_items(batch=2)]
    assert keys == ["azure-devops:1"] + [f"jira:PAY-{n}" for n in (1, 2, 4, 5, 6, 7)]
    assert [i.key for i in store.iter_items(status_categories=["todo"], batch=1)] == [
        "jira:PAY-2",
        "jira:PAY-4",
        "jira:PAY-6",
    ]
    assert [i.key for i in store.iter_items(tracker="azure-devops")] == ["azure-devops:1"]


# -- findings -----------------------------------------------------------------------


def finding(rule: str, severity: str = "high", message: str = "fix it") -> dict:
    return {
        "rule": rule,
        "severity": severity,
        "enforcement": "advise",
        "message": message,
        "status": "fail",
    }


def test_findings_raised_updated_and_resolved(store: Store) -> None:
    day1, day2, day3 = T0, T0 + dt.timedelta(days=1), T0 + dt.timedelta(days=2)
    assert store.save_findings("jira:PAY-1", [finding("a"), finding("b")], day1) == (["a", "b"], [])
    assert store.save_findings(
        "jira:PAY-1", [finding("b", message="still"), finding("c")], day2
    ) == (
        ["c"],
        ["a"],
    )
    open_now = {f.rule: f for f in store.open_findings("jira:PAY-1")}
    assert sorted(open_now) == ["b", "c"]
    assert open_now["b"].first_seen == day1 and open_now["b"].last_seen == day2
    assert open_now["b"].message == "still" and open_now["b"].resolved_at is None

    # raised again after being resolved: a new open finding with a new first_seen
    assert store.save_findings("jira:PAY-1", [finding("a"), finding("b"), finding("c")], day3) == (
        ["a"],
        [],
    )
    assert {f.rule: f.first_seen for f in store.open_findings("jira:PAY-1")}["a"] == day3
    assert store.save_findings("jira:PAY-1", [], day3) == ([], ["a", "b", "c"])
    assert store.open_findings("jira:PAY-1") == []


def test_open_findings_across_items_and_counts(store: Store) -> None:
    store.save_findings("jira:PAY-2", [finding("a", "low")], T0)
    store.save_findings("jira:PAY-1", [finding("b"), finding("a")], T0)
    assert [(f.item_key, f.rule) for f in store.open_findings()] == [
        ("jira:PAY-1", "a"),
        ("jira:PAY-1", "b"),
        ("jira:PAY-2", "a"),
    ]
    assert store.open_finding_counts() == {"high": 2, "low": 1}


def test_save_findings_takes_objects_with_to_dict(store: Store) -> None:
    class Finding:
        def to_dict(self) -> dict:
            return finding("obj")

    assert store.save_findings("jira:PAY-1", [Finding()], T0) == (["obj"], [])


def test_concurrent_save_findings_keep_one_open_row(store: Store) -> None:
    barrier = threading.Barrier(6)

    def save(_: int) -> None:
        barrier.wait()
        store.save_findings("jira:PAY-1", [finding("a")], T0)

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(save, range(6)))
    assert [f.rule for f in store.open_findings("jira:PAY-1")] == ["a"]


def test_findings_trend_per_day(store: Store) -> None:
    d = [T0 + dt.timedelta(days=n) for n in range(4)]  # days 3, 4, 5, 6 June
    store.save_findings("jira:PAY-1", [finding("a"), finding("b")], d[0])
    store.save_findings("jira:PAY-2", [finding("a")], d[1])
    store.save_findings("jira:PAY-1", [finding("b")], d[2])  # resolves a
    store.save_findings("jira:PAY-2", [], d[3])  # resolves a on PAY-2
    trend = store.findings_trend(5, now=d[3] + dt.timedelta(hours=1))
    assert [(p.day.isoformat(), p.open, p.raised, p.resolved) for p in trend] == [
        ("2024-06-02", 0, 0, 0),
        ("2024-06-03", 2, 2, 0),
        ("2024-06-04", 3, 1, 0),
        ("2024-06-05", 2, 0, 1),
        ("2024-06-06", 1, 0, 1),
    ]
    with pytest.raises(ValueError):
        store.findings_trend(0)


# -- ledger and dead letters ----------------------------------------------------------


def test_ledger_roundtrip(store: Store) -> None:
    assert store.get_ledger("jira:PAY-1") == Ledger()
    ledger = Ledger(
        comment_id="10042",
        comment_hash="c0ffee",
        labels=frozenset({"pmo-epic-has-owner", "pmo-rag-red"}),
        fields={"customfield_10100": 42.5},
        rollup_hash="beef",
        comment_text_hash="d00d",
    )
    store.save_ledger("jira:PAY-1", ledger)
    assert store.get_ledger("jira:PAY-1") == ledger
    changed = Ledger(comment_id="10042", labels=frozenset(), fields={})
    store.save_ledger("jira:PAY-1", changed)
    assert store.get_ledger("jira:PAY-1") == changed
    assert store.get_ledger("jira:PAY-2") == Ledger()


def test_dead_letters(store: Store) -> None:
    first = store.add_dead_letter(
        "d-9", "jira", "jira:issue_updated", b'{"x": 1}', "Conflict: 409", 7
    )
    second = store.add_dead_letter(None, "azure-devops", "workitem.updated", b"{}", "boom", 1)
    letters = store.list_dead_letters()
    assert [x.id for x in letters] == [first, second]
    letter = store.get_dead_letter(first)
    assert (letter.delivery_id, letter.tracker, letter.payload, letter.error, letter.attempts) == (
        "d-9",
        "jira",
        b'{"x": 1}',
        "Conflict: 409",
        7,
    )
    assert letter.created_at.tzinfo is dt.UTC and letter.replayed_at is None
    assert store.mark_replayed(first) is True
    assert store.mark_replayed(first) is False
    assert store.mark_replayed(123_456) is False
    assert [x.id for x in store.list_dead_letters()] == [second]
    assert [x.id for x in store.list_dead_letters(include_replayed=True)] == [first, second]
    assert store.get_dead_letter(first).replayed_at is not None
    assert store.get_dead_letter(99_999) is None


# -- two processes on one SQLite file -------------------------------------------------

WRITER = """
import sys, time
from pathlib import Path
from webhooks.store import Store
store = Store(sys.argv[1])
# Every process waits at the barrier, so all of them migrate the fresh file at the same
# moment however loaded the machine is and however long each took to start.
folder = Path(sys.argv[3])
(folder / f"ready-{sys.argv[2]}").touch()
while not (folder / "go").exists():
    time.sleep(0.005)
store.migrate()
for n in range(150):
    store.record_delivery("jira", f"{sys.argv[2]}-{n}", "e", b"{}")
    store.save_findings(f"jira:{sys.argv[2]}-{n % 5}", [{"rule": f"r{n % 3}"}], store.now())
"""
NAMES = ("web", "worker", "sweep", "web-2", "worker-2", "worker-3")


def test_web_and_worker_processes_share_a_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, url, name, str(barrier)],
            stderr=subprocess.PIPE,
            cwd=ROOT,
        )
        for name in NAMES
    ]
    deadline = time.monotonic() + 120
    while len(list(barrier.glob("ready-*"))) < len(NAMES):
        assert all(p.poll() is None for p in procs), [p.communicate()[1] for p in procs]
        assert time.monotonic() < deadline, "processes did not reach the barrier"
        time.sleep(0.01)
    (barrier / "go").touch()
    errors = [p.communicate(timeout=120)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0] * len(NAMES), errors
    store = Store(url)
    assert store.delivery_counts()["queued"] == 150 * len(NAMES)
    with store._engine.connect() as conn:
        assert conn.execute(
            sa.text("SELECT count(*) FROM findings WHERE resolved_at IS NULL")
        ).scalar() == 5 * len(NAMES)


def test_sqlite_migrations_wait_for_the_migration_file_lock(tmp_path: Path) -> None:
    """A second process's upgrade waits while one holds the lock: it never sees a half-made
    schema and never races to create the same tables."""
    database = tmp_path / "fresh.db"
    store = Store(f"sqlite:///{database}")
    fd = os.open(f"{database}-migratelock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    done = threading.Event()
    upgrade = threading.Thread(target=lambda: (store.migrate(), done.set()), daemon=True)
    try:
        upgrade.start()
        assert not done.wait(1.0), "migrate() ran without taking the migration lock"
        assert store.schema_revision() is None
    finally:
        os.close(fd)
    assert done.wait(60)
    assert store.schema_revision() is not None
