"""Fault switches and a timestamped request log for the sandbox trackers.

    faults.outage(30)                  # every API call answers 503 for 30 s
    faults.throttle(3, retry_after=2)  # the next 3 calls answer 429, Retry-After: 2
    faults.latency(0.2)                # every call answers 200 ms later (a distant tracker)
    faults.calls()                     # [Call(time, method, path, status, actor), ...]

Each app checks its switches before any other work (after counting the call), so a
refused call changes nothing, as with a real overloaded tracker.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass


@dataclass
class Call:
    time: float  # epoch seconds at arrival
    method: str
    path: str
    status: int | None = None  # None until answered
    actor: str | None = None


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._outage_until = 0.0
        self._outage_status = 503
        self._throttled = 0
        self._retry_after = 0.0
        self._latency = 0.0
        self._calls: list[Call] = []

    # -- switches --------------------------------------------------------------------
    def outage(self, seconds: float, status: int = 503) -> None:
        """Answer `status` to every call for the next `seconds`."""
        with self._lock:
            self._outage_until = time.time() + seconds
            self._outage_status = status

    def throttle(self, count: int, retry_after: float) -> None:
        """Answer 429 with `Retry-After: retry_after` to the next `count` calls."""
        with self._lock:
            self._throttled = count
            self._retry_after = retry_after

    def latency(self, seconds: float) -> None:
        """Hold every later call `seconds` before answering (calls overlap, as over a WAN)."""
        with self._lock:
            self._latency = max(0.0, seconds)

    def clear(self) -> None:
        with self._lock:
            self._outage_until = 0.0
            self._throttled = 0

    # -- the apps' side --------------------------------------------------------------
    def arrive(self, method: str, path: str) -> tuple[Call, tuple[int, dict[str, str]] | None]:
        """Log a call; (call, (status, headers)) when a switch refuses it."""
        call = Call(time.time(), method, path)
        if self._latency:
            time.sleep(self._latency)
        with self._lock:
            self._calls.append(call)
            if call.time < self._outage_until:
                return call, (self._outage_status, {})
            if self._throttled > 0:
                self._throttled -= 1
                seconds = self._retry_after
                text = str(int(seconds)) if float(seconds).is_integer() else str(seconds)
                return call, (429, {"Retry-After": text})
        return call, None

    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)
