"""The dashboard's history: RAG per parent and open findings per project, rule and
severity recorded per day, read back as "what changed since", and forgotten after the
configured retention; on a real store (SQLite and PostgreSQL) and through the service."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest

from config.retention import Retention
from config.settings import ConfigError, load_settings
from tests.support.helpers import PACKS
from tests.support.portfolio_service import Service, portfolio
from tests.support.service import make_settings
from webhooks.dashboard.history import project_trend, record_history
from webhooks.dashboard.svg import spark_svg
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


def test_project_trend_leaves_unrecorded_days_out_and_counts_recorded_ones_at_zero():
    d = [DAY - dt.timedelta(days=n) for n in (4, 3, 1, 0)]  # DAY-2 was not recorded
    per_project = {("jira", "PAY"): {d[0]: 3, d[1]: 2, d[3]: 5}, ("jira", "WEB"): {d[2]: 1}}
    trend = {p["project"]: p["points"] for p in project_trend(per_project, d)}
    assert [p["date"] for p in trend["PAY"]] == [
        (DAY - dt.timedelta(days=n)).isoformat() for n in (4, 3, 2, 1, 0)
    ]
    assert [p["open_findings"] for p in trend["PAY"]] == [3, 2, None, 0, 5]
    assert [p["open_findings"] for p in trend["WEB"]] == [0, 0, None, 1, 0]
    assert project_trend(per_project, []) == []


def test_a_projects_trend_chart_breaks_its_line_where_no_day_was_recorded():
    points = [
        {"date": f"2026-11-{day:02d}", "open_findings": value}
        for day, value in zip(range(1, 31), [4, 5, 6, None, None, 3, 2, *[1] * 23], strict=True)
    ]
    svg = str(spark_svg(points, label="PAY"))
    assert svg.count("<polyline") == 2  # 1-3 Nov and 6-30 Nov: no line through the gap
    (gap,) = re.findall(r'<rect class="nodata" x="([\d.]+)" y="[\d.]+" width="([\d.]+)"', svg)
    step = (260 - 30 - 10) / 29
    assert float(gap[1]) == pytest.approx(2 * step, abs=0.1)  # 4 and 5 Nov, shaded
    first_line = re.findall(r'<polyline class="line" points="([^"]+)"', svg)[0]
    assert len(first_line.split()) == 3  # never drawn down to zero for the missing days
    ticks = re.findall(r'<text class="tick" x="([\d.]+)" y="68" text-anchor="(\w+)">([^<]+)<', svg)
    assert [(anchor, text) for _, anchor, text in ticks] == [("start", "1 Nov"), ("end", "30 Nov")]
    assert float(ticks[1][0]) - float(ticks[0][0]) >= 120  # two short dates never meet
    label = "PAY: open findings per day, 1 Nov 2026 to 30 Nov 2026: from 4 to 1, highest 6; 2 days without data."
    assert f'aria-label="{label}"' in svg and f"<title>{label}</title>" in svg
    assert 'role="img"' in svg
    assert "No day recorded yet" in str(
        spark_svg([{"date": "2026-11-01", "open_findings": None}], label="X")
    )
    one = str(spark_svg([{"date": "2026-11-01", "open_findings": 2}], label="X"))
    assert one.count("<circle") == 1 and "<polyline" not in one


def test_the_page_draws_each_projects_trend(tmp_path, mocked):
    service = Service(tmp_path, (str(PACKS / "portfolio.yaml"),), mocked)
    service.deliver(*portfolio().values(), created=True)
    service.drain()
    today = service.runtime.clock().date()
    service.store.record_history(
        today - dt.timedelta(days=3), {}, {("jira", "PAY", "title-length", "low"): 2}
    )
    record_history(service.store, service.runtime.clock())
    data = service.client.get("/api/portfolio").get_json()
    (pay,) = [p for p in data["project_trend"] if p["project"] == "PAY"]
    assert [p["open_findings"] for p in pay["points"]] == [2, None, None, 0]
    page = html.unescape(service.client.get("/portfolio").get_data(as_text=True))
    row = page.split('data-project-trend="PAY"')[1].split("</tr>")[0]
    assert '<svg class="spark" role="img"' in row and "2 days without data" in row
    assert row.count('class="nodata"') == 1


def test_the_main_trend_and_the_daily_history_leave_waived_findings_out_alike(store):
    """Waived findings are not open: the main chart's "open findings over time" counts
    what the daily history records, today from the findings and on a recorded past day
    from the recording (which knew what was waived then)."""
    from tests.support.items import item
    from webhooks.dashboard.snapshot import trend

    yesterday = dt.datetime(2026, 11, 19, 12, tzinfo=dt.UTC)
    today = yesterday + dt.timedelta(days=1)

    def finding(rule: str, status: str) -> dict[str, str]:
        return {"rule": rule, "severity": "high", "enforcement": "enforce",
                "message": rule, "status": status}  # fmt: skip

    store.upsert_item(item("jira:PAY-1"))
    store.upsert_item(item("jira:PAY-2"))
    store.save_findings("jira:PAY-1", [finding("r1", "fail"), finding("r2", "fail")], yesterday)
    store.save_findings("jira:PAY-2", [finding("r1", "waived")], yesterday)
    record_history(store, yesterday)
    before = {p["date"]: p["open_findings"] for p in trend(store, yesterday)}
    assert before == {"2026-11-19": 2}
    assert sum(row[-1] for row in store.findings_history(yesterday.date())) == 2

    # today r2 on PAY-1 is waived: open today drops to 1, yesterday stays what it was
    store.save_findings("jira:PAY-1", [finding("r1", "fail"), finding("r2", "waived")], today)
    record_history(store, today)
    recorded = store.open_findings_per_day(yesterday.date())
    assert recorded == {yesterday.date(): 2, today.date(): 1}
    points = {p["date"]: p["open_findings"] for p in trend(store, today)}
    assert points == {"2026-11-19": 2, "2026-11-20": 1}
