"""Escalation steps fired per failing episode, the notification outbox, reports sent.

Revision ID: 0006_escalation
Revises: 0005
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006_escalation"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "escalations",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("finding_id", sa.BigInteger(), nullable=False),
        sa.Column("item_key", sa.String(255), nullable=False),
        sa.Column("rule", sa.String(128), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("person", sa.String(255), nullable=False),
        sa.Column("role", sa.String(64), nullable=True),
        sa.Column("account", sa.String(255), nullable=True),
        sa.Column("via", JSON, nullable=False),
        sa.Column("fired_at", WHEN, nullable=False),
        sa.UniqueConstraint("finding_id", "step", name="uq_escalations_finding_id_step"),
    )
    op.create_index("ix_escalations_item_key", "escalations", ["item_key"])
    op.create_index("ix_escalations_fired_at", "escalations", ["fired_at"])
    op.create_table(
        "notifications",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("dedupe_key", sa.String(255), nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("recipient", sa.String(255), nullable=False),
        sa.Column("subject", sa.String(500), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("link", sa.String(2048), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", WHEN, nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("sent_at", WHEN, nullable=True),
        sa.UniqueConstraint("dedupe_key", name="uq_notifications_dedupe_key"),
    )
    op.create_index("ix_notifications_status", "notifications", ["status"])
    op.create_table(
        "reports",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("schedule", sa.String(128), nullable=False),
        sa.Column("sent_at", WHEN, nullable=False),
        sa.Column("destination", sa.String(1024), nullable=False),
        sa.Column("rag", JSON, nullable=False),
    )
    op.create_index("ix_reports_schedule", "reports", ["schedule"])


def downgrade() -> None:
    op.drop_table("reports")
    op.drop_table("notifications")
    op.drop_table("escalations")
