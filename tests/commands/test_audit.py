"""`pmo-bridge audit` over mocked trackers of 5,000 items each: Jira Cloud's enhanced
search (approximate count, then pages of ids chained by nextPageToken, then the issues by
issue/bulkfetch in 100s with only the mapped fields) and Azure DevOps (WIQL, then
workitemsbatch in 200s with only the mapped fields). The report must equal evaluating the same items one
by one; nothing is written without `--apply`; the store is seeded for rollups."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import pytest
import responses
import yaml

from config.settings import load_settings
from connector.azure_devops.adapter import item_from_work_item
from connector.azure_devops.item import work_item_fields
from connector.azure_devops.wiql import paged_query
from connector.jira.adapter import item_from_issue
from connector.jira.item import issue_fields
from rules import Context, evaluate, load_pack
from tests.support.helpers import PACKS
from tests.support.portfolio_gen import (
    ADO_ORG,
    ADO_PROJECT,
    JIRA_SITE,
    TRACKER_ENV,
    FakeTrackers,
    Spec,
    ado_work_item,
    fresh_ado_location_cache,
    jira_issue,
)
from tests.support.service import SERVICE_PACK
from webhooks.commands.main import main
from webhooks.governance.hierarchy import with_portfolio_parent

JQL = "project = PAY ORDER BY key"
WIQL = "SELECT [System.Id] FROM WorkItems WHERE [System.TeamProject] = 'Fabrikam'"
SEARCH_ENDPOINTS = ("/search/approximate-count", "/search/jql", "/issue/bulkfetch",
                    "/_apis/wit/wiql", "/_apis/wit/workItemsBatch", "/_apis")  # fmt: skip


def jira_portfolio(epics: int, stories_per_epic: int) -> list[Spec]:
    """Epics first, then stories; every 3rd story unestimated, every 5th in progress
    without an owner, every 7th with a short title: findings of all three rules."""
    specs, seq = [], iter(range(1, 10**6))
    epic_ids = [f"PAY-{next(seq)}" for _ in range(epics)]
    specs += [Spec("jira", e, "epic", f"Epic {e}", "In Progress", assignee="pm@acme.io",
                   due=dt.date(2024, 9, 30)) for e in epic_ids]  # fmt: skip
    for n, epic in enumerate(epic_ids * stories_per_epic):
        status = ("To Do", "In Progress", "Done")[n % 3]
        specs.append(
            Spec("jira", f"PAY-{next(seq)}", "story", "Fix" if n % 7 == 0 else f"Story {n}",
                 status, None if n % 3 == 1 and n % 2 else float(n % 8 + 1), epic,
                 assignee=None if n % 5 == 0 else f"dev{n % 40}@acme.io")
        )  # fmt: skip
    return specs


def ado_portfolio(count: int) -> list[Spec]:
    features = [Spec("azure-devops", str(9000 + f), "feature", f"Feature {f}", "Active",
                     assignee="pm@fabrikam.com") for f in range(count // 100)]  # fmt: skip
    stories = [
        Spec("azure-devops", str(10000 + n), "story", "Bug" if n % 9 == 0 else f"Story {n}",
             ("New", "Active", "Closed")[n % 3], None if n % 4 == 1 else 3.0,
             features[n % len(features)].native_id,
             assignee=None if n % 6 == 1 else f"dev{n % 30}@fabrikam.com")
        for n in range(count - len(features))
    ]  # fmt: skip
    return features + stories


@pytest.fixture
def setup(tmp_path, monkeypatch):
    for name, value in TRACKER_ENV.items():
        monkeypatch.setenv(name, value)
    for name in ("PMO_BRIDGE_DATABASE_URL", "PMO_BRIDGE_REDIS_URL", "PMO_BRIDGE_RULES"):
        monkeypatch.delenv(name, raising=False)
    fresh_ado_location_cache(monkeypatch)
    config = tmp_path / "pmo-bridge.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "trackers": {
                    "jira": {
                        "kind": "jira",
                        "url": JIRA_SITE,
                        "bot_account": "pmo-bot",
                        "auth": {"user_env": "TEST_JIRA_EMAIL", "token_env": "TEST_JIRA_TOKEN"},
                    },
                    "azure-devops": {
                        "kind": "azure-devops",
                        "url": ADO_ORG,
                        "project": ADO_PROJECT,
                        "auth": {"token_env": "TEST_ADO_PAT"},
                    },
                },
                "rules": [str(SERVICE_PACK)],
                "database_url": f"sqlite:///{tmp_path / 'store.db'}",
                "queue_path": str(tmp_path / "queue.db"),
                "sweep_interval_minutes": 0,
            }
        )
    )
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake = FakeTrackers()
        fake.install(rsps)
        yield str(config), fake, rsps


def audit(capsys, config: str, *args: str) -> str:
    assert main(["audit", "--config", config, "--no-progress", *args]) == 0
    return capsys.readouterr().out


def expected_rows(config: str, items) -> list[dict]:
    """The report's findings, from `rules.evaluate` on each item by itself."""
    settings = load_settings(config)
    pack = load_pack(str(SERVICE_PACK))
    by_key = {item.key: item for item in items}
    now = dt.datetime.now(dt.UTC)  # the service pack has no time-dependent rule
    rows = []
    for item in items:
        parent = by_key.get(item.parent) if item.parent else None
        item = with_portfolio_parent(item, settings)
        for finding in evaluate(pack, item, Context(now=now, parent=parent)):
            rows.append({"item": item.key, "project": item.project, **finding.to_dict()})
    return rows


