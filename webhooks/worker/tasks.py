"""Queue tasks and the retry policy around them.

Retries are ours, not Huey's: a rate limit waits exactly as long as the tracker asked
(per item or for the whole tracker), other transient failures back off exponentially with
jitter, and after the last attempt the event goes to the dead-letter store.

`Tasks` is also what governance asks for follow-up work (`FollowUps`): re-checking an item
whose portfolio group changed, and recomputing a parent's rollup, both coalesced."""

from __future__ import annotations

import datetime as dt
import logging
import random
import time

from huey import crontab
from huey.api import TaskWrapper

from connector.errors import RateLimited, TrackerError
from connector.model import Event, Ignored
from webhooks.dashboard.history import record_history
from webhooks.governance.process import Processor
from webhooks.governance.rollups import Rollups
from webhooks.governance.sweep import sweep
from webhooks.governance.writeback import WriteBack
from webhooks.queue.holds import TrackerGate, TrackerHeld, held_until, hold_tracker
from webhooks.queue.locks import ItemLocked, item_lock, release_dead_locks
from webhooks.queue.scheduling import clear_pending, schedule_once
from webhooks.resources import Resources
from webhooks.store import DeliveryRecord
from webhooks.telemetry.metrics import DEAD_LETTERS

log = logging.getLogger(__name__)

LOCK_RETRY_SECONDS = 0.2
MAX_BACKOFF_SECONDS = 300.0
TASK_BATCH = 25  # deliveries per queue task: one read of their rows, one queue round trip
# A delivery of a batch whose item another thread is processing waits this long for it
# (polling), rather than going back to the queue's schedule, which is polled each second.
LOCK_WAIT_SECONDS = 2.0
LOCK_POLL_SECONDS = 0.005
HOLD_READ_SECONDS = 0.1


def backoff_seconds(attempt: int, base: float, *, rng: random.Random | None = None) -> float:
    """Full-jitter exponential backoff: uniform in [base*2^attempt / 2, base*2^attempt]."""
    ceiling = min(MAX_BACKOFF_SECONDS, base * (2**attempt))
    return (rng or random).uniform(ceiling / 2, ceiling)


def _regovern_marker(key: str) -> str:
    return f"pmo-bridge:regovern-pending:{key}"


def _rollup_marker(parent_key: str) -> str:
    return f"pmo-bridge:rollup-pending:{parent_key}"


