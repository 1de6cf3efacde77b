"""Filters in the URL, drill-down pages and export, on a two-tracker portfolio that went
through the service: the page, `/api/portfolio` and the CSV agree for the same filter."""

from __future__ import annotations

import csv
import html
import io

import pytest
import responses
from werkzeug.datastructures import MultiDict

from tests.support.helpers import PACKS
from tests.support.portfolio_gen import TRACKER_ENV, fresh_ado_location_cache
from tests.support.portfolio_service import Service, portfolio
from webhooks.dashboard.counts import recount
from webhooks.dashboard.export import to_csv
from webhooks.dashboard.filter import filter_portfolio, parse_filter, walk

DANA = "dana.whitfield@fabrikam.com"


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    """PAY-12 and 512 carry Dana and a wip-limit finding each; PAY-20 is done with its two
    stories open (amber)."""
    monkeypatch = pytest.MonkeyPatch()
    gen = mocked_trackers(monkeypatch)
    mock = next(gen)
    svc = Service(
        tmp_path_factory.mktemp("filters"),
        (str(PACKS / "portfolio.yaml"), str(PACKS / "portfolio-across.yaml")),
        mock,
    )
    specs = portfolio()
    specs["PAY-12"] = specs["PAY-12"].bump(assignee=DANA)
    specs["512"] = specs["512"].bump(assignee=DANA)
    specs["PAY-15"] = type(specs["PAY-12"])(
        "jira", "PAY-15", "story", "Fix", "In Progress", 2, "PAY-10", assignee=DANA
    )
    specs["PAY-20"] = specs["PAY-20"].bump(status="Done")
    svc.deliver(*specs.values(), created=True)
    svc.drain()
    yield svc
    gen.close()
    monkeypatch.undo()


def keys(data, matched_only=True):
    return [n["key"] for n in walk(data["tree"]) if not matched_only or n.get("matched", True)]


def api(service, query: str) -> dict:
    answer = service.client.get(f"/api/portfolio?{query}")
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def test_project_filter_keeps_only_that_projects_rows_and_recounts(service):
    everything = api(service, "")
    data = api(service, "project=Fabrikam")
    assert data["filter"] == {"project": ["fabrikam"]}
    assert set(keys(data)) == {"azure-devops:501", "azure-devops:511", "azure-devops:512",
                               "azure-devops:502", "azure-devops:521"}  # fmt: skip
    assert keys(data, matched_only=False)[0] == "jira:PAY-1"  # the parent, as context
    assert data["totals"]["items"] == 5
    (project,) = data["compliance_by_project"]
    assert project == next(
        p for p in everything["compliance_by_project"] if p["project"] == "Fabrikam"
    )
    assert all(w["project"] == "Fabrikam" for w in data["worst_items"])


def test_facets_combine_and_values_within_a_facet_are_alternatives(service):
    red_or_amber = api(service, "rag=amber,red")
    rags = {n["key"]: n["rollup"]["rag"] for n in walk(red_or_amber["tree"]) if n["matched"]}
    assert rags and set(rags.values()) <= {"amber", "red"}
    assert rags["jira:PAY-20"] == "amber"  # done with open children
    assert red_or_amber["totals"]["rag"]["green"] == 0
    owner = next(n["assignee"] for n in walk(api(service, "")["tree"]) if n["key"] == "jira:PAY-12")
    wip = api(service, "rule=wip-limit&owner=" + owner.upper().replace(" ", "%20"))
    assert set(keys(wip)) == set(keys(api(service, "rule=wip-limit")))
    assert wip["totals"]["open_findings"] == wip["compliance_by_rule"][0]["open_findings"] == 3
    only_bad = api(service, "noncompliant=1&tracker=jira")
    assert all(n["open_findings"] for n in walk(only_bad["tree"]) if n["matched"])
    assert {n["tracker"] for n in walk(only_bad["tree"]) if n["matched"]} == {"jira"}
    assert keys(api(service, "severity=critical")) == []


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("rag=purple", "rag: unknown value 'purple' (allowed: green, amber, red)"),
        ("severity=urgent", "severity: unknown value 'urgent'"),
        ("noncompliant=maybe", "noncompliant: expected 1 or 0"),
        ("project=" + "x" * 201, "longer than 200 characters"),
        ("&".join(f"rule=r{n}" for n in range(21)), "at most 20 values"),
    ],
)
def test_a_bad_filter_is_a_clear_400(service, query, message):
    for path in ("/api/portfolio", "/api/portfolio.csv", "/portfolio"):
        answer = service.client.get(f"{path}?{query}")
        assert answer.status_code == 400
        assert message in answer.get_json()["error"]


