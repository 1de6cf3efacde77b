"""Rule evaluation: every operator on pass, fail and missing values; durations, relative
dates, parent fields, messages, error findings, scope and enforcement levels."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
import re2

from connector.model import WorkItem
from rules import Context, Finding, RuleSet, evaluate
from rules.checks import _build_generic
from rules.fastpath import fast_test
from rules.fields import compile_field
from rules.pack import Pack, parse_pack
from rules.regexes import compile_search

NOW = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)


def item(**fields: Any) -> WorkItem:
    data = {
        "key": "jira:PAY-1", "tracker": "jira", "native_id": "PAY-1", "project": "PAY",
        "type": "story", "title": "Checkout shows saved cards", "status": "In Progress",
        "status_category": "in_progress", **fields,
    }  # fmt: skip
    return WorkItem.from_dict(data)


def pack(text: str) -> Pack:
    compiled, _pos, errors = parse_pack(text, "inline.yaml")
    assert not errors, [str(e) for e in errors]
    assert compiled is not None
    return compiled


def one_rule(check: str, extra: str = "") -> Pack:
    return pack(f"version: 1\nrules:\n  - id: r\n    require:\n      - {check}\n{extra}")


def failing(
    compiled: Pack | RuleSet, work_item: WorkItem, parent: WorkItem | None = None
) -> list[str]:
    return [f.rule for f in evaluate(compiled, work_item, Context(NOW, parent))]


PARENT = item(
    key="jira:PAY-100", native_id="PAY-100", type="epic", due_date="2026-12-15", estimate=40
)

# (check, item fields, parent or None, passes)
CASES = [
    # present
    ("{field: assignee, present: true}", {"assignee": "Dana"}, None, True),
    ("{field: assignee, present: true}", {}, None, False),
    ("{field: description, present: true}", {"description": "   "}, None, False),
    ("{field: labels, present: true}", {"labels": []}, None, False),
    ("{field: labels, present: true}", {"labels": ["x"]}, None, True),
    ("{field: assignee, present: false}", {}, None, True),
    ("{field: assignee, present: false}", {"assignee": "Dana"}, None, False),
    ("{field: custom.mitigation, present: true}", {"custom": {"mitigation": "plan B"}}, None, True),
    ("{field: custom.mitigation, present: true}", {"custom": {}}, None, False),
    # equals / in / not_in: case-insensitive; missing fails equals/in, passes not_in
    ("{field: priority, equals: High}", {"priority": "high"}, None, True),
    ("{field: priority, equals: High}", {"priority": "Low"}, None, False),
    ("{field: priority, equals: High}", {}, None, False),
    ("{field: priority, in: [High, Highest]}", {"priority": "Highest"}, None, True),
    ("{field: priority, in: [High, Highest]}", {"priority": "Low"}, None, False),
    ("{field: priority, in: [High, Highest]}", {}, None, False),
    ("{field: priority, not_in: [Lowest]}", {"priority": "lowest"}, None, False),
    ("{field: priority, not_in: [Lowest]}", {"priority": "High"}, None, True),
    ("{field: priority, not_in: [Lowest]}", {}, None, True),
    ("{field: type, in: [story, bug]}", {"type": "bug"}, None, True),
    ("{field: assignee, equals: Dana Lee}", {"assignee": "dana lee"}, None, True),
    # matches: re.search; missing reads as ""
    ("{field: title, matches: '^[A-Z]'}", {"title": "Checkout"}, None, True),
    ("{field: title, matches: '^[A-Z]'}", {"title": "checkout"}, None, False),
    ("{field: priority, matches: '^$'}", {}, None, True),
    ("{field: priority, matches: 'P[0-9]'}", {}, None, False),
    # contains: all substrings, case-insensitive; lists: all elements; empty fails
    (
        "{field: description, contains: [Business case, Success criteria]}",
        {"description": "business case: x. SUCCESS CRITERIA: y"},
        None,
        True,
    ),
    (
        "{field: description, contains: [Business case, Success criteria]}",
        {"description": "Business case only"},
        None,
        False,
    ),
    ("{field: description, contains: Business case}", {}, None, False),
    (
        "{field: labels, contains: [security, gdpr]}",
        {"labels": ["GDPR", "security", "x"]},
        None,
        True,
    ),
    ("{field: labels, contains: [security, gdpr]}", {"labels": ["security"]}, None, False),
    ("{field: labels, contains: security}", {"labels": []}, None, False),
    # min / max on numbers: missing passes
    ("{field: estimate, max: 13}", {"estimate": 13}, None, True),
    ("{field: estimate, max: 13}", {"estimate": 21}, None, False),
    ("{field: estimate, max: 13}", {}, None, True),
    ("{field: estimate, min: 1}", {"estimate": 0.5}, None, False),
    ("{field: estimate, min: 1}", {"estimate": 1}, None, True),
    ("{field: custom.budget, max: 1000}", {"custom": {"budget": 1500}}, None, False),
    ("{field: custom.budget, max: 1000}", {"custom": {"budget": "900"}}, None, True),
    # min / max on durations
    ("{field: status_age, max: 5d}", {"status_changed": "2026-10-27T09:00:00Z"}, None, True),
    ("{field: status_age, max: 5d}", {"status_changed": "2026-10-27T08:59:00Z"}, None, False),
    ("{field: status_age, max: 12h}", {"status_changed": "2026-10-31T20:00:00Z"}, None, False),
    ("{field: status_age, max: 30m}", {"status_changed": "2026-11-01T08:45:00Z"}, None, True),
    ("{field: status_age, max: 2w}", {"status_changed": "2026-10-18T10:00:00Z"}, None, True),
    (
        "{field: status_age, max: 5d}",
        {"updated": "2026-10-20T00:00:00Z"},
        None,
        False,
    ),  # falls back to updated
    (
        "{field: status_age, max: 5d}",
        {"created": "2026-10-20T00:00:00Z"},
        None,
        False,
    ),  # then created
    ("{field: status_age, max: 5d}", {}, None, True),  # no timestamps: passes
    ("{field: status_age, min: 1d}", {"status_changed": "2026-11-01T00:00:00Z"}, None, False),
    ("{field: age, max: 90d}", {"created": "2026-06-01T00:00:00Z"}, None, False),
    ("{field: age, min: 1d}", {"created": "2026-10-01T00:00:00Z"}, None, True),
    # min_length: text (stripped) and lists; missing = 0
    ("{field: title, min_length: 10}", {"title": "fix"}, None, False),
    ("{field: title, min_length: 10}", {"title": "   fix        "}, None, False),
    ("{field: title, min_length: 10}", {"title": "Fix refund rounding"}, None, True),
    ("{field: labels, min_length: 2}", {"labels": ["a"]}, None, False),
    ("{field: description, min_length: 1}", {}, None, False),
    # before / after: ISO dates and dates relative to now (strict); missing passes
    ("{field: due_date, before: 2026-12-31}", {"due_date": "2026-12-30"}, None, True),
    ("{field: due_date, before: 2026-12-31}", {"due_date": "2026-12-31"}, None, False),
    ("{field: due_date, before: '+30d'}", {"due_date": "2026-11-30"}, None, True),
    ("{field: due_date, before: '+30d'}", {"due_date": "2026-12-01"}, None, False),
    ("{field: due_date, after: '-1d'}", {"due_date": "2026-11-01"}, None, True),
    ("{field: due_date, after: '-1d'}", {"due_date": "2026-10-31"}, None, False),
    ("{field: due_date, after: '-7d'}", {}, None, True),
    ("{field: created, after: '-7d'}", {"created": "2026-10-20T00:00:00Z"}, None, False),
    ("{field: created, after: '2026-10-01'}", {"created": "2026-10-20T00:00:00Z"}, None, True),
    (
        "{field: updated, before: '2026-10-01T12:00:00Z'}",
        {"updated": "2026-10-01T11:00:00Z"},
        None,
        True,
    ),
    ("{field: custom.go_live, before: '+10d'}", {"custom": {"go_live": "2026-11-05"}}, None, True),
    ("{field: custom.go_live, before: '+10d'}", {"custom": {"go_live": "2026-12-05"}}, None, False),
    # lte_field / gte_field, including parent fields; either side missing passes
    ("{field: due_date, lte_field: parent.due_date}", {"due_date": "2026-12-15"}, PARENT, True),
    ("{field: due_date, lte_field: parent.due_date}", {"due_date": "2026-12-16"}, PARENT, False),
    ("{field: due_date, lte_field: parent.due_date}", {"due_date": "2026-12-16"}, None, True),
    ("{field: due_date, lte_field: parent.due_date}", {}, PARENT, True),
    (
        "{field: due_date, lte_field: parent.due_date}",
        {"due_date": "2026-12-16"},
        item(type="epic"),
        True,
    ),
    (
        "{field: due_date, gte_field: start_date}",
        {"start_date": "2026-11-10", "due_date": "2026-11-01"},
        None,
        False,
    ),
    (
        "{field: due_date, gte_field: start_date}",
        {"start_date": "2026-11-10", "due_date": "2026-11-10"},
        None,
        True,
    ),
    ("{field: estimate, lte_field: parent.estimate}", {"estimate": 50}, PARENT, False),
    (
        "{field: due_date, lte_field: parent.updated}",
        {"due_date": "2026-11-02"},
        item(updated="2026-11-01T10:00:00Z"),
        False,
    ),
    # parent.<field> with ordinary operators
    ("{field: parent.assignee, present: true}", {}, PARENT, False),
    ("{field: parent.type, in: [epic]}", {}, PARENT, True),
    ("{field: parent.status_category, equals: in_progress}", {}, None, False),
    # any: at least one alternative
    (
        "{any: [{field: custom.mitigation, present: true}, {field: description, contains: Mitigation}]}",
        {"description": "Mitigation: x"},
        None,
        True,
    ),
    (
        "{any: [{field: custom.mitigation, present: true}, {field: description, contains: Mitigation}]}",
        {},
        None,
        False,
    ),
    (
        "{any: [{field: estimate, present: true, max: 13}, {field: labels, contains: spike}]}",
        {"estimate": 21},
        None,
        False,
    ),
]


@pytest.mark.parametrize(("check", "fields", "parent", "passes"), CASES)
def test_operator_table(
    check: str, fields: dict[str, Any], parent: WorkItem | None, passes: bool
) -> None:
    assert failing(one_rule(check), item(**fields), parent) == ([] if passes else ["r"])


FAST_CASES = [c for c in CASES if not c[0].startswith("{any")]


@pytest.mark.parametrize(("check", "fields", "parent", "passes"), FAST_CASES)
def test_fast_paths_agree_with_generic_checks(
    check: str, fields: dict[str, Any], parent: WorkItem | None, passes: bool
) -> None:
    import yaml

    spec = yaml.safe_load(check)
    getter = compile_field(spec.pop("field"))
    ((op, arg),) = spec.items()
    if isinstance(arg, dt.date):
        arg = arg.isoformat()
    other = compile_field(arg) if op in ("lte_field", "gte_field") else None
    generic = _build_generic(getter, op, arg, other).test
    fast = fast_test(getter, op, arg, other)
    ctx = Context(NOW, parent)
    assert generic(item(**fields), ctx) is passes
    if fast is not None:
        assert fast(item(**fields), ctx) is passes


def test_several_operators_in_one_check_all_apply() -> None:
    rule = one_rule("{field: estimate, present: true, max: 13}")
    assert failing(rule, item(estimate=8)) == []
    assert failing(rule, item(estimate=21)) == ["r"]
    assert failing(rule, item()) == ["r"]


WHEN_PACK = """
version: 1
rules:
  - id: epic-owner
    when: {type: [epic], status_category: [in_progress]}
    require: [{field: assignee, present: true}]
  - id: blocked
    when: {status: [Blocked, On Hold]}
    require: [{field: status_age, max: 5d}]
  - id: security
    when: {labels: [security]}
    require: [{field: priority, present: true}]
  - id: unparented
    when: {type: story, parent: null}
    require: [{field: title, min_length: 100}]
