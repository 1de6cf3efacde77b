"""Tracker-wide holds: after a 429 for a whole tracker, no call to it starts, in any
thread or process sharing the queue, until its Retry-After has run out.

The hold is checked right before each HTTP request goes out (`TrackerGate.check`, which
the tracker clients call from inside their HTTP session) and recorded the moment a 429
response arrives (`TrackerGate.rate_limited`, from the clients' response hook): first in
the process, where every thread sees it at once, then in the queue's storage for the
other processes. Checking only at the start of a client method left two gaps: a method
that makes several requests (a read, then a write) sent its later ones unchecked, and a
thread that had checked before another thread's 429 arrived called into the hold."""

from __future__ import annotations

import threading
import time
from typing import Any

import huey

from connector.clients import TrackerClient
from connector.errors import RateLimited


def tracker_hold_key(tracker: str) -> str:
    return f"pmo-bridge:hold:{tracker}"


def hold_tracker(queue: huey.Huey, tracker: str, seconds: float) -> None:
    """Hold the tracker for `seconds` from now; a longer hold already recorded stays."""
    until = time.time() + seconds
    current = held_until(queue, tracker)
    if current is None or until > current:
        queue.put(tracker_hold_key(tracker), until)


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


class TrackerGate:
    """The hold of one tracker as one process sees it (a `connector.clients.CallGate`):
    the end of the latest hold it knows of, and the queue's shared one."""

    def __init__(self, queue: huey.Huey, tracker: str) -> None:
        self._queue, self._tracker = queue, tracker
        self._until = 0.0  # epoch seconds; a float is read and written whole
        self._read_at = 0.0  # when `held_for` last read the queue
        self._lock = threading.Lock()

    def check(self) -> None:
        """Raise `TrackerHeld` while the tracker is held, here or by another process."""
        now = time.time()
        until = self._until
        if until <= now:
            shared = held_until(self._queue, self._tracker)
            if shared is not None and shared > now:
                self._extend(shared)
                until = shared
        if until > now:
            raise TrackerHeld(self._tracker, until - now)

    def held_for(self, *, fresh_within: float = 0.0) -> float:
        """Seconds the tracker is still held (0: free), reading the queue's hold at most
        every `fresh_within` seconds: for a worker deciding whether to start a delivery
        (its requests are each checked at once anyway)."""
        now = time.time()
        if self._until <= now and now - self._read_at >= fresh_within:
            self._read_at = now
            shared = held_until(self._queue, self._tracker)
            if shared is not None:
                self._extend(shared)
        return max(0.0, self._until - now)

    def rate_limited(self, seconds: float) -> None:
        """A 429 for the whole tracker: held here at once, then for the other processes."""
        self._extend(time.time() + seconds)
        hold_tracker(self._queue, self._tracker, seconds)

    def _extend(self, until: float) -> None:
        with self._lock:
            if until > self._until:
                self._until = until


class HoldingClient:
    """A tracker client that honours a tracker-wide 429 across threads and processes. When
    `gate` is given the client was built with it (`make_client(..., gate=)`) and checks it
    before each HTTP request; otherwise a gate of its own is checked before each method.
    A tracker-wide 429 holds the tracker at once."""

    def __init__(
        self,
        client: TrackerClient,
        queue: huey.Huey,
        tracker: str,
        gate: TrackerGate | None = None,
    ) -> None:
        self._client, self._queue, self._tracker = client, queue, tracker
        self._gated_requests = gate is not None  # the client was built with this gate
        self._gate = gate if gate is not None else TrackerGate(queue, tracker)

    @property
    def gate(self) -> TrackerGate:
        return self._gate

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if name.startswith("_") or not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            if not self._gated_requests:
                self._gate.check()  # else each request is checked as it goes out
            try:
                return attr(*args, **kwargs)
            except RateLimited as exc:
                if exc.scope == "tracker" and not isinstance(exc, TrackerHeld):
                    self._gate.rate_limited(exc.retry_after)
                raise

        return call
