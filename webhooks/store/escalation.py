"""Escalations fired (one row per step per failing episode), saved with the messages they
send (the notification outbox, `webhooks.store.notifications`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from webhooks.store.models import EscalationRow, FindingRow, NotificationRow, ReportRow
from webhooks.store.notifications import NewNotification, Notification, NotificationStore

__all__ = ["Episode", "Escalation", "EscalationStore", "NewNotification", "Notification"]


@dataclass(frozen=True)
class Episode:
    """An open finding: the rule has failed on the item since `first_seen`."""

    finding_id: int
    item_key: str
    rule: str
    status: str  # fail | waived (waivers) | ...
    message: str
    first_seen: dt.datetime


@dataclass(frozen=True)
class Escalation:
    finding_id: int
    item_key: str
    rule: str
    step: int
    person: str
    role: str | None
    account: str | None  # the person's account on the item's tracker, for mentions
    via: tuple[str, ...]
    fired_at: dt.datetime


def _escalation(row: EscalationRow) -> Escalation:
    return Escalation(
        row.finding_id, row.item_key, row.rule, row.step, row.person, row.role, row.account,
        tuple(row.via or ()), row.fired_at,
    )  # fmt: skip


class EscalationStore(NotificationStore):
    def open_episodes(self, rules: Iterable[str]) -> list[Episode]:
        """Open findings of the given rules (the ones with an escalation chain)."""
        wanted = sorted(set(rules))
        if not wanted:
            return []
        query = (
            select(FindingRow)
            .where(FindingRow.resolved_at.is_(None), FindingRow.rule.in_(wanted))
            .order_by(FindingRow.id)
        )
        with self._session() as session:
            return [
                Episode(r.id, r.item_key, r.rule, r.status, r.message, r.first_seen)
                for r in session.scalars(query)
            ]

    def fired_steps_of(self, finding_ids: Iterable[int]) -> dict[int, set[int]]:
        """Steps fired per episode, for many episodes in few queries (a run reads them all
        every minute)."""
        ids = sorted(set(finding_ids))
        out: dict[int, set[int]] = {}
        with self._session() as session:
            for start in range(0, len(ids), 500):
                query = select(EscalationRow.finding_id, EscalationRow.step).where(
                    EscalationRow.finding_id.in_(ids[start : start + 500])
                )
                for finding_id, step in session.execute(query):
                    out.setdefault(int(finding_id), set()).add(int(step))
        return out

    def record_escalation(
        self, fired: Escalation, messages: Sequence[NewNotification] = ()
    ) -> bool:
        """Claim the step for its episode and save the messages it sends, in one
        transaction (the outbox: the escalation tick queues their send tasks); False when
        it was already fired (by this or another worker), so nothing is saved."""
        row = EscalationRow(
            finding_id=fired.finding_id, item_key=fired.item_key, rule=fired.rule,
            step=fired.step, person=fired.person[:255], role=fired.role, account=fired.account,
            via=list(fired.via),
            fired_at=fired.fired_at,
        )  # fmt: skip
        try:
            with self._session(write=True) as session:
                session.add(row)
                session.flush()  # the step's claim first: a second claim fails here
                self._add_notifications(session, messages, fired.fired_at)
        except IntegrityError:
            return False
        return True

    def escalations(
        self, *, item_key: str | None = None, since: dt.datetime | None = None
    ) -> list[Escalation]:
        """Fired steps, oldest first: of one item (its managed comment, the dashboard) or
        since a moment (the report)."""
        query = select(EscalationRow).order_by(EscalationRow.fired_at, EscalationRow.id)
        if item_key is not None:
            query = query.where(EscalationRow.item_key == item_key)
        if since is not None:
            query = query.where(EscalationRow.fired_at >= since)
        with self._session() as session:
            return [_escalation(row) for row in session.scalars(query.limit(10_000))]

    def open_escalations(self, item_key: str) -> list[Escalation]:
        """Steps fired in the item's current failing episodes (its managed comment)."""
        query = (
            select(EscalationRow)
            .join(FindingRow, FindingRow.id == EscalationRow.finding_id)
            .where(EscalationRow.item_key == item_key, FindingRow.resolved_at.is_(None))
            .order_by(EscalationRow.fired_at, EscalationRow.id)
        )
        with self._session() as session:
            return [_escalation(row) for row in session.scalars(query.limit(100))]

    def forget_escalation_history(
        self, escalations_before: dt.datetime | None, notifications_before: dt.datetime | None
    ) -> dict[str, int]:
        """Retention: fired steps (and reports sent, whose RAG snapshots go with them) and
        finished notifications older than the cut-offs."""
        counts = {"escalations": 0, "notifications": 0}
        with self._session(write=True) as session:
            if escalations_before is not None:
                done = session.execute(
                    delete(EscalationRow).where(EscalationRow.fired_at < escalations_before)
                )
                counts["escalations"] = done.rowcount
                session.execute(delete(ReportRow).where(ReportRow.sent_at < escalations_before))
            if notifications_before is not None:
                done = session.execute(
                    delete(NotificationRow).where(
                        NotificationRow.status.in_(("sent", "dead")),
                        NotificationRow.created_at < notifications_before,
                    )
                )
                counts["notifications"] = done.rowcount
        return counts
