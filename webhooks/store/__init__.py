"""The durable store: deliveries, mirrored items, findings history, the write-back ledger
and dead letters, on SQLite (default) or PostgreSQL.

    store = Store("sqlite:///pmo-bridge.db")   # or postgresql+psycopg://...
    store.migrate()

Every method is its own short transaction and safe to call from several threads and
processes; rows come back as frozen records (`webhooks.store.records`), never ORM objects.
Deliveries live in `deliveries.py`, items in `items.py`, findings in `findings.py`,
rollups in `rollups.py`, plumbing in `engine.py`, the tables in
`models.py`, retention in `retention.py`.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from sqlalchemy import bindparam, select, update

from config.retention import Retention
from config.settings import Settings
from connector.model import WorkItem
from webhooks.store.allocation import AllocationStore
from webhooks.store.deliveries import MARK_ATTEMPT, DeliveryStore
from webhooks.store.findings import FindingStore
from webhooks.store.items import GET_ITEM_DATA, ItemStore
from webhooks.store.models import DeadLetterRow, LedgerRow
from webhooks.store.records import (
    DELIVERY_STATUSES,
    DeadLetter,
    DeliveryRecord,
    FindingRecord,
    Ledger,
    TrendPoint,
)
from webhooks.store.reports import ReportStore
from webhooks.store.retention import RetentionStore
from webhooks.store.rollups import RollupStore

__all__ = [
    "DELIVERY_STATUSES",
    "DeadLetter",
    "DeliveryRecord",
    "FindingRecord",
    "Ledger",
    "Retention",
    "Store",
    "TrendPoint",
]

log = logging.getLogger(__name__)


_LEDGERS = LedgerRow.__table__
GET_LEDGER = select(_LEDGERS).where(_LEDGERS.c.item_key == bindparam("item_key"))


def _ledger(row: Any) -> Ledger:
    if row is None:
        return Ledger()
    return Ledger(
        comment_id=row.comment_id,
        comment_hash=row.comment_hash,
        labels=frozenset(row.labels or ()),
        fields=dict(row.fields or {}),
        rollup_hash=row.rollup_hash,
        item_revision=row.item_revision,
        findings_hash=row.findings_hash,
        comment_text_hash=row.comment_text_hash,
    )


def _dead_letter(row: DeadLetterRow) -> DeadLetter:
    return DeadLetter(
        id=row.id,
        delivery_id=row.delivery_id,
        tracker=row.tracker,
        native_event=row.native_event,
        payload=bytes(row.payload),
        error=row.error,
        attempts=row.attempts,
        created_at=row.created_at,
        replayed_at=row.replayed_at,
    )


class Store(
    DeliveryStore,
    ItemStore,
    FindingStore,
    RollupStore,
    RetentionStore,
    ReportStore,
    AllocationStore,
):
    """See the module docstring. Construct from a database URL, then call `migrate()`."""

    @classmethod
    def from_settings(cls, settings: Settings) -> Store:
        return cls(settings.database_url)

    # -- write-back ledger -----------------------------------------------------------

    def get_ledger(self, item_key: str) -> Ledger:
        """What was last written to the item; the empty `Ledger()` when nothing was."""
        with self._hot() as run:
            return _ledger(run.first(GET_LEDGER, {"item_key": item_key}))

    def read_for_delivery(
        self, key: str, parent_key: str | None = None
    ) -> tuple[WorkItem | None, Ledger, WorkItem | None]:
        """The stored item, its ledger and (when `parent_key` is given) the stored parent,
        in one read: what the worker needs to tell whether a delivery changes anything.
        Nothing is written; the delivery's status moves with its first write
        (`mark_delivery(.., "processing")`, or `finish_delivery` when that is the last)."""
        with self._hot() as run:
            found = run.first(GET_ITEM_DATA, {"key": key})
            ledger = _ledger(run.first(GET_LEDGER, {"item_key": key}))
            parent = run.first(GET_ITEM_DATA, {"key": parent_key}) if parent_key else None
        return (
            WorkItem.from_dict(found.data) if found else None,
            ledger,
            WorkItem.from_dict(parent.data) if parent else None,
        )

    def start_delivery(self, row_id: int, key: str) -> tuple[WorkItem | None, Ledger]:
        """Mark a delivery "processing" (an attempt) and read its stored item and ledger,
        in one commit."""
        values = {"row_id": row_id, "status": "processing", "error": None}
        with self._writing(), self._write_engine.begin() as conn:
            conn.execute(MARK_ATTEMPT, {**values, "updated_at": self.now()})
            data = conn.execute(GET_ITEM_DATA, {"key": key}).scalar()
            ledger = _ledger(conn.execute(GET_LEDGER, {"item_key": key}).first())
        return (WorkItem.from_dict(data) if data else None), ledger

    def save_ledger(self, item_key: str, ledger: Ledger) -> None:
        values = {
            "item_key": item_key,
            "comment_id": ledger.comment_id,
            "comment_hash": ledger.comment_hash,
            "labels": sorted(ledger.labels),
            "fields": dict(ledger.fields),
            "rollup_hash": ledger.rollup_hash,
            "item_revision": ledger.item_revision,
            "findings_hash": ledger.findings_hash,
            "comment_text_hash": ledger.comment_text_hash,
            "updated_at": self.now(),
        }
        with self._hot(write=True) as run:
            run.rows(self._save_ledger, values)

    @functools.cached_property
    def _save_ledger(self) -> Any:
        """The ledger upsert, built once per store (its dialect)."""
        names = [c.name for c in LedgerRow.__table__.c]
        stmt = self._insert(LedgerRow).values({name: bindparam(name) for name in names})
        return stmt.on_conflict_do_update(
            index_elements=[LedgerRow.item_key],
            set_={name: stmt.excluded[name] for name in names if name != "item_key"},
        )

    # -- dead letters ----------------------------------------------------------------

    def add_dead_letter(
        self,
        delivery_id: str | None,
        tracker: str,
        native_event: str,
        payload: bytes,
        error: str,
        attempts: int,
    ) -> int:
        """Keep an event that failed after all retries; returns the dead letter's id.
        `delivery_id` is the tracker's delivery id (`DeliveryRecord.delivery_id`). The
        delivery row itself is the caller's to mark "dead"."""
        row = DeadLetterRow(
            delivery_id=None if delivery_id is None else str(delivery_id),
            tracker=tracker,
            native_event=native_event,
            payload=bytes(payload),
            error=error,
            attempts=attempts,
            created_at=self.now(),
        )
        with self._session(write=True) as session:
            session.add(row)
            session.flush()
            new_id = row.id
        log.warning(
            "store.dead_letter.added",
            extra={"tracker": tracker, "native_event": native_event, "attempts": attempts},
        )
        return new_id

    def list_dead_letters(self, include_replayed: bool = False) -> list[DeadLetter]:
        query = select(DeadLetterRow).order_by(DeadLetterRow.id)
        if not include_replayed:
            query = query.where(DeadLetterRow.replayed_at.is_(None))
        with self._session() as session:
            return [_dead_letter(row) for row in session.scalars(query)]

    def get_dead_letter(self, id: int) -> DeadLetter | None:
        with self._session() as session:
            row = session.get(DeadLetterRow, id)
            return _dead_letter(row) if row else None

    def mark_replayed(self, id: int) -> bool:
        """True when the dead letter existed and had not been replayed yet."""
        with self._session(write=True) as session:
            result = session.execute(
                update(DeadLetterRow)
                .where(DeadLetterRow.id == id, DeadLetterRow.replayed_at.is_(None))
                .values(replayed_at=self.now())
            )
            return result.rowcount > 0
