"""Queue tasks and the retry policy around them.

Retries are ours, not Huey's: a rate limit waits exactly as long as the tracker asked
(per item or for the whole tracker), other transient failures back off exponentially with
jitter, and after the last attempt the event goes to the dead-letter store."""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from huey import crontab

from connector.errors import RateLimited, TrackerError
from webhooks.metrics import DEAD_LETTERS
from webhooks.portfolio_history import record_history

if TYPE_CHECKING:
    from webhooks.runtime import Runtime

log = logging.getLogger(__name__)

LOCK_RETRY_SECONDS = 0.2
MAX_BACKOFF_SECONDS = 300.0


def backoff_seconds(attempt: int, base: float, *, rng: random.Random | None = None) -> float:
    """Full-jitter exponential backoff: uniform in [base*2^attempt / 2, base*2^attempt]."""
    ceiling = min(MAX_BACKOFF_SECONDS, base * (2**attempt))
    return (rng or random).uniform(ceiling / 2, ceiling)


@dataclass
class Tasks:
    """The queue tasks of one runtime, and the ways to put work on them."""

    runtime: Runtime
    process_task: Any
    regovern_task: Any
    recover_now: Any  # run recovery in this process now (worker start)
    sweep_task: Any | None = None  # periodic; None when the sweep is off
    recover_task: Any | None = None  # periodic
    retention_task: Any | None = None  # periodic: the store's retention settings

    def enqueue_delivery(self, row_id: int) -> None:
        self.process_task(row_id, 0)

    def schedule(self, row_id: int, attempt: int, delay: float) -> None:
        self.process_task.schedule((row_id, attempt), delay=max(0.0, delay))

    def regovern(self, key: str, *, delay: float = 0.5) -> bool:
        """Re-check a stored item soon; requests within `delay` are coalesced."""
        task = self.regovern_task
        return schedule_once(
            self.runtime.huey,
            f"pmo-bridge:regovern-pending:{key}",
            lambda: task.schedule((key,), delay=delay),
        )


PENDING_STALE_SECONDS = 120.0  # a pending marker older than this lost its task: retake it


def schedule_once(huey: Any, marker: str, schedule: Any) -> bool:
    """Call `schedule()` unless a run for `marker` is already waiting (coalescing). The
    task clears the marker when it starts; a marker left by a lost task goes stale."""
    if not huey.put_if_empty(marker, time.time()):
        since = huey.get(marker, peek=True)
        if since is not None and time.time() - float(since) < PENDING_STALE_SECONDS:
            return False
        huey.delete(marker)
        if not huey.put_if_empty(marker, time.time()):
            return False
    schedule()
    return True


def tracker_hold_key(tracker: str) -> str:
    return f"pmo-bridge:hold:{tracker}"


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

    def __init__(self, client: Any, huey: Any, tracker: str) -> None:
        self._client, self._huey, self._tracker = client, huey, tracker

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if name.startswith("_") or not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            held = _held_until(self._huey, self._tracker)
            if held and held > time.time():
                raise TrackerHeld(self._tracker, held - time.time())
            try:
                return attr(*args, **kwargs)
            except RateLimited as exc:
                if exc.scope == "tracker":
                    until = time.time() + exc.retry_after
                    self._huey.put(tracker_hold_key(self._tracker), until)
                raise

        return call


