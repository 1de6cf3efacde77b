"""People end to end: one person's Jira and Azure DevOps items delivered as webhooks
load them over capacity; the finding lands in both items' managed comments and leaves
when one item is done; /api/people, its CSV and the people page show the load."""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import json
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import responses

from tests.support.portfolio_gen import (
    TRACKER_ENV,
    FakeTrackers,
    Spec,
    event_for,
    fresh_ado_location_cache,
    tracker_configs,
)
from tests.support.queue_helpers import drain
from tests.support.service import make_settings
from webhooks.commands.main import main
from webhooks.governance.people import report_people
from webhooks.governance.report import build_report
from webhooks.governance.report_render import render_csv, render_html, render_md
from webhooks.http.app import create_app
from webhooks.worker.runtime import Runtime

PACK = Path(__file__).resolve().parents[1] / "packs" / "people.yaml"
NOW = dt.datetime(2024, 6, 10, 12, 0, tzinfo=dt.UTC)  # a Monday
FRIDAY = dt.date(2024, 6, 14)
PEOPLE = """\
teams:
  payments: {capacity: {points: 10}}
  web: {capacity: {points: 10}}
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
_deliveries = itertools.count(1)
DANA_JIRA = {"accountId": "712020:dana-cloud-id", "displayName": "Dana W.", "active": True}


class Service:
    def __init__(self, tmp_path: Path, mock: responses.RequestsMock) -> None:
        people = tmp_path / "people.yaml"
        people.write_text(PEOPLE)
        self.settings = make_settings(
            tmp_path, trackers=tracker_configs(), rules=(str(PACK),), people_file=str(people),
            rollup_delay_seconds=0.05, sweep_interval_minutes=0,
        )  # fmt: skip
        self.runtime = Runtime.from_settings(self.settings, clock=lambda: NOW)
        self.client = create_app(settings=self.settings, runtime=self.runtime).test_client()
        self.trackers = FakeTrackers()
        self.trackers.install(mock)

    def deliver(self, *specs: Spec) -> None:
        for spec in specs:
            spec = self.trackers.know(spec)
            body = json.dumps(event_for(spec, created=True)).encode()
            path = "/webhooks/jira" if spec.tracker == "jira" else "/webhooks/azure-devops"
            headers = {"X-Atlassian-Webhook-Identifier": f"p-{next(_deliveries)}"}
            answer = self.client.post(path, data=body, headers=headers,
                                      content_type="application/json")  # fmt: skip
            assert answer.status_code == 202, answer.get_json()
        drain(self.runtime)

    def open_rules(self, key: str) -> set[str]:
        return {f.rule for f in self.runtime.store.open_findings(key)}

    def comment(self, key: str) -> str:
        (text,) = self.trackers.comments[key].values()
        return text


@pytest.fixture
def service(tmp_path, monkeypatch):
    for name, value in TRACKER_ENV.items():
        monkeypatch.setenv(name, value)
    fresh_ado_location_cache(monkeypatch)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield Service(tmp_path, rsps)


JIRA_STORY = Spec("jira", "PAY-41", "story", "Refund audit", "In Progress", 8, due=FRIDAY,
                  extra={"assignee": DANA_JIRA})  # fmt: skip
ADO_STORY = Spec("azure-devops", "541", "story", "Checkout API", "Active", 5, due=FRIDAY,
                 assignee="dana.whitfield@fabrikam.com")  # fmt: skip
ELI_STORY = Spec("azure-devops", "542", "story", "Wallet copy", "Active", 2, due=FRIDAY,
                 assignee="eli@fabrikam.com")  # fmt: skip


def test_one_person_over_capacity_across_trackers_is_told_on_both_items(service):
    service.deliver(JIRA_STORY)
    assert service.open_rules("jira:PAY-41") == set()  # 80% alone
    service.deliver(ADO_STORY, ELI_STORY)
    for key in ("jira:PAY-41", "azure-devops:541"):  # 8 + 5 of 10 points: 130%
        # "Dana W." in Jira and "Dana Whitfield" in Azure DevOps: one person, two items
        assert service.open_rules(key) == {"over-allocated", "wip-per-person"}, key
        text = service.comment(key)
        assert "Dana Whitfield is allocated over 110%" in text and "2024-06-10 (130%)" in text
        assert "Dana Whitfield has 2 items (at most 1 allowed)" in text
    assert service.open_rules("azure-devops:542") == set()
    # under-allocation is the PMO's business, never an item's
    assert not service.trackers.writes_to("azure-devops:542")

    service.deliver(ADO_STORY.bump(status="Closed"))
    assert service.open_rules("jira:PAY-41") == set()
    assert "All PMO rules pass" in service.comment("jira:PAY-41")


def test_people_api_json_csv_and_page(service):
    service.deliver(JIRA_STORY, ADO_STORY, ELI_STORY)
    data = service.client.get("/api/people?weeks=3").get_json()
    assert data["weeks"] == ["2024-06-10", "2024-06-17", "2024-06-24"]
    by_id = {p["id"]: p for p in data["people"]}
    assert by_id["dana"]["load"] == [1.3, 0.0, 0.0]
    assert {i["key"] for i in by_id["dana"]["items"]} == {"jira:PAY-41", "azure-devops:541"}
    assert by_id["eli"]["load"] == [0.2, 0.0, 0.0]
    under = {u["person"]: u["weeks"] for u in data["under_allocated"]}
    assert under == {"eli": ["2024-06-10", "2024-06-17"], "dana": ["2024-06-17", "2024-06-24"]}

    answer = service.client.get("/api/people?weeks=2&format=csv")
    assert answer.content_type.startswith("text/csv")
    rows = list(csv.reader(io.StringIO(answer.get_data(as_text=True))))
    assert rows[0] == ["person", "name", "team", "2024-06-10", "2024-06-17"]
    assert ["dana", "Dana Whitfield", "payments", "130", "0"] in rows

    page = service.client.get("/people?team=web").get_data(as_text=True)
    assert "Eli Moreau" in page and "Dana Whitfield" not in page
    assert 'class="low">20%' in page


def test_people_views_refuse_strangers(service, monkeypatch):
    monkeypatch.setenv("PMO_BRIDGE_VIEWER_TOKEN", "s3cret-viewer")
    assert service.client.get("/api/people").status_code == 401
    assert service.client.get("/people").status_code == 401
    ok = service.client.get("/api/people", headers={"Authorization": "Bearer s3cret-viewer"})
    assert ok.status_code == 200


def test_people_list_unmapped_names_accounts_nobody_maps(service, tmp_path):
    stranger = Spec("azure-devops", "543", "story", "Docs", "Active", 1,
                    assignee="zoe@fabrikam.com")  # fmt: skip
    service.deliver(JIRA_STORY, stranger)
    config = tmp_path / "pmo.yaml"
    config.write_text(f"database_url: {service.settings.database_url}\npeople_file: people.yaml\n")
    done = subprocess.run(
        [sys.executable, "-m", "webhooks.commands.main", "people", "list", "--unmapped",
         "--config", str(config), "--format", "json"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    accounts = {row["account"] for row in json.loads(done.stdout)}
    assert "zoe@fabrikam.com" in accounts and "712020:dana-cloud-id" not in accounts
    table = subprocess.run(
        [sys.executable, "-m", "webhooks.commands.main", "people", "list", "--unmapped",
         "--config", str(config)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[0].split() == [
        "TRACKER",
        "ACCOUNT",
        "ITEMS",
        "DISPLAY",
        "NAME",
    ]
    assert re.search(r"^azure-devops +zoe@fabrikam\.com +1  \S", table.stdout, re.M), table.stdout
    assert "dana" not in table.stdout.lower()  # mapped in Jira and Azure DevOps alike


def test_the_pmo_report_names_the_most_over_allocated_people(service, tmp_path, capsys):
    service.deliver(JIRA_STORY, ADO_STORY, ELI_STORY)
    runtime = service.runtime
    report = build_report(runtime.store, NOW, people=lambda: report_people(runtime))
    [dana] = report.over_allocated  # Eli's 20% is no one's concern here
    assert (dana.name, dana.team, dana.this_week, dana.peak, dana.items) == (
        "Dana Whitfield", "payments", 1.3, 1.3, 2,
    )  # fmt: skip
    row = "| Dana Whitfield | payments | 130% | 130% | 10 Jun 2024 | 2 |"
    md = render_md(report)
    assert "## Most over-allocated people" in md and row in md
    assert "Most work in progress" not in md
    assert "<td" in render_html(report) and "Dana Whitfield" in render_html(report)
    assert "Most over-allocated people,Dana Whitfield,payments,130%,130%" in render_csv(report)
    # the command reads the same people file (today, long after these weeks: nobody is
    # over capacity any more, and the section says so rather than counting WIP)
    config = tmp_path / "pmo.yaml"
    config.write_text(
        f"database_url: {service.settings.database_url}\npeople_file: people.yaml\n"
        f"rules: [{PACK}]\n"
    )
    assert main(["report", "--config", str(config), "--format", "md"]) == 0
    out = capsys.readouterr().out
    assert "## Most over-allocated people" in out and "Nobody is over capacity" in out


def test_a_report_on_some_projects_lists_only_the_people_with_items_there(service, capsys):
    service.deliver(JIRA_STORY, ADO_STORY, ELI_STORY)
    runtime = service.runtime
    projects = {i.project for i in runtime.store.iter_items()}
    elsewhere = sorted(projects - {"PAY"})
    assert elsewhere  # the Azure DevOps stories are in another project

    def people() -> dict | None:
        return report_people(runtime)

    pay = build_report(runtime.store, NOW, projects=["PAY"], people=people)
    [dana] = pay.over_allocated
    # her load still counts her Azure DevOps story: capacity is one per person
    assert (dana.name, dana.peak, dana.items, dana.items_in_scope) == ("Dana Whitfield", 1.3, 2, 1)
    md = render_md(pay)
    assert "| Person | Team | This week | Peak | Peak week | Items | Items in PAY |" in md
    assert "| Dana Whitfield | payments | 130% | 130% | 10 Jun 2024 | 2 | 1 |" in md
    assert "people with items in PAY; their load counts all their work" in md
    # a scope where the over-allocated person has no item: she is not listed
    none = build_report(runtime.store, NOW, projects=["NOPE"], people=people)
    assert none.over_allocated == ()
    assert "Nobody with items in scope is over capacity" in render_md(none)


def test_an_edit_that_changes_no_finding_still_moves_the_load(service):
    """A new estimate that leaves every finding as it was takes the worker's quick path
    (nothing governed or written back), and the person's load follows it all the same;
    an edit of nothing the shares read leaves the stored shares alone."""
    service.deliver(ELI_STORY)
    store = service.runtime.store
    assert sum(s.amount for s in store.shares_of({"eli"})) == pytest.approx(2)

    service.deliver(replace(ELI_STORY, estimate=3))

    assert sum(s.amount for s in store.shares_of({"eli"})) == pytest.approx(3)
    assert service.open_rules("azure-devops:542") == set()
    writes: list[str] = []
    real = store.replace_shares
    store.replace_shares = lambda key, shares: writes.append(key) or real(key, shares)
    service.deliver(replace(ELI_STORY, estimate=3, title="Wallet copy, reworded"))
    assert writes == []  # the title is nothing the shares follow from


def test_a_sweep_judges_loads_as_each_event_does_and_rewrites_no_unmoved_allocation(service):
    """The sweep reads everyone's shares once (not a person's per item) and writes the
    shares of an item only when they moved: right after the events, none did."""
    from webhooks.governance.people import load_findings
    from webhooks.governance.sweep import sweep

    service.deliver(JIRA_STORY, ADO_STORY, ELI_STORY)
    runtime = service.runtime
    ruleset = runtime.rules.current()
    memo: dict = {}
    for key in ("jira:PAY-41", "azure-devops:541", "azure-devops:542"):
        item = runtime.store.get_item(key)
        alone = load_findings(runtime, ruleset, item)
        assert load_findings(runtime, ruleset, item, memo) == alone, key
    assert [f.rule for f in load_findings(runtime, ruleset, runtime.store.get_item(
        "jira:PAY-41"), memo)] == ["over-allocated"]  # fmt: skip

    written: list[dict] = []
    replace_shares_of = runtime.store.replace_shares_of
    runtime.store.replace_shares_of = lambda changes, **kw: (
        written.append(dict(changes)) or replace_shares_of(changes, **kw)
    )
    assert sweep(runtime, runtime.tasks)["changed"] == 0
    assert written == []
    # a share gone from the store (a lost write): the sweep puts that item's back, only it
    runtime.store.replace_shares("azure-devops:542", [])
    sweep(runtime, runtime.tasks)
    assert [set(w) for w in written] == [{"azure-devops:542"}]
    assert runtime.store.shares_of({"eli"})
