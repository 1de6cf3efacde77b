"""Waivers: strict files, `waived` findings, no labels, the comment, expiry and listing."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
import responses

from connector.model import WorkItem
from rules import Context, evaluate, load_ruleset, plan_actions, validate_paths
from rules.ruleset import load_ruleset_with_errors
from rules.waivers import expiring_within, parse_waivers
from tests.support.helpers import PACKS
from tests.support.portfolio_gen import TRACKER_ENV, FakeTrackers, Spec, event_for, tracker_configs
from tests.support.queue_helpers import drain
from tests.support.service import make_settings
from webhooks.commands.main import main
from webhooks.governance.comments import compliance_document
from webhooks.governance.sweep import sweep
from webhooks.http.app import create_app
from webhooks.worker.runtime import Runtime

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "config" / "packs" / "examples"
SWEEP_PACK = PACKS / "sweep.yaml"
NOW = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)
PACK = """version: 1
enforcement: enforce
owner: {name: PMO delivery standards, contact: pmo@example.com}
rules:
  - id: story-estimated
    when: {type: [story]}
    require: [{field: estimate, present: true}]
  - id: has-owner
    require: [{field: assignee, present: true}]
"""
WAIVERS = """version: 1
waivers:
  - rule: story-estimated
    items: [jira:PAY-7]
    reason: Discovery spike
    approver: Dana Lee
    expires: 2026-11-15
    ticket: https://jira.example.com/browse/PMO-7
