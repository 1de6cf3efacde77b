"""The dashboard's filters, drill-down and CSV export in a real headless Chromium, on the
real service after a two-tracker portfolio went through it: what a person sees for a
filter equals `/api/portfolio` for the same filter. Screenshots go to PMO_BRIDGE_SCREENSHOTS (docs/ to refresh them) or a temporary folder."""

from __future__ import annotations

import csv
import io
import json
import threading
import urllib.request
from pathlib import Path

import pytest
import responses
from werkzeug.serving import make_server

from tests.support.browser import chromium_context, screenshot_dir
from tests.support.helpers import PACKS
from tests.support.portfolio_gen import TRACKER_ENV, fresh_ado_location_cache
from tests.support.portfolio_service import Service, portfolio
from webhooks.dashboard.filter import walk

pytestmark = pytest.mark.browser
DOCS = screenshot_dir()
PEOPLE = """
teams: {payments: {}, web: {}}
people:
  - {id: dana, name: Dana Whitfield, team: payments,
     accounts: ["712020:dana-cloud-id", dana.whitfield@fabrikam.com]}
"""
DANA_CLOUD = {"accountId": "712020:dana-cloud-id", "displayName": "Dana W.", "active": True}


@pytest.fixture(scope="module")
def base_url(tmp_path_factory):
    monkeypatch = pytest.MonkeyPatch()
    gen = mocked_trackers(monkeypatch)
    mock = next(gen)
    packs = (str(PACKS / "portfolio.yaml"), str(PACKS / "portfolio-across.yaml"))
    folder = tmp_path_factory.mktemp("browser")
    (folder / "people.yaml").write_text(PEOPLE)
    service = Service(folder, packs, mock, people_file=str(folder / "people.yaml"))
    specs = portfolio()
    dana = "dana.whitfield@fabrikam.com"
    specs["PAY-12"] = specs["PAY-12"].bump(assignee=dana)
    specs["512"] = specs["512"].bump(
        assignee=dana, extra={"System.AreaPath": "Fabrikam\\Payments\\Checkout"}
    )
    # Dana as Jira Cloud names her: another account, another display name, one person
    specs["PAY-15"] = type(specs["PAY-12"])(
        "jira", "PAY-15", "story", "Fix", "In Progress", 2, "PAY-10",
        extra={"assignee": DANA_CLOUD, "components": [{"name": "Refunds"}]},
    )  # fmt: skip
    specs["PAY-20"] = specs["PAY-20"].bump(status="Done")
    service.deliver(*specs.values(), created=True)
    service.drain()
    server = make_server("127.0.0.1", 0, service.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
        gen.close()
        monkeypatch.undo()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    profile = tmp_path_factory.mktemp("chromium-profile")
    viewport = {"width": 1280, "height": 900}
    # filters, drill-down and export work without JavaScript
    with chromium_context(profile, viewport=viewport, accept_downloads=True) as context:
        yield context


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


def shown_rows(page) -> list[dict[str, str | None]]:
    return [
        {name: row.get_attribute(name) for name in ("data-key", "data-rag", "data-matched")}
        for row in page.query_selector_all("#tree tr[data-key]")
    ]


def test_filters_drill_down_and_csv_agree_with_the_api(base_url, browser):
    page = browser.new_page()
    page.goto(f"{base_url}/portfolio", wait_until="load")
    # a person picks a project and "only non-compliant", and applies with the keyboard
    page.select_option('select[name="project"]', "PAY")
    page.check('input[name="noncompliant"]')
    page.focus('#filters button[type="submit"]')
    with page.expect_navigation(wait_until="load"):
        page.keyboard.press("Enter")
    assert "project=PAY" in page.url and "noncompliant=1" in page.url

    api = json.loads(fetch(f"{base_url}/api/portfolio?project=PAY&noncompliant=1"))
    nodes = list(walk(api["tree"]))
    rows = shown_rows(page)
    assert [r["data-key"] for r in rows] == [n["key"] for n in nodes]
    for row, node in zip(rows, nodes, strict=True):
        assert row["data-matched"] == ("yes" if node["matched"] else "no"), node["key"]
        assert row["data-rag"] == (node["rollup"] or {}).get("rag"), node["key"]
    box = page.locator("#totals")
    assert box.get_attribute("data-items") == str(api["totals"]["items"])
    assert box.get_attribute("data-open-findings") == str(api["totals"]["open_findings"])
    for card in ("#filters", "#totals", "#trend", "#projects", "#tree", "#rules", "#worst"):
        box = page.locator(card).bounding_box()  # at 1280 px nothing spills out sideways
        assert box["x"] >= 0 and box["x"] + box["width"] <= 1280, card
    page.screenshot(path=str(DOCS / "dashboard-filtered.png"), full_page=True)

    # the CSV export of the same view, downloaded as a person would
    with page.expect_download() as download:
        page.click('[data-export="csv"]')
    text = Path(download.value.path()).read_text(encoding="utf-8")
    exported = list(csv.DictReader(io.StringIO(text)))
    assert [r["key"] for r in exported] == [n["key"] for n in nodes if n["matched"]]
    for row in exported:
        node = next(n for n in nodes if n["key"] == row["key"])
        assert int(row["open_findings"]) == node["open_findings"]

    # drill down into a parent: its figures are the API's
    page.goto(f"{base_url}/portfolio?rag=amber", wait_until="load")
    with page.expect_navigation(wait_until="load"):
        page.click('#tree tr[data-key="jira:PAY-20"] a.drill')
    assert page.url.endswith("/portfolio/item/jira%3APAY-20") or page.url.endswith(
        "/portfolio/item/jira:PAY-20"
    )
    node = next(n for n in walk(json.loads(fetch(f"{base_url}/api/portfolio"))["tree"])
                if n["key"] == "jira:PAY-20")  # fmt: skip
    assert page.locator("#rollup").get_attribute("data-rag") == node["rollup"]["rag"] == "amber"
    assert "done with 2 open children" in page.locator("#rollup").inner_text()
    (finding,) = [f for f in node["findings"] if f["rule"] == "rollup-closed-with-open-children"]
    own = page.locator('#rollup [data-rule="rollup-closed-with-open-children"]').inner_text()
    assert finding["message"] in own  # the finding and its reason, as the API has it
    assert page.locator("#escalations").is_visible()
    assert page.locator("#rollup [data-due]").get_attribute("data-due") == node["schedule"]["due"]
    children = [
        r.get_attribute("data-key") for r in page.query_selector_all("#children tr[data-key]")
    ]
    assert children == [c["key"] for c in node["children"]]
    page.screenshot(path=str(DOCS / "dashboard-parent.png"), full_page=True)
    page.close()


def test_team_filter_and_owner_as_one_person_agree_with_the_api(base_url, browser):
    page = browser.new_page()
    page.goto(f"{base_url}/portfolio", wait_until="load")
    owners = page.locator('select[name="owner"] option').all_inner_texts()
    assert owners.count("Dana Whitfield") == 1 and "Dana W." not in owners
    # a person picks the team and applies with the keyboard
    page.select_option('select[name="team"]', "payments")
    page.focus('#filters button[type="submit"]')
    with page.expect_navigation(wait_until="load"):
        page.keyboard.press("Enter")
    assert "team=payments" in page.url

    api = json.loads(fetch(f"{base_url}/api/portfolio?team=payments"))
    nodes = list(walk(api["tree"]))
    rows = shown_rows(page)
    assert [r["data-key"] for r in rows] == [n["key"] for n in nodes]
    hits = [n["key"] for n in nodes if n["matched"]]
    assert set(hits) == {"jira:PAY-12", "jira:PAY-15", "azure-devops:512"}
    assert [r["data-key"] for r in rows if r["data-matched"] == "yes"] == hits
    for key in hits:  # the person's name and team, whatever the tracker calls her
        owner = page.locator(f'#tree tr[data-key="{key}"] [data-owner]').inner_text()
        assert owner == "Dana Whitfield · payments", key
    area = page.locator('#tree tr[data-key="azure-devops:512"] [data-area]').inner_text()
    assert area == "Fabrikam\\Payments\\Checkout"
    box = page.locator("#totals")
    assert box.get_attribute("data-items") == str(api["totals"]["items"]) == "3"

    # the same view as CSV, and narrowed to an area from the form
    with page.expect_download() as download:
        page.click('[data-export="csv"]')
    text = Path(download.value.path()).read_text(encoding="utf-8")
    exported = list(csv.DictReader(io.StringIO(text)))
    assert [r["key"] for r in exported] == hits
    assert {r["team"] for r in exported} == {"payments"}
    page.select_option('select[name="area"]', "Fabrikam\\Payments")
    with page.expect_navigation(wait_until="load"):
        page.click('#filters button[type="submit"]')
    assert [r["data-key"] for r in shown_rows(page) if r["data-matched"] == "yes"] == [
        "azure-devops:512"
    ]
    with page.expect_navigation(wait_until="load"):
        page.click("[data-people-link]")
    assert page.url.endswith("/people")
    page.close()


def test_readable_on_a_phone_and_rag_in_words(base_url, browser):
    page = browser.new_page()
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{base_url}/portfolio", wait_until="load")
    width = 390  # no card wider than the phone: wide tables scroll inside their card
    for card in ("#filters", "#totals", "#trend", "#projects", "#tree", "#rules", "#worst"):
        box = page.locator(card).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5, card
    for badge in page.query_selector_all("#tree [data-rag-badge]"):
        assert badge.inner_text().strip().lower() in ("green", "amber", "red")
    page.screenshot(path=str(DOCS / "dashboard-phone.png"), full_page=True)
    page.close()


def mocked_trackers(monkeypatch):
    """The conftest's `mocked`, for a fixture shared by the module's tests."""
    for name, value in TRACKER_ENV.items():
        monkeypatch.setenv(name, value)
    fresh_ado_location_cache(monkeypatch)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps
