"""Items: the assignee's display name folded, so portfolio rules group one person across
trackers (their account ids differ between Jira Cloud and Azure DevOps).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _folded(data: object) -> str | None:
    if isinstance(data, str):
        data = json.loads(data)
    assignee = (data or {}).get("assignee") if isinstance(data, dict) else None
    name = (assignee or {}).get("display_name") if isinstance(assignee, dict) else None
    return " ".join(name.split()).casefold() if name and name.strip() else None


def upgrade() -> None:
    with op.batch_alter_table("items") as batch:
        batch.add_column(sa.Column("assignee_name", sa.String(255), nullable=True))
        batch.create_index("ix_items_assignee_name", ["assignee_name"])
    items = sa.table(
        "items", sa.column("key", sa.String), sa.column("data", sa.JSON),
        sa.column("assignee_name", sa.String),
    )  # fmt: skip
    bind = op.get_bind()
    rows = bind.execute(sa.select(items.c.key, items.c.data).where(items.c.data.is_not(None)))
    for key, data in rows.fetchall():
        name = _folded(data)
        if name:
            bind.execute(items.update().where(items.c.key == key).values(assignee_name=name))


def downgrade() -> None:
    with op.batch_alter_table("items") as batch:
        batch.drop_index("ix_items_assignee_name")
        batch.drop_column("assignee_name")
