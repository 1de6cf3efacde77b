"""Outbound webhook delivery for the sandbox trackers.

One background thread drains a bounded queue in order, so deliveries for an item leave in
the order the changes happened. A delivery is retried on connection errors and 5xx with
the same delivery id (the real trackers keep the id on retry). API requests only enqueue:
they never wait for the receiver.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    url: str
    body: bytes
    headers: Mapping[str, str]
    event: str
    delivery_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    # header that carries the retry number, when the tracker sends one
    retry_header: str | None = None


@dataclass
class DeliveryRecord:
    delivery_id: str
    url: str
    event: str
    attempts: int = 0
    status_codes: list[int | None] = field(default_factory=list)
    error: str | None = None
    delivered: bool = False
    dropped: bool = False

    @property
    def status_code(self) -> int | None:
        return self.status_codes[-1] if self.status_codes else None


class WebhookSender:
    """Sends `Delivery` objects from one thread; `flush()` waits until all are done."""

    def __init__(
        self,
        *,
        max_queue: int = 1000,
        tries: int = 3,
        retry_delays: Sequence[float] = (0.05, 0.2),
        timeout: float = 5.0,
        post: Callable[..., Any] | None = None,
    ) -> None:
        self.tries = tries
        self.retry_delays = tuple(retry_delays)
        self.timeout = timeout
        self._queue: queue.Queue[Delivery | None] = queue.Queue(maxsize=max_queue)
        self._pending = 0
        self._cond = threading.Condition()
        self._log: list[DeliveryRecord] = []
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._session = requests.Session()
        self._post = post or self._session.post

    # -- producer side -------------------------------------------------------------
    def enqueue(self, delivery: Delivery) -> DeliveryRecord:
        record = DeliveryRecord(delivery.delivery_id, delivery.url, delivery.event)
        with self._cond:
            self._log.append(record)
            self._pending += 1
        self._ensure_thread()
        try:
            self._queue.put_nowait(delivery)
        except queue.Full:
            # never block the API request: a full queue drops the delivery, visibly
            record.dropped = True
            record.error = "queue full"
            log.warning("sandbox.webhook.dropped", extra={"url": delivery.url})
            self._done()
        return record

    @property
    def deliveries(self) -> list[DeliveryRecord]:
        with self._cond:
            return list(self._log)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued delivery is sent or given up; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def close(self, timeout: float = 5.0) -> None:
        self.flush(timeout)
        self._stopped = True
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout)
        self._session.close()

    # -- consumer side -------------------------------------------------------------
    def _ensure_thread(self) -> None:
        with self._cond:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="sandbox-webhooks", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            delivery = self._queue.get()
            if delivery is None:
                return
            try:
                self._deliver(delivery)
            finally:
                self._done()

    def _done(self) -> None:
        with self._cond:
            self._pending -= 1
            self._cond.notify_all()

    def _record(self, delivery_id: str) -> DeliveryRecord:
        with self._cond:
            return next(r for r in reversed(self._log) if r.delivery_id == delivery_id)

    def _deliver(self, delivery: Delivery) -> None:
        record = self._record(delivery.delivery_id)
        for attempt in range(1, self.tries + 1):
            headers = dict(delivery.headers)
            if delivery.retry_header and attempt > 1:
                headers[delivery.retry_header] = str(attempt - 1)
            record.attempts = attempt
            try:
                response = self._post(
                    delivery.url, data=delivery.body, headers=headers, timeout=self.timeout
                )
            except requests.RequestException as exc:
                record.status_codes.append(None)
                record.error = type(exc).__name__
            else:
                record.status_codes.append(response.status_code)
                if response.status_code < 500:
                    record.delivered = 200 <= response.status_code < 300
                    record.error = None if record.delivered else f"HTTP {response.status_code}"
                    return
                record.error = f"HTTP {response.status_code}"
            if attempt < self.tries and not self._stopped:
                delays = self.retry_delays or (0.0,)
                time.sleep(delays[min(attempt - 1, len(delays) - 1)])
        log.warning(
            "sandbox.webhook.failed",
            extra={"url": delivery.url, "event": delivery.event, "error": record.error},
        )
