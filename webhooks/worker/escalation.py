"""The periodic governance that reaches people: every minute, fire due escalation steps,
queue a send task for each notification due (and recover lost ones), and send the
scheduled reports that are due."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from huey import crontab

from webhooks.governance.escalation import Escalator, chains_of, unknown_channels
from webhooks.governance.escalation_people import UserDirectory
from webhooks.governance.notify_delivery import Delivery
from webhooks.governance.people import report_people
from webhooks.governance.report_send import run_scheduled_reports
from webhooks.worker.notifications import NotificationTasks

log = logging.getLogger(__name__)


@dataclass
class EscalationTasks:
    escalator: Escalator
    delivery: Delivery
    notifications: NotificationTasks
    tick: Any  # escalate, queue due notifications, send due reports: once, now
    tick_task: Any  # the same, periodic; None when `escalation_interval_minutes` is 0


def _user_search(runtime: Any) -> Any:
    def search_for(tracker: str) -> Any:
        client = runtime.client(tracker)
        return getattr(client, "find_user", None) if client is not None else None

    return search_for


def register_escalation_tasks(runtime: Any) -> EscalationTasks:
    settings, huey = runtime.settings, runtime.huey
    escalator = Escalator(
        runtime.store,
        settings.notify,
        UserDirectory(_user_search(runtime), runtime.store, clock=runtime.clock),
        regovern=lambda key: runtime.tasks.regovern(key),
        identity_trackers=frozenset(t.name for t in settings.trackers_of_kind("azure-devops")),
        people=runtime.people,
    )
    delivery = Delivery(
        runtime.store,
        settings.notify,
        client_for=runtime.client,
        max_retries=settings.max_retries,
        retry_base_seconds=settings.retry_base_seconds,
    )
    notifications = NotificationTasks(
        huey, runtime.store, delivery, clock=runtime.clock,
        recover_after_seconds=settings.recover_after_seconds,
    )  # fmt: skip

    def tick() -> dict[str, int]:
        chains = chains_of(runtime.rules.current())
        problems = unknown_channels(chains.values(), settings.notify)
        if problems:  # fail closed: a chain that names no real channel reaches nobody
            log.error("escalation.config_error", extra={"problems": problems[:10]})
            return {"fired": 0, "queued": 0, "reports": 0}
        escalator.people = runtime.people  # the sweep may have re-read the people file
        fired = escalator.run(chains, runtime.clock())
        recovered = notifications.recover(runtime.clock())
        queued = notifications.relay(runtime.clock())
        reports = run_scheduled_reports(
            runtime.store, settings.notify, runtime.clock(),
            people=lambda: report_people(runtime),
        )  # fmt: skip
        return {"fired": len(fired), "queued": queued, **recovered, "reports": len(reports)}

    minutes = settings.escalation_interval_minutes
    tick_task = None
    if minutes > 0:
        every = crontab(minute="*" if minutes == 1 else f"*/{minutes}")
        tick_task = huey.periodic_task(every, name="escalate")(tick)
    return EscalationTasks(escalator, delivery, notifications, tick, tick_task)
