"""Tables of the durable store, as typed SQLAlchemy 2 declarative models.

Only `webhooks/store/` and the Alembic migrations import these; everything else sees
the frozen records in `webhooks/store/records.py`. A change here needs a new migration in
`webhooks/store/migrations/versions/` (the test suite compares the two).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a bigint identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")
Json = JSON().with_variant(JSONB(), "postgresql")

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC in, timezone-aware UTC out, on every backend.

    SQLite keeps no offset, so values are stored as naive UTC and tagged on the way out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the store keeps UTC-aware times only")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class DeliveryRow(Base):
    """One webhook delivery as received; `(tracker, delivery_id)` makes redeliveries no-ops."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("tracker", "delivery_id"),
        Index(None, "status", "updated_at"),
        Index(None, "tracker", "body_hash", "received_at"),
        Index(None, "item_key", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tracker: Mapped[str] = mapped_column(String(64))
    delivery_id: Mapped[str | None] = mapped_column(String(255))
    native_event: Mapped[str] = mapped_column(String(128))
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    # sha256 of the body as intake received it: a replay under a new delivery id
    body_hash: Mapped[str | None] = mapped_column(String(64))
    # what intake read of the event (`webhooks.store.supersession.DeliveryMarks`)
    item_key: Mapped[str | None] = mapped_column(String(255))
    event_kind: Mapped[str | None] = mapped_column(String(16))
    item_revision: Mapped[int | None] = mapped_column(BigInteger)
    headers: Mapped[dict[str, Any] | None] = mapped_column(Json)
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    received_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class ItemRow(Base):
    """The mirrored WorkItem: full JSON plus the columns sweeps and rollups filter on."""

    __tablename__ = "items"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    tracker: Mapped[str] = mapped_column(String(64))
    project: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(32))
    status_category: Mapped[str] = mapped_column(String(32), index=True)
    parent_key: Mapped[str | None] = mapped_column(String(255), index=True)
    assignee_id: Mapped[str | None] = mapped_column(String(255), index=True)
    # the assignee as portfolio rules group people across trackers (rules.portfolio)
    assignee_name: Mapped[str | None] = mapped_column(String(255), index=True)
    revision: Mapped[int] = mapped_column(BigInteger)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)  # the tracker's
    stored_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)  # when this row was written
    content_hash: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[dict[str, Any] | None] = mapped_column(Json)  # None: a deletion tombstone
    # what a parent's rollup reads of this item (rules.rollup.facts), so a rollup reads
    # these small documents for every sibling instead of the whole `data`
    rollup_facts: Mapped[dict[str, Any] | None] = mapped_column(Json)


