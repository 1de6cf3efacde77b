"""The notification outbox: one row per message, sent by a queue task.

A row's life: `pending` (committed with the escalation step that wants it; waiting for
its time, or for its digest window to end) -> `queued` (claimed by the escalation tick,
which then puts a send task on the queue; a digest batch shares one task) -> `sending`
(the task's attempt began) -> `sent`, back to `queued` for a retry, or `dead`.

Every transition is a conditional update, so two tasks carrying the same message (a
recovered task and the original) never both send it: only the one that moves it from
`queued` to `sending` does. A row left `sending` by a worker that died is never sent
again on its own (at most once): recovery dead-letters it for a person to replay.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from webhooks.store.engine import StoreBase
from webhooks.store.models import NotificationRow

NOTIFICATION_STATUSES = ("pending", "queued", "sending", "sent", "dead")
WINDOWS = {"hour": dt.timedelta(hours=1), "day": dt.timedelta(days=1)}


@dataclass(frozen=True)
class Notification:
    id: int
    dedupe_key: str
    channel: str
    recipient: str
    subject: str
    body: str
    link: str | None
    status: str
    attempts: int
    next_attempt_at: dt.datetime
    error: str | None
    created_at: dt.datetime
    sent_at: dt.datetime | None


@dataclass(frozen=True)
class NewNotification:
    """A message an escalation step asks for, saved in the step's own transaction."""

    dedupe_key: str
    channel: str
    recipient: str
    subject: str
    body: str
    link: str | None = None


def window_end(created: dt.datetime, digest: str) -> dt.datetime:
    """The end of the hour or UTC day in which a digest's first message was queued."""
    start = created.replace(minute=0, second=0, microsecond=0)
    if digest == "day":
        start = start.replace(hour=0)
    return start + WINDOWS[digest]


def _notification(row: NotificationRow) -> Notification:
    return Notification(
        row.id, row.dedupe_key, row.channel, row.recipient, row.subject, row.body, row.link,
        row.status, row.attempts, row.next_attempt_at, row.error, row.created_at, row.sent_at,
    )  # fmt: skip


def _row(message: NewNotification, now: dt.datetime) -> NotificationRow:
    return NotificationRow(
        dedupe_key=message.dedupe_key[:255], channel=message.channel[:64],
        recipient=message.recipient[:255], subject=message.subject[:500], body=message.body,
        link=message.link, status="pending", attempts=0, next_attempt_at=now, created_at=now,
    )  # fmt: skip


def _batches(rows: Iterable[NotificationRow]) -> list[tuple[int, ...]]:
    out: dict[int, list[int]] = {}
    for row in rows:
        out.setdefault(int(row.batch or row.id), []).append(int(row.id))
    return [tuple(sorted(ids)) for _, ids in sorted(out.items())]


