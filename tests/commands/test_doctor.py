"""`pmo-bridge doctor` against sandbox trackers that, like the real ones, refuse a wrong
token: one line per check, red where the config is wrong, with the fix."""

from __future__ import annotations

import re

import pytest

from config.settings import TrackerConfig
from sandbox import Sandbox
from webhooks.commands.doctor import check_tracker
from webhooks.commands.main import main

GOOD = {"JIRA_EMAIL": "bot", "JIRA_API_TOKEN": "good-token", "ADO_PAT": "good-pat"}


@pytest.fixture(scope="module")
def sandbox():
    box = Sandbox(organization="fabrikam").start()
    jira, azure = box.jira_state, box.azure_state
    jira.known_credentials_only = azure.known_credentials_only = True
    bot = jira.add_user("bot", "PMO Bot", token="good-token")
    azure.add_user("bot@fabrikam.com", "PMO Bot", pat="good-pat")
    jira.add_project("PAY", "Payments")
    azure.add_project("Fabrikam")
    box.jira_bot = bot["accountId"]
    try:
        yield box
    finally:
        box.stop()


def jira_tracker(box: Sandbox, **changes) -> TrackerConfig:
    base = dict(
        name="jira", kind="jira", url=box.jira_url, user_env="JIRA_EMAIL",
        token_env="JIRA_API_TOKEN", bot_account=box.jira_bot, projects=("PAY",),
        fields={"estimate": "customfield_10016"},
    )  # fmt: skip
    return TrackerConfig(**{**base, **changes})


def lines(tracker: TrackerConfig, environ=GOOD) -> dict[str, tuple[bool | None, str, str]]:
    return {c.name: (c.ok, c.detail, c.fix) for c in check_tracker(tracker, None, environ)}


def test_a_right_config_is_green_but_for_the_delivery_checks_it_was_given_no_url_for(sandbox):
    found = lines(jira_tracker(sandbox))
    for name in ("credentials", "bot account", "read PAY", "comment PAY", "labels PAY"):
        assert found[name][0] is True, found
    assert found["field estimate"] == (True, "customfield_10016 (Story point estimate)", "")
    assert found["webhook"][0] is None and "--url" in found["webhook"][2]


def test_a_wrong_token_is_one_red_line_naming_the_variables(sandbox):
    found = lines(jira_tracker(sandbox), {**GOOD, "JIRA_API_TOKEN": "expired"})
    ok, detail, fix = found["credentials"]
    assert ok is False and "401" in detail
    assert "JIRA_EMAIL and JIRA_API_TOKEN" in fix
    assert "read PAY" not in found  # nothing else is tried with credentials that fail


def test_a_missing_field_and_a_field_named_by_its_name_are_red_with_the_id_to_use(sandbox):
    fields = {"risk_owner": "customfield_99999", "estimate": "Story point estimate"}
    found = lines(jira_tracker(sandbox, fields=fields))
    assert found["field risk_owner"][:2] == (False, "no field 'customfield_99999' on the site")
    ok, detail, fix = found["field estimate"]
    assert ok is False and "is a field name" in detail
    assert fix == "fields.estimate: customfield_10016"


def test_a_withheld_permission_and_an_unknown_project_are_red(sandbox):
    sandbox.jira_state.withheld_permissions.add("EDIT_ISSUES")
    try:
        found = lines(jira_tracker(sandbox, projects=("PAY", "NOPE")))
    finally:
        sandbox.jira_state.withheld_permissions.clear()
    assert found["labels PAY"][:2] == (False, "missing EDIT_ISSUES")
    assert "EDIT_ISSUES" in found["labels PAY"][2]
    assert found["comment PAY"][0] is True
    assert found["read NOPE"][0] is False and "404" in found["read NOPE"][1]


