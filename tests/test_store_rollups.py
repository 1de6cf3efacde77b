"""Stored rollups, open-finding lookups and the ledger's item revision, on SQLite and
PostgreSQL."""

from __future__ import annotations

import datetime as dt

from connector.model import ItemType, StatusCategory
from rules.rollup import ChildView, compute_rollup, rollup_spec_from_dict
from tests.test_store import item, store, store_url  # noqa: F401  (fixtures)
from webhooks.store_records import Ledger

NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
SPEC = rollup_spec_from_dict({"id": "r", "parents": {"type": ["epic"]}})


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


def test_rollup_roundtrip_and_overwrite(store):  # noqa: F811
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


def test_keys_with_open_findings(store):  # noqa: F811
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


def test_ledger_keeps_the_item_revision(store):  # noqa: F811
    store.save_ledger("jira:A", Ledger(labels=frozenset({"pmo-x"}), item_revision=42))
    assert store.get_ledger("jira:A").item_revision == 42
    assert store.get_ledger("jira:none").item_revision is None
