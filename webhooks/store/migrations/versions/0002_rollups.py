"""Rollups of portfolio parents; the item revision each ledger entry was planned from.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "rollups",
        sa.Column("item_key", sa.String(255), primary_key=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.Column("computed_at", UTC, nullable=False),
    )
    with op.batch_alter_table("ledgers") as batch:
        batch.add_column(sa.Column("item_revision", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ledgers") as batch:
        batch.drop_column("item_revision")
    op.drop_table("rollups")
