"""Ledgers: a hash of the plain text of the managed comment as the service last wrote
it, so a read of the comment by id tells whether a person changed it without the item
being fetched or governed again. Rows written before keep NULL (the full check).

Revision ID: 0009_comment_text
Revises: 0008_notify_queue
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_comment_text"
down_revision: str | None = "0008_notify_queue"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ledgers") as batch:
        batch.add_column(sa.Column("comment_text_hash", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ledgers") as batch:
        batch.drop_column("comment_text_hash")
