"""The outbox relay: a thread in each worker process that queues received deliveries.

Intake only commits the delivery row ("received") before it answers 202; the enqueue,
a second durable write, is done here, off the request path, in batches. Several relays
(workers on several machines) share the work: each row is claimed by one of them. An
idle relay looks every `relay_interval_seconds`; a busy one goes on at once.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from huey.consumer import Consumer

from webhooks.runtime import RELAY_BATCH

log = logging.getLogger(__name__)

MAX_ERROR_PAUSE_SECONDS = 5.0


class Relay:
    def __init__(self, runtime: Any, *, interval: float | None = None) -> None:
        self.runtime = runtime
        self.interval = runtime.settings.relay_interval_seconds if interval is None else interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._errors = 0

    def start(self) -> Relay:
        self._thread = threading.Thread(target=self._loop, name="outbox-relay", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def step(self) -> int:
        """One round: queue what is waiting. Returns how many deliveries it queued."""
        return self.runtime.relay_received()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                relayed = self.step()
            except Exception as exc:  # store or queue down: keep trying, never die
                self._errors += 1
                pause = min(MAX_ERROR_PAUSE_SECONDS, self.interval * 2**self._errors)
                log.warning(
                    "relay.failed",
                    extra={"error": f"{type(exc).__name__}: {exc}"[:300], "retry_s": pause},
                )
                self._stop.wait(pause)
                continue
            self._errors = 0
            if relayed < RELAY_BATCH:  # caught up: rest
                self._stop.wait(self.interval)


class RelayingConsumer(Consumer):
    """Huey's consumer with the relay running beside its workers, started and stopped
    with them: wherever tasks are consumed, received deliveries are queued."""

    def __init__(self, huey: Any, relay: Relay, **options: Any) -> None:
        super().__init__(huey, **options)
        self.relay = relay

    def start(self) -> None:
        super().start()
        self.relay.start()

    def stop(self, graceful: bool = False) -> None:
        self.relay.stop()
        super().stop(graceful)
