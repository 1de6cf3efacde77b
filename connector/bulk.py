"""Many reads at once, as fast as a tracker allows: batches fetched on a bounded pool of
threads, results handed back in batch order, and a 429's Retry-After (or a 503's)
honoured by every thread, not only the one that was told: the tracker limits the
account, so the others would only collect 429s of their own."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from connector.errors import RateLimited, TrackerUnavailable

Batch = TypeVar("Batch")
Result = TypeVar("Result")

MAX_CONCURRENCY = 16
ATTEMPTS = 5  # per batch, the first included
MAX_WAIT = 120.0  # seconds: a longer Retry-After fails the audit rather than stall it
UNAVAILABLE_WAIT = 2.0  # seconds before a batch that met a timeout or a 5xx is tried again


class Gate:
    """The moment until which no thread may call the tracker (monotonic seconds)."""

    def __init__(self, sleep: Callable[[float], None] = time.sleep) -> None:
        self._until = 0.0
        self._lock = threading.Lock()
        self._sleep = sleep

    def hold(self, seconds: float) -> None:
        with self._lock:
            self._until = max(self._until, time.monotonic() + seconds)

    def wait(self) -> None:
        while (left := self._until - time.monotonic()) > 0:
            self._sleep(left)


def fetch_all(
    batches: Iterable[Batch],
    fetch: Callable[[Batch], Sequence[Result]],
    *,
    concurrency: int,
    gate: Gate | None = None,
) -> Iterator[Result]:
    """`fetch(batch)` for every batch, at most `concurrency` at a time (1..16), results
    in batch order. A batch answered 429 or 503 waits out the Retry-After (all threads
    wait with it) and is tried again, up to 5 attempts; a wait over two minutes, or the
    fifth failure, raises the tracker's error."""
    gate = gate or Gate()
    workers = max(1, min(int(concurrency), MAX_CONCURRENCY))

    def attempt(batch: Batch) -> Sequence[Result]:
        for tries in range(1, ATTEMPTS + 1):
            gate.wait()
            try:
                return fetch(batch)
            except RateLimited as exc:
                if tries == ATTEMPTS or exc.retry_after > MAX_WAIT:
                    raise
                gate.hold(exc.retry_after)
            except TrackerUnavailable:
                if tries == ATTEMPTS:
                    raise
                gate.hold(UNAVAILABLE_WAIT)
        raise AssertionError("unreachable")  # the loop returns or raises

    pending: deque[Future[Sequence[Result]]] = deque()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bulk-read") as pool:
        try:
            for batch in batches:
                pending.append(pool.submit(attempt, batch))
                if len(pending) >= 2 * workers:  # bounded read-ahead
                    yield from pending.popleft().result()
            while pending:
                yield from pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


def chunked(values: Iterable[Batch], size: int) -> Iterator[list[Batch]]:
    """Lists of `size` values (the last may be shorter), read lazily."""
    batch: list[Batch] = []
    for value in values:
        batch.append(value)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