"""


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"type": "epic", "status_category": "in_progress"}, ["epic-owner"]),
        ({"type": "epic", "status_category": "todo"}, []),
        ({"type": "story", "status_category": "in_progress", "parent": "jira:PAY-9"}, []),
        (
            {"status": "blocked", "status_changed": "2026-10-01T00:00:00Z", "parent": "jira:PAY-9"},
            ["blocked"],
        ),
        (
            {"status": "ON HOLD", "status_changed": "2026-10-01T00:00:00Z", "parent": "jira:PAY-9"},
            ["blocked"],
        ),
        ({"labels": ["Security"], "parent": "jira:PAY-9"}, ["security"]),
        ({"labels": ["ux"], "parent": "jira:PAY-9"}, []),
        ({}, ["unparented"]),
    ],
)
def test_when_filters(fields: dict[str, Any], expected: list[str]) -> None:
    assert failing(pack(WHEN_PACK), item(**fields)) == expected


def test_when_type_works_for_plain_string_types_too() -> None:
    compiled = pack(WHEN_PACK)
    plain = item(type="epic", status_category="in_progress").with_changes(
        type="epic", status_category="in_progress"
    )
    assert failing(compiled, plain) == ["epic-owner"]


# --- messages -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("check", "fields", "message"),
    [
        ("{field: estimate, max: 13}", {"estimate": 21}, "estimate must be at most 13 (is 21)"),
        ("{field: estimate, present: true}", {}, "estimate must be set"),
        (
            "{field: status_age, max: 5d}",
            {"status_changed": "2026-10-25T06:00:00Z"},
            "status_age must be at most 5d (is 7d 3h)",
        ),
        (
            "{field: description, contains: [Business case, Success criteria]}",
            {"description": "Business case"},
            'description must contain "Success criteria"',
        ),
        (
            "{field: title, min_length: 10}",
            {"title": "fix"},
            "title must have at least 10 characters (has 3)",
        ),
        (
            "{field: priority, in: [High, Highest]}",
            {"priority": "Low"},
            "priority must be one of High, Highest (is Low)",
        ),
        (
            "{field: due_date, after: '-1d'}",
            {"due_date": "2026-10-20"},
            "due_date must be after 2026-10-31 (-1d) (is 2026-10-20)",
        ),
        (
            "{field: due_date, lte_field: parent.due_date}",
            {"due_date": "2026-12-20"},
            "due_date (2026-12-20) must not be later than parent.due_date (2026-12-15)",
        ),
    ],
)
def test_default_messages_name_the_failed_check(
    check: str, fields: dict[str, Any], message: str
) -> None:
    (finding,) = evaluate(one_rule(check), item(**fields), Context(NOW, PARENT))
    assert finding.message == message


def test_default_message_lists_every_failed_check_after_the_title() -> None:
    compiled = pack(
        "version: 1\nrules:\n  - id: gate\n    title: Epics have dates\n    require:\n"
        "      - {field: start_date, present: true}\n      - {field: due_date, present: true}\n"
    )
    (finding,) = evaluate(compiled, item(), Context(NOW))
    assert finding.message == "Epics have dates: start_date must be set; due_date must be set"
    assert finding.hint == "Set start_date. Set due_date."


def test_message_templates_render_item_rule_and_field_values() -> None:
    compiled = one_rule(
        "{field: status_age, max: 5d}",
        '    severity: critical\n    message: "{key} ({title}, {assignee}) blocked {status_age}: '
        '{rule}/{severity} due {parent.due_date} {custom.team} {{literal}}"\n',
    )
    work_item = item(
        assignee="Dana Lee", status_changed="2026-10-20T09:00:00Z", custom={"team": "Payments"}
    )
    (finding,) = evaluate(compiled, work_item, Context(NOW, PARENT))
    assert finding.message == (
        "jira:PAY-1 (Checkout shows saved cards, Dana Lee) blocked 12d: "
        "r/critical due 2026-12-15 Payments {literal}"
    )


def test_finding_carries_rule_metadata_and_contract_dict() -> None:
    compiled = one_rule(
        "{field: estimate, max: 13}",
        "    title: Small stories\n    severity: high\n    enforcement: enforce\n",
    )
    (finding,) = evaluate(compiled, item(estimate=20), Context(NOW))
    assert finding == Finding(
        "r", "high", "enforce", "Small stories: estimate must be at most 13 (is 20)", "fail",
        "jira:PAY-1", "Small stories", "Reduce estimate to at most 13 (split the item if it is too big).",
    )  # fmt: skip
    assert finding.to_dict() == {
        "rule": "r", "severity": "high", "enforcement": "enforce",
        "message": "Small stories: estimate must be at most 13 (is 20)", "status": "fail",
    }  # fmt: skip
    with pytest.raises(AttributeError):
        finding.rule = "other"  # type: ignore[misc]


# --- errors, scope, enforcement -----------------------------------------------------------
def test_a_rule_that_raises_gives_an_error_finding_and_hides_nothing() -> None:
    compiled = pack(
        "version: 1\nrules:\n"
        "  - id: before\n    require: [{field: estimate, present: true}]\n"
        "  - id: broken\n    require: [{field: custom.budget, max: 10}]\n"
        "  - id: after\n    require: [{field: title, min_length: 50}]\n"
    )
    findings = evaluate(compiled, item(custom={"budget": "lots"}), Context(NOW))
    assert [(f.rule, f.status) for f in findings] == [
        ("before", "fail"),
        ("broken", "error"),
        ("after", "fail"),
    ]
    assert findings[1].message.startswith("rule broken could not be evaluated: ValueError")


SCOPED = """
version: 1
scope: {jira: [PAY, WEB], azure-devops: ['*']}
rules:
  - id: r
    require: [{field: estimate, present: true}]
