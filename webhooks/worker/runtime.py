"""The runtime of a process that takes deliveries: its resources (settings, store, queue,
rules, tracker clients) with the queue's tasks on top. Web processes use it to accept
deliveries and replay dead letters; worker processes to run the tasks."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

import huey

from config.settings import Settings
from webhooks.governance.rollups import Rollups
from webhooks.resources import ClientFactory, Resources, utcnow
from webhooks.rulesource import RuleSource
from webhooks.store import Store
from webhooks.worker.escalation import EscalationTasks, register_escalation_tasks
from webhooks.worker.notifications import NOTIFICATION_EVENT
from webhooks.worker.relay import RELAY_BATCH, relay_received
from webhooks.worker.tasks import Tasks

log = logging.getLogger(__name__)


class Runtime(Resources):
    def __init__(
        self,
        settings: Settings,
        store: Store,
        queue: huey.Huey,
        rules: RuleSource,
        *,
        client_factory: ClientFactory | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        super().__init__(settings, store, queue, rules, client_factory=client_factory, clock=clock)
        self.tasks = Tasks(self)
        self.rollups: Rollups = self.tasks.rollups
        self.escalation: EscalationTasks = register_escalation_tasks(self)

    def relay_received(self, limit: int = RELAY_BATCH) -> int:
        """Queue the tasks of up to `limit` received deliveries (what a worker's relay
        does each round); returns how many."""
        return relay_received(self.store, self.tasks, limit)

    def replay_dead_letters(self, ids: list[int] | None = None) -> list[int]:
        """Queue dead letters again: deliveries as fresh deliveries, notifications as
        fresh send tasks; returns the ids replayed."""
        replayed = []
        for letter in self.store.list_dead_letters():
            if ids is not None and letter.id not in ids:
                continue
            if letter.native_event == NOTIFICATION_EVENT:
                self.escalation.notifications.replay(letter)
                self.store.mark_replayed(letter.id)
                replayed.append(letter.id)
                log.info("deadletter.replayed", extra={"dead_letter": letter.id})
                continue
            row_id = self.store.record_delivery(
                letter.tracker,
                f"{letter.delivery_id}#replay{letter.id}",
                letter.native_event,
                letter.payload,
            )
            if row_id is not None:
                self.tasks.enqueue_delivery(row_id)
            self.store.mark_replayed(letter.id)
            replayed.append(letter.id)
            log.info("deadletter.replayed", extra={"dead_letter": letter.id})
        return replayed