class Tasks:
    """The queue tasks of one process, and the ways to put work on them."""

    def __init__(self, resources: Resources) -> None:
        self.resources = resources
        self.huey = resources.huey
        self.settings = resources.settings
        self.processor = Processor(resources, self)
        self.rollups = Rollups(resources, self)
        huey, settings = self.huey, self.settings
        self.process_task: TaskWrapper = huey.task(name="process_delivery")(self._process_delivery)
        self.batch_task: TaskWrapper = huey.task(name="process_deliveries")(self._process_batch)
        self.rollup_task: TaskWrapper = huey.task(name="rollup_parent", retries=3, retry_delay=5)(
            self._rollup_parent
        )
        self.regovern_task: TaskWrapper = huey.task(name="regovern_item", retries=3, retry_delay=5)(
            self._regovern_item
        )
        self.sweep_task: TaskWrapper | None = None  # periodic; None when the sweep is off
        self.recover_task: TaskWrapper | None = None  # periodic
        minutes = settings.sweep_interval_minutes
        if minutes > 0:
            every = crontab(minute="0") if minutes >= 60 else crontab(minute=f"*/{minutes}")
            self.sweep_task = huey.periodic_task(every, name="sweep")(
                lambda: sweep(resources, self)
            )
            self.recover_task = huey.periodic_task(crontab(minute="*/5"), name="recover_pending")(
                self.recover_now
            )
        # the periodic maintenance: whatever the sweep's interval, the store stays bounded
        self.retention_task: TaskWrapper = huey.periodic_task(
            crontab(minute="30"), name="retention"
        )(self.apply_retention)
        # the dashboard's daily history, recorded hourly so the day's last state is kept
        self.history_task: TaskWrapper = huey.periodic_task(
            crontab(minute="45"), name="dashboard_history"
        )(self.record_history)

    # -- putting work on the queue ------------------------------------------------------

    def enqueue_delivery(self, row_id: int) -> None:
        self.process_task(row_id, 0)

    def enqueue_deliveries(self, row_ids: list[int]) -> None:
        """Queue deliveries in tasks of up to `TASK_BATCH`, in order; returns once all are
        queued (an error leaves the rest "queued" in the store, for recovery)."""
        for start in range(0, len(row_ids), TASK_BATCH):
            chunk = row_ids[start : start + TASK_BATCH]
            if len(chunk) == 1:
                self.process_task(chunk[0], 0)
            else:
                self.batch_task(chunk)

    def schedule(self, row_id: int, attempt: int, delay: float) -> None:
        self.process_task.schedule((row_id, attempt), delay=max(0.0, delay))

    def regovern(self, key: str, *, delay: float = 0.5) -> bool:
        """Re-check a stored item soon; requests within `delay` are coalesced."""
        task = self.regovern_task
        return schedule_once(
            self.huey, _regovern_marker(key), lambda: task.schedule((key,), delay=delay)
        )

    def recompute_rollup(self, parent_key: str) -> bool:
        """Schedule a recompute of `parent_key` unless one is already waiting."""
        task, delay = self.rollup_task, self.settings.rollup_delay_seconds
        return schedule_once(
            self.huey,
            _rollup_marker(parent_key),
            lambda: task.schedule((parent_key,), delay=delay),
        )

    # -- the tasks ------------------------------------------------------------------------

    def _process_delivery(self, row_id: int, attempt: int = 0) -> None:
        store = self.resources.store
        record = store.get_delivery(row_id)
        if record is None or record.status in ("done", "ignored", "dead"):
            return
        if record.item_revision is not None and store.superseded_deliveries([record]):
            store.finish_deliveries([record.id])
            log.info("worker.superseded", extra={"count": 1})
            return
        self._run(record, attempt)

    def _process_batch(self, row_ids: list[int]) -> None:
        """A batch of deliveries, in order: their rows read at once, those a later waiting
        delivery of the same item supersedes (anywhere in the backlog, this batch
        included: `webhooks.store.supersession`) marked done without work in one commit,
        each of the others processed as `_process_delivery` would (its own retries)."""
        store, processor = self.resources.store, self.processor
        records = [
            r for r in store.get_deliveries(row_ids) if r.status not in ("done", "ignored", "dead")
        ]
        moot = set(store.superseded_deliveries(records))
        if moot:
            store.finish_deliveries(sorted(moot))
            log.info("worker.superseded", extra={"count": len(moot)})
        todo: list[tuple[DeliveryRecord, Event | Ignored | None]] = []
        for record in records:
            if record.id in moot:
                continue
            try:
                todo.append((record, processor.parse(record)))
            except Exception:  # processed alone below: its error takes the usual way
                todo.append((record, None))
        for n, (record, event) in enumerate(todo):
            try:
                self._run(record, 0, event, wait_for_lock=LOCK_WAIT_SECONDS)
            except Exception:  # the store or queue failed: the rest go back, one task each
                log.exception("worker.batch_interrupted", extra={"delivery_row": record.id})
                for rest, _ in todo[n:]:
                    try:
                        self.schedule(rest.id, 0, LOCK_RETRY_SECONDS)
                    except Exception:  # left "queued" in the store: recovery takes them
                        break
                return

    def _run(
        self,
        record: DeliveryRecord,
        attempt: int,
        event: Event | Ignored | None = None,
        *,
        wait_for_lock: float = 0.0,
    ) -> None:
        held = self._held_for(record.tracker)
        if held > 0:
            self.schedule(record.id, attempt, held)
            return
        deadline = time.monotonic() + wait_for_lock
        try:
            while True:
                try:
                    self.processor.process(record, event)
                    return
                except ItemLocked:
                    if time.monotonic() >= deadline:
                        raise
                    time.sleep(LOCK_POLL_SECONDS)
        except ItemLocked:
            self.schedule(record.id, attempt, LOCK_RETRY_SECONDS)
        except TrackerError as exc:
            self._retry_or_bury(record, attempt, exc)
        except Exception as exc:  # a bug must not lose the event: retry, then dead letter
            log.exception("worker.unexpected_error", extra={"delivery_row": record.id})
            self._retry_or_bury(record, attempt, exc)

    def _held_for(self, tracker: str) -> float:
        """Seconds the tracker is held; the queue's hold read at most every 0.1 s here
        (each request the delivery makes checks it at once)."""
        client = self.resources.client(tracker)
        gate = getattr(client, "gate", None)
        if isinstance(gate, TrackerGate):
            return gate.held_for(fresh_within=HOLD_READ_SECONDS)
        until = held_until(self.huey, tracker)
        return max(0.0, until - time.time()) if until else 0.0

    def _retry_or_bury(self, record: DeliveryRecord, attempt: int, exc: Exception) -> None:
        store = self.resources.store
        retryable = getattr(exc, "retryable", True)
        held = isinstance(exc, TrackerHeld)
        if held or (retryable and attempt < self.settings.max_retries):
            if isinstance(exc, RateLimited):
                delay = exc.retry_after
                if exc.scope == "tracker":
                    hold_tracker(self.huey, record.tracker, delay)
            else:
                delay = backoff_seconds(attempt, self.settings.retry_base_seconds)
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
            store.mark_delivery(record.id, "queued", error=str(exc)[:500])
            self.schedule(record.id, attempt if held else attempt + 1, delay)
            return
        letter = store.add_dead_letter(
            record.delivery_id,
            record.tracker,
            record.native_event,
            record.payload,
            f"{type(exc).__name__}: {exc}"[:2000],
            attempt + 1,
        )
        store.mark_delivery(record.id, "dead", error=str(exc)[:500])
        DEAD_LETTERS.labels(record.tracker).inc()
        log.error(
            "worker.dead_letter",
            extra={"delivery_row": record.id, "dead_letter": letter, "tracker": record.tracker},
        )

    def _rollup_parent(self, parent_key: str) -> None:
        clear_pending(self.huey, _rollup_marker(parent_key))
        try:
            self.rollups.run(parent_key)
        except ItemLocked:
            self.rollup_task.schedule((parent_key,), delay=LOCK_RETRY_SECONDS)

    def _regovern_item(self, key: str) -> None:
        """Re-check a stored item whose portfolio group changed under it."""
        clear_pending(self.huey, _regovern_marker(key))
        item = self.resources.store.get_item(key)
        if item is None:
            return
        try:
            with item_lock(self.huey, key):
                WriteBack(self.resources).govern(item)
        except ItemLocked:
            self.regovern_task.schedule((key,), delay=LOCK_RETRY_SECONDS)

    def record_history(self) -> dict[str, int]:
        return record_history(self.resources.store, self.resources.clock())

    def apply_retention(self) -> dict[str, int]:
        """Drop what the store's retention settings say it no longer keeps."""
        return self.resources.store.apply_retention(self.settings.retention, self.resources.clock())

    def recover_now(self, *, at_start: bool = False) -> int:
        """Queue deliveries that were persisted but never finished (a crash between the
        store write and the enqueue, or a lost task). At a worker's start, also, at once,
        every unfinished delivery with no task waiting in the queue or the schedule:
        what a killed worker was processing, and what it had taken from the queue but
        not yet marked processing (still "queued"). Its item locks are freed first. A
        duplicate task is harmless (it finds the delivery done, or writes nothing new)."""
        store, clock = self.resources.store, self.resources.clock
        cutoff = clock() - dt.timedelta(seconds=self.settings.recover_after_seconds)
        pending = store.pending_deliveries(older_than=cutoff)
        if at_start:
            freed = release_dead_locks(self.huey)
            if freed:
                log.info("worker.freed_dead_locks", extra={"count": freed})
            unfinished = store.pending_deliveries(older_than=clock())
            pending = sorted(set(pending) | (set(unfinished) - self.waiting_rows()))
        for row_id in pending:
            self.enqueue_delivery(row_id)
        if pending:
            log.info("worker.recovered_pending", extra={"count": len(pending)})
        return len(pending)

    def waiting_rows(self) -> set[int]:
        """Delivery rows whose task waits in the queue or the schedule (retries included)."""
        waiting = [*self.huey.pending(), *self.huey.scheduled()]
        single, batch = self.process_task.task_class, self.batch_task.task_class
        rows = {int(t.args[0]) for t in waiting if isinstance(t, single) and t.args}
        for task in waiting:
            if isinstance(task, batch) and task.args:
                rows.update(int(row_id) for row_id in task.args[0])
        return rows
