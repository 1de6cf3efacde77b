"""Authoring traps a newcomer PMO fell into: each is now an error with its line, or works."""

from __future__ import annotations

from pathlib import Path

import pytest

from rules.casefile import load_case_file, run_case_file
from rules.fields import show_fields
from rules.pack import parse_pack
from webhooks.commands.main import main

RULES = """version: 1
rules:
  - id: has-estimate
    when: {type: [story]}
    require: [{field: estimate, present: true}]
"""


def test_an_unknown_message_placeholder_is_an_error_with_its_line() -> None:
    text = RULES + '    message: "{key}: ask {owner} about it"\n'
    _pack, _pos, errors = parse_pack(text, "r.yaml")
    assert [str(e) for e in errors] == [
        "r.yaml:6:14: unknown placeholder {owner} (allowed: rule, severity, enforcement, "
        "rule_title or a field name such as {key}, {title}, {assignee}, {due_date}; {{ and }} "
        "for braces)"
    ]
    fine = RULES + '    message: "{key} ({rule_title}, {estimate}, {custom.team}) {{owner}}"\n'
    assert parse_pack(fine, "r.yaml")[2] == []


def write(tmp_path: Path, rules: str, tests: str) -> str:
    (tmp_path / "team.yaml").write_text(rules)
    (tmp_path / "team.tests.yaml").write_text(tests)
    return str(tmp_path / "team.tests.yaml")


def test_a_tests_file_without_now_runs_at_the_current_time(tmp_path: Path) -> None:
    path = write(
        tmp_path, RULES,
        "rules: team.yaml\ncases:\n  - name: s\n    item: {type: story}\n"
        "    expect_fail: [has-estimate]\n",
    )  # fmt: skip
    case_file, errors = load_case_file(path)
    assert errors == [] and case_file is not None
    assert [r.passed for r in run_case_file(case_file)] == [True]


def test_a_tests_file_reports_every_error_at_once(tmp_path: Path) -> None:
    path = write(
        tmp_path, RULES,
        "rules: team.yaml\nnow: someday\nextra: 1\ncases:\n  - name: s\n    item: {type: story}\n"
        "    expect_fail: [has-estimat]\n",
    )  # fmt: skip
    case_file, errors = load_case_file(path)
    assert case_file is None
    assert [f"{e.line}:{e.col}: {e.message}" for e in errors] == [
        "2:6: now: expected an ISO timestamp",
        "3:1: unknown key 'extra' (allowed: rules, now, waivers, defaults, cases)",
    ]
    # with `now` fixed, the next problems are all listed together too
    path = write(
        tmp_path, RULES,
        "rules: team.yaml\nextra: 1\ncases:\n  - name: s\n    item: {type: story}\n"
        "    expect_fail: [has-estimat]\n  - name: t\n    item: {typo: 1}\n    expect_fail: []\n",
    )  # fmt: skip
    _none, errors = load_case_file(path)
    assert [f"{e.line}:{e.col}" for e in errors] == ["2:1", "6:19", "8:12"]


SCOPED = """version: 1
scope: {azure-devops: [Fabrikam]}
rules:
  - id: has-estimate
    when: {type: [story]}
    require: [{field: estimate, present: true}]
"""


def test_cases_take_the_pack_scope_by_default(tmp_path: Path) -> None:
    path = write(
        tmp_path, SCOPED,
        "rules: team.yaml\nnow: 2026-11-01\ncases:\n  - name: s\n    item: {type: story}\n"
        "    expect_fail: [has-estimate]\n",
    )  # fmt: skip
    case_file, errors = load_case_file(path)
    assert errors == [] and case_file is not None
    assert (case_file.cases[0].item.tracker, case_file.cases[0].item.project) == (
        "azure-devops",
        "Fabrikam",
    )
    assert [r.passed for r in run_case_file(case_file)] == [True]


def test_a_case_outside_the_pack_scope_is_an_error_not_a_silent_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(
        tmp_path, SCOPED,
        "rules: team.yaml\nnow: 2026-11-01\ncases:\n  - name: s\n"
        "    item: {type: story, tracker: jira, project: PAY}\n    expect_fail: [has-estimate]\n",
    )  # fmt: skip
    assert main(["rules", "test", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert (
        "team.tests.yaml:6:19: out of scope: has-estimate is in pack 'team', which does not " in out
    )
    assert "see jira project PAY" in out


def test_hints_name_custom_fields_as_people_read_them() -> None:
    text = RULES.replace("field: estimate", "field: custom.risk_owner").replace(
        "{type: [story]}", "{type: [risk]}"
    )
    pack, _pos, errors = parse_pack(text, "r.yaml")
    assert errors == [] and pack is not None
    # offline (no tracker's names): the name from the key
    assert show_fields(pack.rules[0].checks[0].hint) == "Set Risk owner."
    # a tracker's name for the field wins, per tracker
    assert show_fields(pack.rules[0].checks[0].hint, {"risk_owner": "Risk Owner (PMO)"}) == (
        "Set Risk Owner (PMO)."
    )
    assert pack.rules[0].checks[0].describe(None, None) == "custom.risk_owner must be set"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("{estimate: five}", "actions.set.estimate: expected a number (got 'five')"),
        ("{due_date: next week}", "actions.set.due_date: expected a date such as 2027-03-31"),
        ("{priority: 1}", "actions.set.priority: expected a name (got 1)"),
        ("{assignee: ' '}", "actions.set.assignee: expected a value, not blank text"),
    ],
)
def test_field_action_values_of_the_wrong_type_are_errors(value: str, message: str) -> None:
    _pack, _pos, errors = parse_pack(RULES + f"    actions: {{set: {value}}}\n", "r.yaml")
    assert len(errors) == 1 and errors[0].line == 6
    assert errors[0].message.startswith(message)
    fine = "{estimate: 3, due_date: 2027-03-31, priority: Highest, custom.team: Payments}"
    assert parse_pack(RULES + f"    actions: {{set: {fine}}}\n", "r.yaml")[2] == []
