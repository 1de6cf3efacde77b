"""A runtime whose notifications go through a real Huey queue, on a clock the test moves."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from config.notify import Notify
from tests.support.queue_helpers import drain
from tests.support.service import make_settings
from webhooks.worker.runtime import Runtime


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now


def notify_runtime(tmp_path: Path, notify: Notify, clock: Clock, **overrides: Any) -> Runtime:
    """SQLite store and SqliteHuey in `tmp_path` (or the engines `overrides` name), the
    periodic escalation tick left to the test."""
    settings = make_settings(tmp_path, notify=notify, escalation_interval_minutes=0, **overrides)
    runtime = Runtime.from_settings(settings, clock=clock)
    if settings.redis_url:
        runtime.huey.storage.blocking = False  # drain() polls
    return runtime


def send_due(runtime: Runtime) -> int:
    """What the escalation tick does for notifications (recover, queue what is due), then
    the queue run to empty, retries included; returns the batches queued."""
    tasks = runtime.escalation.notifications
    now = runtime.clock()
    tasks.recover(now)
    queued = tasks.relay(now)
    drain(runtime)
    return queued