class NotificationStore(StoreBase):
    def queue_notification(
        self, *, dedupe_key: str, channel: str, recipient: str, subject: str, body: str,
        link: str | None, now: dt.datetime,
    ) -> int | None:  # fmt: skip
        """Add a message; None when one with this key exists (never two per step)."""
        message = NewNotification(dedupe_key, channel, recipient, subject, body, link)
        row = _row(message, now)
        try:
            with self._session(write=True) as session:
                session.add(row)
                session.flush()
                return int(row.id)
        except IntegrityError:
            return None

    @staticmethod
    def _add_notifications(
        session: Session, messages: Sequence[NewNotification], now: dt.datetime
    ) -> None:
        for message in messages:
            session.add(_row(message, now))

    def claim_notifications(
        self, now: dt.datetime, digests: Mapping[str, str], limit: int = 500
    ) -> list[tuple[int, ...]]:
        """Mark the messages due at `now` "queued", one batch per send task: a message on
        its own, or a person's messages on a digest channel (`digests`: channel -> hour |
        day) once the window of the first is over. Returns the batches claimed; each row
        goes to one caller."""
        due = (NotificationRow.status == "pending") & (NotificationRow.next_attempt_at <= now)
        with self._reading() as conn:
            if conn.execute(select(NotificationRow.id).where(due).limit(1)).first() is None:
                return []
        claimed: list[tuple[int, ...]] = []
        batched = NotificationRow.channel.in_(sorted(digests))
        with self._session(write=True) as session:
            # messages on their own, and digests apart, so held digests never crowd out
            # the messages due now
            queries = [
                select(NotificationRow).where(due, ~batched).limit(limit),
                select(NotificationRow).where(due, batched).limit(limit * 10),
            ]
            rows = []
            for query in queries:
                query = query.order_by(NotificationRow.id)
                if self.dialect == "postgresql":
                    query = query.with_for_update(skip_locked=True)
                rows += list(session.scalars(query))
            groups: dict[tuple[str, str], list[NotificationRow]] = {}
            batches: list[list[NotificationRow]] = []
            for row in rows:
                if row.channel in digests:
                    groups.setdefault((row.channel, row.recipient), []).append(row)
                else:
                    batches.append([row])
            for (channel, _), rows in groups.items():
                if now >= window_end(min(r.created_at for r in rows), digests[channel]):
                    batches.append(rows)
            for rows in batches:
                ids = [r.id for r in rows]
                session.execute(
                    update(NotificationRow)
                    .where(NotificationRow.id.in_(ids), NotificationRow.status == "pending")
                    .values(status="queued", batch=min(ids), claimed_at=now)
                )
                claimed.append(tuple(sorted(ids)))
        return sorted(claimed)

    def start_sending(self, ids: Sequence[int], now: dt.datetime) -> list[Notification]:
        """Move the batch's "queued" messages to "sending" (an attempt) and return them;
        an empty list when another task has them, or they are sent or dead already."""
        with self._session(write=True) as session:
            taken = session.execute(
                update(NotificationRow)
                .where(NotificationRow.id.in_(list(ids)), NotificationRow.status == "queued")
                .values(status="sending", claimed_at=now, attempts=NotificationRow.attempts + 1)
                .returning(NotificationRow.id)
            ).scalars()
            taken_ids = sorted(int(i) for i in taken)
            if not taken_ids:
                return []
            query = select(NotificationRow).where(NotificationRow.id.in_(taken_ids))
            return [_notification(r) for r in session.scalars(query.order_by(NotificationRow.id))]

    def notification_outcome(
        self, ids: Iterable[int], *, status: str, now: dt.datetime,
        error: str | None = None, retry_at: dt.datetime | None = None,
    ) -> None:  # fmt: skip
        """The end of an attempt: "sent", "queued" again for a retry at `retry_at` (its
        task is scheduled then), or "dead" with the error."""
        if status not in NOTIFICATION_STATUSES:
            raise ValueError(f"unknown notification status {status!r}")
        values: dict[str, object] = {"status": status, "error": error}
        if status == "sent":
            values["sent_at"] = now
        if retry_at is not None:
            values["next_attempt_at"] = retry_at
            values["claimed_at"] = retry_at
        with self._session(write=True) as session:
            session.execute(
                update(NotificationRow).where(NotificationRow.id.in_(list(ids))).values(**values)
            )

    def lost_notification_tasks(self, older_than: dt.datetime) -> list[tuple[int, ...]]:
        """Batches "queued" whose task was due before `older_than` and never started: the
        task was lost (a crash between the claim and the enqueue, a worker killed after
        taking it). Queuing them again is safe: only one task can start sending."""
        query = select(NotificationRow).where(
            NotificationRow.status == "queued", NotificationRow.claimed_at < older_than
        )
        with self._session() as session:
            return _batches(session.scalars(query.order_by(NotificationRow.id).limit(1000)))

    def abandon_sending(
        self, older_than: dt.datetime, now: dt.datetime, error: str
    ) -> list[tuple[int, ...]]:
        """Messages whose attempt began before `older_than` and never ended: the worker
        died while sending, before or after the receiver took it. They are made "dead"
        with `error`, never sent again on their own; returns their batches."""
        stuck = (NotificationRow.status == "sending") & (NotificationRow.claimed_at < older_than)
        with self._session(write=True) as session:
            rows = list(session.scalars(select(NotificationRow).where(stuck).limit(1000)))
            if not rows:
                return []
            session.execute(
                update(NotificationRow)
                .where(NotificationRow.id.in_([r.id for r in rows]), stuck)
                .values(status="dead", error=error)
            )
            return _batches(rows)

    def requeue_notifications(self, ids: Sequence[int], now: dt.datetime) -> tuple[int, ...]:
        """Dead messages queued again (a dead letter replayed), with a fresh count of
        attempts; returns the ids moved."""
        with self._session(write=True) as session:
            moved = session.execute(
                update(NotificationRow)
                .where(NotificationRow.id.in_(list(ids)), NotificationRow.status == "dead")
                .values(status="queued", attempts=0, claimed_at=now, next_attempt_at=now)
                .returning(NotificationRow.id)
            ).scalars()
            return tuple(sorted(int(i) for i in moved))

    def notifications(
        self, *, status: str | None = None, ids: Sequence[int] | None = None
    ) -> list[Notification]:
        query = select(NotificationRow).order_by(NotificationRow.id).limit(10_000)
        if status is not None:
            query = query.where(NotificationRow.status == status)
        if ids is not None:
            query = query.where(NotificationRow.id.in_(list(ids)))
        with self._session() as session:
            return [_notification(row) for row in session.scalars(query)]