class FindingRow(Base):
    """One open (or since resolved) finding of one rule on one item."""

    __tablename__ = "findings"
    __table_args__ = (
        # At most one open finding per (item, rule); resolved ones stay as history.
        Index(
            "uq_findings_open",
            "item_key",
            "rule",
            unique=True,
            sqlite_where=text("resolved_at IS NULL"),
            postgresql_where=text("resolved_at IS NULL"),
        ),
        Index(None, "first_seen"),
        Index(None, "resolved_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    item_key: Mapped[str] = mapped_column(String(255))
    rule: Mapped[str] = mapped_column(String(128))
    severity: Mapped[str] = mapped_column(String(16))
    enforcement: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    first_seen: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    last_seen: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class LedgerRow(Base):
    """What the service last wrote to an item, so it writes nothing when nothing changes."""

    __tablename__ = "ledgers"

    item_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    comment_id: Mapped[str | None] = mapped_column(String(255))
    comment_hash: Mapped[str | None] = mapped_column(String(64))
    labels: Mapped[list[str]] = mapped_column(Json)
    fields: Mapped[dict[str, Any]] = mapped_column(Json)
    rollup_hash: Mapped[str | None] = mapped_column(String(64))
    # the item revision the last write was planned from: until the item shows a newer
    # one, the labels above are what the tracker has, whatever an older payload says
    item_revision: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    findings_hash: Mapped[str | None] = mapped_column(String(64))
    comment_text_hash: Mapped[str | None] = mapped_column(String(64))


class RollupRow(Base):
    """The latest rollup of a portfolio parent, so a child's change recomputes only its
    ancestors from their direct children."""

    __tablename__ = "rollups"

    item_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(Json)
    computed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class DeadLetterRow(Base):
    """An event that failed after all retries, kept whole so it can be replayed."""

    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str | None] = mapped_column(String(255))  # the tracker's id
    tracker: Mapped[str] = mapped_column(String(64))
    native_event: Mapped[str] = mapped_column(String(128))
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    error: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    replayed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class RagHistoryRow(Base):
    """A portfolio parent's RAG on one UTC day (the day's last recording wins)."""

    __tablename__ = "rag_history"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    item_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    rag: Mapped[str] = mapped_column(String(8))
    reasons: Mapped[str] = mapped_column(Text)


class FindingsHistoryRow(Base):
    """Open findings on one UTC day per project, rule and severity."""

    __tablename__ = "findings_history"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    tracker: Mapped[str] = mapped_column(String(64), primary_key=True)
    project: Mapped[str] = mapped_column(String(255), primary_key=True)
    rule: Mapped[str] = mapped_column(String(255), primary_key=True)
    severity: Mapped[str] = mapped_column(String(16), primary_key=True)
    open_findings: Mapped[int] = mapped_column(Integer)


class EscalationRow(Base):
    """One escalation step fired in one failing episode (`finding_id`: the finding row,
    which a passing rule closes): unique, so a step never fires twice in an episode."""

    __tablename__ = "escalations"
    __table_args__ = (UniqueConstraint("finding_id", "step"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    finding_id: Mapped[int] = mapped_column(BigInteger)
    item_key: Mapped[str] = mapped_column(String(255), index=True)
    rule: Mapped[str] = mapped_column(String(128))
    step: Mapped[int] = mapped_column(Integer)
    person: Mapped[str] = mapped_column(String(255))
    role: Mapped[str | None] = mapped_column(String(64))
    account: Mapped[str | None] = mapped_column(String(255))  # on the item's tracker
    via: Mapped[list[str]] = mapped_column(Json)
    fired_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)


class NotificationRow(Base):
    """A message to send on a channel: the outbox from which the escalation tick queues a
    send task per message (or per digest batch). `dedupe_key` is unique, so one step never
    queues two messages for one recipient."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    dedupe_key: Mapped[str] = mapped_column(String(255), unique=True)
    channel: Mapped[str] = mapped_column(String(64))
    recipient: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(2048))
    # pending (waiting for its time) | queued (a task carries it) | sending | sent | dead
    status: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    batch: Mapped[int | None] = mapped_column(BigInteger)  # the first id of its send task
    # queued: when its task is due; sending: when the attempt began
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class TrackerIdentityRow(Base):
    """A person's identity on a tracker as its identity search found it (None: nobody),
    kept for the mentions of later escalations until retention forgets it."""

    __tablename__ = "tracker_identities"

    tracker: Mapped[str] = mapped_column(String(64), primary_key=True)
    query: Mapped[str] = mapped_column(String(255), primary_key=True)  # e-mail or name
    identity: Mapped[str | None] = mapped_column(String(255))
    display_name: Mapped[str | None] = mapped_column(String(255))
    looked_up_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)


class ReportRow(Base):
    """A PMO report sent: when, where, and each parent's RAG then, so the next report
    can say what changed colour since."""

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    schedule: Mapped[str] = mapped_column(String(128), index=True)  # "mon 08:00 -> pmo-mail"
    sent_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    destination: Mapped[str] = mapped_column(String(1024))
    rag: Mapped[dict[str, Any]] = mapped_column(Json)


class AllocationRow(Base):
    """One item's remaining work in one person's week (`rules.allocation.Share`): the
    rows of an item are replaced on each of its events, so a person's load is the sum
    of their rows, kept up to date one item at a time."""

    __tablename__ = "allocation_shares"
    __table_args__ = (Index(None, "person", "week"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    item_key: Mapped[str] = mapped_column(String(255), index=True)
    person: Mapped[str] = mapped_column(String(255))
    week: Mapped[dt.date] = mapped_column(Date, index=True)  # the Monday
    unit: Mapped[str] = mapped_column(String(16))
    amount: Mapped[float] = mapped_column(Float)
