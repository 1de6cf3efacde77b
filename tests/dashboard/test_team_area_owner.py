"""Team, area and owner on the dashboard: an owner is one person across trackers (the
people file), their team is the people file's, an item's area is its Azure DevOps area
path or its Jira components; each is a URL filter that gives the same rows on the page,
in `/api/portfolio` and in `/api/portfolio.csv`."""

from __future__ import annotations

import csv
import html
import io

import pytest

from tests.dashboard.test_filters import mocked_trackers
from tests.support.helpers import PACKS
from tests.support.portfolio_service import Service, portfolio
from webhooks.dashboard.filter import walk

PEOPLE = """
teams:
  payments: {}
  web: {}
people:
  - id: dana
    name: Dana Whitfield
    team: payments
    accounts: ["712020:dana-cloud-id", dana.whitfield@fabrikam.com]
  - id: eli
    name: Eli Moreau
    team: web
    accounts: [eli@fabrikam.com]
"""
# Dana as Jira Cloud shows her: an opaque account id and another display name
DANA_JIRA = {"accountId": "712020:dana-cloud-id", "displayName": "Dana W.", "active": True}
AREA = "Fabrikam\\Payments\\Checkout"


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    monkeypatch = pytest.MonkeyPatch()
    gen = mocked_trackers(monkeypatch)
    mock = next(gen)
    folder = tmp_path_factory.mktemp("team-area")
    (folder / "people.yaml").write_text(PEOPLE)
    svc = Service(
        folder,
        (str(PACKS / "portfolio.yaml"),),
        mock,
        people_file=str(folder / "people.yaml"),
    )
    specs = portfolio()
    specs["PAY-12"] = specs["PAY-12"].bump(
        extra={"assignee": DANA_JIRA, "components": [{"id": "1", "name": "Refunds"}]}
    )
    specs["PAY-13"] = specs["PAY-13"].bump(
        assignee="sam.unmapped@example.com",
        extra={"components": [{"name": "Refunds"}, {"name": "Ledger"}]},
    )
    specs["512"] = specs["512"].bump(
        assignee="dana.whitfield@fabrikam.com", extra={"System.AreaPath": AREA}
    )
    specs["511"] = specs["511"].bump(
        assignee="eli@fabrikam.com", extra={"System.AreaPath": "Fabrikam\\Web"}
    )
    svc.deliver(*specs.values(), created=True)
    svc.drain()
    yield svc
    gen.close()
    monkeypatch.undo()


def matched(data) -> list[str]:
    return [n["key"] for n in walk(data["tree"]) if n.get("matched", True)]


def api(service, query: str) -> dict:
    answer = service.client.get(f"/api/portfolio?{query}")
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def csv_keys(service, query: str) -> list[str]:
    text = service.client.get(f"/api/portfolio.csv?{query}").get_data(as_text=True)
    return [row["key"] for row in csv.DictReader(io.StringIO(text))]


def page_keys(service, query: str) -> list[str]:
    page = service.client.get(f"/portfolio?{query}").get_data(as_text=True)
    tree = page.split('id="tree"')[1].split("</section>")[0]
    rows = tree.split("<tr ")[2:]  # the header row first
    return [row.split('data-key="')[1].split('"')[0] for row in rows if 'data-matched="yes"' in row]


def test_items_carry_their_owner_as_one_person_their_team_and_area(service):
    nodes = {n["key"]: n for n in walk(api(service, "")["tree"])}
    assert nodes["jira:PAY-12"]["owner"] == {"id": "dana", "name": "Dana Whitfield"}
    assert nodes["jira:PAY-12"]["assignee"] == "Dana W."  # as the tracker shows her
    assert nodes["azure-devops:512"]["owner"] == {"id": "dana", "name": "Dana Whitfield"}
    assert nodes["jira:PAY-12"]["team"] == nodes["azure-devops:512"]["team"] == "payments"
    assert nodes["jira:PAY-13"]["owner"] == {
        "id": "name:sam unmapped",
        "name": "Sam Unmapped",
    }  # unmapped: grouped by display name, no team
    assert nodes["jira:PAY-13"]["team"] is None
    assert nodes["jira:PAY-12"]["area"] == "Refunds"
    assert nodes["jira:PAY-13"]["area"] == "Refunds, Ledger"
    assert nodes["azure-devops:512"]["area"] == AREA
    assert nodes["jira:PAY-1"]["owner"] is None and nodes["jira:PAY-1"]["area"] is None


