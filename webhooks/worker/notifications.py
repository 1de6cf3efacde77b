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
from collections.abc import Callable, Sequence

import huey
from huey.api import TaskWrapper

from webhooks.governance.notify_delivery import Delivery, Outcome
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

    def _send(self, ids: list[int]) -> None:
        outcome = self.delivery.deliver(ids, self.clock())
        if outcome is None:
            return  # sent already, or another task has it
        if outcome.status == "retry":
            self.enqueue(ids, delay=max(outcome.wait, 0.0))
        elif outcome.status == "dead":
            self._bury(outcome)

    def _bury(self, outcome: Outcome) -> None:
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