def register_tasks(runtime: Runtime) -> Tasks:
    from webhooks.queue import ItemLocked
    from webhooks.worker import Processor

    huey = runtime.huey
    processor = Processor(runtime)
    settings = runtime.settings

    def process_delivery(row_id: int, attempt: int = 0) -> None:
        record = runtime.store.get_delivery(row_id)
        if record is None or record.status in ("done", "ignored", "dead"):
            return
        held_until = _held_until(huey, record.tracker)
        if held_until and held_until > time.time():
            tasks.schedule(row_id, attempt, held_until - time.time())
            return
        try:
            processor.process(record)
        except ItemLocked:
            tasks.schedule(row_id, attempt, LOCK_RETRY_SECONDS)
        except TrackerError as exc:
            _retry_or_bury(record, attempt, exc)
        except Exception as exc:  # a bug must not lose the event: retry, then dead letter
            log.exception("worker.unexpected_error", extra={"delivery_row": row_id})
            _retry_or_bury(record, attempt, exc)

    def _retry_or_bury(record: Any, attempt: int, exc: Exception) -> None:
        retryable = getattr(exc, "retryable", True)
        held = isinstance(exc, TrackerHeld)
        if held or (retryable and attempt < settings.max_retries):
            if isinstance(exc, RateLimited):
                delay = exc.retry_after
                if exc.scope == "tracker":
                    huey.put(tracker_hold_key(record.tracker), time.time() + delay)
            else:
                delay = backoff_seconds(attempt, settings.retry_base_seconds)
            log.warning(
                "worker.retry_scheduled",
                extra={
                    "delivery_row": record.id,
                    "tracker": record.tracker,
                    "attempt": attempt + 1,
                    "delay_s": round(delay, 3),
                    "error": f"{type(exc).__name__}: {exc}",
                },
            )
            runtime.store.mark_delivery(record.id, "queued", error=str(exc)[:500])
            tasks.schedule(record.id, attempt if held else attempt + 1, delay)
            return
        letter = runtime.store.add_dead_letter(
            record.delivery_id,
            record.tracker,
            record.native_event,
            record.payload,
            f"{type(exc).__name__}: {exc}"[:2000],
            attempt + 1,
        )
        runtime.store.mark_delivery(record.id, "dead", error=str(exc)[:500])
        DEAD_LETTERS.labels(record.tracker).inc()
        log.error(
            "worker.dead_letter",
            extra={"delivery_row": record.id, "dead_letter": letter, "tracker": record.tracker},
        )

    process_task = huey.task(name="process_delivery")(process_delivery)

    def recover_pending(*, at_start: bool = False) -> int:
        """Queue deliveries that were persisted but never finished (a crash between the
        store write and the enqueue, or a lost task). At a worker's start, also, at once,
        every unfinished delivery with no task waiting in the queue or the schedule:
        what a killed worker was processing, and what it had taken from the queue but
        not yet marked processing (still "queued"). Its item locks are freed first. A
        duplicate task is harmless (it finds the delivery done, or writes nothing new)."""
        cutoff = runtime.clock() - dt.timedelta(seconds=settings.recover_after_seconds)
        pending = runtime.store.pending_deliveries(older_than=cutoff)
        if at_start:
            from webhooks.queue import release_dead_locks

            freed = release_dead_locks(huey)
            if freed:
                log.info("worker.freed_dead_locks", extra={"count": freed})
            unfinished = runtime.store.pending_deliveries(older_than=runtime.clock())
            waiting = _waiting_rows(huey, process_task)
            pending = sorted(set(pending) | (set(unfinished) - waiting))
        for row_id in pending:
            tasks.enqueue_delivery(row_id)
        if pending:
            log.info("worker.recovered_pending", extra={"count": len(pending)})
        return len(pending)

    def rollup_parent(parent_key: str) -> None:
        try:
            runtime.rollups.run(parent_key)
        except ItemLocked:
            runtime.rollups.task.schedule((parent_key,), delay=LOCK_RETRY_SECONDS)

    runtime.rollups.task = huey.task(name="rollup_parent", retries=3, retry_delay=5)(rollup_parent)

    def regovern_item(key: str) -> None:
        """Re-check a stored item whose portfolio group changed under it."""
        huey.delete(f"pmo-bridge:regovern-pending:{key}")
        item = runtime.store.get_item(key)
        if item is None:
            return
        from webhooks.queue import item_lock
        from webhooks.writeback import WriteBack

        try:
            with item_lock(huey, key):
                WriteBack(runtime).govern(item)
        except ItemLocked:
            regovern_task.schedule((key,), delay=LOCK_RETRY_SECONDS)

    regovern_task = huey.task(name="regovern_item", retries=3, retry_delay=5)(regovern_item)

    minutes = settings.sweep_interval_minutes
    if minutes > 0:
        from webhooks.sweep import sweep

        every = crontab(minute="0") if minutes >= 60 else crontab(minute=f"*/{minutes}")
        tasks_sweep = huey.periodic_task(every, name="sweep")(lambda: sweep(runtime))
        tasks_recover = huey.periodic_task(crontab(minute="*/5"), name="recover_pending")(
            recover_pending
        )
    else:
        tasks_sweep = tasks_recover = None

    def apply_retention() -> dict[str, int]:
        return runtime.store.apply_retention(settings.retention, runtime.clock())

    # the periodic maintenance: whatever the sweep's interval, the store stays bounded
    retention_task = huey.periodic_task(crontab(minute="30"), name="retention")(apply_retention)
    # the dashboard's daily history, recorded hourly so the day's last state is kept
    huey.periodic_task(crontab(minute="45"), name="dashboard_history")(
        lambda: record_history(runtime)
    )

    tasks = Tasks(
        runtime,
        process_task,
        regovern_task,
        recover_pending,
        sweep_task=tasks_sweep,
        recover_task=tasks_recover,
        retention_task=retention_task,
    )
    return tasks


def _waiting_rows(huey: Any, process_task: Any) -> set[int]:
    """Delivery rows whose task waits in the queue or the schedule (retries included)."""
    tasks = [*huey.pending(), *huey.scheduled()]
    return {int(t.args[0]) for t in tasks if isinstance(t, process_task.task_class) and t.args}


def _held_until(huey: Any, tracker: str) -> float | None:
    try:
        value = huey.get(tracker_hold_key(tracker), peek=True)
    except Exception:
        return None
    return float(value) if value else None
