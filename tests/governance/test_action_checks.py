"""Field actions checked against the tracker when a worker starts: a priority the Jira
site or the Azure DevOps work item type does not have, an assignee neither tracker finds,
a custom field the tracker does not map."""

from __future__ import annotations

import logging
from urllib.parse import quote

import responses

from config.settings import TrackerConfig
from tests.support.service import make_settings
from tests.support.spec_check import assert_documented
from tests.support.worker_helpers import (
    ADO_BOT,
    ADO_PROJECT,
    ADO_URL,
    JIRA_API,
    JIRA_SITE,
    jira_tracker,
    mock_azure_discovery,
    reset_azure_location_caches,
)
from webhooks.governance.action_checks import check_field_actions
from webhooks.worker.runtime import Runtime

PACK = """version: 1
enforcement: enforce
rules:
  - id: blocked-is-urgent
    when: {status: [Blocked]}
    require: [{field: status_age, max: 5d}]
    actions: {set: {priority: PRIORITY, custom.escalation: "yes"}}
"""


def runtime_for(tmp_path, monkeypatch, priority: str) -> Runtime:
    monkeypatch.setenv("TEST_JIRA_EMAIL", "pmo-bot@example.com")
    monkeypatch.setenv("TEST_JIRA_TOKEN", "api-token")
    pack = tmp_path / "pack.yaml"
    pack.write_text(PACK.replace("PRIORITY", priority))
    tracker = jira_tracker(fields={"escalation": "customfield_10400"})
    settings = make_settings(tmp_path, trackers={"jira": tracker}, rules=(str(pack),))
    return Runtime.from_settings(settings)


def test_a_priority_the_site_lacks_is_reported_at_start(tmp_path, monkeypatch, caplog) -> None:
    runtime = runtime_for(tmp_path, monkeypatch, "Urgent")
    with responses.RequestsMock() as rsps:
        rsps.get(f"{JIRA_API}/priority", json=[{"id": "1", "name": "Highest"},
                                              {"id": "3", "name": "Medium"}])  # fmt: skip
        with caplog.at_level(logging.ERROR, logger="webhooks.governance.action_checks"):
            problems = check_field_actions(runtime)
        for call in rsps.calls:
            assert_documented(call.request, "jira", JIRA_SITE)
    assert problems == [
        "rule blocked-is-urgent: sets priority 'Urgent', but tracker jira has no such "
        "priority (it has: Highest, Medium)"
    ]
    assert [
        r.problem for r in caplog.records if r.name == "webhooks.governance.action_checks"
    ] == problems


def test_known_values_pass_and_an_unmapped_custom_field_is_reported(tmp_path, monkeypatch) -> None:
    runtime = runtime_for(tmp_path, monkeypatch, "highest")
    with responses.RequestsMock() as rsps:
        rsps.get(f"{JIRA_API}/priority", json=[{"id": "1", "name": "Highest"}])
        assert check_field_actions(runtime) == []
    unmapped = runtime_for(tmp_path, monkeypatch, "Highest")
    unmapped.settings = make_settings(
        tmp_path, trackers={"jira": jira_tracker()}, rules=unmapped.settings.rules
    )
    with responses.RequestsMock() as rsps:
        rsps.get(f"{JIRA_API}/priority", json=[{"id": "1", "name": "Highest"}])
        assert check_field_actions(unmapped) == [
            "rule blocked-is-urgent: sets custom.escalation, but tracker jira maps no field "
            "'escalation' (add it under fields:)"
        ]


def test_a_site_that_cannot_answer_leaves_the_check_to_the_write(tmp_path, monkeypatch) -> None:
    runtime = runtime_for(tmp_path, monkeypatch, "Urgent")
    with responses.RequestsMock() as rsps:
        rsps.get(f"{JIRA_API}/priority", status=503)
        assert check_field_actions(runtime) == []


# -- users (Jira user search) ------------------------------------------------------------

ASSIGN = """version: 1
enforcement: enforce
rules:
  - id: blocked-goes-to-the-lead
    when: {status: [Blocked]}
    require: [{field: status_age, max: 5d}]
    actions: {set: {assignee: WHO}}
  - id: stale-goes-to-the-lead
    when: {status: [Stale]}
    require: [{field: status_age, max: 5d}]
    actions: {set: {assignee: WHO}}
"""


