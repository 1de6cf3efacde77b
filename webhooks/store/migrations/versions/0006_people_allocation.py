"""Allocation: each item's remaining work per person and week (the people view and the
`across: person` load rules).

Revision ID: 0006_people_allocation
Revises: 0006_escalation
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_people_allocation"
down_revision: str | None = "0006_escalation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "allocation_shares",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True
        ),
        sa.Column("item_key", sa.String(255), nullable=False),
        sa.Column("person", sa.String(255), nullable=False),
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("unit", sa.String(16), nullable=False),
        sa.Column("amount", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_allocation_shares"),
    )
    op.create_index("ix_allocation_shares_item_key", "allocation_shares", ["item_key"])
    op.create_index("ix_allocation_shares_week", "allocation_shares", ["week"])
    op.create_index("ix_allocation_shares_person_week", "allocation_shares", ["person", "week"])


def downgrade() -> None:
    op.drop_table("allocation_shares")
