"""Deliveries: the item each is about, its event kind, and, for an edit showing the whole
item by someone other than the service, the item's revision. The worker finds with them
the deliveries a later waiting edit of the same item makes moot, across the whole
backlog. Rows written before keep NULL (processed as before).

Revision ID: 0010_delivery_marks
Revises: 0009_comment_text
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_delivery_marks"
down_revision: str | None = "0009_comment_text"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("item_key", sa.String(255), nullable=True))
        batch.add_column(sa.Column("event_kind", sa.String(16), nullable=True))
        batch.add_column(sa.Column("item_revision", sa.BigInteger(), nullable=True))
    op.create_index("ix_deliveries_item_key_id", "deliveries", ["item_key", "id"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_item_key_id", table_name="deliveries")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("item_revision")
        batch.drop_column("event_kind")
        batch.drop_column("item_key")