def assign_runtime(tmp_path, monkeypatch, who: str, **tracker) -> Runtime:
    monkeypatch.setenv("TEST_JIRA_EMAIL", "pmo-bot@example.com")
    monkeypatch.setenv("TEST_JIRA_TOKEN", "api-token")
    pack = tmp_path / "assign.yaml"
    pack.write_text(ASSIGN.replace("WHO", who))
    settings = make_settings(
        tmp_path, trackers={"jira": jira_tracker(**tracker)}, rules=(str(pack),)
    )
    return Runtime.from_settings(settings)


def test_an_assignee_the_jira_user_search_does_not_find_is_reported(tmp_path, monkeypatch):
    runtime = assign_runtime(tmp_path, monkeypatch, "Dana Lead")
    with responses.RequestsMock() as rsps:
        # asked once for both rules: the answer is cached per value
        rsps.get(f"{JIRA_API}/user/search", json=[])
        problems = check_field_actions(runtime)
        (call,) = rsps.calls
        assert_documented(call.request, "jira", JIRA_SITE)
        assert "query=Dana+Lead" in call.request.url
    assert problems == [
        f"rule {rule}: sets assignee 'Dana Lead', but tracker jira finds no active user of "
        "that name (user search)"
        for rule in ("blocked-goes-to-the-lead", "stale-goes-to-the-lead")
    ]


def test_a_known_user_passes_on_cloud_and_data_center(tmp_path, monkeypatch) -> None:
    cloud = assign_runtime(tmp_path, monkeypatch, "dana@example.com")
    with responses.RequestsMock() as rsps:
        rsps.get(f"{JIRA_API}/user/search",
                 json=[{"accountId": "5b10a2844c20165700ede21g", "displayName": "Dana Lead",
                        "active": True}])  # fmt: skip
        assert check_field_actions(cloud) == []
    server = assign_runtime(tmp_path, monkeypatch, "dlead", deployment="server")
    with responses.RequestsMock() as rsps:
        rsps.get(
            f"{JIRA_SITE}/rest/api/2/user/search",
            json=[{"name": "dlead", "displayName": "Dana Lead", "active": True}],
        )
        assert check_field_actions(server) == []
        (call,) = rsps.calls
        assert "username=dlead" in call.request.url
        assert_documented(call.request, "jira", JIRA_SITE)
    # an inactive account is no user to assign work to
    inactive = assign_runtime(tmp_path, monkeypatch, "dana@example.com")
    with responses.RequestsMock() as rsps:
        rsps.get(
            f"{JIRA_API}/user/search",
            json=[{"accountId": "x", "displayName": "Dana Lead", "active": False}],
        )
        assert len(check_field_actions(inactive)) == 2


# -- Azure DevOps: allowed priorities and identities --------------------------------------

ADO_PACK = """version: 1
enforcement: enforce
rules:
  - id: blocked-story-is-urgent
    when: {type: [story], status: [Blocked]}
    require: [{field: status_age, max: 5d}]
    actions: {set: {priority: "PRIORITY", assignee: WHO}}
"""
FIELD = "_apis/wit/workitemtypes/{type}/fields/Microsoft.VSTS.Common.Priority"
IDENTITIES = "https://vssps.dev.azure.com/fabrikam/_apis/identities"


def ado_runtime(tmp_path, monkeypatch, priority: str, who: str) -> Runtime:
    reset_azure_location_caches(monkeypatch)
    monkeypatch.setenv("TEST_AZURE_PAT", "pat-token")
    pack = tmp_path / "ado.yaml"
    pack.write_text(ADO_PACK.replace("PRIORITY", priority).replace("WHO", who))
    tracker = TrackerConfig(
        name="azure-devops", kind="azure-devops", url=ADO_URL, token_env="TEST_AZURE_PAT",
        project=ADO_PROJECT, bot_account=ADO_BOT,
    )  # fmt: skip
    settings = make_settings(tmp_path, trackers={"azure-devops": tracker}, rules=(str(pack),))
    return Runtime.from_settings(settings)