"""


def item(native_id: str = "PAY-7", **changes: object) -> WorkItem:
    data = {
        "key": f"jira:{native_id}", "tracker": "jira", "native_id": native_id, "project": "PAY",
        "type": "story", "title": "Refund export", "status": "In Progress",
        "status_category": "in_progress", "created": "2026-10-01T09:00:00Z",
        "updated": "2026-10-30T09:00:00Z", "assignee": "Sam", **changes,
    }  # fmt: skip
    return WorkItem.from_dict(data)


@pytest.fixture
def packs(tmp_path: Path) -> Path:
    (tmp_path / "std.yaml").write_text(PACK)
    (tmp_path / "std.waivers.yaml").write_text(WAIVERS)
    return tmp_path


def test_a_waived_failure_is_waived_until_the_expiry_day_then_fails(packs: Path) -> None:
    ruleset = load_ruleset([packs])
    (finding,) = evaluate(ruleset, item(), Context(NOW))
    assert (finding.rule, finding.status) == ("story-estimated", "waived")
    assert finding.waiver is not None and finding.waiver.approver == "Dana Lee"
    assert finding.owner == "PMO delivery standards, pmo@example.com"
    # the day before expiry still waived; on the expiry day flagged again
    eve = Context(dt.datetime(2026, 11, 14, 23, 0, tzinfo=dt.UTC))
    assert [f.status for f in evaluate(ruleset, item(), eve)] == ["waived"]
    day = Context(dt.datetime(2026, 11, 15, 0, 1, tzinfo=dt.UTC))
    assert [f.status for f in evaluate(ruleset, item(), day)] == ["fail"]
    # only the named item and rule
    assert [f.status for f in evaluate(ruleset, item("PAY-8"), Context(NOW))] == ["fail"]
    (other,) = evaluate(ruleset, item(assignee=None, estimate=3), Context(NOW))
    assert (other.rule, other.status) == ("has-owner", "fail")


def test_a_waived_enforce_rule_gets_no_label_and_is_listed_in_the_comment(packs: Path) -> None:
    ruleset = load_ruleset([packs])
    work_item = item()
    findings = evaluate(ruleset, work_item, Context(NOW))
    actions = plan_actions(ruleset, work_item, findings)
    assert [a.type for a in actions] == ["comment"]
    assert actions[0].body["findings"][0]["waived"].startswith("waived until 2026-11-15")
    text = compliance_document(work_item, findings).to_text()
    assert "waived until 2026-11-15 (approved by Dana Lee: Discovery spike)" in text
    assert "https://jira.example.com/browse/PMO-7" in text
    assert "Questions: PMO delivery standards, pmo@example.com" in text
    assert "No PMO rule needs attention" in text
    # a label the rule set before the waiver is taken off
    labelled = work_item.with_changes(labels=("pmo-story-estimated",))
    removed = plan_actions(ruleset, labelled, findings)
    assert [(a.type, a.label) for a in removed if a.type != "comment"] == [
        ("remove_label", "pmo-story-estimated")
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (WAIVERS.replace("    approver: Dana Lee\n", ""),
         ["w.yaml:3:5: waivers[0]: missing required key 'approver'"]),
        (WAIVERS.replace("    items: [jira:PAY-7]\n", ""),
         ["w.yaml:3:5: say which items are waived: items, projects and/or when"]),
        (WAIVERS.replace("2026-11-15", "next march"),
         ["w.yaml:7:14: expires: expected a date (2027-03-31)"]),
        (WAIVERS.replace("    ticket:", "    tikcet:"),
         ["w.yaml:8:5: unknown key 'tikcet' (allowed: rule, items, projects, when, reason, "
          "approver, expires, ticket)"]),
        (WAIVERS + "    when: {typ: [story]}\n",
         ["w.yaml:9:12: unknown field 'typ' (allowed: " ]),
        ("version: 1\nwaivers:\n  - &a {rule: x}\n  - *a\n",
         ["w.yaml:4:5: invalid YAML: aliases (*name) are not supported: write the value out"]),
    ],
)  # fmt: skip
def test_broken_waivers_files_give_line_precise_errors(text: str, expected: list[str]) -> None:
    waivers, errors = parse_waivers(text, "w.yaml")
    assert waivers == []
    got = [str(e) for e in errors]
    assert len(got) == len(expected)
    for line, want in zip(got, expected, strict=True):
        assert line.startswith(want), line


def test_unknown_rule_and_past_expiry_are_validation_errors(packs: Path) -> None:
    (packs / "std.waivers.yaml").write_text(WAIVERS.replace("story-estimated", "story-estimate"))
    waivers_file = packs / "std.waivers.yaml"
    assert [str(e) for e in validate_paths([packs])] == [
        f"{waivers_file}:3:11: unknown rule 'story-estimate'"
    ]
    (packs / "std.waivers.yaml").write_text(WAIVERS)
    assert validate_paths([packs], today=dt.date(2026, 11, 1)) == []
    assert [str(e) for e in validate_paths([packs], today=dt.date(2026, 11, 15))] == [
        f"{waivers_file}:7:14: waiver expired on 2026-11-15: renew or remove it"
    ]
    # the service itself keeps running with an expired waiver: it simply no longer applies
    assert load_ruleset_with_errors([packs])[1] == []


def test_rules_validate_refuses_an_expired_waiver(
    packs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (packs / "std.waivers.yaml").write_text(WAIVERS.replace("2026-11-15", "2020-01-31"))
    assert main(["rules", "validate", str(packs)]) == 1
    assert "waiver expired on 2020-01-31: renew or remove it" in capsys.readouterr().out


def test_waivers_expiring_within_n_days(packs: Path) -> None:
    extra = WAIVERS.replace("2026-11-15", "2027-03-31").replace("version: 1\nwaivers:\n", "")
    (packs / "std.waivers.yaml").write_text(WAIVERS + extra)
    waivers = load_ruleset([packs]).waivers
    assert [w.expires for w in expiring_within(waivers, dt.date(2026, 11, 1), 14)] == [
        dt.date(2026, 11, 15)
    ]
    assert expiring_within(waivers, dt.date(2026, 11, 1), 13) == []
    assert expiring_within(waivers, dt.date(2026, 11, 15), 14) == []  # expired: not listed
    assert len(expiring_within(waivers, dt.date(2026, 11, 1), 200)) == 2


def test_waivers_list_command_json_csv_and_expiring(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["waivers", "list", "--rules", str(EXAMPLES), "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(w["rule"], w["expires"]) for w in listed] == [
        ("wip-per-person", "2030-01-31"),
        ("story-estimated", "2030-03-31"),
        ("epic-stage-gate", "2030-06-30"),
    ]
    assert listed[1]["approver"] == "Dana Lee (PMO lead)"
    assert main(["waivers", "list", "--rules", str(EXAMPLES), "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "rule,items,projects,when,expires,approver,reason,ticket"
    assert len(lines) == 4
    assert main(["waivers", "list", "--rules", str(EXAMPLES), "--expiring", "14d"]) == 0
    assert capsys.readouterr().out == "no waivers\n"
    assert main(["waivers", "list", "--rules", str(EXAMPLES), "--expiring", "soon"]) == 2


def test_bundled_examples_cover_overrides_and_waivers(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "validate", str(EXAMPLES)]) == 0
    assert "4 overrides, 3 waivers" in capsys.readouterr().out
    assert main(["rules", "test", str(EXAMPLES)]) == 0
    out = capsys.readouterr().out
    assert "12 passed" in out and "failed" not in out


def test_rules_test_compares_waived_rules(tmp_path: Path, capsys) -> None:
    (tmp_path / "std.yaml").write_text(PACK)
    (tmp_path / "w.waivers.yaml").write_text(WAIVERS)
    (tmp_path / "std.tests.yaml").write_text(
        "rules: std.yaml\nwaivers: w.waivers.yaml\nnow: 2026-11-01\ncases:\n"
        "  - name: waived spike\n"
        "    item: {native_id: PAY-7, type: story, assignee: Sam}\n"
        "    expect_fail: []\n    expect_waived: [story-estimated]\n"
        "  - name: waived but expected to fail\n"
        "    item: {native_id: PAY-7, type: story, assignee: Sam}\n"
        "    expect_fail: [story-estimated]\n"
    )
    assert main(["rules", "test", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert ".F" in out
    assert "actually waived:  story-estimated" in out
    assert "1 passed, 1 failed" in out


@pytest.fixture
def service(tmp_path, monkeypatch):
    for name, value in TRACKER_ENV.items():
        monkeypatch.setenv(name, value)
    folder = tmp_path / "packs"
    folder.mkdir()
    shutil.copy(SWEEP_PACK, folder / "sweep.yaml")
    (folder / "sweep.waivers.yaml").write_text(
        "version: 1\nwaivers:\n  - rule: stuck-in-progress\n    items: [PAY-7]\n"
        "    reason: Waiting for the bank\n    approver: Dana Lee\n    expires: 2024-06-14\n"
    )
    clock = type("Clock", (), {"now": dt.datetime(2024, 6, 4, 9, 0, tzinfo=dt.UTC)})()
    settings = make_settings(
        tmp_path, trackers=tracker_configs(), rules=(str(folder),), rollup_delay_seconds=0.05
    )
    runtime = Runtime.from_settings(settings, clock=lambda: clock.now)
    app = create_app(settings=settings, runtime=runtime)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake = FakeTrackers()
        fake.install(rsps)
        yield app, runtime, clock, fake


def comment_text(fake: FakeTrackers) -> str:
    (text,) = fake.comments["jira:PAY-7"].values()  # one managed comment, edited in place
    return text


def test_the_sweep_reflags_an_item_on_the_day_its_waiver_expires(service) -> None:
    app, runtime, clock, fake = service
    started = dt.datetime(2024, 6, 3, 9, 0, tzinfo=dt.UTC)
    story = fake.know(
        Spec("jira", "PAY-7", "story", "Refund export", "In Progress", 3,
             assignee="dana@fabrikam.com", status_changed=started)
    )  # fmt: skip
    answer = app.test_client().post(
        "/webhooks/jira", data=json.dumps(event_for(story)), content_type="application/json",
        headers={"X-Atlassian-Webhook-Identifier": "waiver-1"},
    )  # fmt: skip
    assert answer.status_code == 202
    drain(runtime)
    clock.now = dt.datetime(2024, 6, 12, 9, 0, tzinfo=dt.UTC)  # stuck, but waived
    assert sweep(runtime, runtime.tasks)["changed"] == 1
    drain(runtime)
    (record,) = runtime.store.open_findings("jira:PAY-7")
    assert record.status == "waived"
    assert fake.labels.get("jira:PAY-7", set()) == set()
    assert "waived until 2024-06-14 (approved by Dana Lee" in comment_text(fake)
    clock.now = dt.datetime(2024, 6, 13, 9, 0, tzinfo=dt.UTC)  # nothing new the day before
    assert sweep(runtime, runtime.tasks)["changed"] == 0
    clock.now = dt.datetime(2024, 6, 14, 0, 5, tzinfo=dt.UTC)  # the expiry day
    assert sweep(runtime, runtime.tasks)["changed"] == 1
    drain(runtime)
    (record,) = runtime.store.open_findings("jira:PAY-7")
    assert record.status == "fail"
    assert fake.labels["jira:PAY-7"] == {"pmo-stuck"}
    assert "waived until" not in comment_text(fake)


ACROSS_PACK = """version: 1
enforcement: advise
rules:
  - id: wip-limit
    across: assignee
    when: {status_category: [in_progress]}
    require: [{count: {max: 2}}]
