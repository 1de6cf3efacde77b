"""The calls doctor adds to the trackers' APIs, each checked against the vendor's spec."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest
import responses

from config.settings import TrackerConfig
from tests.support.spec_check import assert_documented
from webhooks.commands.doctor_probes import AzureProbe, JiraProbe

JIRA = "https://acme.atlassian.net"
ORG = "https://dev.azure.com/fabrikam"
ENV = {"JIRA_EMAIL": "bot@acme.example", "JIRA_API_TOKEN": "t", "AZURE_DEVOPS_PAT": "p"}
FIELDS_LOCATION = {
    "id": "b51fd764-e5c2-4b9b-aaf7-3395cf4bdd94", "area": "wit", "resourceName": "fields",
    "routeTemplate": "{project}/_apis/{area}/{resource}/{fieldNameOrRefName}",
    "resourceVersion": 3, "minVersion": "1.0", "maxVersion": "7.1", "releasedVersion": "0.0",
}  # fmt: skip


@pytest.fixture(autouse=True)
def cold_location_caches(monkeypatch):
    """The azure-devops library caches locations per process and on disk: start cold."""
    from azure.devops import _file_cache
    from azure.devops import client as ado_client

    monkeypatch.setattr(ado_client.Client, "_locations_cache", {})
    for cache in (_file_cache.OPTIONS_CACHE, _file_cache.RESOURCE_CACHE):
        monkeypatch.setattr(cache, "file_name", "")
        monkeypatch.setattr(cache, "data", {})
        monkeypatch.setattr(cache, "initial_load_occurred", True)


def test_jira_permissions_are_asked_for_by_key_in_one_call():
    tracker = TrackerConfig(name="jira", kind="jira", url=JIRA, user_env="JIRA_EMAIL",
                            token_env="JIRA_API_TOKEN")  # fmt: skip
    answer = {"permissions": {
        "ADD_COMMENTS": {"key": "ADD_COMMENTS", "havePermission": True},
        "EDIT_OWN_COMMENTS": {"key": "EDIT_OWN_COMMENTS", "havePermission": False},
    }}  # fmt: skip
    with responses.RequestsMock() as mock:
        mock.get(f"{JIRA}/rest/api/3/mypermissions", json=answer)
        mock.get(f"{JIRA}/rest/api/3/project/PAY", json={"id": "10000", "key": "PAY"})
        probe = JiraProbe(tracker, environ=ENV)
        missing = probe.missing_permissions("PAY", ("ADD_COMMENTS", "EDIT_OWN_COMMENTS"))
        assert probe.project("PAY")["key"] == "PAY"
        for call in mock.calls:
            assert_documented(call.request, "jira", JIRA)
        query = dict(parse_qsl(urlsplit(mock.calls[0].request.url).query))
    assert missing == ["EDIT_OWN_COMMENTS"]
    assert query == {"projectKey": "PAY", "permissions": "ADD_COMMENTS,EDIT_OWN_COMMENTS"}


def test_azure_devops_fields_of_the_project():
    tracker = TrackerConfig(name="azure-devops", kind="azure-devops", url=ORG,
                            token_env="AZURE_DEVOPS_PAT", project="Fiber")  # fmt: skip
    fields = {"count": 1, "value": [
        {"name": "Story Points", "referenceName": "Microsoft.VSTS.Scheduling.StoryPoints"}]}  # fmt: skip
    with responses.RequestsMock() as mock:
        mock.add("OPTIONS", f"{ORG}/_apis", json={"count": 1, "value": [FIELDS_LOCATION]})
        mock.get(f"{ORG}/Fiber/_apis/wit/fields", json=fields)
        found = AzureProbe(tracker, environ=ENV).list_fields()
        assert_documented(mock.calls[1].request, "azure-devops", ORG)
    assert found == [{"id": "Microsoft.VSTS.Scheduling.StoryPoints", "name": "Story Points"}]


AREA_ID = "4d0ba2b6-7e4f-4d62-9f7c-1c1e3b5a9a10"
PROJECT_ID = "eb6e4656-77fc-42a1-9181-4c6d8e9da5d1"
ROOT_NODES = {"count": 2, "value": [
    {"id": 1, "identifier": AREA_ID, "name": "Fiber", "structureType": "area",
     "hasChildren": True, "path": "\\Fiber\\Area"},
    {"id": 2, "identifier": "9a0c1a7e-0000-4000-8000-000000000002", "name": "Fiber",
     "structureType": "iteration", "hasChildren": True, "path": "\\Fiber\\Iteration"},
]}  # fmt: skip


def _namespace(namespace_id: str) -> dict:
    from sandbox.azure_security import describe

    return {"count": 1, "value": [describe(namespace_id)]}


def _azure_write_checks(mock, batch_answer):
    """Doctor's comment and tag checks over mocked Azure DevOps answers."""
    from sandbox.azure_locations import resource_locations
    from sandbox.azure_security import CSS, TAGGING
    from webhooks.commands.doctor import _azure_writes

    tracker = TrackerConfig(name="azure-devops", kind="azure-devops", url=ORG,
                            token_env="AZURE_DEVOPS_PAT", project="Fiber")  # fmt: skip
    # the routes of the four resources, without the resource-area lookup
    routes = [loc for loc in resource_locations()["value"] if loc["area"] != "Location"]
    mock.add("OPTIONS", f"{ORG}/_apis", json={"count": len(routes), "value": routes})
    mock.get(f"{ORG}/Fiber/_apis/wit/classificationNodes", json=ROOT_NODES)
    mock.get(f"{ORG}/_apis/securitynamespaces/{CSS}", json=_namespace(CSS))
    mock.get(f"{ORG}/_apis/securitynamespaces/{TAGGING}", json=_namespace(TAGGING))
    if batch_answer is not None:
        mock.post(f"{ORG}/_apis/security/permissionevaluationbatch", **batch_answer)
    probe = AzureProbe(tracker, environ=ENV)
    return {c.name: c for c in _azure_writes(probe, "Fiber", PROJECT_ID, "azure-devops")}


