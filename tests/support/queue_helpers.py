"""Run a real Huey queue to empty inside the test process, scheduled retries included."""

from __future__ import annotations

import time
from typing import Any


def drain(runtime: Any, *, timeout: float = 15.0) -> int:
    """Relay received deliveries and execute queued tasks until the outbox, the queue and
    the schedule are empty; returns how many tasks ran. Scheduled tasks (retries,
    coalesced rollups) run once their time has come, so a test that drains sees real
    delays honoured."""
    huey = runtime.huey
    ran = 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        task = huey.dequeue()
        # A running relay queues a burst within milliseconds, long before the worker is
        # through it: relay everything received, not one batch.
        if task is None and _relay_all(runtime):
            task = huey.dequeue()
        if task is not None:
            huey.execute(task)
            ran += 1
            continue
        due = huey.read_schedule()
        for scheduled in due:
            huey.enqueue(scheduled)
        if due:
            continue
        if huey.scheduled_count() == 0 and huey.pending_count() == 0:
            return ran
        time.sleep(0.01)
    raise AssertionError(f"queue not drained within {timeout}s ({ran} tasks ran)")


def _relay_all(runtime: Any) -> int:
    relayed = 0
    while batch := runtime.relay_received():
        relayed += batch
    return relayed