def test_page_shows_what_the_api_gives_for_the_same_filter(service):
    query = "project=PAY&noncompliant=1"
    data = api(service, query)
    page = html.unescape(service.client.get(f"/portfolio?{query}").get_data(as_text=True))
    for key in keys(data):
        assert f'data-key="{key}" data-depth' in page or f'data-key="{key}"' in page
    assert "azure-devops:512" not in page.split('id="tree"')[1].split("</section>")[0]
    t = data["totals"]
    assert f'data-open-findings="{t["open_findings"]}"' in page
    assert f'data-noncompliant-items="{t["noncompliant_items"]}"' in page
    assert 'href="/api/portfolio.csv?project=pay&noncompliant=1"' in page  # canonical
    assert '<option value="PAY" selected>' in page


def test_csv_export_is_the_filtered_view(service):
    answer = service.client.get("/api/portfolio.csv?project=PAY&noncompliant=1")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert "attachment" in answer.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))
    data = api(service, "project=PAY&noncompliant=1")
    assert [r["key"] for r in rows] == keys(data)
    nodes = {n["key"]: n for n in walk(data["tree"])}
    for row in rows:
        assert int(row["open_findings"]) == nodes[row["key"]]["open_findings"]
    everything = list(
        csv.DictReader(io.StringIO(service.client.get("/api/portfolio.csv").get_data(as_text=True)))
    )
    pay1 = next(r for r in everything if r["key"] == "jira:PAY-1")
    schedule = (
        nodes.get("jira:PAY-1", {}).get("schedule") or api(service, "")["tree"][0]["schedule"]
    )
    assert (pay1["due"], pay1["forecast_end"], pay1["slip_days"]) == (
        schedule["due"], schedule["forecast_end"], str(schedule["slip_days"]),
    )  # fmt: skip


def test_csv_cells_never_start_a_formula():
    data = {"tree": [{"key": "jira:X-1", "title": '=HYPERLINK("http://x")', "children": []}]}
    assert "'=HYPERLINK" in to_csv(data)


def test_parent_drill_down_shows_rollup_children_and_findings(service):
    answer = service.client.get("/portfolio/item/jira:PAY-10")
    assert answer.status_code == 200
    page = html.unescape(answer.get_data(as_text=True))
    node = next(n for n in walk(api(service, "")["tree"]) if n["key"] == "jira:PAY-10")
    assert f'data-rag="{node["rollup"]["rag"]}"' in page
    for reason in node["rollup"]["rag_reasons"]:
        assert reason in page
    assert f'data-due="{node["schedule"]["due"]}"' in page
    for child in node["children"]:
        assert f'data-key="{child["key"]}" data-open-findings="{child["open_findings"]}"' in page
    assert 'href="/portfolio/rule/wip-limit"' in page
    assert service.client.get("/portfolio/item/jira:NOPE-1").status_code == 404


def test_rule_drill_down_lists_failing_items_since_when_by_project(service):
    page = html.unescape(service.client.get("/portfolio/rule/wip-limit").get_data(as_text=True))
    failing = {n["key"] for n in walk(api(service, "rule=wip-limit")["tree"]) if n["matched"]}
    for key in failing:
        assert f'data-key="{key}" data-since=' in page
    assert 'data-open-findings="3"' in page
    assert 'data-project="PAY"' in page and 'data-project="Fabrikam"' in page
    assert service.client.get("/portfolio/rule/no-such-rule").status_code == 404


@pytest.mark.parametrize(
    "query",
    ["project=PAY", "rag=amber,red", "tracker=azure-devops&noncompliant=1", "type=story",
     "rule=wip-limit", "severity=low&project=PAY", "noncompliant=1", "owner=nobody"],
)  # fmt: skip
def test_the_index_gives_what_a_walk_over_every_node_gives(service, query):
    data = api(service, "")
    flt = parse_filter(MultiDict([pair.split("=") for pair in query.split("&")]))
    hits = [node for node in walk(data["tree"]) if flt.matches(node)]
    indexed = filter_portfolio(data, flt)
    assert keys(indexed) == [node["key"] for node in hits]
    expected = recount(hits, flt, data)
    for name in ("totals", "compliance_by_project", "compliance_by_rule", "worst_items"):
        assert indexed[name] == expected[name], name


@pytest.mark.parametrize("path", ["/portfolio/item/jira:PAY-10", "/portfolio/rule/wip-limit"])
def test_drill_downs_are_for_viewers_only(service, path):
    refused = service.client.get(path, environ_base={"REMOTE_ADDR": "203.0.113.7"})
    assert refused.status_code == 403
    assert service.client.get(path, environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 200


def mocked_trackers(monkeypatch):
    """The conftest's `mocked`, for a fixture shared by the module's tests."""
    for name, value in TRACKER_ENV.items():
        monkeypatch.setenv(name, value)
    fresh_ado_location_cache(monkeypatch)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps
