"""The dashboard's history: RAG per parent and open findings per project, rule and
severity recorded per day, read back as "what changed since", and forgotten after the
configured retention; on a real store (SQLite and PostgreSQL) and through the service."""

from __future__ import annotations

import datetime as dt
import html

import pytest

from config.retention import Retention
from config.settings import ConfigError, load_settings
from tests.support.helpers import PACKS
from tests.support.portfolio_service import Service, portfolio
from tests.support.service import make_settings
from webhooks.dashboard.history import record_history
from webhooks.http.app import create_app
from webhooks.store import Store

DAY = dt.date(2026, 11, 20)


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path):
    url = (
        request.getfixturevalue("postgres_url")
        if request.param == "postgres"
        else f"sqlite:///{tmp_path / 'store.db'}"
    )
    store = Store(url)
    store.migrate()
    yield store
    store.close()


def test_a_day_recorded_again_replaces_that_day(store):
    store.record_history(DAY, {"jira:E-1": ("green", "")}, {("jira", "PAY", "r", "low"): 2})
    store.record_history(DAY, {"jira:E-1": ("red", "2 blocked children")}, {})
    store.record_history(DAY + dt.timedelta(days=1), {"jira:E-1": ("amber", "x")}, {})
    days = store.rag_history("jira:E-1")
    assert [(d.day, d.rag, d.reasons) for d in days] == [
        (DAY + dt.timedelta(days=1), "amber", "x"),
        (DAY, "red", "2 blocked children"),
    ]
    assert store.findings_history(DAY) == []


def test_rag_changes_since_a_day(store):
    assert store.rag_changes(DAY, {"jira:E-1": "red"}) == []  # no data is not "all changed"
    store.record_history(DAY - dt.timedelta(days=3), {"jira:E-1": ("green", ""),
                                                      "jira:E-2": ("red", "")}, {})  # fmt: skip
    store.record_history(DAY, {"jira:E-1": ("amber", ""), "jira:E-2": ("red", "")}, {})
    changes = store.rag_changes(DAY - dt.timedelta(days=1), {"jira:E-1": "red",
                                "jira:E-2": "red", "jira:E-3": "amber"})  # fmt: skip
    assert [(c.item_key, c.before, c.now) for c in changes] == [
        ("jira:E-1", "green", "red"),
        ("jira:E-3", None, "amber"),
    ]


def test_history_is_forgotten_after_history_days(store):
    now = dt.datetime.combine(DAY, dt.time(12), dt.UTC)
    store.record_history(DAY - dt.timedelta(days=11), {"jira:E-1": ("green", "")},
                         {("jira", "PAY", "r", "low"): 1})  # fmt: skip
    store.record_history(DAY - dt.timedelta(days=9), {"jira:E-1": ("red", "")}, {})
    counts = store.apply_retention(Retention(history_days=10), now)
    assert counts["history"] == 2
    assert [d.rag for d in store.rag_history("jira:E-1")] == ["red"]
    assert store.apply_retention(Retention(history_days=0), now)["history"] == 0


def test_retention_history_days_is_configured_and_checked(tmp_path):
    config = tmp_path / "pmo-bridge.yaml"
    config.write_text("retention: {history_days: 90}\n")
    assert load_settings(config).retention == Retention(history_days=90)
    config.write_text("retention: {history_days: -1}\n")
    with pytest.raises(ConfigError, match="history_days"):
        load_settings(config)


def test_recorded_history_shows_what_changed_and_the_parents_rag_history(tmp_path, mocked):
    packs = (str(PACKS / "portfolio.yaml"), str(PACKS / "portfolio-across.yaml"))
    service = Service(tmp_path, packs, mocked)
    specs = portfolio()
    specs["PAY-15"] = type(specs["PAY-12"])(
        "jira", "PAY-15", "story", "Fix", "In Progress", 2, "PAY-10"
    )
    service.deliver(*specs.values(), created=True)
    service.drain()
    today = service.runtime.clock().date()
    # a week ago PAY-20 was green: record it as the service would have
    service.store.record_history(today - dt.timedelta(days=8), {"jira:PAY-20": ("green", "")}, {})
    assert record_history(service.store, service.runtime.clock())["parents"] == 5
    service.deliver(portfolio()["PAY-20"].bump(status="Done"))
    service.drain()

    data = service.client.get("/api/portfolio").get_json()
    assert {"key": "jira:PAY-20", "before": "green", "now": "amber"} in data["rag_changes"]
    (pay,) = [p for p in data["project_trend"] if p["project"] == "PAY"]
    assert pay["points"][-1]["date"] == today.isoformat()
    page = html.unescape(service.client.get("/portfolio").get_data(as_text=True))
    assert 'data-change="jira:PAY-20"' in page and "was Green, now Amber" in page
    item = html.unescape(service.client.get("/portfolio/item/jira:PAY-20").get_data(as_text=True))
    assert f'data-day="{today.isoformat()}" data-rag="green"' in item
    assert f'data-day="{(today - dt.timedelta(days=8)).isoformat()}" data-rag="green"' in item


def test_the_worker_records_the_history_periodically(tmp_path):
    runtime = create_app(settings=make_settings(tmp_path)).extensions["pmo_bridge"]
    (task,) = [
        t for t in runtime.huey._registry._periodic_tasks if t.__name__ == "dashboard_history"
    ]
    assert task().validate_datetime(dt.datetime(2026, 12, 5, 9, 45))  # hourly at :45
    assert not task().validate_datetime(dt.datetime(2026, 12, 5, 9, 30))
    assert task().execute() == {"parents": 0, "finding_groups": 0}
    assert runtime.store.rag_history("jira:E-1") == []
