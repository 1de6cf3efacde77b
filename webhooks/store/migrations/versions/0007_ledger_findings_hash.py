"""Ledgers: a hash of the findings the last finished write-back was planned from, so an
event that leaves them as they were is done without reading or writing more.

Revision ID: 0007
Revises: 0006_escalation
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006_dashboard_history"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ledgers") as batch:
        batch.add_column(sa.Column("findings_hash", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ledgers") as batch:
        batch.drop_column("findings_hash")
