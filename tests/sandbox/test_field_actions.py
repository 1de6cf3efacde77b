"""Field actions against both sandboxes over real HTTP: the worker's start-up checks get
answers (nothing logged as unchecked), an unknown priority or user is reported at start,
and an audit with `apply` writes the rule's priority and assignee into each tracker."""

from __future__ import annotations

import logging

import pytest

from config.settings import TrackerConfig
from sandbox import Sandbox
from tests.support.service import make_settings
from webhooks.governance.action_checks import check_field_actions
from webhooks.governance.audit import run_audit
from webhooks.worker.runtime import Runtime

PACK = """version: 1
enforcement: enforce
scope: {TRACKER: ['*']}
rules:
  - id: blocked-is-urgent-TRACKER
    require: [{field: due_date, present: true}]
    actions: {set: {priority: PRIORITY, assignee: ASSIGNEE}}
"""


@pytest.fixture
def box(monkeypatch):
    sb = Sandbox(organization="fabrikam").start()
    sb.jira_state.add_project("PAY", "Payments")
    sb.jira_state.add_user("pmo-bot", "PMO Bot", token="jira-token")
    sb.jira_state.add_user("dana", "Dana Whitfield", email="dana@example.com")
    sb.jira_state.add_field("customfield_10400", "Mitigation plan")
    sb.azure_state.add_project("Fabrikam")
    sb.azure_state.add_field("Custom.RiskResponse")
    sb.azure_state.add_user("pmo-bot@fabrikam.com", "PMO Bot", pat="ado-pat")
    sb.azure_state.add_user("dana.whitfield@fabrikam.com", "Dana Whitfield")
    monkeypatch.setenv("SB_JIRA_USER", "pmo-bot")
    monkeypatch.setenv("SB_JIRA_TOKEN", "jira-token")
    monkeypatch.setenv("SB_ADO_PAT", "ado-pat")
    yield sb
    sb.stop()


def runtime_for(box: Sandbox, tmp_path, jira: dict[str, str], azure: dict[str, str]) -> Runtime:
    packs = []
    for tracker, values in (("jira", jira), ("azure-devops", azure)):
        text = PACK.replace("TRACKER", tracker)
        for key, value in values.items():
            text = text.replace(key, value)
        path = tmp_path / f"{tracker}.yaml"
        path.write_text(text)
        packs.append(str(path))
    trackers = {
        "jira": TrackerConfig(
            name="jira",
            kind="jira",
            url=box.jira_url,
            user_env="SB_JIRA_USER",
            fields={"mitigation": "customfield_10400"},
            token_env="SB_JIRA_TOKEN",
            bot_account="pmo-bot",
        ),
        "azure-devops": TrackerConfig(
            name="azure-devops",
            kind="azure-devops",
            url=box.azure_url,
            token_env="SB_ADO_PAT",
            project="Fabrikam",
            fields={"mitigation": "Custom.RiskResponse"},
            bot_account="pmo-bot@fabrikam.com",
        ),
    }
    settings = make_settings(tmp_path, trackers=trackers, rules=tuple(packs))
    return Runtime.from_settings(settings)


def start_checks(runtime: Runtime, caplog) -> list[str]:
    """What a worker does at its start: the field lists, then the field actions; neither
    may be left unanswered by the sandboxes."""
    with caplog.at_level(logging.WARNING):
        runtime.discover_fields()
        problems = check_field_actions(runtime)
    unanswered = {"rules.field_actions_unchecked", "fields.names_not_read",
                  "jira.fields.not_discovered"}  # fmt: skip
    unchecked = [r for r in caplog.records if r.getMessage() in unanswered]
    assert unchecked == [], [getattr(r, "error", "") for r in unchecked]
    names = {n: t.field_names.get("mitigation") for n, t in runtime.settings.trackers.items()}
    assert names == {"jira": "Mitigation plan", "azure-devops": "Risk Response"}
    return problems


def test_known_values_are_checked_at_start_and_written_on_both_trackers(
    box, tmp_path, caplog
) -> None:
    jira = {"PRIORITY": "High", "ASSIGNEE": "dana@example.com"}
    azure = {"PRIORITY": "'2'", "ASSIGNEE": "dana.whitfield@fabrikam.com"}
    runtime = runtime_for(box, tmp_path, jira, azure)
    assert start_checks(runtime, caplog) == []
    calls = box.api_calls()
    assert calls[("jira", "GET", "/rest/api/{version}/priority")] == 1
    assert calls[("jira", "GET", "/rest/api/{version}/user/search")] == 1
    assert calls[("azure-devops", "GET", "/{org}/_apis/identities")] == 1
    assert any(route.startswith("/{org}/{project}/_apis/wit/workitemtypes/")
               for (_, _, route) in calls)  # fmt: skip

    issue = box.jira_state.create_issue("PAY", "Story", "A blocked story", actor="pmo-bot")
    item = box.azure_state.create_work_item(
        "Fabrikam", "User Story", actor="pmo-bot@fabrikam.com",
        ops=[{"op": "add", "path": "/fields/System.Title", "value": "A story"}],
    )  # fmt: skip
    run_audit(runtime, "jira", "project = PAY", apply=True)
    run_audit(runtime, "azure-devops",
              "SELECT [System.Id] FROM WorkItems WHERE [System.TeamProject] = 'Fabrikam'",
              apply=True)  # fmt: skip

    written = box.jira_state.get(issue.key).fields
    assert (written["priority"], written["assignee"]) == ("High", "dana")
    fields = box.azure_state.get(item.id).fields
    assert fields["Microsoft.VSTS.Common.Priority"] == 2
    assert fields["System.AssignedTo"] == "dana.whitfield@fabrikam.com"


