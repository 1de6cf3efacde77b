"""Validation of rules files: each broken input gives exact `PATH:LINE:COL: message` lines
pointing at the offending key or value, and every problem in a file is reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from rules import RulesFileError, load_pack, load_ruleset, validate_paths
from rules.pack import parse_pack
from tests.support.helpers import CONFIG_PACKS, RULES_FILES

FILES = RULES_FILES
FIELDS = (
    "key, tracker, native_id, project, type, title, description, status, status_category, "
    "assignee, reporter, priority, labels, estimate, start_date, due_date, parent, links, "
    "created, updated, status_changed, revision, url, area, status_age, age, custom.<name>, "
    "parent.<field>"
)
OPERATORS = (
    "field, any, present, equals, in, not_in, matches, contains, min, max, min_length, before, "
    "after, lte_field, gte_field"
)
RULE_KEYS = (
    "id, title, description, severity, enforcement, when, across, require, message, hint, "
    "labels, actions, escalate, owner"
)
HEAD = "version: 1\nrules:\n  - id: a\n"
OK = "    require: [{field: title, present: true}]\n"


def errors_of(text: str) -> list[str]:
    return [str(e) for e in parse_pack(text, "r.yaml")[2]]


CASES = [
    ("unknown top-level key",
     "version: 1\nrulez: []\nrules: []\n",
     ["r.yaml:2:1: unknown key 'rulez' (allowed: version, name, description, enforcement, scope, owner, extend, overrides, rules, rollups, escalate)"]),
    ("unknown rule key",
     HEAD + "    severty: high\n" + OK,
     [f"r.yaml:4:5: unknown key 'severty' (allowed: {RULE_KEYS})"]),
    ("wrong type",
     HEAD + "    labels: escalated\n" + OK,
     ["r.yaml:4:13: rules[0].labels: expected a list"]),
    ("wrong type of a list element",
     HEAD + "    labels: [escalated, 7]\n" + OK,
     ["r.yaml:4:25: rules[0].labels[1]: expected text"]),
    ("missing required key",
     HEAD + "    title: Owner\n",
     ["r.yaml:3:5: rules[0]: missing required key 'require'"]),
    ("missing version",
     "rules: []\n",
     ["r.yaml:1:1: missing required key 'version'"]),
    ("unsupported version",
     "version: 2\nrules: []\n",
     ["r.yaml:1:10: unsupported version 2 (allowed: 1)"]),
    ("severity enum",
     HEAD + "    severity: urgent\n" + OK,
     ["r.yaml:4:15: unknown severity 'urgent' (allowed: info, low, medium, high, critical)"]),
    ("enforcement enum",
     "version: 1\nenforcement: strict\nrules: []\n",
     ["r.yaml:2:14: unknown enforcement 'strict' (allowed: audit, advise, enforce)"]),
    ("unknown operator",
     HEAD + "    require:\n      - {field: estimate, maximum: 13}\n",
     [f"r.yaml:5:27: unknown operator 'maximum' (allowed: {OPERATORS})"]),
    ("unknown field",
     HEAD + "    require:\n      - {field: estimat, max: 13}\n",
     [f"r.yaml:5:17: unknown field 'estimat' (allowed: {FIELDS})"]),
    ("unknown parent field",
     HEAD + "    require:\n      - {field: parent.parent, present: true}\n",
     [f"r.yaml:5:17: unknown field 'parent.parent' (allowed: {FIELDS})"]),
    ("unknown field in when",
     HEAD + "    when: {statuss: [Blocked]}\n" + OK,
     [f"r.yaml:4:12: unknown field 'statuss' (allowed: {FIELDS})"]),
    ("when values checked against the enums",
     HEAD + "    when: {type: [epic, stroy], status_category: [doing]}\n" + OK,
     ["r.yaml:4:25: unknown type 'stroy' (allowed: initiative, epic, feature, story, task, bug, subtask, risk, other)",
      "r.yaml:4:51: unknown status_category 'doing' (allowed: todo, in_progress, done, removed)"]),
    ("bad regex",
     HEAD + "    require:\n      - {field: title, matches: '([A-Z'}\n",
     ["r.yaml:5:33: bad regular expression '([A-Z': missing ]: [A-Z (rules use RE2: no backreferences or lookaround)"]),
    ("backreference the linear-time engine cannot run",
     HEAD + "    require:\n      - {field: title, matches: '(a)\\1'}\n",
     ["r.yaml:5:33: bad regular expression '(a)\\\\1': invalid escape sequence: \\1 (rules use RE2: no backreferences or lookaround)"]),
    ("lookahead the linear-time engine cannot run",
     HEAD + "    require:\n      - {field: title, matches: '^(?=PAY)'}\n",
     ["r.yaml:5:33: bad regular expression '^(?=PAY)': invalid perl operator: (?= (rules use RE2: no backreferences or lookaround)"]),
    ("bad duration",
     HEAD + "    require:\n      - {field: status_age, max: 5days}\n",
     ["r.yaml:5:34: bad duration '5days': write e.g. 30m, 12h, 5d or 2w"]),
    ("number where a duration belongs",
     HEAD + "    require:\n      - {field: status_age, max: 5}\n",
     ["r.yaml:5:34: expected a duration such as 5d or 12h, got the number 5"]),
    ("bad relative date",
     HEAD + "    require:\n      - {field: due_date, before: '+30days'}\n",
     ["r.yaml:5:35: bad date '+30days': write an ISO date (2026-12-31) or a relative one (+30d, -7d)"]),
    ("operator on the wrong kind of field",
     HEAD + "    require:\n      - {field: title, max: 3}\n",
     ["r.yaml:5:29: min/max apply to numbers and durations, not a text field"]),
    ("incomparable fields",
     HEAD + "    require:\n      - {field: due_date, lte_field: parent.estimate}\n",
     ["r.yaml:5:38: cannot compare due_date (date) with parent.estimate (number)"]),
    ("duplicate rule id",
     HEAD + OK + "  - id: a\n" + OK,
     ["r.yaml:5:9: duplicate rule id 'a' (first defined on line 3)"]),
    ("bad rule id",
     "version: 1\nrules:\n  - id: Epic Owner\n" + OK,
     ["r.yaml:3:9: bad rule id 'Epic Owner': use lower-case letters, digits and -"]),
    ("duplicate key",
     HEAD + "    id: b\n" + OK,
     ["r.yaml:4:5: duplicate key 'id'"]),
    ("template with attribute access",
     HEAD + OK + '    message: "{key.__class__} is bad"\n',
     ["r.yaml:5:14: bad message template {key.__class__}: only plain names such as {key} or field "
      "names such as {parent.due_date} are allowed (no attribute access or indexing)"]),
    ("template with indexing",
     HEAD + OK + '    message: "{labels[0]}"\n',
     ["r.yaml:5:14: bad message template {labels[0]}: only plain names such as {key} or field "
      "names such as {parent.due_date} are allowed (no attribute access or indexing)"]),
    ("template with a format spec",
     HEAD + OK + '    message: "{key:>99}"\n',
     ["r.yaml:5:14: bad message template {key:>99}: conversions and format specs are not allowed"]),
    ("template with an unclosed brace",
     HEAD + OK + '    message: "{key"\n',
     ["r.yaml:5:14: bad message template: expected '}' before end of string (write {{ and }} for literal braces)"]),
    ("count outside an across rule",
     HEAD + "    require: [{count: {max: 5}}]\n",
     ["r.yaml:4:16: count is only valid in across rules"]),
    ("across rule with a field check and an unknown group",
     HEAD + "    across: team\n" + OK,
     ["r.yaml:4:13: unknown across field 'team' (allowed: assignee, reporter, project, parent, tracker, person)",
      "r.yaml:5:16: across rules take only count checks, e.g. {count: {max: 5}} (got 'field')",
      "r.yaml:5:30: across rules take only count checks, e.g. {count: {max: 5}} (got 'present')"]),
    ("across count with a bad bound",
     HEAD + "    across: assignee\n    require: [{count: {max: -1, most: 3}}]\n",
     ["r.yaml:5:29: count.max: expected a whole number >= 0",
      "r.yaml:5:33: unknown key 'most' (allowed: min, max, distinct)"]),
    ("any with one alternative",
     HEAD + "    require: [{any: [{field: title, present: true}]}]\n",
     ["r.yaml:4:21: any takes a list of two or more checks"]),
    ("field action on a field that cannot be set",
     HEAD + OK + "    actions: {set: {status: Done}}\n",
     ["r.yaml:5:21: cannot set field 'status' (allowed: priority, assignee, estimate, start_date, due_date, custom.<name>)"]),
    ("bad label",
     HEAD + OK + "    labels: [needs review]\n",
     ["r.yaml:5:14: bad label 'needs review': letters, digits, '.', '_', ':' and '-' only"]),
    ("label with a tag separator",
     HEAD + OK + "    labels: ['a;b', 'c,d']\n",
     ["r.yaml:5:14: bad label 'a;b': letters, digits, '.', '_', ':' and '-' only",
      "r.yaml:5:21: bad label 'c,d': letters, digits, '.', '_', ':' and '-' only"]),
    ("label too long for Jira with the prefix",
     HEAD + OK + "    labels: [" + "x" * 224 + "]\n",
     ["r.yaml:5:14: label 'xxxxxxxxxxxxxxxxxxxx'... is 224 characters: at most 223, so that "
      "with the label prefix it stays within Jira's 255-character labels"]),
    ("rule id too long for Jira with the prefix",
     "version: 1\nrules:\n  - id: " + "r" * 224 + "\n" + OK,
     ["r.yaml:3:9: rule id 'rrrrrrrrrrrrrrrrrrrr'... is 224 characters: at most 223, so that "
      "with the label prefix it stays within Jira's 255-character labels"]),
    ("longest rule id and label accepted",
     "version: 1\nrules:\n  - id: " + "r" * 223 + "\n" + OK + "    labels: [" + "x" * 223 + "]\n",
     []),
    ("scope needs lists of projects",
     "version: 1\nscope: {jira: PAY, azure-devops: []}\nrules: []\n",
     ["r.yaml:2:15: scope.jira: expected a list",
      "r.yaml:2:34: scope.azure-devops: list projects, or ['*'] for all"]),
    ("rollup section",
     "version: 1\nrules: []\nrollups:\n  - id: r\n    parents: {type: [epik]}\n"
     "    metrics: [children, velocity]\n    rag: {red: {slip_days: -1}, purple: {}}\n"
     "    write_back: {fields: {speed: x}}\n",
     ["r.yaml:5:22: unknown type 'epik' (allowed: initiative, epic, feature, story, task, bug, subtask, risk, other)",
      "r.yaml:6:25: unknown metric 'velocity' (allowed: children, done, progress, points_total, points_done, start, due, forecast_end, overdue, blocked, noncompliant, rag)",
      "r.yaml:7:28: rollups[0].rag.red.slip_days: must be 0 or more (got -1)",
      "r.yaml:7:33: unknown key 'purple' (allowed: red, amber)",
      "r.yaml:8:27: unknown metric 'speed' (allowed: children, done, progress, points_total, points_done, start, due, forecast_end, overdue, blocked, noncompliant, rag)"]),
    ("broken YAML syntax",
     HEAD + "    require: [{field: title, present: true}\n",
     ["r.yaml:5:1: invalid YAML: expected ',' or ']', but got '<stream end>' (while parsing a flow sequence from line 4, column 14)"]),
    ("tab indentation",
     "version: 1\nrules:\n\t- id: a\n",
     ["r.yaml:3:1: invalid YAML: found character '\\t' that cannot start any token"]),
    ("not a mapping",
     "- a\n- b\n",
     ["r.yaml:1:1: a rules file is a mapping with version, rules and optional rollups"]),
    ("empty file",
     "",
     ["r.yaml:1:1: empty rules file"]),
    ("python objects are not constructed",
     "version: 1\nrules: !!python/object/apply:os.system [echo]\n",
     ["r.yaml:2:8: unsupported YAML tag 'tag:yaml.org,2002:python/object/apply:os.system'"]),
    ("python objects in scalars are not constructed either",
     "version: 1\nname: !!python/name:os.system ''\nrules: []\n",
     ["r.yaml:2:7: invalid YAML: could not determine a constructor for the tag 'tag:yaml.org,2002:python/name:os.system'"]),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_broken_rules_give_exact_errors(text: str, expected: list[str]) -> None:
    assert errors_of(text) == expected


def test_all_problems_in_a_file_are_reported_in_line_order() -> None:
    path = str(FILES / "many-errors.yaml")
    assert [str(e) for e in validate_paths([path])] == [
        f"{path}:7:15: unknown severity 'urgent' (allowed: info, low, medium, high, critical)",
        f"{path}:13:19: unknown type 'stroy' (allowed: initiative, epic, feature, story, task, bug, subtask, risk, other)",
        f"{path}:15:27: unknown operator 'maximum' (allowed: {OPERATORS})",
        f"{path}:19:34: bad duration '5days': write e.g. 30m, 12h, 5d or 2w",
        f"{path}:20:14: bad message template {{key.__class__}}: only plain names such as {{key}} or field names such as {{parent.due_date}} are allowed (no attribute access or indexing)",
        f"{path}:22:9: duplicate rule id 'epic-has-owner' (first defined on line 6)",
        f"{path}:24:17: unknown field 'titel' (allowed: {FIELDS})",
    ]


def test_broken_yaml_file_reports_its_line() -> None:
    path = str(FILES / "broken-syntax.yaml")
    with pytest.raises(RulesFileError) as caught:
        load_pack(path)
    assert [str(e) for e in caught.value.errors] == [
        f"{path}:5:5: invalid YAML: expected ',' or '}}', but got '<scalar>' "
        "(while parsing a flow mapping from line 4, column 11)"
    ]
    assert str(caught.value) == str(caught.value.errors[0])


def test_missing_paths_are_errors(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.yaml")
    assert [str(e) for e in validate_paths([missing])] == [f"{missing}:1:1: no such file or folder"]


def test_rule_ids_must_be_unique_across_packs(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("version: 1\nrules:\n  - id: owner\n" + OK)
    (tmp_path / "b.yaml").write_text(
        "version: 1\nrules:\n  - id: other\n" + OK + "  - id: owner\n" + OK
    )
    (tmp_path / "a.tests.yaml").write_text("not: a rules file\n")  # skipped in folders
    errors = [str(e) for e in validate_paths([tmp_path])]
    assert errors == [
        f"{tmp_path / 'b.yaml'}:5:9: duplicate rule id 'owner': also defined in "
        f"{tmp_path / 'a.yaml'} line 3 (rule ids must be unique across packs)"
    ]


def test_folders_load_every_rules_file_in_name_order(tmp_path: Path) -> None:
    (tmp_path / "b.yml").write_text("version: 1\nrules:\n  - id: second\n" + OK)
    (tmp_path / "a.yaml").write_text("version: 1\nname: First\nrules:\n  - id: first\n" + OK)
    (tmp_path / "notes.txt").write_text("ignored")
    ruleset = load_ruleset([tmp_path])
    assert [p.name for p in ruleset.packs] == ["First", "b"]
    assert [r.id for r in ruleset.rules] == ["first", "second"]
    assert ruleset.rule("second") is ruleset.packs[1].rules[0]


def test_bundled_pack_is_valid() -> None:
    pack = load_pack(CONFIG_PACKS / "pmo-standard.yaml")
    assert len(pack.rules) >= 12
    assert [r.id for r in pack.rollups] == ["epic-rollup"]
    assert pack.rollups[0].parent_types == frozenset({"initiative", "epic", "feature"})