"""
ACROSS_WAIVERS = """version: 1
waivers:
  - rule: wip-limit
    items: [jira:PAY-1]
    reason: Release week
    approver: Sam Ortiz
    expires: 2026-11-15
"""


def test_rules_test_runs_across_rules_over_the_case_group_with_waivers(
    tmp_path: Path, capsys
) -> None:
    (tmp_path / "wip.yaml").write_text(ACROSS_PACK)
    (tmp_path / "wip.waivers.yaml").write_text(ACROSS_WAIVERS)
    group = (
        "    group:\n"
        "      - {status_category: in_progress, assignee: Ann}\n"
        "      - {status_category: in_progress, assignee: Ann}\n"
        "      - {status_category: in_progress, assignee: Bo}\n"
        "      - {status_category: done, assignee: Ann}\n"
    )
    (tmp_path / "wip.tests.yaml").write_text(
        "rules: wip.yaml\nwaivers: wip.waivers.yaml\nnow: 2026-11-01\ndefaults: {project: PAY}\ncases:\n"
        "  - name: waived member of a breaking group\n"
        "    item: {native_id: PAY-1, status_category: in_progress, assignee: Ann}\n"
        + group
        + "    expect_fail: []\n    expect_waived: [wip-limit]\n"
        "  - name: another member of the same group fails\n"
        "    item: {native_id: PAY-9, status_category: in_progress, assignee: Ann}\n"
        + group
        + "    expect_fail: [wip-limit]\n"
        "  - name: within the limit without the second Ann item\n"
        "    item: {native_id: PAY-9, status_category: in_progress, assignee: Ann}\n"
        "    group: [{status_category: in_progress, assignee: Ann}]\n"
        "    expect_fail: []\n"
    )
    assert main(["rules", "test", str(tmp_path)]) == 0
    assert "3 passed" in capsys.readouterr().out
    # an expectation the waiver contradicts fails the case
    text = (tmp_path / "wip.tests.yaml").read_text()
    (tmp_path / "wip.tests.yaml").write_text(
        text.replace("expect_fail: []\n    expect_waived: [wip-limit]", "expect_fail: [wip-limit]")
    )
    assert main(["rules", "test", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "actually waived:  wip-limit" in out and "2 passed, 1 failed" in out


def test_an_across_rule_in_a_case_without_group_or_a_bad_member_is_an_error(
    tmp_path: Path, capsys
) -> None:
    (tmp_path / "wip.yaml").write_text(ACROSS_PACK)
    (tmp_path / "wip.tests.yaml").write_text(
        "rules: wip.yaml\nnow: 2026-11-01\ncases:\n"
        "  - name: no group\n"
        "    item: {status_category: in_progress, assignee: Ann}\n"
        "    expect_fail: [wip-limit]\n"
        "  - name: a group member with an unknown field\n"
        "    item: {status_category: in_progress, assignee: Ann}\n"
        "    group: [{status_category: in_progress, asignee: Ann}]\n"
        "    expect_fail: [wip-limit]\n"
    )
    assert main(["rules", "test", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert (
        "wip.tests.yaml:6:19: wip-limit is an across rule: list the other items of the "
        "item's assignee group under group" in out
    )
    assert "wip.tests.yaml:9:44: unknown item field 'asignee'" in out
