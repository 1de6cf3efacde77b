"""Stored rollups, open-finding lookups and the ledger's item revision, on SQLite and
PostgreSQL."""

from __future__ import annotations

import datetime as dt

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import null, select, update

from connector.model import ItemType, StatusCategory
from rules.rollup import ChildFacts, ChildView, compute_rollup, rollup_spec_from_dict
from tests.support.items import item
from webhooks.store.engine import MIGRATIONS_DIR
from webhooks.store.models import ItemRow
from webhooks.store.records import Ledger

NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
SPEC = rollup_spec_from_dict({"id": "r", "parents": {"type": ["epic"]}})
FINDING = {
    "rule": "r1",
    "severity": "high",
    "enforcement": "advise",
    "message": "m",
    "status": "fail",
}


def make_rollup(done: bool):
    epic = item("jira:PAY-1", type=ItemType.EPIC, status_category=StatusCategory.IN_PROGRESS)
    story = item(
        "jira:PAY-2",
        parent="jira:PAY-1",
        estimate=5.0,
        status="Done" if done else "In Progress",
        status_category=StatusCategory.DONE if done else StatusCategory.IN_PROGRESS,
    )
    return compute_rollup(SPEC, epic, [ChildView(story)], NOW)


def test_rollup_roundtrip_and_overwrite(store):
    assert store.get_rollup("jira:PAY-1") is None
    first = make_rollup(done=False)
    store.save_rollup("jira:PAY-1", first)
    loaded = store.get_rollup("jira:PAY-1")
    assert loaded.content_hash() == first.content_hash()
    assert loaded.points_total == 5.0 and loaded.points_done == 0.0

    second = make_rollup(done=True)
    store.save_rollup("jira:PAY-1", second)
    assert store.get_rollup("jira:PAY-1").points_done == 5.0
    assert set(store.get_rollups(["jira:PAY-1", "jira:NOPE"])) == {"jira:PAY-1"}


def test_keys_with_open_findings(store):
    finding = {
        "rule": "r1",
        "severity": "high",
        "enforcement": "advise",
        "message": "m",
        "status": "fail",
    }
    store.save_findings("jira:A", [finding], NOW)
    store.save_findings("jira:B", [finding], NOW)
    store.save_findings("jira:B", [], NOW)  # resolved
    keys = [f"jira:K{i}" for i in range(1200)] + ["jira:A", "jira:B"]
    assert store.keys_with_open_findings(keys) == {"jira:A"}


def test_ledger_keeps_the_item_revision(store):
    store.save_ledger("jira:A", Ledger(labels=frozenset({"pmo-x"}), item_revision=42))
    assert store.get_ledger("jira:A").item_revision == 42
    assert store.get_ledger("jira:none").item_revision is None


# -- what a recompute reads -----------------------------------------------------------


def alembic(store, action, revision: str) -> None:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with store._write_engine.connect() as conn:
        config.attributes["connection"] = conn
        action(config, revision)
        conn.commit()


def portfolio(store) -> list:
    """jira:I-1 <- jira:E-1 <- stories S-1..S-3 (S-3 deleted), and a sibling epic E-2."""
    items = [
        item("jira:I-1", type=ItemType.INITIATIVE, due_date=dt.date(2026, 12, 31)),
        item("jira:E-1", type=ItemType.EPIC, parent="jira:I-1"),
        item("jira:E-2", type=ItemType.EPIC, parent="jira:I-1", labels=("Blocked",)),
        item("jira:S-1", parent="jira:E-1", estimate=5.0, status="Done",
             status_category=StatusCategory.DONE, status_changed=NOW - dt.timedelta(days=2)),
        item("jira:S-2", parent="jira:E-1", estimate=None, start_date=dt.date(2026, 11, 1)),
        item("jira:S-3", parent="jira:E-1"),
    ]  # fmt: skip
    for work in items:
        store.upsert_item(work)
    store.mark_deleted("jira:S-3")
    return items


def test_chain_inputs_read_facts_of_live_children_nearest_first(store):
    items = portfolio(store)
    by_key = {work.key: work for work in items}
    store.save_findings("jira:S-2", [FINDING], NOW)
    store.save_rollup("jira:E-1", make_rollup(done=True))
    chain = store.chain_inputs("jira:S-1", lambda ancestor: True)
    assert [ancestor.key for ancestor, _ in chain] == ["jira:E-1", "jira:I-1"]
    (epic, (children, stored, noncompliant, own)), (_, top_inputs) = chain
    assert epic == by_key["jira:E-1"]
    assert children == [ChildFacts.of(by_key["jira:S-1"]), ChildFacts.of(by_key["jira:S-2"])]
    assert (stored, noncompliant) == ({}, {"jira:S-2"})
    assert own is not None and own.points_done == 5.0
    top_children, top_stored, _, top_own = top_inputs
    assert [c.key for c in top_children] == ["jira:E-1", "jira:E-2"]
    assert top_children[1].labels == ("Blocked",)
    assert set(top_stored) == {"jira:E-1"} and top_own is None
    assert store.rollup_inputs("jira:E-1") == (children, stored, noncompliant, own)


def test_chain_inputs_skip_unwanted_and_stop_where_the_chain_ends(store):
    portfolio(store)
    only_initiatives = store.chain_inputs("jira:S-1", lambda a: a.type is ItemType.INITIATIVE)
    assert [a.key for a, _ in only_initiatives] == ["jira:I-1"]
    assert [a.key for a, _ in store.chain_inputs("jira:S-1", bool, max_depth=1)] == ["jira:E-1"]
    assert store.chain_inputs("jira:I-1", bool) == []
    assert store.chain_inputs("jira:NOPE-1", bool) == []
    store.mark_deleted("jira:E-1")  # a deleted parent ends the climb
    assert store.chain_inputs("jira:S-1", bool) == []
    store.upsert_item(item("jira:C-1", parent="jira:C-3"))  # a parent cycle
    store.upsert_item(item("jira:C-2", parent="jira:C-1"))
    store.upsert_item(item("jira:C-3", parent="jira:C-2"))
    assert [a.key for a, _ in store.chain_inputs("jira:C-3", bool)] == ["jira:C-2", "jira:C-1"]


def test_upsert_keeps_the_facts_current(store):
    store.upsert_item(item("jira:E-1", type=ItemType.EPIC))
    story = item("jira:S-1", parent="jira:E-1")
    store.upsert_item(story)
    moved = story.with_changes(
        revision=2, status="Done", status_category=StatusCategory.DONE, labels=()
    )
    store.upsert_item(moved)
    assert store.rollup_inputs("jira:E-1")[0] == [ChildFacts.of(moved)]


def test_a_row_without_facts_is_read_from_the_whole_item(store):
    items = portfolio(store)
    with store._write_engine.begin() as conn:
        conn.execute(update(ItemRow).where(ItemRow.key == "jira:S-2").values(rollup_facts=null()))
    children = store.rollup_inputs("jira:E-1")[0]
    assert children == [ChildFacts.of(items[3]), ChildFacts.of(items[4])]


def test_migration_backfills_the_facts(store):
    items = portfolio(store)
    alembic(store, command.downgrade, "0003")
    alembic(store, command.upgrade, "head")
    with store._engine.connect() as conn:
        stored = dict(conn.execute(select(ItemRow.key, ItemRow.rollup_facts)).all())
    assert stored.keys() == {work.key for work in items}
    for work in items:
        assert stored[work.key] == ChildFacts.of(work).to_dict(), work.key
