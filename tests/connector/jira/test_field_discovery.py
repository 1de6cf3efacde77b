"""Jira custom field ids the configuration leaves open (epic_link, parent_link, estimate,
start_date) are found by name through GET /rest/api/{2,3}/field at a worker's start:
against mocked Jira (requests checked against Atlassian's spec) and against the sandbox."""

from __future__ import annotations

import pytest
import responses

from connector import jira as jira_adapter
from connector.model import FieldChange
from sandbox.jira_app import create_jira_app
from sandbox.jira_state import JiraState
from sandbox.server import run_in_thread
from tests.support.helpers import load_fixture
from tests.support.service import make_settings
from tests.support.spec_check import assert_documented
from tests.support.worker_helpers import JIRA_SITE, jira_tracker
from webhooks.worker.runtime import Runtime

ENV = {"TEST_JIRA_EMAIL": "pmo-bot@example.com", "TEST_JIRA_TOKEN": "api-token"}


def custom(field_id: str, name: str) -> dict:
    return {"id": field_id, "key": field_id, "name": name, "custom": True,
            "schema": {"type": "any", "customId": int(field_id.rsplit("_", 1)[1])}}  # fmt: skip


DC_FIELDS = [
    {"id": "summary", "key": "summary", "name": "Summary", "custom": False},
    custom("customfield_10100", "Epic Link"),
    custom("customfield_10101", "Story Points"),
    custom("customfield_10102", "Parent Link"),
    custom("customfield_10103", "Team"),
]


@pytest.fixture
def env(monkeypatch):
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)


def runtime_for(tmp_path, tracker) -> Runtime:
    return Runtime.from_settings(make_settings(tmp_path, trackers={"jira": tracker}))


def test_unconfigured_ids_are_found_by_name_and_logged(tmp_path, env, caplog):
    runtime = runtime_for(
        tmp_path, jira_tracker(deployment="server", fields={"start_date": "customfield_9"})
    )
    with responses.RequestsMock() as rsps:
        rsps.get(f"{JIRA_SITE}/rest/api/2/field", json=DC_FIELDS)
        with caplog.at_level("INFO", logger="webhooks.resources"):
            found = runtime.discover_fields()
        (call,) = rsps.calls
        assert_documented(call.request, "jira", JIRA_SITE)
    expected = {
        "epic_link": "customfield_10100",
        "parent_link": "customfield_10102",
        "estimate": "customfield_10101",
    }
    assert found == {"jira": expected}
    fields = runtime.settings.tracker("jira").fields
    assert fields == {"start_date": "customfield_9", **expected}  # configured wins
    (line,) = [r for r in caplog.records if r.message == "jira.fields.discovered"]
    assert line.found == expected and line.not_found == []

    # Data Center changelog items name the field only: "Story Points" is the estimate
    tracker = runtime.settings.tracker("jira")
    payload = load_fixture("jira", "issue_updated__fields_server_no_type_name")
    payload["changelog"]["items"] = [
        {"field": "Story Points", "fieldtype": "custom", "from": None, "fromString": None,
         "to": None, "toString": "5"}
    ]  # fmt: skip
    payload["issue"]["fields"]["customfield_10101"] = 5
    event = jira_adapter.parse_event(payload, tracker)
    assert event.changes == (FieldChange("estimate", None, 5.0),)
    assert event.item.estimate == 5.0


def test_configured_ids_ask_nothing(tmp_path, env):
    fields = {"epic_link": "a", "parent_link": "b", "estimate": "c", "start_date": "d"}
    runtime = runtime_for(tmp_path, jira_tracker(fields=fields))
    with responses.RequestsMock():
        assert runtime.discover_fields() == {}


def test_a_tracker_that_cannot_answer_keeps_the_defaults(tmp_path, env, caplog):
    runtime = runtime_for(tmp_path, jira_tracker())
    with responses.RequestsMock() as rsps:
        rsps.get(f"{JIRA_SITE}/rest/api/3/field", status=503)
        with caplog.at_level("WARNING", logger="webhooks.resources"):
            assert runtime.discover_fields() == {}
    assert runtime.settings.tracker("jira").fields == {}
    ours = [r.message for r in caplog.records if r.name == "webhooks.resources"]
    assert ours == ["jira.fields.not_discovered"]


def test_discovery_against_the_sandbox_then_an_epic_link_event(tmp_path, env):
    state = JiraState()
    state.add_project("PAY")
    state.add_field("customfield_10014", "Epic Link")
    url, stop = run_in_thread(create_jira_app(state))
    try:
        runtime = runtime_for(tmp_path, jira_tracker(url=url))
        found = runtime.discover_fields()
    finally:
        stop()
    assert found == {
        "jira": {
            "epic_link": "customfield_10014",
            "estimate": "customfield_10016",  # Cloud's "Story point estimate"
            "start_date": "customfield_10015",
        }
    }
    tracker = runtime.settings.tracker("jira")
    payload = load_fixture("jira", "issue_updated__status_cloud")
    payload["issue"]["fields"]["customfield_10014"] = "PAY-3"
    payload["changelog"]["items"] = []
    assert jira_adapter.parse_event(payload, tracker).item.parent == "jira:PAY-3"
