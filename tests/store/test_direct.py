"""The worker's hot statements run on the driver (webhooks/store/direct.py): the same
rows and the same writes as through SQLAlchemy, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest

from connector.model import ItemType, StatusCategory, WorkItem
from webhooks.store import GET_LEDGER, Ledger
from webhooks.store.deliveries import MARK_ATTEMPT
from webhooks.store.items import GET_ITEM_DATA

STORY = WorkItem(
    key="jira:PAY-7", tracker="jira", native_id="PAY-7", project="PAY", type=ItemType.STORY,
    title="Refund audit", status="In Progress", status_category=StatusCategory.IN_PROGRESS,
    labels=("pmo-unowned",), revision=5, updated=dt.datetime(2026, 12, 5, 9, tzinfo=dt.UTC),
)  # fmt: skip


def test_reads_give_what_sqlalchemy_gives(store):
    store.upsert_item(STORY)
    store.save_ledger(STORY.key, Ledger(comment_id="10500", labels=frozenset({"pmo-unowned"})))
    with store._reading() as conn:
        data = conn.execute(GET_ITEM_DATA, {"key": STORY.key}).scalar()
        ledger = conn.execute(GET_LEDGER, {"item_key": STORY.key}).first()
    with store._hot() as run:
        row = run.first(GET_ITEM_DATA, {"key": STORY.key})
        direct_ledger = run.first(GET_LEDGER, {"item_key": STORY.key})
        assert run.first(GET_ITEM_DATA, {"key": "jira:NONE-1"}) is None
    assert row.data == data and WorkItem.from_dict(row.data) == STORY
    assert tuple(direct_ledger) == tuple(ledger)  # every column, processed alike
    assert direct_ledger.labels == ["pmo-unowned"] and direct_ledger.comment_id == "10500"


def test_writes_take_the_statements_own_literals_and_roll_back_on_error(store):
    row = store.record_delivery("jira", "d-1", "jira:issue_updated", b"{}")
    now = dt.datetime(2026, 12, 5, 10, tzinfo=dt.UTC)
    values = {"row_id": row, "status": "done", "error": None, "updated_at": now}
    with store._hot(write=True) as run:
        assert run.rows(MARK_ATTEMPT, values) == []  # `attempts + 1`: its 1 is the statement's
    record = store.get_delivery(row)
    assert (record.status, record.attempts, record.updated_at) == ("done", 1, now)
    with pytest.raises(RuntimeError), store._hot(write=True) as run:
        run.rows(MARK_ATTEMPT, {**values, "status": "failed"})
        raise RuntimeError("after the write")
    assert store.get_delivery(row).status == "done"  # rolled back
    assert store.upsert_item(STORY) and not store.upsert_item(STORY)  # RETURNING, then none
