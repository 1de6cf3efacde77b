"""The dashboard's figures are the rollup engine's: due date, forecast and slip as the
engine computed them (never recomputed by the page), a done parent with open children
amber with its reason, a trend without invented zeros, plural words that agree."""

from __future__ import annotations

import datetime as dt
import html
import itertools
import re

import pytest

from rules.rollup import Rollup, schedule_of
from tests.support.helpers import PACKS
from tests.support.portfolio_service import Service, portfolio
from webhooks.commands.audit import format_report
from webhooks.dashboard.svg import axis_labels, trend_svg
from webhooks.governance.audit import AuditReport


@pytest.fixture
def loaded(tmp_path, mocked):
    service = Service(tmp_path, (str(PACKS / "portfolio.yaml"),), mocked)
    service.deliver(*portfolio().values(), created=True)
    service.drain()
    return service


def row_of(page: str, key: str) -> str:
    start = page.index(f'data-key="{key}"')
    return page[start : page.index("</tr>", start)]


def test_due_forecast_and_slip_are_the_rollups_own_everywhere(loaded):
    # PAY-1's own due date is 2024-09-30; its latest child is due 2024-07-31. The engine
    # measures slip against its own: forecast 2024-08-19 is 42 days early.
    rollup = loaded.store.get_rollup("jira:PAY-1")
    assert (rollup.target_due, rollup.due) == (dt.date(2024, 9, 30), dt.date(2024, 7, 31))
    expected = schedule_of(rollup).to_dict()
    assert expected == {"due": "2024-09-30", "due_source": "parent",
                        "forecast_end": "2024-08-19", "slip_days": -42, "slip": "42 days early"}  # fmt: skip

    data = loaded.client.get("/api/portfolio").get_json()
    (root,) = data["tree"]
    assert root["schedule"] == expected
    assert Rollup.from_dict(root["rollup"]).slip_days == rollup.slip_days

    row = html.unescape(
        row_of(loaded.client.get("/portfolio").get_data(as_text=True), "jira:PAY-1")
    )
    assert "Due 30 Sep 2024" in row and "Forecast 19 Aug 2024" in row
    assert "42 days early" in row and 'data-slip-days="-42"' in row
    assert "31 Jul 2024" not in row and "late" not in row
    assert "forecast 2024-08-19 (42 days early)" in loaded.comment("jira:PAY-1")


def test_overdue_parent_without_forecast_shows_its_own_due_date(tmp_path, mocked):
    # PAY-20 was due 2024-06-01 and nothing under it is done (its children have no due
    # dates): no forecast, 9 days overdue on 2024-06-10. The page once showed "Due —".
    service = Service(tmp_path, (str(PACKS / "portfolio.yaml"),), mocked)
    specs = portfolio()
    specs["PAY-20"] = specs["PAY-20"].bump(due=dt.date(2024, 6, 1))
    service.deliver(*specs.values(), created=True)
    service.drain()
    rollup = service.store.get_rollup("jira:PAY-20")
    assert (rollup.due, rollup.forecast_end, rollup.slip_days) == (None, None, 9)
    assert schedule_of(rollup).slip == "9 days overdue"
    assert "9 days overdue, no recent throughput" in rollup.rag_reasons
    row = html.unescape(
        row_of(service.client.get("/portfolio").get_data(as_text=True), "jira:PAY-20")
    )
    assert "Due 1 Jun 2024" in row and "Due —" not in row
    assert "9 days overdue" in row and 'data-slip-days="9"' in row


def test_done_parent_with_open_children_is_amber_on_the_page(loaded):
    spec = portfolio()["PAY-20"].bump(status="Done")
    loaded.deliver(spec)
    loaded.drain()
    rollup = loaded.store.get_rollup("jira:PAY-20")
    assert (rollup.rag, rollup.rag_reasons) == ("amber", ("done with 2 open children",))
    data = loaded.client.get("/api/portfolio").get_json()
    nodes = {n["key"]: n for n in walk(data["tree"])}
    assert nodes["jira:PAY-20"]["rollup"]["rag"] == "amber"
    row = row_of(loaded.client.get("/portfolio").get_data(as_text=True), "jira:PAY-20")
    assert 'data-rag="amber"' in row and "Amber" in row and "done with 2 open children" in row


def walk(nodes):
    for node in nodes:
        yield node
        yield from walk(node["children"])


def test_trend_has_no_points_before_the_first_data():
    assert "No trend yet" in trend_svg([])
    svg = str(trend_svg([{"date": "2024-06-10", "open_findings": 7}]))
    assert svg.count("<circle") == 1 and ">0<" in svg  # the axis, not a day at zero


@pytest.mark.parametrize("days", [2, 7, 8, 9, 13, 14, 15, 30, 60])
def test_trend_axis_labels_never_crowd(days):
    labels = axis_labels(days)
    assert labels[0] == 0 and labels[-1] == days - 1 and len(labels) <= 8
    step = -(-days // 8)
    assert all(b - a >= step for a, b in itertools.pairwise(labels))
    points = [
        {"date": (dt.date(2026, 11, 1) + dt.timedelta(days=n)).isoformat(), "open_findings": n}
        for n in range(days)
    ]
    svg = str(trend_svg(points))
    xs = [float(x) for x in re.findall(r'<text class="tick" x="([\d.]+)" y="212"', svg)]
    assert len(xs) == len(labels)
    assert all(b - a >= 60 for a, b in itertools.pairwise(xs))  # "29 Nov" is ~40 wide


def test_audit_wording_agrees_in_number():
    one = AuditReport(tracker="jira", query="project = PAY", items=1, writes=1)
    one.findings.append({"item": "jira:PAY-1", "project": "PAY", "rule": "r", "severity": "low",
                         "enforcement": "warn", "message": "m"})  # fmt: skip
    text = format_report(one, "text")
    assert "1 item, 0 non-compliant, 1 finding" in text and "1 item written back" in text
    none = format_report(AuditReport(tracker="jira", query="q"), "text")
    assert "0 items" in none and "written back" not in none
