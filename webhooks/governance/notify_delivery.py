"""Draining the notification outbox: send what is due, retry what may succeed later (the
receiver's Retry-After, else the same jittered backoff as tracker writes), and give up
after `max_retries` attempts: the message is kept as `dead`, with the error, for
`pmo-bridge notifications list --status dead`.

Channels with `digest: hour|day` batch each person's messages into one, sent when the
hour or day in which the first of them was queued is over.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from config.notify import Notify
from connector.errors import RateLimited, TrackerError
from webhooks.governance.channels import SendFailed, send
from webhooks.governance.escalation import TRACKER_COMMENT, Target, escalation_comment
from webhooks.store.escalation import Notification
from webhooks.telemetry.metrics import DEAD_LETTERS

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 300.0


def backoff_seconds(attempt: int, base: float) -> float:
    """Full-jitter exponential backoff, as the worker's retries of tracker writes."""
    ceiling = min(MAX_BACKOFF_SECONDS, base * (2**attempt))
    return random.uniform(ceiling / 2, ceiling)


WINDOWS = {"hour": dt.timedelta(hours=1), "day": dt.timedelta(days=1)}


def window_end(created: dt.datetime, digest: str) -> dt.datetime:
    start = created.replace(minute=0, second=0, microsecond=0)
    if digest == "day":
        start = start.replace(hour=0)
    return start + WINDOWS[digest]


@dataclass
class Delivery:
    store: Any
    notify: Notify
    client_for: Callable[[str], Any] = lambda tracker: None
    max_retries: int = 6
    retry_base_seconds: float = 2.0
    environ: Mapping[str, str] | None = None
    session: Any = None  # requests session for chat and webhook posts
    counts: dict[str, int] = field(default_factory=dict)

    def run(self, now: dt.datetime) -> dict[str, int]:
        """Send every due message; returns counts by outcome (sent, retry, dead, held)."""
        self.counts = {"sent": 0, "retry": 0, "dead": 0, "held": 0}
        for group in self._groups(self.store.pending_notifications(now), now):
            self._send(group, now)
        return self.counts

    def _groups(
        self, pending: Sequence[Notification], now: dt.datetime
    ) -> list[list[Notification]]:
        groups: dict[tuple[str, str], list[Notification]] = {}
        singles: list[list[Notification]] = []
        for message in pending:
            channel = self.notify.channels.get(message.channel)
            if channel is None or channel.digest is None:
                singles.append([message])
            else:
                groups.setdefault((message.channel, message.recipient), []).append(message)
        for (name, _), messages in groups.items():
            digest = self.notify.channels[name].digest or "hour"
            if now >= window_end(min(m.created_at for m in messages), digest):
                singles.append(messages)
            else:
                self.counts["held"] += len(messages)
        return singles

    def _send(self, messages: list[Notification], now: dt.datetime) -> None:
        ids = [m.id for m in messages]
        name = messages[0].channel
        try:
            if name == TRACKER_COMMENT:
                self._comment(messages[0])
            else:
                channel = self.notify.channels.get(name)
                if channel is None:
                    raise SendFailed(f"channel {name!r} is no longer configured", retryable=False)
                send(channel, messages, environ=self.environ, session=self.session)
        except (SendFailed, TrackerError) as exc:
            attempts = max(m.attempts for m in messages) + 1
            retryable = getattr(exc, "retryable", True)
            if retryable and attempts <= self.max_retries:
                wait = getattr(exc, "retry_after", None)
                if wait is None:
                    wait = backoff_seconds(attempts - 1, self.retry_base_seconds)
                retry_at = now + dt.timedelta(seconds=wait)
                self.store.notification_outcome(
                    ids, status="pending", now=now, error=str(exc), retry_at=retry_at
                )
                self.counts["retry"] += len(ids)
                log.warning("notify.retry_scheduled", extra={"channel": name, "wait": wait})
            else:
                self.store.notification_outcome(ids, status="dead", now=now, error=str(exc))
                self.counts["dead"] += len(ids)
                DEAD_LETTERS.labels(f"notify:{name}").inc(len(ids))
                log.error("notify.dead_lettered", extra={"channel": name, "error": str(exc)})
            return
        self.store.notification_outcome(ids, status="sent", now=now)
        self.counts["sent"] += len(ids)

    def _comment(self, message: Notification) -> None:
        """A `comment` step: one separate tracker comment mentioning the person."""
        tracker, _, native_id = message.recipient.partition(":")
        client = self.client_for(tracker)
        if client is None:
            raise SendFailed(f"{tracker} has no URL configured: no comment", retryable=False)
        data = json.loads(message.body)
        target = Target(str(data["name"]))
        doc = escalation_comment(target, data.get("account"), str(data["text"]))
        try:
            client.add_comment(native_id, doc)
        except RateLimited as exc:
            raise SendFailed(str(exc), retryable=True, retry_after=exc.retry_after) from None
