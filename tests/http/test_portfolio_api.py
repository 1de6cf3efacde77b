"""`GET /api/portfolio` and `GET /portfolio` after a small two-tracker portfolio has gone
through the service: the tree with rollups and RAG, compliance by project and by rule,
the worst items and the trend, and the same figures on the HTML page."""

from __future__ import annotations

import html

import pytest

from tests.support.helpers import PACKS
from tests.support.portfolio_service import NOW, Service, portfolio

DANA = "dana.whitfield@fabrikam.com"


@pytest.fixture
def service(tmp_path, mocked):
    """The portfolio of test_portfolio_service, with Dana carrying three items in progress
    in two trackers (PAY-12, PAY-15, 512) and PAY-15 titled too briefly."""
    svc = Service(
        tmp_path, (str(PACKS / "portfolio.yaml"), str(PACKS / "portfolio-across.yaml")), mocked
    )
    specs = portfolio()
    specs["PAY-12"] = specs["PAY-12"].bump(assignee=DANA)
    specs["512"] = specs["512"].bump(assignee=DANA)
    specs["PAY-15"] = type(specs["PAY-12"])(
        "jira", "PAY-15", "story", "Fix", "In Progress", 2, "PAY-10", assignee=DANA
    )
    svc.deliver(*specs.values(), created=True)
    svc.drain()
    return svc


def walk(nodes):
    for node in nodes:
        yield node
        yield from walk(node["children"])


def test_api_portfolio_tree_compliance_worst_items_and_trend(service):
    data = service.client.get("/api/portfolio").get_json()
    assert data["generated_at"] == NOW.isoformat()

    (root,) = data["tree"]
    assert root["key"] == "jira:PAY-1" and root["type"] == "initiative"
    assert [c["key"] for c in root["children"]] == [
        "jira:PAY-10", "jira:PAY-20", "azure-devops:501", "azure-devops:502",
    ]  # fmt: skip
    nodes = {node["key"]: node for node in walk(data["tree"])}
    assert len(nodes) == 15  # every item sits under the initiative
    # PAY-10 with PAY-15: 20 points, 7 done; 13 left at 7/28 a day = 52 days -> 2024-08-01,
    # a day past its due date -> amber. PAY-1: 44 points, 12 done -> ceil(32 * 28 / 12) = 75
    # days -> 2024-08-24, green.
    epic = nodes["jira:PAY-10"]["rollup"]
    assert (epic["points_total"], epic["points_done"], epic["progress"]) == (20.0, 7.0, 0.35)
    assert (epic["forecast_end"], epic["rag"], epic["rag_reasons"]) == (
        "2024-08-01", "amber", ["forecast 1 day past due"],
    )  # fmt: skip
    initiative = root["rollup"]
    assert (initiative["points_total"], initiative["forecast_end"], initiative["rag"]) == (
        44.0, "2024-08-24", "green",
    )  # fmt: skip
    assert nodes["azure-devops:501"]["rollup"]["rag"] == "amber"
    assert nodes["jira:PAY-11"]["rollup"] is None  # leaves have none
    assert nodes["jira:PAY-15"]["open_findings"] == 3

    assert data["totals"] == {
        "items": 15, "open_findings": 7, "noncompliant_items": 3, "compliant_pct": 80.0,
        "rag": {"green": 3, "amber": 2, "red": 0},
    }  # fmt: skip
    assert data["compliance_by_project"] == [
        {"tracker": "azure-devops", "project": "Fabrikam", "items": 5, "noncompliant_items": 1,
         "open_findings": 2, "compliant_pct": 80.0},
        {"tracker": "jira", "project": "PAY", "items": 10, "noncompliant_items": 2,
         "open_findings": 5, "compliant_pct": 80.0},
    ]  # fmt: skip
    by_rule = {r["rule"]: (r["severity"], r["open_findings"]) for r in data["compliance_by_rule"]}
    assert by_rule == {"wip-limit": ("medium", 3), "one-project": ("low", 3),
                       "title-length": ("low", 1)}  # fmt: skip
    assert data["compliance_by_rule"][-1]["rule"] == "title-length"  # most findings first
    assert [(w["key"], w["max_severity"], w["open_findings"]) for w in data["worst_items"]] == [
        ("jira:PAY-15", "medium", 3), ("azure-devops:512", "medium", 2),
        ("jira:PAY-12", "medium", 2),
    ]  # fmt: skip
    assert data["worst_items"][0]["rules"] == ["one-project", "title-length", "wip-limit"]

    trend = data["trend"]
    # the service heard its first item today: the days before are no data, not zero findings
    assert trend == [{"date": "2024-06-10", "open_findings": 7}]


def test_dashboard_page_shows_the_same_figures(service):
    answer = service.client.get("/portfolio")
    assert answer.status_code == 200 and answer.mimetype == "text/html"
    page = html.unescape(answer.get_data(as_text=True))
    for text in ("Cut support contacts", "Self-service refunds", "Checkout redesign",
                 "jira:PAY-15", "wip-limit", "one-project", "Fabrikam"):  # fmt: skip
        assert text in page, text
    assert "35%" in page  # PAY-10's progress
    assert 'data-compliant-pct="80.0"' in page and "Fabrikam: 80.0% compliant" in page
    assert 'data-open-findings="7"' in page and 'data-noncompliant-items="3"' in page
    assert "amber" in page.lower() and "green" in page.lower()


def test_links_are_built_from_the_configured_tracker_urls(service):
    """A stored item's url came from the payload (`_links.html.href`, `self`): whatever its
    sender wrote. The dashboard links each item from the configured tracker URL instead."""
    import dataclasses

    from tests.support.portfolio_gen import ADO_ORG, JIRA_SITE

    for key in ("jira:PAY-12", "azure-devops:512"):
        item = service.store.get_item(key)
        service.store.upsert_item(
            dataclasses.replace(item, url="https://phish.example/login", revision=item.revision + 1)
        )
    data = service.client.get("/api/portfolio").get_json()
    links = {node["key"]: node["url"] for node in walk(data["tree"])}
    links.update({w["key"]: w["url"] for w in data["worst_items"]})
    assert links["jira:PAY-12"] == f"{JIRA_SITE}/browse/PAY-12"
    assert links["azure-devops:512"] == f"{ADO_ORG}/Fabrikam/_workitems/edit/512"
    assert all(url is None or url.startswith((JIRA_SITE, ADO_ORG)) for url in links.values())
    page = service.client.get("/portfolio").get_data(as_text=True)
    assert "phish.example" not in page


def test_long_text_is_cut_on_the_dashboard_and_in_the_api(service):
    import dataclasses

    item = service.store.get_item("jira:PAY-12")
    huge = "Migrate the ledger " + "x" * 4_000_000
    service.store.upsert_item(dataclasses.replace(item, title=huge, revision=item.revision + 1))
    data = service.client.get("/api/portfolio").get_json()
    (node,) = [n for n in walk(data["tree"]) if n["key"] == "jira:PAY-12"]
    assert len(node["title"]) == 200 and node["title"].startswith("Migrate the ledger x")
    assert node["title"].endswith("\u2026")
    page = service.client.get("/portfolio").get_data()
    assert len(page) < 500_000
