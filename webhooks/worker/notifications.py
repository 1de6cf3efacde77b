"""Notifications on the queue: one `send_notifications` task per message (or per digest
batch), with the retry policy of tracker writes and the same dead-letter store.

The escalation tick claims what is due (the outbox rows the escalation step committed)
and queues a task per batch, as the relay does for deliveries. A failed attempt that may
succeed later is scheduled again after the receiver's Retry-After or the backoff; the
last one leaves a dead letter (`pmo-bridge deadletters list`, tracker `notify:<channel>`)
that `deadletters replay` sends again. Recovery queues again a batch whose task was lost,
and dead-letters one a dead worker left half-sent (see `notify_delivery`: at most once).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Callable, Sequence

import huey
from huey.api import TaskWrapper

from webhooks.governance.escalation import TRACKER_COMMENT
from webhooks.governance.notify_delivery import Delivery, Outcome
from webhooks.queue.holds import held_until, hold_tracker
from webhooks.store import DeadLetter, Store
from webhooks.telemetry.metrics import DEAD_LETTERS

log = logging.getLogger(__name__)

NOTIFICATION_EVENT = "notification"  # a dead letter's native_event for notifications
ABANDONED = (
    "the worker stopped while sending: the receiver may or may not have it; replay to send it again"
)


def dead_letter_source(channel: str) -> str:
    return f"notify:{channel}"[:64]


class NotificationTasks:
    def __init__(
        self,
        queue: huey.Huey,
        store: Store,
        delivery: Delivery,
        *,
        clock: Callable[[], dt.datetime],
        recover_after_seconds: float,
    ) -> None:
        self.queue = queue
        self.store = store
        self.delivery = delivery
        self.clock = clock
        self.recover_after = dt.timedelta(seconds=recover_after_seconds)
        self.send_task: TaskWrapper = queue.task(name="send_notifications")(self._send)

    def enqueue(self, ids: Sequence[int], delay: float = 0.0) -> None:
        args = (list(ids),)
        if delay > 0:
            self.send_task.schedule(args, delay=delay)
        else:
            self.send_task(*args)

    def relay(self, now: dt.datetime) -> int:
        """Queue a send task for every batch due at `now`; returns how many."""
        batches = self.delivery.due_batches(now)
        for ids in batches:
            self.enqueue(ids)
        return len(batches)

    def recover(self, now: dt.datetime) -> dict[str, int]:
        """Queue again the batches whose task was lost; dead-letter those a dead worker
        left "sending" (never re-sent on their own)."""
        cutoff = now - self.recover_after
        lost = self.store.lost_notification_tasks(cutoff)
        for ids in lost:
            self.enqueue(ids)
        abandoned = self.store.abandon_sending(cutoff, now, ABANDONED)
        for ids in abandoned:
            messages = self.store.notifications(ids=ids)
            if messages:
                self._bury(Outcome("dead", tuple(messages), ABANDONED))
        if lost or abandoned:
            log.warning(
                "notify.recovered", extra={"requeued": len(lost), "abandoned": len(abandoned)}
            )
        return {"requeued": len(lost), "abandoned": len(abandoned)}

    def replay(self, letter: DeadLetter) -> bool:
        """Send a dead-lettered batch again (fresh attempts); False when none of its
        messages is dead any more."""
        ids = json.loads(letter.payload)["notifications"]
        moved = self.store.requeue_notifications(ids, self.clock())
        if moved:
            self.enqueue(moved)
        return bool(moved)

    def _held(self, ids: Sequence[int]) -> tuple[str, float] | None:
        """A tracker comment's tracker and how long it is still held (a tracker-wide 429
        to a write or to another comment), or None."""
        messages = self.store.notifications(ids=list(ids)[:1])
        if not messages or messages[0].channel != TRACKER_COMMENT:
            return None
        tracker = messages[0].recipient.partition(":")[0]
        until = held_until(self.queue, tracker)
        wait = (until or 0.0) - time.time()
        return (tracker, wait) if wait > 0 else None

    def _send(self, ids: list[int]) -> None:
        held = self._held(ids)
        if held is not None:  # as a tracker write: wait, no call made, no attempt counted
            tracker, wait = held
            until = self.clock() + dt.timedelta(seconds=wait)
            self.store.postpone_notifications(ids, until, f"{tracker} is held for {wait:.2f} s")
            self.enqueue(ids, delay=wait)
            return
        outcome = self.delivery.deliver(ids, self.clock())
        if outcome is None:
            return  # sent already, or another task has it
        if outcome.status == "retry":
            if outcome.hold:  # a tracker-wide 429: hold the tracker for writes too
                hold_tracker(self.queue, outcome.hold, outcome.wait)
            self.enqueue(ids, delay=max(outcome.wait, 0.0))
        elif outcome.status == "dead":
            self._bury(outcome)

    def send_now(
        self, ids: Sequence[int], *, max_wait: float, sleep: Callable[[float], None] = time.sleep
    ) -> tuple[str, Outcome | None, int | None]:
        """Send a batch in this process with the send task's retry policy (`report
        --send`): attempts until it is sent or dead (a dead letter, as the task leaves),
        waiting out Retry-After or the backoff in between; a wait longer than `max_wait`
        hands the batch to the queue instead, for a worker to send then. Returns
        ("sent" | "dead" | "queued" | "gone", the last outcome, the dead letter's id)."""
        while True:
            held = self._held(ids)
            if held is not None and held[1] > max_wait:
                self.enqueue(ids, delay=held[1])
                return "queued", None, None
            if held is not None:
                sleep(held[1])
            outcome = self.delivery.deliver(ids, self.clock())
            if outcome is None:
                return "gone", None, None  # another task has it, or it went already
            if outcome.status == "sent":
                return "sent", outcome, None
            if outcome.status == "dead":
                return "dead", outcome, self._bury(outcome)
            if outcome.hold:
                hold_tracker(self.queue, outcome.hold, outcome.wait)
            if outcome.wait > max_wait:
                self.enqueue(ids, delay=outcome.wait)
                return "queued", outcome, None
            sleep(max(outcome.wait, 0.0))

    def _bury(self, outcome: Outcome) -> int:
        first = outcome.messages[0]
        payload = {
            "notifications": [m.id for m in outcome.messages],
            "channel": first.channel,
            "subject": first.subject,
        }
        letter = self.store.add_dead_letter(
            first.dedupe_key,
            dead_letter_source(first.channel),
            NOTIFICATION_EVENT,
            json.dumps(payload).encode(),
            (outcome.error or "failed")[:2000],
            outcome.attempts,
        )
        DEAD_LETTERS.labels(dead_letter_source(first.channel)).inc(len(outcome.messages))
        log.error(
            "notify.dead_letter",
            extra={"channel": first.channel, "dead_letter": letter, "error": outcome.error},
        )
        return int(letter)