"""


@pytest.mark.parametrize(
    ("tracker", "project", "in_scope"),
    [("jira", "PAY", True), ("jira", "WEB", True), ("jira", "OPS", False),
     ("azure-devops", "Fabrikam", True), ("jira-onprem", "PAY", False)],
)  # fmt: skip
def test_scope_limits_packs_to_trackers_and_projects(
    tracker: str, project: str, in_scope: bool
) -> None:
    assert failing(pack(SCOPED), item(tracker=tracker, project=project)) == (
        ["r"] if in_scope else []
    )


def test_a_ruleset_evaluates_every_pack_each_with_its_scope() -> None:
    other = pack(
        "version: 1\nscope: {jira: [OPS]}\nrules:\n  - id: s\n    require: [{field: priority, present: true}]\n"
    )
    ruleset = RuleSet((pack(SCOPED), other))
    assert failing(ruleset, item(project="PAY")) == ["r"]
    assert failing(ruleset, item(project="OPS")) == ["s"]


def test_enforcement_defaults_from_the_pack_and_rules_override_it() -> None:
    compiled = pack(
        "version: 1\nenforcement: audit\nrules:\n"
        "  - id: a\n    require: [{field: estimate, present: true}]\n"
        "  - id: b\n    enforcement: enforce\n    severity: critical\n    require: [{field: estimate, present: true}]\n"
    )
    findings = evaluate(compiled, item(), Context(NOW))
    assert [(f.rule, f.enforcement, f.severity) for f in findings] == [
        ("a", "audit", "medium"),
        ("b", "enforce", "critical"),
    ]
    no_default = pack(
        "version: 1\nrules:\n  - id: a\n    require: [{field: estimate, present: true}]\n"
    )
    assert evaluate(no_default, item(), Context(NOW))[0].enforcement == "advise"


def test_across_rules_are_not_evaluated_per_item() -> None:
    compiled = pack(
        "version: 1\nrules:\n  - id: wip\n    across: assignee\n    require: [{count: {max: 0}}]\n"
    )
    assert compiled.rules[0].across == "assignee" and compiled.rules[0].count == {"max": 0}
    assert failing(compiled, item()) == []


def test_naive_now_is_taken_as_utc() -> None:
    ctx = Context(dt.datetime(2026, 11, 1, 9, 0))
    assert ctx.now.tzinfo is dt.UTC and ctx.today == dt.date(2026, 11, 1)


def test_a_catastrophic_regex_answers_at_once_instead_of_freezing_the_worker() -> None:
    # With a backtracking engine `^(a+)+$` takes seconds at 30 characters and doubles per
    # character; the rule engine's regexes run in linear time, so this answers at once.
    compiled = one_rule("{field: title, matches: '^(a+)+$'}")
    hostile = item(title="a" * 30 + "!")
    result: list[list[str]] = []
    worker = threading.Thread(target=lambda: result.append(failing(compiled, hostile)), daemon=True)
    worker.start()
    worker.join(timeout=5)
    assert result == [["r"]], "the check did not finish: the regex engine backtracks"
    assert failing(compiled, item(title="a" * 10_000)) == []


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        ("^[A-Z]", "Checkout"),
        ("^[A-Z]", "checkout"),
        ("^$", ""),
        ("(?i)success criteria", "SUCCESS CRITERIA: y"),
        ("é+$", "café"),
        ("^.{3}$", "日本語"),
        (r"\bPAY-\d+\b", "see PAY-12."),
        ("x*", "abc"),
    ],
)
def test_the_fast_match_agrees_with_the_re2_module_search(pattern: str, text: str) -> None:
    public = re2.compile(pattern).search(text) is not None
    assert compile_search(pattern)(text) is public
