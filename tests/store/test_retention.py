"""Retention: finished deliveries lose their bodies, then their rows; resolved findings
and dead letters go after their own periods; nothing unfinished or open is touched. On
SQLite and on the real PostgreSQL, and applied by the periodic maintenance."""

from __future__ import annotations

import datetime as dt

import pytest

from config.retention import Retention
from config.settings import ConfigError, load_settings
from tests.support.service import make_settings
from webhooks.http.app import create_app
from webhooks.store import Store

NOW = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)
BODY = b'{"big": "' + b"x" * 4096 + b'"}'


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request, tmp_path) -> str:
    if request.param == "postgres":
        return request.getfixturevalue("postgres_url")
    return f"sqlite:///{tmp_path / 'store.db'}"


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def test_retention_drops_bodies_then_rows_and_keeps_what_is_live(database_url):
    clock = Clock(NOW - dt.timedelta(days=40))
    store = Store(database_url, clock=clock)
    store.migrate()
    try:
        old_done = store.record_delivery("jira", "old-done", "e", BODY)
        store.mark_delivery(old_done, "done")
        old_dead = store.record_delivery("jira", "old-dead", "e", BODY)
        store.mark_delivery(old_dead, "dead")
        old_received = store.record_delivery("jira", "old-rcv", "e", BODY, status="received")
        store.save_findings("jira:PAY-1", [{"rule": "gone"}], clock.now)
        store.save_findings("jira:PAY-1", [], clock.now)  # resolved 40 days ago
        store.save_findings("jira:PAY-2", [{"rule": "open"}], clock.now)  # still open
        store.add_dead_letter("old-dead", "jira", "e", BODY, "boom", 7)

        clock.now = NOW - dt.timedelta(days=10)
        mid_done = store.record_delivery("jira", "mid-done", "e", BODY)
        store.mark_delivery(mid_done, "done")
        new_letter = store.add_dead_letter("mid", "jira", "e", BODY, "boom", 7)

        clock.now = NOW - dt.timedelta(days=1)
        new_done = store.record_delivery("jira", "new-done", "e", BODY)
        store.mark_delivery(new_done, "done")

        clock.now = NOW
        retention = Retention(
            bodies_days=7, deliveries_days=30, findings_days=30, dead_letters_days=30
        )
        counts = store.apply_retention(retention, NOW)
        assert counts == {
            "bodies": 1,
            "deliveries": 2,
            "findings": 1,
            "dead_letters": 1,
            "allocation": 0,
            "history": 0,
            "escalations": 0,
            "notifications": 0,
            "identities": 0,
        }

        assert store.get_delivery(old_done) is None and store.get_delivery(old_dead) is None
        assert store.get_delivery(old_received).payload == BODY  # unfinished: untouched
        assert store.get_delivery(mid_done).payload == b""  # the row stays: dedupe holds
        assert store.record_delivery("jira", "mid-done", "e", BODY) is None
        assert store.get_delivery(new_done).payload == BODY
        assert [f.rule for f in store.open_findings()] == ["open"]
        assert [d.id for d in store.list_dead_letters()] == [new_letter]
        # a second run finds nothing more to do
        assert set(store.apply_retention(retention, NOW).values()) == {0}
    finally:
        store.close()


def test_zero_days_keeps_that_kind_for_ever(tmp_path):
    clock = Clock(NOW - dt.timedelta(days=4000))
    store = Store(f"sqlite:///{tmp_path / 's.db'}", clock=clock)
    store.migrate()
    row = store.record_delivery("jira", "ancient", "e", BODY)
    store.mark_delivery(row, "done")
    clock.now = NOW
    assert set(store.apply_retention(Retention(0, 0, 0, 0), NOW).values()) == {0}
    assert store.get_delivery(row).payload == BODY


def test_defaults_and_config_file(tmp_path):
    assert make_settings(tmp_path).retention == Retention(
        bodies_days=7, deliveries_days=30, findings_days=400, dead_letters_days=90
    )
    config = tmp_path / "pmo-bridge.yaml"
    config.write_text("retention: {bodies_days: 2, dead_letters_days: 0}\n")
    assert load_settings(config).retention == Retention(bodies_days=2, dead_letters_days=0)
    config.write_text("retention: {bodies: 2}\n")
    with pytest.raises(ConfigError, match="retention"):
        load_settings(config)


def test_the_periodic_maintenance_applies_the_configured_retention(tmp_path):
    settings = make_settings(tmp_path, retention=Retention(bodies_days=1, deliveries_days=5))
    runtime = create_app(settings=settings).extensions["pmo_bridge"]
    task = runtime.tasks.retention_task
    assert task.task_class in runtime.huey._registry._periodic_tasks
    row = runtime.store.record_delivery("jira", "d", "e", BODY)
    runtime.store.mark_delivery(row, "done")
    runtime.clock = lambda: dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
    assert task.call_local() == {
        "bodies": 1,
        "deliveries": 0,
        "findings": 0,
        "dead_letters": 0,
        "allocation": 0,
        "history": 0,
        "escalations": 0,
        "notifications": 0,
        "identities": 0,
    }
    assert runtime.store.get_delivery(row).payload == b""