def test_unknown_priorities_and_users_are_reported_at_start(box, tmp_path, caplog) -> None:
    jira = {"PRIORITY": "Urgent", "ASSIGNEE": "nobody@example.com"}
    azure = {"PRIORITY": "High", "ASSIGNEE": "nobody@fabrikam.com"}
    problems = start_checks(runtime_for(box, tmp_path, jira, azure), caplog)
    assert problems == [
        "rule blocked-is-urgent-jira: sets priority 'Urgent', but tracker jira has no such "
        "priority (it has: Highest, High, Medium, Low, Lowest)",
        "rule blocked-is-urgent-jira: sets assignee 'nobody@example.com', but tracker jira "
        "finds no active user of that name (user search)",
        "rule blocked-is-urgent-azure-devops: sets priority 'High', but tracker azure-devops "
        "does not take it on Epic items (allowed: 1, 2, 3, 4)",
        "rule blocked-is-urgent-azure-devops: sets assignee 'nobody@fabrikam.com', but "
        "tracker azure-devops has no one active identity of that name (identities search)",
    ]


def test_the_sandboxes_refuse_unknown_values_as_the_services_do(box) -> None:
    import requests

    issue = box.jira_state.create_issue("PAY", "Story", "A story", actor="pmo-bot")
    url = f"{box.jira_url}/rest/api/3/issue/{issue.key}"
    auth = ("pmo-bot", "jira-token")
    bad = requests.put(url, json={"fields": {"priority": {"id": "99"}}}, auth=auth, timeout=5)
    assert bad.status_code == 400
    assert bad.json()["errors"] == {"priority": "Specify the Priority (name) in the string format"}
    who = requests.put(url, json={"fields": {"assignee": {"accountId": "nope"}}},
                       auth=auth, timeout=5)  # fmt: skip
    assert who.status_code == 400 and "assignee" in who.json()["errors"]
    ok = requests.put(url, json={"fields": {"priority": {"id": "2"}}}, auth=auth, timeout=5)
    assert ok.status_code == 204 and box.jira_state.get(issue.key).fields["priority"] == "High"

    item = box.azure_state.create_work_item(
        "Fabrikam", "Bug", actor="pmo-bot@fabrikam.com",
        ops=[{"op": "add", "path": "/fields/System.Title", "value": "A bug"}],
    )  # fmt: skip
    patch = f"{box.azure_url}/_apis/wit/workitems/{item.id}?api-version=7.1"
    headers = {"Content-Type": "application/json-patch+json"}
    for field, value in (("Microsoft.VSTS.Common.Priority", 7),
                         ("System.AssignedTo", "nobody@fabrikam.com")):  # fmt: skip
        refused = requests.patch(patch, json=[{"op": "add", "path": f"/fields/{field}",
                                               "value": value}],
                                 auth=("", "ado-pat"), headers=headers, timeout=5)  # fmt: skip
        assert refused.status_code == 400, refused.text
        assert refused.json()["message"].startswith("TF401320: Rule Error for field")


def test_user_search_and_identities_answer_as_documented(box) -> None:
    import requests

    search = f"{box.jira_url}/rest/api/3/user/search"
    auth = ("pmo-bot", "jira-token")
    box.jira_state.add_user("dan", "Dan Gone", email="dan@example.com")
    box.jira_state.users["dan"]["active"] = False
    found = requests.get(search, params={"query": "dan"}, auth=auth, timeout=5).json()
    assert [(u["displayName"], u["active"]) for u in found] == [
        ("Dana Whitfield", True), ("Dan Gone", False)]  # fmt: skip
    by_id = requests.get(search, params={"accountId": found[0]["accountId"]}, auth=auth, timeout=5)
    assert [u["displayName"] for u in by_id.json()] == ["Dana Whitfield"]
    assert requests.get(search, auth=auth, timeout=5).status_code == 400
    assert requests.get(search, params={"query": "whit"}, auth=auth, timeout=5).json() == []

    identities = f"{box.azure_url}/_apis/identities"
    params = {"searchFilter": "General", "filterValue": "Dana Whitfield",
              "queryMembership": "None", "api-version": "7.1"}  # fmt: skip
    answer = requests.get(identities, params=params, auth=("", "ado-pat"), timeout=5).json()
    assert answer["count"] == 1
    props = answer["value"][0]["properties"]
    assert props["Account"]["$value"] == "dana.whitfield@fabrikam.com"
    assert props["SchemaClassName"]["$value"] == "User"
    missing = requests.get(identities, params={"api-version": "7.1"}, auth=("", "ado-pat"),
                           timeout=5)  # fmt: skip
    assert missing.status_code == 400


def test_data_center_user_search_takes_the_user_name() -> None:
    import requests

    with Sandbox(deployment="server") as sb:
        sb.jira_state.add_user("dana", "Dana Whitfield", email="dana@example.com")
        search = f"{sb.jira_url}/rest/api/2/user/search"
        found = requests.get(search, params={"username": "dana"}, auth=("pm", "t"), timeout=5)
        assert [u["name"] for u in found.json()] == ["dana"]
        assert requests.get(search, params={"query": "dana"}, auth=("pm", "t"),
                            timeout=5).status_code == 400  # fmt: skip
