"""Hints name fields as each tracker names them ("Set Mitigation plan", not "Set
custom.mitigation"): the tracker's field list is read once at a worker's start (Jira GET
/rest/api/3/field, Azure DevOps GET _apis/wit/fields, each checked against the vendor's
spec); offline, a configured `field_names` entry, else the name in the rules."""

from __future__ import annotations

import datetime as dt

import responses

from config.settings import TrackerConfig
from connector.model import ItemType, WorkItem
from tests.support.service import make_settings
from tests.support.spec_check import assert_documented
from tests.support.worker_helpers import (
    ADO_PROJECT,
    ADO_URL,
    JIRA_SITE,
    jira_tracker,
    mock_azure_discovery,
    reset_azure_location_caches,
)
from webhooks.governance.comments import compliance_document
from webhooks.governance.evaluation import evaluate_stored
from webhooks.worker.runtime import Runtime

NOW = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)
PACK = """version: 1
enforcement: advise
rules:
  - id: risk-mitigated
    when: {type: [risk]}
    require: [{field: custom.mitigation, present: true}]
"""
JIRA_FIELDS = [
    {"id": "summary", "key": "summary", "name": "Summary", "custom": False},
    {"id": "customfield_10400", "key": "customfield_10400", "name": "Mitigation plan",
     "custom": True, "schema": {"type": "string", "customId": 10400}},
]  # fmt: skip
ADO_FIELDS = {
    "count": 2,
    "value": [
        {"name": "Title", "referenceName": "System.Title", "type": "string"},
        {"name": "Risk Response", "referenceName": "Custom.RiskResponse", "type": "string"},
    ],
}


def risk(tracker: str, native_id: str) -> WorkItem:
    return WorkItem.from_dict({
        "key": f"{tracker}:{native_id}", "tracker": tracker, "native_id": native_id,
        "project": "PAY", "type": "risk", "title": "Vendor may slip", "status": "Open",
        "status_category": "in_progress", "created": "2026-10-01T09:00:00Z",
        "updated": "2026-10-30T09:00:00Z",
    })  # fmt: skip


def runtime_for(
    tmp_path, monkeypatch, *, jira_url=JIRA_SITE, ado_url=ADO_URL, pack_text=PACK, **names
):
    reset_azure_location_caches(monkeypatch)
    for env, value in (("TEST_JIRA_EMAIL", "bot@example.com"), ("TEST_JIRA_TOKEN", "t"),
                       ("TEST_AZURE_PAT", "pat")):  # fmt: skip
        monkeypatch.setenv(env, value)
    pack = tmp_path / "risk.yaml"
    pack.write_text(pack_text)
    jira = jira_tracker(
        url=jira_url, fields={"mitigation": "customfield_10400"},
        field_names=names.get("jira", {}),
    )  # fmt: skip
    ado = TrackerConfig(
        name="azure-devops", kind="azure-devops", url=ado_url, token_env="TEST_AZURE_PAT",
        project=ADO_PROJECT, fields={"mitigation": "Custom.RiskResponse"},
        field_names=names.get("ado", {}),
    )  # fmt: skip
    settings = make_settings(
        tmp_path, trackers={"jira": jira, "azure-devops": ado}, rules=(str(pack),)
    )
    return Runtime.from_settings(settings, clock=lambda: NOW)


def hint(runtime: Runtime, item: WorkItem) -> str:
    (finding,) = evaluate_stored(runtime, item)
    return finding.hint


