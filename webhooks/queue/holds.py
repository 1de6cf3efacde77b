"""Tracker-wide holds: after a 429 for a whole tracker, no call to it starts, in any
thread or process sharing the queue, until its Retry-After has run out."""

from __future__ import annotations

import time
from typing import Any

import huey

from connector.clients import TrackerClient
from connector.errors import RateLimited


def tracker_hold_key(tracker: str) -> str:
    return f"pmo-bridge:hold:{tracker}"


def hold_tracker(queue: huey.Huey, tracker: str, seconds: float) -> None:
    queue.put(tracker_hold_key(tracker), time.time() + seconds)


def held_until(queue: huey.Huey, tracker: str) -> float | None:
    """When the tracker's hold ends (epoch seconds), or None when it is not held."""
    try:
        value = queue.get(tracker_hold_key(tracker), peek=True)
    except Exception:
        return None
    return float(value) if value else None


class TrackerHeld(RateLimited):
    """A call not made: the whole tracker answered 429 to another call and its
    Retry-After has not run out. Re-queued for then; not a failed attempt."""

    def __init__(self, tracker: str, seconds: float) -> None:
        super().__init__(f"{tracker} is held for {seconds:.2f} s", retry_after=seconds)


class HoldingClient:
    """A tracker client that honours a tracker-wide 429 across threads and processes: a
    429 for the whole tracker holds it at once (not once the failed delivery is
    re-queued), and no call starts while it is held, so a delivery another thread is in
    the middle of stops before its next call instead of calling inside Retry-After."""

    def __init__(self, client: TrackerClient, queue: huey.Huey, tracker: str) -> None:
        self._client, self._queue, self._tracker = client, queue, tracker

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if name.startswith("_") or not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            until = held_until(self._queue, self._tracker)
            if until and until > time.time():
                raise TrackerHeld(self._tracker, until - time.time())
            try:
                return attr(*args, **kwargs)
            except RateLimited as exc:
                if exc.scope == "tracker":
                    hold_tracker(self._queue, self._tracker, exc.retry_after)
                raise

        return call
