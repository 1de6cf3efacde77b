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

import huey
from huey.consumer import Consumer

from webhooks.store import Store
from webhooks.worker.tasks import Tasks

log = logging.getLogger(__name__)

MAX_ERROR_PAUSE_SECONDS = 5.0
RELAY_BATCH = 100  # deliveries per claim: short write transactions, intake waits little


def relay_received(store: Store, tasks: Tasks, limit: int = RELAY_BATCH) -> int:
    """Queue the tasks of up to `limit` received deliveries; returns how many. A task
    lost between the claim and the enqueue (a crash, the queue down) is queued again
    by recovery, which finds its row "queued" and stale."""
    row_ids = store.claim_received(limit)
    try:
        tasks.enqueue_deliveries(row_ids)  # tasks of several deliveries each
    except Exception:
        log.error("relay.enqueue_failed", extra={"left_for_recovery": len(row_ids)})
        raise
    return len(row_ids)


class Relay:
    def __init__(self, store: Store, tasks: Tasks, *, interval: float) -> None:
        self.store = store
        self.tasks = tasks
        self.interval = interval
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
        return relay_received(self.store, self.tasks)

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

    def __init__(self, queue: huey.Huey, relay: Relay, **options: Any) -> None:
        super().__init__(queue, **options)
        self.relay = relay

    def start(self) -> None:
        super().start()
        self.relay.start()

    def stop(self, graceful: bool = False) -> None:
        self.relay.stop()
        super().stop(graceful)
