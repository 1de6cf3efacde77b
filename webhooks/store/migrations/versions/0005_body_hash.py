"""Deliveries: a hash of the body, so the same signed body replayed under new delivery
ids within the replay window is a duplicate.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("body_hash", sa.String(64), nullable=True))
    op.create_index(
        "ix_deliveries_tracker_body_hash_received_at", "deliveries", ["tracker", "body_hash", "received_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_deliveries_tracker_body_hash_received_at", table_name="deliveries")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("body_hash")
