"""Deliveries queued in batches (webhooks/worker/tasks.py `_process_batch`): a failure of
the store or queue part-way sends the rest of the batch back to the queue, one task each,
rather than leaving them for recovery minutes later."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.service import make_settings
from tests.support.worker_helpers import jira_unowned
from webhooks.worker.runtime import Runtime


@pytest.fixture
def runtime(tmp_path: Path) -> Runtime:
    built = Runtime.from_settings(make_settings(tmp_path, replay_window_seconds=0))
    yield built
    built.huey.flush()
    built.store.close()


def queued(runtime: Runtime, key: str, delivery: str) -> int:
    body = json.dumps(jira_unowned(key)).encode()
    row = runtime.store.record_delivery("jira", delivery, "jira:issue_updated", body)
    assert row is not None
    return row


def test_the_relay_queues_one_task_per_25_deliveries(runtime):
    rows = [queued(runtime, f"TEST-{n}", f"d-{n}") for n in range(1, 61)]
    runtime.tasks.enqueue_deliveries(rows)
    assert runtime.huey.pending_count() == 3  # 25 + 25 + 10
    assert runtime.tasks.waiting_rows() == set(rows)


def test_a_failure_part_way_sends_the_rest_back_one_task_each(runtime, monkeypatch):
    rows = [queued(runtime, f"TEST-{n}", f"d-{n}") for n in range(1, 4)]
    real = runtime.tasks._held_for
    calls = iter([None, RuntimeError("queue unreachable")])

    def flaky(tracker: str) -> float:
        error = next(calls, None)
        if error is not None:
            raise error
        return real(tracker)

    monkeypatch.setattr(runtime.tasks, "_held_for", flaky)
    runtime.tasks._process_batch(rows)

    statuses = [r.status for r in runtime.store.get_deliveries(rows)]
    assert statuses[0] == "done" and statuses[1:] == ["queued", "queued"]
    assert runtime.huey.pending_count() == 2  # the two left, each its own task
    assert runtime.tasks.waiting_rows() == set(rows[1:])
