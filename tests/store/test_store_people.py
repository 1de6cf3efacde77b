"""The store's people side: allocation shares replaced item by item, read by person,
forgotten by retention; the assignee group column following the people file."""

from __future__ import annotations

import datetime as dt

import pytest

from config.people import Directory, Member
from config.retention import Retention
from connector.model import ItemType, Person, StatusCategory, WorkItem
from rules.allocation import Share
from webhooks.store import Store

MONDAY = dt.date(2026, 12, 7)
NOW = dt.datetime(2026, 12, 9, 12, tzinfo=dt.UTC)


@pytest.fixture
def store(tmp_path):
    s = Store(f"sqlite:///{tmp_path / 'store.db'}")
    s.migrate()
    yield s
    s.close()


def share(item: str, person: str, weeks_ahead: int, amount: float = 1.0) -> Share:
    return Share(item, person, MONDAY + dt.timedelta(weeks=weeks_ahead), "points", amount)


def test_shares_are_replaced_per_item_and_read_per_person(store):
    assert store.replace_shares("jira:A-1", [share("jira:A-1", "ana", 0, 3), share("jira:A-1", "ana", 1)]) == {"ana"}  # fmt: skip
    store.replace_shares("jira:A-2", [share("jira:A-2", "bo", 0, 5)])
    # reassigned to Bo: both people's load moved
    assert store.replace_shares("jira:A-1", [share("jira:A-1", "bo", 0, 2)]) == {"ana", "bo"}
    assert store.shares_of(["ana"]) == []
    assert sorted(s.amount for s in store.shares_of(["bo"])) == [2.0, 5.0]
    assert store.replace_shares("jira:A-2", []) == {"bo"}  # done or deleted
    assert [s.item for s in store.all_shares(since=MONDAY)] == ["jira:A-1"]


def test_shares_as_stored_take_no_write(store, monkeypatch):
    shares = [share("jira:A-1", "ana", 0, 3), share("jira:A-1", "ana", 1)]
    store.replace_shares("jira:A-1", shares)
    monkeypatch.setattr(store, "_writing", lambda: pytest.fail("a write turn was taken"))
    assert store.replace_shares("jira:A-1", list(reversed(shares))) == set()  # nobody moved
    assert store.replace_shares("jira:A-2", []) == set()
    assert sorted(s.amount for s in store.shares_of(["ana"])) == [1.0, 3.0]


def test_retention_forgets_shares_of_past_weeks(store):
    store.add_shares([share("jira:A-1", "ana", -12), share("jira:A-1", "ana", -2), share("jira:A-1", "ana", 0)])  # fmt: skip
    counts = store.apply_retention(Retention(allocation_days=56), NOW)
    assert counts["allocation"] == 1
    assert len(store.all_shares()) == 2
    assert store.apply_retention(Retention(allocation_days=0), NOW)["allocation"] == 0


def item(key: str, person: Person) -> WorkItem:
    tracker, native = key.split(":", 1)
    return WorkItem(key=key, tracker=tracker, native_id=native, project="P",
                    type=ItemType.STORY, title=key, status="Active",
                    status_category=StatusCategory.IN_PROGRESS, assignee=person)  # fmt: skip


def test_items_regroup_under_a_person_mapped_later(store):
    store.upsert_item(item("jira:A-1", Person("Ana R.", "712020:ana")))
    store.upsert_item(item("azure-devops:7", Person("Ana Ruiz", "ana@fabrikam.com")))
    assert store.group_members("assignee", "@ana") == []
    store.people = Directory.of([Member("ana", "Ana Ruiz", accounts=("712020:ana", "ana@fabrikam.com"))])  # fmt: skip
    assert store.regroup_people() == 2
    assert [i.key for i in store.group_members("assignee", "@ana")] == [
        "azure-devops:7",
        "jira:A-1",
    ]
    assert store.regroup_people() == 0
