"""Coalesced scheduling: many requests for the same follow-up (re-check an item, roll up a
parent) within a short window become one queued task."""

from __future__ import annotations

import time
from collections.abc import Callable

import huey

PENDING_STALE_SECONDS = 120.0  # a pending marker older than this lost its task: retake it


def schedule_once(queue: huey.Huey, marker: str, schedule: Callable[[], object]) -> bool:
    """Call `schedule()` unless a run for `marker` is already waiting (coalescing). The
    task clears the marker when it starts (`clear_pending`); a marker left by a lost task
    goes stale."""
    if not queue.put_if_empty(marker, time.time()):
        since = queue.get(marker, peek=True)
        if since is not None and time.time() - float(since) < PENDING_STALE_SECONDS:
            return False
        queue.delete(marker)
        if not queue.put_if_empty(marker, time.time()):
            return False
    schedule()
    return True


def clear_pending(queue: huey.Huey, marker: str) -> None:
    queue.delete(marker)