def field_url(type_name: str) -> str:
    return f"{ADO_URL}/{ADO_PROJECT}/" + FIELD.format(type=quote(type_name))


def check_ado_calls(rsps) -> list[str]:
    """Each call after the library's discovery, checked against Microsoft's specs."""
    seen = []
    for call in rsps.calls:
        if call.request.method == "OPTIONS":
            continue
        if call.request.url.startswith(IDENTITIES):
            assert_documented(
                call.request, "azure-devops-identities", "https://vssps.dev.azure.com/fabrikam"
            )
        else:
            assert_documented(call.request, "azure-devops", ADO_URL)
        seen.append(call.request.url.split("?")[0].rsplit("/_apis/", 1)[1])
    return seen


def test_azure_devops_priority_outside_the_allowed_values_and_unknown_identity(
    tmp_path, monkeypatch
) -> None:
    runtime = ado_runtime(tmp_path, monkeypatch, "5", "Nobody Here")
    with responses.RequestsMock() as rsps:
        mock_azure_discovery(rsps)
        # the rule is about stories: "User Story" is not a type of this (Scrum) project,
        # "Product Backlog Item" is
        rsps.get(
            field_url("User Story"),
            status=404,
            json={"message": "TF51535: Cannot find field.", "typeKey": "x"},
        )
        rsps.get(field_url("Product Backlog Item"),
                 json={"referenceName": "Microsoft.VSTS.Common.Priority", "name": "Priority",
                       "allowedValues": [1, 2, 3, 4]})  # fmt: skip
        rsps.get(IDENTITIES, json={"count": 0, "value": []})
        problems = check_field_actions(runtime)
        assert check_ado_calls(rsps) == [
            "wit/workitemtypes/User%20Story/fields/Microsoft.VSTS.Common.Priority",
            "wit/workitemtypes/Product%20Backlog%20Item/fields/Microsoft.VSTS.Common.Priority",
            "identities",
        ]
        asked = [c.request for c in rsps.calls if c.request.method != "OPTIONS"]
        assert "$expand=allowedValues" in asked[1].url
        assert "searchFilter=General" in asked[2].url and "filterValue=Nobody+Here" in asked[2].url
        assert asked[2].headers["Authorization"].startswith("Basic ")
    assert problems == [
        "rule blocked-story-is-urgent: sets priority '5', but tracker azure-devops does not "
        "take it on Product Backlog Item items (allowed: 1, 2, 3, 4)",
        "rule blocked-story-is-urgent: sets assignee 'Nobody Here', but tracker azure-devops "
        "has no one active identity of that name (identities search)",
    ]


def test_azure_devops_allowed_priority_and_known_identity_pass(tmp_path, monkeypatch) -> None:
    runtime = ado_runtime(tmp_path, monkeypatch, "1", "dana.whitfield@fabrikam.com")
    with responses.RequestsMock() as rsps:
        mock_azure_discovery(rsps)
        rsps.get(field_url("User Story"),
                 json={"referenceName": "Microsoft.VSTS.Common.Priority",
                       "allowedValues": [1, 2, 3, 4]})  # fmt: skip
        rsps.get(IDENTITIES, json=IDENTITY_ANSWER)
        assert check_field_actions(runtime) == []
        check_ado_calls(rsps)


# Microsoft's example answer (specification/ims/7.1/httpExamples/Identities/
# SearchIdentityByEmail.json), renamed to the test organisation's person.
IDENTITY_ANSWER = {
    "count": 1,
    "value": [
        {
            "id": "81fa6389-0872-6fdd-a451-7ba7880f566a",
            "providerDisplayName": "Dana Whitfield",
            "isActive": True,
            "members": [],
            "memberOf": [],
            "properties": {
                "SchemaClassName": {"$type": "System.String", "$value": "User"},
                "Account": {"$type": "System.String", "$value": "dana.whitfield@fabrikam.com"},
                "Mail": {"$type": "System.String", "$value": "dana.whitfield@fabrikam.com"},
            },
        }
    ],
}
