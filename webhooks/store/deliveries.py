"""Deliveries: the store's record of every webhook received, and the outbox intake writes.

Intake commits a delivery as "received" and answers; the relay (`webhooks.worker.relay`) claims
received rows, marks them "queued" and puts their tasks on the Huey queue. The row is the
durable record throughout: a task lost in a crash is queued again from it (recovery).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from sqlalchemy import and_, bindparam, exists, func, insert, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from webhooks.store.direct import CompiledSqlite
from webhooks.store.engine import StoreBase
from webhooks.store.group_commit import GroupCommit, Pending
from webhooks.store.models import DeliveryRow, UtcDateTime
from webhooks.store.records import (
    DELIVERY_STATUSES,
    RECOVERABLE_STATUSES,
    UNFINISHED_STATUSES,
    DeliveryRecord,
)
from webhooks.store.supersession import BOUNDARY_KINDS, DeliveryMarks, MarkedRow, superseded_ids

log = logging.getLogger(__name__)

# Intake's SQLite connection leaves the WAL to its process's checkpointer thread, off the
# request path; this much WAL (pages of 4 KiB, ~40 MB) is the backstop should that fall
# behind.
INTAKE_AUTOCHECKPOINT_PAGES = 10_000
# The readiness probe writes (and rolls back) a row this large: more pages than a full
# database file or a full disk has left to give, as a large delivery would need.
WRITE_PROBE_BYTES = 64 * 1024
CHECKPOINT_EVERY_SECONDS = 1.0


class Checkpointer:
    """Copies the WAL back into the database about once a second while intake writes,
    from a thread of its own. A commit that crossed SQLite's own threshold would do it
    inside the write turn, fsync included, and every request behind it would wait; here
    it is PASSIVE, so writers go on meanwhile."""

    def __init__(self, checkpoint: Callable[[], None]) -> None:
        self._checkpoint = checkpoint
        self._wrote = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="wal-checkpoint", daemon=True)
        self._thread.start()

    def note_write(self) -> None:
        self._wrote.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wrote.set()
        self._thread.join(5)

    def _loop(self) -> None:
        while True:
            self._wrote.wait()
            if self._stopping.wait(CHECKPOINT_EVERY_SECONDS):  # gather a second of writes
                return
            self._wrote.clear()
            try:
                self._checkpoint()
            except Exception as exc:  # the database away for a moment: next time
                log.warning("store.checkpoint.failed", extra={"error": type(exc).__name__})


class _Intake(NamedTuple):
    """This process's intake connection and the checkpointer of what it writes."""

    pid: int
    connection: Any
    checkpointer: Checkpointer


def _run_intake(cursor: Any, statements: list[tuple[str, tuple]]) -> Any:
    """An intake write: the INSERT, after the replay check when there is one; a seen body
    gives no row, as a repeated delivery id does."""
    *check, (insert_sql, insert_params) = statements
    if check and cursor.execute(*check[0]).fetchone()[0]:
        return None
    return cursor.execute(insert_sql, insert_params).fetchone()


# The worker's statements, built once: building one costs more than running it.
_DELIVERIES = DeliveryRow.__table__
_GET_DELIVERY = select(_DELIVERIES).where(_DELIVERIES.c.id == bindparam("row_id"))
MARK_DELIVERY = (
    update(_DELIVERIES)
    .where(_DELIVERIES.c.id == bindparam("row_id"))
    .values(
        status=bindparam("status"), error=bindparam("error"), updated_at=bindparam("updated_at")
    )
)
MARK_ATTEMPT = MARK_DELIVERY.values(attempts=_DELIVERIES.c.attempts + 1)
# The rows of some items from a row id on that could supersede a delivery (waiting, with a
# revision) or stop that (a deletion or restore): see `webhooks.store.supersession`.
_MARKED_LATER = select(
    _DELIVERIES.c.id,
    _DELIVERIES.c.item_key,
    _DELIVERIES.c.event_kind,
    _DELIVERIES.c.item_revision,
    _DELIVERIES.c.status,
).where(
    _DELIVERIES.c.item_key.in_(bindparam("keys", expanding=True)),
    _DELIVERIES.c.id >= bindparam("since"),
    or_(
        and_(
            _DELIVERIES.c.status.in_(UNFINISHED_STATUSES),
            _DELIVERIES.c.item_revision.is_not(None),
        ),
        _DELIVERIES.c.event_kind.in_(BOUNDARY_KINDS),
    ),
)