def test_azure_devops_wrong_pat_right_pat_and_fields(sandbox):
    tracker = TrackerConfig(
        name="azure-devops", kind="azure-devops", url=sandbox.azure_url, token_env="ADO_PAT",
        bot_account="bot@fabrikam.com", project="Fabrikam",
        fields={"estimate": "Microsoft.VSTS.Scheduling.StoryPoints", "risk": "Custom.Gone",
                "due_date": "Target Date"},
    )  # fmt: skip
    good = lines(tracker)
    assert good["field estimate"] == (
        True,
        "Microsoft.VSTS.Scheduling.StoryPoints (Story Points)",
        "",
    )
    assert good["field risk"][:2] == (False, "no field 'Custom.Gone' on the site")
    assert good["field due_date"][2] == "fields.due_date: Microsoft.VSTS.Scheduling.TargetDate"
    assert good["credentials"] == (True, "signed in as PMO Bot", "")
    assert good["bot account"][0] is True and good["read Fabrikam"][0] is True
    assert good["comment Fabrikam"] == (True, "allowed", "")
    assert good["tags Fabrikam"] == (True, "allowed", "")
    bad = lines(tracker, {**GOOD, "ADO_PAT": "wrong"})
    assert bad["credentials"][0] is False and "ADO_PAT" in bad["credentials"][2]


def test_the_command_prints_one_line_per_check_and_fails_on_red(
    sandbox, tmp_path, monkeypatch, capsys
):
    config = tmp_path / "pmo.yaml"
    config.write_text(
        "trackers:\n  jira:\n    kind: jira\n"
        f"    url: {sandbox.jira_url}\n"
        "    auth: {user_env: JIRA_EMAIL, token_env: JIRA_API_TOKEN}\n"
        "    projects: [PAY]\n    fields: {estimate: customfield_99999}\n"
    )
    monkeypatch.chdir(tmp_path)
    for name, value in GOOD.items():
        monkeypatch.setenv(name, value)
    code = main(["doctor", "--config", str(config)])
    out = capsys.readouterr().out
    assert code == 1
    assert re.search(r"^FAIL jira +field estimate +no field 'customfield_99999'", out, re.M)
    assert re.search(
        r"^FAIL jira +bot account +bot_account is not set\n +fix: set trackers\.jira\.bot_account: \S+",
        out,
        re.M,
    )
    assert re.search(r"^ok   jira +credentials", out, re.M)
    assert out.rstrip().endswith("2 problems; 1 could not be checked (the warn lines)")
    assert re.search(r"^warn jira +webhook +could not check: no --url", out, re.M)
    assert list(tmp_path.iterdir()) == [config]  # doctor creates nothing


def test_an_azure_devops_bot_without_write_permission_is_red_with_the_permission_to_grant(
    sandbox,
):
    """The Security API's answer for the bot: without "Edit work items in this node" it
    can neither tag nor (lacking "Edit work item comments") comment; without "Create tag
    definition" it cannot add a tag the project has not seen."""
    tracker = TrackerConfig(
        name="azure-devops", kind="azure-devops", url=sandbox.azure_url, token_env="ADO_PAT",
        bot_account="bot@fabrikam.com", project="Fabrikam",
    )  # fmt: skip
    permissions = sandbox.azure_state.permissions
    try:
        permissions.deny("bot@fabrikam.com", "Tagging", "Create")
        found = lines(tracker)
        assert found["comment Fabrikam"][0] is True
        assert found["tags Fabrikam"][:2] == (False, "missing 'Create tag definition'")
        assert "Project settings > Permissions" in found["tags Fabrikam"][2]

        permissions.deny("bot@fabrikam.com", "CSS", "WORK_ITEM_WRITE")
        permissions.deny("bot@fabrikam.com", "CSS", "WORK_ITEM_SAVE_COMMENT")
        found = lines(tracker)
    finally:
        permissions.allow_all()
    ok, detail, fix = found["comment Fabrikam"]
    assert (ok, detail) == (False, "missing 'Edit work items in this node'")
    assert "Areas > Security" in fix
    assert found["tags Fabrikam"][:2] == (
        False,
        "missing 'Edit work items in this node', 'Create tag definition'",
    )
    assert found["read Fabrikam"][0] is True  # reading is still allowed
