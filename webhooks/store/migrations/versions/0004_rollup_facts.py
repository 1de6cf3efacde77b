"""Items: the facts a parent's rollup reads of each child (rules.rollup.facts), so one
child's event reads its siblings' small facts, not their whole items.

The facts are the same-named fields of the stored item JSON; the backfill copies them in
one statement on either database.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
# rules.rollup_facts.FACT_FIELDS when this revision was written
FACT_FIELDS = (
    "status", "status_category", "labels", "estimate", "start_date", "due_date", "updated",
    "status_changed",
)  # fmt: skip


def _backfill_sql(dialect: str) -> str:
    if dialect == "postgresql":
        pairs = ", ".join(f"'{name}', data->'{name}'" for name in FACT_FIELDS)
        return f"UPDATE items SET rollup_facts = jsonb_build_object({pairs}) WHERE data IS NOT NULL"
    # SQLite: json_extract gives SQL values for scalars, JSON text for the labels array
    pairs = ", ".join(
        f"'{name}', json(json_extract(data, '$.{name}'))"
        if name == "labels"
        else f"'{name}', json_extract(data, '$.{name}')"
        for name in FACT_FIELDS
    )
    return f"UPDATE items SET rollup_facts = json_object({pairs}) WHERE data IS NOT NULL"


def upgrade() -> None:
    with op.batch_alter_table("items") as batch:
        batch.add_column(sa.Column("rollup_facts", JSON, nullable=True))
    bind = op.get_bind()
    bind.execute(sa.text(_backfill_sql(bind.dialect.name)))


def downgrade() -> None:
    with op.batch_alter_table("items") as batch:
        batch.drop_column("rollup_facts")
