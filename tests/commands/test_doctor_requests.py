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