def _delivery(row: Any) -> DeliveryRecord:
    return DeliveryRecord(
        id=row.id,
        tracker=row.tracker,
        delivery_id=row.delivery_id,
        native_event=row.native_event,
        payload=bytes(row.payload),
        headers=dict(row.headers or {}),
        status=row.status,
        error=row.error,
        attempts=row.attempts,
        received_at=row.received_at,
        updated_at=row.updated_at,
        item_key=row.item_key,
        event_kind=row.event_kind,
        item_revision=row.item_revision,
    )


class DeliveryStore(StoreBase):
    @functools.cached_property
    def _sqlite_inserts(self) -> dict[tuple[str, ...], CompiledSqlite]:
        """Compiled delivery INSERTs by the columns given."""
        return {}

    _intake: _Intake | None = None

    def record_delivery(
        self,
        tracker: str,
        delivery_id: str | None,
        native_event: str,
        payload: bytes,
        headers_subset: Mapping[str, Any] | None = None,
        *,
        status: str = "queued",
        replay_window: float = 0,
        marks: DeliveryMarks | None = None,
    ) -> int | None:
        """Insert a delivery and return its row id; None when this tracker already sent
        `delivery_id` (a redelivery). A None delivery_id is never a duplicate. Intake
        inserts "received" (the outbox); a caller that queues the task itself, "queued".
        With a `replay_window` (seconds), the same body from the same tracker received
        within it is a duplicate too, whatever its delivery id (a replayed signed body):
        checked and inserted in one write transaction, so two copies cannot both pass.
        `marks`: what intake read of the event, for `superseded_deliveries`.

        One INSERT .. ON CONFLICT DO NOTHING RETURNING id: intake calls this per request.
        On SQLite it runs on the process's intake connection with SQLAlchemy's compiled
        SQL and type processors (the Core execution and the pool checkout around a
        ~100 us commit cost twice that again), and inserts of several threads at once
        share a transaction (`webhooks.store.group_commit`)."""
        now = self.now()
        values: dict[str, Any] = {
            "tracker": tracker,
            "delivery_id": delivery_id,
            "native_event": native_event,
            "payload": bytes(payload),
            "status": status,
            "attempts": 0,
            "received_at": now,
            "updated_at": now,
        }
        if headers_subset is not None:
            values["headers"] = dict(headers_subset)
        if marks is not None:
            values["item_key"] = marks.item_key
            values["event_kind"] = marks.event_kind
            values["item_revision"] = marks.item_revision
        check = None
        if replay_window > 0:
            values["body_hash"] = hashlib.sha256(values["payload"]).hexdigest()
            since = now - dt.timedelta(seconds=replay_window)
            check = {"tracker": tracker, "body_hash": values["body_hash"], "since": since}
        if self.dialect == "sqlite":
            row_id = self._insert_delivery_sqlite(values, check)
        else:
            with self._write_engine.begin() as conn:
                seen = False
                if check is not None:
                    # Same-body inserts take turns; other deliveries do not wait.
                    lock_key = int(values["body_hash"][:15], 16)
                    conn.execute(select(func.pg_advisory_xact_lock(lock_key)))
                    seen = bool(conn.execute(self._replay_check(), check).scalar())
                row_id = None if seen else conn.execute(self._delivery_insert(), values).scalar()
        if row_id is None:
            log.info(
                "store.delivery.duplicate",
                extra={"tracker": tracker, "delivery_id": delivery_id},
            )
            return None
        return int(row_id)

    def _delivery_insert(self) -> Any:
        return (
            self._insert(DeliveryRow)
            .on_conflict_do_nothing(index_elements=["tracker", "delivery_id"])
            .returning(DeliveryRow.id)
        )

    @staticmethod
    def _replay_check() -> Any:
        """Was this body received from this tracker since `since`?"""
        return select(
            exists().where(
                DeliveryRow.tracker == bindparam("tracker"),
                DeliveryRow.body_hash == bindparam("body_hash"),
                DeliveryRow.received_at >= bindparam("since", type_=UtcDateTime()),
            )
        )

    @functools.cached_property
    def _sqlite_replay_check(self) -> CompiledSqlite:
        return CompiledSqlite.of(self._replay_check(), self._engine)

    def _insert_delivery_sqlite(
        self, values: dict[str, Any], check: dict[str, Any] | None = None
    ) -> int | None:
        keys = tuple(values)
        insert = self._sqlite_inserts.get(keys)
        if insert is None:
            insert = self._sqlite_inserts[keys] = CompiledSqlite.of(
                self._delivery_insert(), self._engine, column_keys=list(keys)
            )
        statements = [(insert.sql, insert.parameters(values))]
        if check is not None:
            replay = self._sqlite_replay_check
            statements.insert(0, (replay.sql, replay.parameters(check)))
        return self._intake_batches.submit(statements)

    @functools.cached_property
    def _intake_batches(self) -> GroupCommit:
        return GroupCommit(self._write_deliveries)

    def _write_deliveries(self, batch: list[Pending]) -> None:
        """Insert a batch in one transaction; each gets its row id, or None for a
        redelivery. Should the transaction fail, each is tried alone, so one bad row
        fails only its own request."""
        try:
            with self._writing():
                connection = self._intake_connection()
                cursor = connection.cursor()
                cursor.execute("BEGIN IMMEDIATE")
                try:
                    rows = [_run_intake(cursor, each.args) for each in batch]
                    connection.commit()
                except BaseException:
                    connection.rollback()
                    raise
        except Exception as exc:
            if len(batch) == 1:
                batch[0].error = exc
                return
            for each in batch:
                self._write_deliveries([each])
            return
        for each, row in zip(batch, rows, strict=True):
            each.result = None if row is None else row[0]
        self._intake.checkpointer.note_write()  # type: ignore[union-attr]

    def _intake_connection(self) -> Any:
        """The process's one driver connection for intake, made by the engine (so with its
        pragmas) and detached from the pool: no checkout and reset per request, and its
        page cache stays valid between this process's own writes (each connection's is
        dropped when another writes, and pooled connections took turns). Used only in
        the write turn, whose thread lock keeps threads off it at the same time."""
        if self._intake is None or self._intake.pid != os.getpid():
            fairy = self._write_engine.raw_connection()
            connection = fairy.driver_connection
            fairy.detach()
            connection.execute(f"PRAGMA wal_autocheckpoint = {INTAKE_AUTOCHECKPOINT_PAGES}")
            self._intake = _Intake(os.getpid(), connection, Checkpointer(self.checkpoint))
        return self._intake.connection

    def close(self) -> None:
        if self._intake is not None and self._intake.pid == os.getpid():
            self._intake.checkpointer.stop()
            self._intake.connection.close()
        self._intake = None
        super().close()

    def probe_write(self) -> bool:
        """True when a delivery could be written now: a delivery-sized row is inserted and
        rolled back. A full disk or database file, a read-only file or a read-only replica
        fail it as they would fail intake. Never raises."""
        now = self.now()
        probe = insert(DeliveryRow).values(
            tracker="~readiness",
            delivery_id=f"probe-{os.getpid()}-{threading.get_ident()}",
            native_event="readiness probe",
            payload=bytes(WRITE_PROBE_BYTES),
            status="received",
            attempts=0,
            received_at=now,
            updated_at=now,
        )
        try:
            with self._writing(), self._write_engine.connect() as conn:
                conn.execute(probe)
                conn.rollback()
        except (SQLAlchemyError, OSError) as exc:
            log.warning("store.write_probe.failed", extra={"error": type(exc).__name__})
            return False
        return True

    def checkpoint(self) -> None:
        """Copy the SQLite WAL back into the database without blocking writers (PASSIVE);
        nothing on PostgreSQL."""
        if self.dialect != "sqlite":
            return
        with self._engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")

    def claim_received(self, limit: int) -> list[int]:
        """Mark up to `limit` "received" deliveries "queued" and return their ids, oldest
        first: the relay's step, after which it queues their tasks. Each row goes to one
        caller (PostgreSQL: SKIP LOCKED; SQLite: one writer at a time). A cheap read
        first keeps an idle relay from taking the write lock."""
        received = DeliveryRow.status == "received"
        with self._reading() as conn:
            if conn.execute(select(DeliveryRow.id).where(received).limit(1)).first() is None:
                return []
        pick = select(DeliveryRow.id).where(received).order_by(DeliveryRow.id).limit(limit)
        if self.dialect == "postgresql":
            pick = pick.with_for_update(skip_locked=True)
        # A CTE, not `id IN (subquery)`: PostgreSQL may run such a subquery more than
        # once, and with SKIP LOCKED each run can pick other rows, past the limit.
        picked = pick.cte("picked")
        claim = (
            update(DeliveryRow)
            .where(DeliveryRow.id == picked.c.id, received)
            .values(status="queued", updated_at=self.now())
            .returning(DeliveryRow.id)
        )
        with self._writing(), self._write_engine.begin() as conn:
            return sorted(int(row_id) for row_id in conn.execute(claim).scalars())

    def received_count(self) -> int:
        """Deliveries waiting for the relay (part of the queue depth operators see)."""
        query = (
            select(func.count()).select_from(DeliveryRow).where(DeliveryRow.status == "received")
        )
        with self._reading() as conn:
            return int(conn.execute(query).scalar_one())

    def waiting_count(self) -> int:
        """Deliveries not yet taken up: received (for the relay) or queued (for a worker,
        retries waiting for their time included)."""
        query = (
            select(func.count())
            .select_from(DeliveryRow)
            .where(DeliveryRow.status.in_(("received", "queued")))
        )
        with self._reading() as conn:
            return int(conn.execute(query).scalar_one())

    def get_delivery(self, id: int) -> DeliveryRecord | None:
        with self._reading() as conn:
            row = conn.execute(_GET_DELIVERY, {"row_id": id}).first()
            return _delivery(row) if row else None

    def mark_delivery(self, id: int, status: str, error: str | None = None) -> bool:
        """Set a delivery's status (and error, cleared when None). "processing" also counts
        an attempt. False when there is no such delivery."""
        if status not in DELIVERY_STATUSES:
            raise ValueError(f"unknown delivery status {status!r}: one of {DELIVERY_STATUSES}")
        stmt = MARK_ATTEMPT if status == "processing" else MARK_DELIVERY
        values = {"row_id": id, "status": status, "error": error, "updated_at": self.now()}
        with self._hot(write=True) as run:
            return run.changed(stmt, values) > 0

    def get_deliveries(self, ids: list[int]) -> list[DeliveryRecord]:
        """The deliveries with these ids that exist, in the order of `ids`, in one read."""
        if not ids:
            return []
        query = select(_DELIVERIES).where(_DELIVERIES.c.id.in_(bindparam("ids", expanding=True)))
        with self._reading() as conn:
            rows = {row.id: _delivery(row) for row in conn.execute(query, {"ids": list(ids)})}
        return [rows[i] for i in ids if i in rows]

    def superseded_deliveries(self, records: list[DeliveryRecord]) -> list[int]:
        """Ids of `records` that a later delivery of the same item, still waiting, makes
        moot (`webhooks.store.supersession`), in one read; the rest must be processed."""
        candidates = [r for r in records if r.item_revision is not None and r.item_key]
        if not candidates:
            return []
        params = {
            "keys": sorted({str(r.item_key) for r in candidates}),
            "since": min(r.id for r in candidates),
        }
        with self._reading() as conn:
            rows = [
                MarkedRow(
                    r.id, r.item_key, r.event_kind, r.item_revision, r.status in UNFINISHED_STATUSES
                )
                for r in conn.execute(_MARKED_LATER, params)
            ]
        return sorted(superseded_ids((r.id for r in candidates), rows))

    def finish_deliveries(self, ids: list[int], error: str | None = None) -> None:
        """Mark deliveries done that were never marked "processing", an attempt each, in
        one commit (deliveries a later waiting one made moot)."""
        if not ids:
            return
        now = self.now()
        values = [{"row_id": i, "status": "done", "error": error, "updated_at": now} for i in ids]
        with self._writing(), self._write_engine.begin() as conn:
            conn.execute(MARK_ATTEMPT, values)

    def finish_delivery(self, id: int, status: str = "done", error: str | None = None) -> bool:
        """Mark a delivery finished (done or ignored) that was never marked "processing":
        the attempt is counted in the same commit. False when there is no such delivery."""
        if status not in DELIVERY_STATUSES:
            raise ValueError(f"unknown delivery status {status!r}: one of {DELIVERY_STATUSES}")
        values = {"row_id": id, "status": status, "error": error, "updated_at": self.now()}
        with self._hot(write=True) as run:
            return run.changed(MARK_ATTEMPT, values) > 0

    def pending_deliveries(self, older_than: Any) -> list[int]:
        """Ids of deliveries still queued or processing, last touched before `older_than`:
        their queue message may have been lost in a crash, so they can be enqueued again.
        "received" rows are the relay's, not recovery's."""
        query = (
            select(DeliveryRow.id)
            .where(
                DeliveryRow.status.in_(RECOVERABLE_STATUSES), DeliveryRow.updated_at < older_than
            )
            .order_by(DeliveryRow.id)
        )
        with self._session() as session:
            return list(session.scalars(query))

    def delivery_counts(self) -> dict[str, int]:
        """Deliveries per status; every status is present, zero included."""
        counts = dict.fromkeys(DELIVERY_STATUSES, 0)
        query = select(DeliveryRow.status, func.count()).group_by(DeliveryRow.status)
        with self._session() as session:
            for status, n in session.execute(query):
                counts[str(status)] = int(n)
        return counts