def non_search_calls(rsps) -> list[tuple[str, str]]:
    return [
        (c.request.method, c.request.url)
        for c in rsps.calls
        if c.request.method != "GET" and not c.request.url.split("?")[0].endswith(SEARCH_ENDPOINTS)
    ]


def test_jira_audit_of_5000_items_pages_evaluates_and_writes_nothing(setup, capsys):
    config, fake, rsps = setup
    specs = jira_portfolio(epics=50, stories_per_epic=99)
    assert len(specs) == 5000
    fake.search_issues = [jira_issue(s) for s in specs]

    report = json.loads(audit(capsys, config, "--tracker", "jira", "--query", JQL,
                              "--format", "json"))  # fmt: skip

    # one count, then one page of ids (no fields asked: the largest page), then the
    # issues in 50 bulk fetches of 100 ids, each with the mapped fields only
    urls = [c.request.url for c in rsps.calls]
    assert urls[0] == f"{JIRA_SITE}/rest/api/3/search/approximate-count"
    assert json.loads(rsps.calls[0].request.body) == {"jql": JQL}
    assert fake.search_bodies == [{"jql": JQL, "maxResults": 5000}]
    settings = load_settings(config)
    tracker = settings.tracker("jira")
    assert len(fake.bulk_bodies) == 50
    asked = sorted(i for b in fake.bulk_bodies for i in b["issueIdsOrKeys"])
    assert asked == sorted(issue["id"] for issue in fake.search_issues)
    assert {len(b["issueIdsOrKeys"]) for b in fake.bulk_bodies} == {100}
    assert {tuple(b["fields"]) for b in fake.bulk_bodies} == {tuple(issue_fields(tracker))}
    assert "*all" not in issue_fields(tracker) and "issuelinks" in issue_fields(tracker)
    assert non_search_calls(rsps) == []  # a dry run writes nothing

    items = [item_from_issue(issue, tracker) for issue in fake.search_issues]
    rows = expected_rows(config, items)
    assert report["items"] == 5000
    assert report["findings"] == rows
    assert report["noncompliant_items"] == len({r["item"] for r in rows})
    assert sum(report["by_rule"].values()) == len(rows)
    assert set(report["by_rule"]) == {"story-estimated", "owner-in-progress", "title-length"}
    assert report["by_project"] == {"PAY": len(rows)}
    assert report["writes"] == 0

    # the store is seeded: every item, and rollups computable from it
    from webhooks.governance.rollups import Rollups
    from webhooks.worker.runtime import Runtime

    runtime = Runtime.from_settings(settings)
    assert runtime.store.count_items() == 5000
    (rollup,) = Rollups(runtime, runtime.tasks).recompute_chain(items[-1].key)
    epic = items[-1].parent
    children = [i for i in items if i.parent == epic]
    assert rollup.parent_key == epic and rollup.children == len(children) == 99
    assert rollup.points_total == sum(i.estimate or 0 for i in children)
    assert {f.item_key for f in runtime.store.open_findings()} == {r["item"] for r in rows}


