"""A loopback webhook receiver that records what the sandbox trackers deliver."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any

from flask import Flask, request

from sandbox.server import run_in_thread


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """Records every POST; `fail_next(n, status)` answers the next n with an error."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self._failures: list[int] = []
        self._lock = threading.Lock()
        app = Flask("sandbox.receiver")

        @app.post("/<path:path>")
        def hook(path: str):
            with self._lock:
                self.received.append(Received(path, dict(request.headers), request.get_data()))
                status = self._failures.pop(0) if self._failures else 204
            return "", status

        self.url, self._stop = run_in_thread(app)

    def fail_next(self, count: int, status: int = 500) -> None:
        with self._lock:
            self._failures.extend([status] * count)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return list(self.received)

    def events(self, key: str) -> list[str]:
        return [r.json.get(key) for r in self.received]

    def stop(self) -> None:
        self._stop()
