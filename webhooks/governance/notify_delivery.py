"""One attempt at sending a batch of notifications (one message, or a person's digest):
what the queue's send task runs. The task (`webhooks.worker.notifications`) owns what
follows an attempt, as for tracker writes: a retry scheduled after the receiver's
Retry-After (else the same jittered backoff), a dead letter after `max_retries`.

Exactly once per step, and at most once when a worker dies: an attempt first moves its
messages from "queued" to "sending" (only one task can), sends, then records the
outcome. A worker killed between the send and the record leaves them "sending"; they are
never sent again on their own (recovery dead-letters them, a person replays them if the
receiver did not get them). A second message for one step is the failure we refuse;
a message to replay by hand is the one we accept.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from config.notify import Notify
from connector.errors import RateLimited, TrackerError
from webhooks.governance.channels import SendFailed, send
from webhooks.governance.escalation import TRACKER_COMMENT, Target, escalation_comment
from webhooks.store.notifications import Notification, window_end

__all__ = ["Delivery", "Outcome", "backoff_seconds", "window_end"]

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 300.0


def backoff_seconds(attempt: int, base: float) -> float:
    """Full-jitter exponential backoff, as the worker's retries of tracker writes."""
    ceiling = min(MAX_BACKOFF_SECONDS, base * (2**attempt))
    return random.uniform(ceiling / 2, ceiling)


@dataclass(frozen=True)
class Outcome:
    status: str  # sent | retry | dead
    messages: tuple[Notification, ...]
    error: str | None = None
    wait: float = 0.0  # retry: seconds until the next attempt

    @property
    def channel(self) -> str:
        return self.messages[0].channel

    @property
    def attempts(self) -> int:
        return max(m.attempts for m in self.messages)


@dataclass
class Delivery:
    store: Any
    notify: Notify
    client_for: Callable[[str], Any] = lambda tracker: None
    max_retries: int = 6
    retry_base_seconds: float = 2.0
    environ: Mapping[str, str] | None = None
    session: Any = None  # requests session for chat and webhook posts

    def digests(self) -> dict[str, str]:
        """Channel -> hour | day, for the channels that batch a person's messages."""
        return {name: c.digest for name, c in self.notify.channels.items() if c.digest}

    def due_batches(self, now: dt.datetime) -> list[tuple[int, ...]]:
        """Claim what is due at `now`, one batch per send task (see the store)."""
        return self.store.claim_notifications(now, self.digests())

    def deliver(self, ids: Sequence[int], now: dt.datetime) -> Outcome | None:
        """One attempt at a batch; None when no message of it is "queued" any more
        (another task has it, or it was sent)."""
        messages = tuple(self.store.start_sending(ids, now))
        if not messages:
            return None
        outcome = self._attempt(messages)
        done = [m.id for m in messages]
        if outcome.status == "retry":
            retry_at = now + dt.timedelta(seconds=outcome.wait)
            self.store.notification_outcome(
                done, status="queued", now=now, error=outcome.error, retry_at=retry_at
            )
            log.warning(
                "notify.retry_scheduled",
                extra={"channel": outcome.channel, "attempt": outcome.attempts,
                       "delay_s": round(outcome.wait, 3)},
            )  # fmt: skip
        else:
            self.store.notification_outcome(
                done, status=outcome.status, now=now, error=outcome.error
            )
        return outcome

    def _attempt(self, messages: tuple[Notification, ...]) -> Outcome:
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
            attempts = max(m.attempts for m in messages)  # this one included
            if getattr(exc, "retryable", True) and attempts <= self.max_retries:
                wait = getattr(exc, "retry_after", None)
                if wait is None:
                    wait = backoff_seconds(attempts - 1, self.retry_base_seconds)
                return Outcome("retry", messages, str(exc)[:2000], float(wait))
            return Outcome("dead", messages, str(exc)[:2000])
        return Outcome("sent", messages)

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