def test_azure_devops_write_permissions_are_evaluated_by_the_security_api():
    """Root area token from the classification nodes, each action's bit from its
    namespace's description, one permission evaluation batch; every call documented."""
    import json

    def evaluate(request):
        body = json.loads(request.body)
        held = {("83e28ad4-2d72-4ceb-97b0-c7726d5502c3", 32): False}  # no "Edit work items"
        for e in body["evaluations"]:
            e["value"] = held.get((e["securityNamespaceId"], e["permissions"]), True)
        return 200, {"Content-Type": "application/json"}, json.dumps(body)

    with responses.RequestsMock() as mock:
        mock.add_callback("POST", f"{ORG}/_apis/security/permissionevaluationbatch", evaluate)
        found = _azure_write_checks(mock, None)
        for call in mock.calls:
            if call.request.method != "OPTIONS":
                assert_documented(call.request, "azure-devops", ORG)
        sent = json.loads(next(c for c in mock.calls if c.request.method == "POST").request.body)
    evaluations = {(e["securityNamespaceId"], e["token"], e["permissions"])
                   for e in sent["evaluations"]}  # fmt: skip
    assert evaluations == {
        ("83e28ad4-2d72-4ceb-97b0-c7726d5502c3", f"vstfs:///Classification/Node/{AREA_ID}", 32),
        ("83e28ad4-2d72-4ceb-97b0-c7726d5502c3", f"vstfs:///Classification/Node/{AREA_ID}", 512),
        ("bb50f182-8e5e-40b8-bc21-e8752a1e7ae2", f"/{PROJECT_ID}", 2),
    }
    assert sent["alwaysAllowAdministrators"] is False
    # comments alone are allowed by "Edit work item comments in this node"; tags are not
    assert found["comment Fiber"].ok is True
    tags = found["tags Fiber"]
    assert (tags.ok, tags.detail) == (False, "missing 'Edit work items in this node'")
    assert "Areas > Security" in tags.fix


def test_a_security_api_that_refuses_is_could_not_check_with_why_and_a_fix():
    refused = {"status": 401, "json": {"message": "TF400813: not authorized", "typeKey": "x"}}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        found = _azure_write_checks(mock, refused)
    for name in ("comment Fiber", "tags Fiber"):
        check = found[name]
        assert check.ok is None
        assert check.detail.startswith("could not check: the Azure DevOps Security API")
        assert "401" in check.detail
        assert "Create tag definition" in check.fix
        assert check.line().startswith("warn ")
