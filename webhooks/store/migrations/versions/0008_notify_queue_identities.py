"""Notifications go through the queue: each row remembers the batch it is sent in (a
digest sends several as one) and when its task is due or its sending began, so lost
tasks are queued again and abandoned sends are found. Tracker identities looked up for
mentions (Azure DevOps identity ids) are cached with the time of the lookup.

Revision ID: 0008_notify_queue
Revises: 0007
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_notify_queue"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(sa.Column("batch", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("claimed_at", WHEN, nullable=True))
    op.create_table(
        "tracker_identities",
        sa.Column("tracker", sa.String(64), nullable=False),
        sa.Column("query", sa.String(255), nullable=False),
        sa.Column("identity", sa.String(255), nullable=True),
        sa.Column("display_name", sa.String(255), nullable=True),
        sa.Column("looked_up_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("tracker", "query", name="pk_tracker_identities"),
    )
    op.create_index("ix_tracker_identities_looked_up_at", "tracker_identities", ["looked_up_at"])


def downgrade() -> None:
    op.drop_table("tracker_identities")
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("claimed_at")
        batch.drop_column("batch")