@pytest.mark.parametrize(
    ("query", "keys"),
    [
        # one person in Jira and Azure DevOps, by id, by name or by either display name
        ("owner=dana", {"jira:PAY-12", "azure-devops:512"}),
        ("owner=Dana%20Whitfield", {"jira:PAY-12", "azure-devops:512"}),
        ("owner=dana%20w.", {"jira:PAY-12", "azure-devops:512"}),
        ("owner=Sam%20Unmapped", {"jira:PAY-13"}),
        ("team=payments", {"jira:PAY-12", "azure-devops:512"}),
        ("team=WEB", {"azure-devops:511"}),
        ("team=payments,web&tracker=azure-devops", {"azure-devops:512", "azure-devops:511"}),
        # an area path holds its sub-areas; a Jira issue is in each of its components
        ("area=Fabrikam", {"azure-devops:512", "azure-devops:511"}),
        ("area=fabrikam%5Cpayments", {"azure-devops:512"}),
        ("area=Fabrikam%5CPayments%5CCheckout", {"azure-devops:512"}),
        ("area=Refunds", {"jira:PAY-12", "jira:PAY-13"}),
        ("area=Ledger", {"jira:PAY-13"}),
        ("area=Refunds&team=payments", {"jira:PAY-12"}),
        ("area=Fabrikam%5CPay", set()),  # a path segment, not a prefix of letters
    ],
)
def test_team_area_and_owner_filters_agree_on_page_api_and_csv(service, query, keys):
    data = api(service, query)
    assert set(matched(data)) == keys
    assert matched(data) == csv_keys(service, query) == page_keys(service, query)
    assert data["totals"]["items"] == len(keys)


def test_the_form_offers_each_person_once_with_their_teams_and_areas(service):
    page = html.unescape(service.client.get("/portfolio?team=payments").get_data(as_text=True))
    owner = page.split('name="owner"')[1].split("</select>")[0]
    assert owner.count('value="dana"') == 1 and ">Dana Whitfield<" in owner
    assert "Dana W." not in owner and 'value="Sam Unmapped"' in owner
    team = page.split('name="team"')[1].split("</select>")[0]
    assert '<option value="payments" selected>' in team and 'value="web"' in team
    area = page.split('name="area"')[1].split("</select>")[0]
    for value in ("Fabrikam", "Fabrikam\\Payments", AREA, "Refunds", "Ledger"):
        assert f'value="{value}"' in area
    assert 'href="/api/portfolio.csv?team=payments"' in page
    row = page.split('data-key="azure-devops:512"')[1].split("</tr>")[0]
    assert "Dana Whitfield" in row and "payments" in row and AREA in row


def test_csv_names_the_person_their_team_and_the_area(service):
    text = service.client.get("/api/portfolio.csv?owner=dana").get_data(as_text=True)
    rows = {r["key"]: r for r in csv.DictReader(io.StringIO(text))}
    assert rows["jira:PAY-12"]["owner"] == rows["azure-devops:512"]["owner"] == "Dana Whitfield"
    assert rows["jira:PAY-12"]["owner_id"] == "dana"
    assert rows["azure-devops:512"]["team"] == "payments"
    assert rows["azure-devops:512"]["area"] == AREA


def test_a_bad_team_or_area_value_is_a_clear_400(service):
    answer = service.client.get("/api/portfolio?team=" + "x" * 201)
    assert answer.status_code == 400
    assert "team: a value is longer than 200 characters" in answer.get_json()["error"]