def test_azure_devops_audit_of_5000_items_in_batches_of_200_as_csv(setup, capsys):
    config, fake, rsps = setup
    specs = ado_portfolio(5000)
    for spec in specs:
        fake.know(spec)
    fake.ado_search = [int(s.native_id) for s in specs]

    out = audit(capsys, config, "--tracker", "azure-devops", "--query", WIQL, "--format", "csv")

    wiql = [c for c in rsps.calls if c.request.url.split("?")[0].endswith("/_apis/wit/wiql")]
    assert len(wiql) == 1  # 5,000 ids: one page of the 19,999 a WIQL call may ask for
    assert json.loads(wiql[0].request.body) == {"query": paged_query(WIQL, 0)}
    assert "top=19999" in wiql[0].request.url
    assert len(fake.batch_ids) == 25  # several in flight: any order
    assert sorted(fake.batch_ids) == [fake.ado_search[n : n + 200] for n in range(0, 5000, 200)]
    assert non_search_calls(rsps) == []
    tracker = load_settings(config).tracker("azure-devops")
    # no rule reads links: the mapped fields only, so no relations (ADO refuses both)
    assert {tuple(b["fields"]) for b in fake.batch_bodies} == {tuple(work_item_fields(tracker))}
    assert not any("$expand" in b for b in fake.batch_bodies)

    items = [item_from_work_item(ado_work_item(s), tracker) for s in specs]
    rows = expected_rows(config, items)
    table = list(csv.DictReader(io.StringIO(out)))
    columns = ("item", "project", "rule", "severity", "enforcement", "message")
    assert table == [{c: r[c] for c in columns} for r in rows]
    assert {r["rule"] for r in table} == {"story-estimated", "owner-in-progress", "title-length"}


def test_table_format_summarises_by_rule_and_project(setup, capsys):
    config, fake, _rsps = setup
    specs = jira_portfolio(epics=2, stories_per_epic=10)
    fake.search_issues = [jira_issue(s) for s in specs]
    out = audit(capsys, config, "--tracker", "jira", "--query", JQL)
    tracker = load_settings(config).tracker("jira")
    rows = expected_rows(config, [item_from_issue(i, tracker) for i in fake.search_issues])
    noncompliant = len({r["item"] for r in rows})
    lines = out.splitlines()
    assert lines[0] == f"audit of jira: {JQL}"
    assert lines[1] == f"22 items, {noncompliant} non-compliant, {len(rows)} findings"
    for rule in {r["rule"] for r in rows}:
        count = sum(r["rule"] == rule for r in rows)
        assert f"{rule:<32} {count:>8}" in lines
    assert f"{'PAY':<32} {len(rows):>8}" in lines
    assert "written back" not in out


def test_apply_writes_back_as_the_service_would(setup, capsys):
    config, fake, rsps = setup
    specs = jira_portfolio(epics=1, stories_per_epic=12)
    fake.search_issues = [jira_issue(s) for s in specs]
    report = json.loads(audit(capsys, config, "--tracker", "jira", "--query", JQL,
                              "--format", "json", "--apply"))  # fmt: skip
    tracker = load_settings(config).tracker("jira")
    rows = expected_rows(config, [item_from_issue(i, tracker) for i in fake.search_issues])
    unowned = sorted({r["item"] for r in rows if r["rule"] == "owner-in-progress"})
    # items with findings get the findings; the epic, a rollup parent, gets the comment
    # the service gives it: the rollup table (and its findings), never a findings-only one
    epics = {f"jira:{s.native_id}" for s in specs if s.type == "epic"}
    commented = {r["item"] for r in rows if r["enforcement"] in ("advise", "enforce")}
    assert unowned and report["writes"] > 0
    assert sorted(k for k, labels in fake.labels.items() if "pmo-unowned" in labels) == unowned
    assert sorted(fake.comments) == sorted(commented | epics)
    for epic in epics:
        (text,) = fake.comments[epic].values()
        assert "Portfolio rollup" in text
        assert any(label.startswith("pmo-rag-") for label in fake.labels[epic])
    assert non_search_calls(rsps)  # PUT labels, POST comments


def test_audit_shows_portfolio_rules_over_the_seeded_groups(setup, capsys):
    """An `across:` rule (work in progress per person) is judged on the group the audit
    seeded, as the worker judges it: each of Dana's three items in progress breaks the
    limit of two; Ravi's one does not."""
    config, fake, _rsps = setup
    data = yaml.safe_load(Path(config).read_text())
    data["rules"].append(str(PACKS / "portfolio-across.yaml"))
    Path(config).write_text(yaml.safe_dump(data))
    specs = [
        Spec("jira", f"PAY-{n}", "story", f"Story {n}", "In Progress", 3.0,
             assignee="dana@acme.io")
        for n in (1, 2, 3)
    ] + [Spec("jira", "PAY-4", "story", "Story 4", "In Progress", 3.0, assignee="ravi@acme.io")]  # fmt: skip
    fake.search_issues = [jira_issue(s) for s in specs]

    report = json.loads(audit(capsys, config, "--tracker", "jira", "--query", JQL,
                              "--format", "json"))  # fmt: skip

    wip = sorted(f["item"] for f in report["findings"] if f["rule"] == "wip-limit")
    assert wip == ["jira:PAY-1", "jira:PAY-2", "jira:PAY-3"]
    assert report["by_rule"]["wip-limit"] == 3
