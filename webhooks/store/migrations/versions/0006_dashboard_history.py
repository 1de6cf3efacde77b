"""Dashboard history: a portfolio parent's RAG per day, and open findings per day by
project, rule and severity.

Revision ID: 0006_dashboard_history
Revises: 0006_escalation
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_dashboard_history"
down_revision: str | None = "0006_people_allocation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rag_history",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("item_key", sa.String(255), nullable=False),
        sa.Column("rag", sa.String(8), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("day", "item_key", name="pk_rag_history"),
    )
    op.create_table(
        "findings_history",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("tracker", sa.String(64), nullable=False),
        sa.Column("project", sa.String(255), nullable=False),
        sa.Column("rule", sa.String(255), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("open_findings", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "day", "tracker", "project", "rule", "severity", name="pk_findings_history"
        ),
    )


def downgrade() -> None:
    op.drop_table("findings_history")
    op.drop_table("rag_history")
