"""Fault injection in the webhook replay (bench/replay_*.py), at test size: a real
`pmo-bridge serve` subprocess against the sandbox trackers, a seeded stream of signed
deliveries with duplicates and out-of-order pairs, and one fault per test. Every test
compares the final managed state of every item (managed labels/tags and the text of
the bot's comments) with a clean replay of the same stream, and holds both to what the
newest delivery for each item calls for: each event's effect applied exactly once, at
most one managed comment per item, nothing dead-lettered."""

from __future__ import annotations

import time
import uuid

import pytest
import requests

from bench.replay_run import Fault, Result, run_replay
from bench.replay_service import effective
from bench.replay_stream import Plan
from sandbox import Sandbox
from tests.support.services import POSTGRES_URL, require_service
from webhooks.store import Store

PLAN = Plan(events=300, items=30, seed=11, burst=(20, 60), pause=(0.05, 0.2))
FAST_RETRIES = {"retry_base_seconds": 0.2, "max_retries": 8}


def replay(**kwargs) -> Result:
    return run_replay(PLAN, drain_timeout=45, service_options=FAST_RETRIES, **kwargs)


@pytest.fixture(scope="module")
def clean() -> Result:
    result = replay()
    assert result.drained and result.dead_letters == 0
    assert result.off_stream() == []
    return result


def assert_same_effects(clean: Result, faulted: Result) -> None:
    assert faulted.drained, "the service did not finish the stream"
    assert faulted.dead_letters == 0
    assert set(faulted.accepted) <= {200, 202}, faulted.accepted
    assert faulted.accepted[200] == clean.accepted[200]  # duplicates, and only those
    comments = {item: len(texts) for item, (_, texts) in faulted.state.items()}
    assert max(comments.values()) <= 1, {k: n for k, n in comments.items() if n > 1}
    assert any(comments.values()), "the stream should leave managed comments"
    assert set(clean.state) == set(faulted.state)
    differing = {
        k: (effective(clean.state[k]), effective(faulted.state[k]))
        for k in clean.state
        if effective(clean.state[k]) != effective(faulted.state[k])
    }
    assert not differing, (differing, faulted.fault_log)
    assert faulted.off_stream() == [], faulted.fault_log


def test_sandbox_fault_switches_and_request_log():
    with Sandbox() as sb:
        sb.jira_state.add_project("PAY")
        sb.jira_state.create_issue("PAY", "Story", "A story title", actor="pm")
        url = f"{sb.jira_url}/rest/api/3/issue/PAY-1"
        sb.throttle(1, 2, tracker="jira")
        limited = requests.get(url, auth=("pm", "t"), timeout=5)
        sb.outage(30, 503, tracker="jira")
        down = requests.get(url, auth=("pm", "t"), timeout=5)
        sb.faults("jira")[0].clear()
        ok = requests.get(url, auth=("pm", "t"), timeout=5)
        log = sb.request_log()
    assert (limited.status_code, limited.headers["Retry-After"]) == (429, "2")
    assert (down.status_code, ok.status_code) == (503, 200)
    assert [(t, c.status, c.actor) for t, c in log] == [
        ("jira", 429, None),
        ("jira", 503, None),
        ("jira", 200, "pm"),
    ]


def test_worker_killed_three_times_mid_stream(clean, tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    at_kill: list[dict[str, int]] = []

    def when_busy(fault: Fault) -> None:
        """Kill only while the worker is processing a delivery with more queued behind
        it, so each kill loses work in flight that a restart must take up again."""
        store = Store(url)
        try:
            deadline = time.monotonic() + 10
            counts = store.delivery_counts()
            while time.monotonic() < deadline and not (counts["processing"] and counts["queued"]):
                time.sleep(0.002)
                counts = store.delivery_counts()
            at_kill.append(counts)
        finally:
            store.close()

    faulted = replay(
        database_url=url,
        on_fault=when_busy,
        faults=[Fault(0.2, "kill"), Fault(0.45, "kill"), Fault(0.7, "kill")],
    )
    assert len(faulted.fault_log) == 3
    assert all(c["processing"] and c["queued"] for c in at_kill), at_kill
    assert_same_effects(clean, faulted)


def test_tracker_outage_with_503(clean):
    faulted = replay(faults=[Fault(0.3, "outage", seconds=3.0)])
    refused = [c for _, c in faulted.calls if c.status == 503]
    assert refused, "the outage should have refused some calls"
    assert_same_effects(clean, faulted)


def test_429_bursts_no_call_before_retry_after(clean):
    faulted = replay(
        faults=[Fault(0.25, "throttle", seconds=1.5, count=3), Fault(0.6, "throttle", 2.0, 3)]
    )
    assert faulted.throttles, "the trackers should have answered 429"
    assert faulted.retry_after_violations() == []
    assert_same_effects(clean, faulted)


def test_postgres_store_restarted_mid_stream(clean):
    require_service("PostgreSQL", "127.0.0.1", 5432)
    import sqlalchemy as sa

    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"pmo_faults_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        faulted = replay(
            database_url=url, faults=[Fault(0.3, "pg-restart"), Fault(0.65, "pg-restart")]
        )
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    assert len(faulted.fault_log) == 2
    assert_same_effects(clean, faulted)
