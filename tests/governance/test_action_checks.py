"""Field actions checked against the tracker when a worker starts: a priority the Jira
site does not have, a custom field the tracker does not map."""

from __future__ import annotations

import logging

import responses

from tests.support.service import make_settings
from tests.support.spec_check import assert_documented
from tests.support.worker_helpers import JIRA_API, JIRA_SITE, jira_tracker
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
        "rule blocked-is-urgent: sets priority 'Urgent', which tracker jira does not have "
        "(it has: Highest, Medium)"
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