def test_each_tracker_names_the_field_in_hints_and_the_comment(tmp_path, monkeypatch) -> None:
    runtime = runtime_for(tmp_path, monkeypatch)
    with responses.RequestsMock() as rsps:
        mock_azure_discovery(rsps)
        rsps.get(f"{JIRA_SITE}/rest/api/3/field", json=JIRA_FIELDS)
        rsps.get(f"{ADO_URL}/_apis/wit/fields", json=ADO_FIELDS)
        runtime.discover_fields()
        for call in rsps.calls:
            if call.request.method == "OPTIONS":
                continue
            if call.request.url.startswith(JIRA_SITE):
                assert_documented(call.request, "jira", JIRA_SITE)
            else:
                assert_documented(call.request, "azure-devops", ADO_URL)
        assert [c.request.method for c in rsps.calls].count("GET") == 2  # once per tracker
    assert runtime.settings.tracker("jira").field_names == {"mitigation": "Mitigation plan"}
    assert runtime.settings.tracker("azure-devops").field_names == {"mitigation": "Risk Response"}
    assert hint(runtime, risk("jira", "PAY-9")) == "Set Mitigation plan."
    assert hint(runtime, risk("azure-devops", "77")) == "Set Risk Response."
    (finding,) = evaluate_stored(runtime, risk("jira", "PAY-9"))
    text = compliance_document(risk("jira", "PAY-9"), [finding]).to_text()
    assert "Set Mitigation plan." in text and "custom.mitigation must be set" in text
    assert "\x1f" not in text


def test_offline_a_configured_name_else_the_key(tmp_path, monkeypatch) -> None:
    runtime = runtime_for(
        tmp_path, monkeypatch, jira_url=None, ado_url=None,
        jira={"mitigation": "Mitigation (PMO)"},
    )  # fmt: skip
    with responses.RequestsMock():  # no tracker to ask: nothing is called
        assert runtime.discover_fields() == {}
    assert hint(runtime, risk("jira", "PAY-9")) == "Set Mitigation (PMO)."
    assert hint(runtime, risk("azure-devops", "77")) == "Set Mitigation."


def test_a_tracker_that_cannot_answer_keeps_the_configured_name(tmp_path, monkeypatch) -> None:
    runtime = runtime_for(
        tmp_path, monkeypatch, ado_url=None, jira={"mitigation": "Mitigation (PMO)"}
    )
    with responses.RequestsMock() as rsps:
        rsps.get(f"{JIRA_SITE}/rest/api/3/field", status=503)
        runtime.discover_fields()
    assert hint(runtime, risk("jira", "PAY-9")) == "Set Mitigation (PMO)."


def test_a_worker_that_cannot_read_the_list_shows_the_names_the_others_read(
    tmp_path, monkeypatch
) -> None:
    """The names read are kept in the queue's store: a worker started during an outage
    writes the same hints as the others, so the managed comment never flips."""
    first = runtime_for(tmp_path, monkeypatch, ado_url=None)
    with responses.RequestsMock() as rsps:
        rsps.get(f"{JIRA_SITE}/rest/api/3/field", json=JIRA_FIELDS)
        first.discover_fields()
    later = runtime_for(tmp_path, monkeypatch, ado_url=None)  # same queue, a new worker
    with responses.RequestsMock() as rsps:
        rsps.get(f"{JIRA_SITE}/rest/api/3/field", status=503)
        later.discover_fields()
    assert hint(later, risk("jira", "PAY-9")) == "Set Mitigation plan."


def test_common_fields_keep_their_model_names_whatever_the_site_calls_them(
    tmp_path, monkeypatch
) -> None:
    """Only custom fields take the tracker's name: `estimate` reads "Set estimate."
    whether or not the field list could be read, so no comment changes with it."""
    text = PACK.replace("custom.mitigation", "estimate").replace("[risk]", "[story]")
    runtime = runtime_for(tmp_path, monkeypatch, ado_url=None, pack_text=text)
    story = risk("jira", "PAY-9").with_changes(type=ItemType.STORY)
    with responses.RequestsMock() as rsps:
        listed = [*JIRA_FIELDS, {"id": "customfield_10016", "name": "Story point estimate",
                                 "custom": True, "schema": {"type": "number"}}]  # fmt: skip
        rsps.get(f"{JIRA_SITE}/rest/api/3/field", json=listed)
        runtime.discover_fields()
    assert "estimate" not in runtime.settings.tracker("jira").field_names
    assert hint(runtime, story) == "Set estimate."
