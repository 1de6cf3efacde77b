"""Initial schema: deliveries, items, findings, ledgers, dead letters.

Revision ID: 0001
Revises:
Create Date: 2024-06-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types as they were at this revision.
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "deliveries",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("tracker", sa.String(64), nullable=False),
        sa.Column("delivery_id", sa.String(255), nullable=True),
        sa.Column("native_event", sa.String(128), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("headers", JSON, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("received_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_deliveries"),
        sa.UniqueConstraint("tracker", "delivery_id", name="uq_deliveries_tracker_delivery_id"),
    )
    op.create_index("ix_deliveries_status_updated_at", "deliveries", ["status", "updated_at"])

    op.create_table(
        "items",
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("tracker", sa.String(64), nullable=False),
        sa.Column("project", sa.String(255), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("status_category", sa.String(32), nullable=False),
        sa.Column("parent_key", sa.String(255), nullable=True),
        sa.Column("assignee_id", sa.String(255), nullable=True),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UTC, nullable=True),
        sa.Column("stored_at", UTC, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=True),
        sa.Column("data", JSON, nullable=True),
        sa.PrimaryKeyConstraint("key", name="pk_items"),
    )
    op.create_index("ix_items_status_category", "items", ["status_category"])
    op.create_index("ix_items_parent_key", "items", ["parent_key"])
    op.create_index("ix_items_assignee_id", "items", ["assignee_id"])

    op.create_table(
        "findings",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("item_key", sa.String(255), nullable=False),
        sa.Column("rule", sa.String(128), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("enforcement", sa.String(16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("first_seen", UTC, nullable=False),
        sa.Column("last_seen", UTC, nullable=False),
        sa.Column("resolved_at", UTC, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_findings"),
    )
    op.create_index(
        "uq_findings_open",
        "findings",
        ["item_key", "rule"],
        unique=True,
        sqlite_where=sa.text("resolved_at IS NULL"),
        postgresql_where=sa.text("resolved_at IS NULL"),
    )
    op.create_index("ix_findings_first_seen", "findings", ["first_seen"])
    op.create_index("ix_findings_resolved_at", "findings", ["resolved_at"])

    op.create_table(
        "ledgers",
        sa.Column("item_key", sa.String(255), nullable=False),
        sa.Column("comment_id", sa.String(255), nullable=True),
        sa.Column("comment_hash", sa.String(64), nullable=True),
        sa.Column("labels", JSON, nullable=False),
        sa.Column("fields", JSON, nullable=False),
        sa.Column("rollup_hash", sa.String(64), nullable=True),
        sa.Column("updated_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("item_key", name="pk_ledgers"),
    )

    op.create_table(
        "dead_letters",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("delivery_id", sa.String(255), nullable=True),
        sa.Column("tracker", sa.String(64), nullable=False),
        sa.Column("native_event", sa.String(128), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("replayed_at", UTC, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_dead_letters"),
    )


def downgrade() -> None:
    op.drop_table("dead_letters")
    op.drop_table("ledgers")
    op.drop_table("findings")
    op.drop_table("items")
    op.drop_table("deliveries")
