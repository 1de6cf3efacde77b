"""Retention: what the store forgets, and when, so it does not grow for ever.

- bodies of finished deliveries (done, ignored) after `bodies_days`: the row stays, so
  redeliveries still dedupe, but the payload (up to `max_body_bytes` each) is dropped;
- finished delivery rows (done, ignored, dead) after `deliveries_days`;
- resolved findings (the history behind trends) after `findings_days`;
- dead letters, replayed or not, after `dead_letters_days`;
- the dashboard's daily RAG and findings history after `history_days`;
- fired escalation steps after `escalations_days`, sent or dead notifications after
  `notifications_days`;
- tracker identities found by user search after `identities_days` (found again next time);
- allocation shares of weeks before `allocation_days` ago (the people view looks ahead).

Each runs in batches of short transactions, so intake on SQLite waits for none of them
long. 0 days keeps that kind for ever. On SQLite the freed pages are reused by new rows
(the file stops growing) rather than returned to the filesystem.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import delete, func, select, update

from config.retention import Retention
from webhooks.store.escalation import EscalationStore
from webhooks.store.history import HistoryStore
from webhooks.store.identities import IdentityStore
from webhooks.store.models import DeadLetterRow, DeliveryRow, FindingRow

log = logging.getLogger(__name__)

BATCH = 2000  # rows per transaction
FINISHED = ("done", "ignored", "dead")
BODY_DROPPED = ("done", "ignored")  # a dead delivery's body lives on in its dead letter


class RetentionStore(HistoryStore, EscalationStore, IdentityStore):
    def apply_retention(self, retention: Retention, now: dt.datetime) -> dict[str, int]:
        """Forget what `retention` says is old at `now`; returns counts per kind."""

        def before(days: int) -> dt.datetime | None:
            return now - dt.timedelta(days=days) if days > 0 else None

        counts = {
            "bodies": 0, "deliveries": 0, "findings": 0, "dead_letters": 0,
            "history": 0, "allocation": 0, "identities": 0,
        }  # fmt: skip
        cutoff = before(retention.deliveries_days)
        if cutoff is not None:
            counts["deliveries"] = self._in_batches(
                DeliveryRow, DeliveryRow.status.in_(FINISHED), DeliveryRow.updated_at < cutoff
            )
        cutoff = before(retention.bodies_days)
        if cutoff is not None:
            counts["bodies"] = self._in_batches(
                DeliveryRow,
                DeliveryRow.status.in_(BODY_DROPPED),
                DeliveryRow.updated_at < cutoff,
                func.length(DeliveryRow.payload) > 0,
                values={"payload": b""},
            )
        cutoff = before(retention.findings_days)
        if cutoff is not None:
            counts["findings"] = self._in_batches(
                FindingRow, FindingRow.resolved_at.is_not(None), FindingRow.resolved_at < cutoff
            )
        cutoff = before(retention.dead_letters_days)
        if cutoff is not None:
            counts["dead_letters"] = self._in_batches(
                DeadLetterRow, DeadLetterRow.created_at < cutoff
            )
        cutoff = before(retention.history_days)
        if cutoff is not None:
            counts["history"] = self.forget_history_before(cutoff.date())
        counts.update(
            self.forget_escalation_history(
                before(retention.escalations_days), before(retention.notifications_days)
            )
        )
        cutoff = before(retention.identities_days)
        if cutoff is not None:
            counts["identities"] = self.forget_identities(cutoff)
        cutoff = before(retention.allocation_days)
        if cutoff is not None:
            counts["allocation"] = self.forget_shares(cutoff.date())  # type: ignore[attr-defined]
        if any(counts.values()):
            log.info("store.retention.applied", extra=counts)
        return counts

    def _in_batches(self, table: Any, *where: Any, values: dict[str, Any] | None = None) -> int:
        """Delete (or, with `values`, update) the matching rows, BATCH at a time."""
        total = 0
        while True:
            ids = select(table.id).where(*where).limit(BATCH).scalar_subquery()
            statement = (
                update(table).where(table.id.in_(ids)).values(**values)
                if values is not None
                else delete(table).where(table.id.in_(ids))
            )
            with self._writing(), self._write_engine.begin() as conn:
                done = conn.execute(statement.execution_options(synchronize_session=False))
            total += done.rowcount
            if done.rowcount < BATCH:
                return total
