"""Write-back planning: audit writes nothing, advise one managed comment, enforce adds and
removes prefixed labels and applies field actions; labels people set are never removed."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from connector.model import WorkItem
from rules import Action, Context, evaluate, plan_actions
from rules.pack import Pack, parse_pack
from rules.plan import COMMENT_MARKER

NOW = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)
PACK = """
version: 1
enforcement: advise
rules:
  - id: has-estimate
    title: Stories are estimated
    require: [{field: estimate, present: true}]
    hint: Size the story with the team.
  - id: blocked-escalation
    enforcement: enforce
    severity: critical
    when: {status: [Blocked]}
    require: [{field: status_age, max: 5d}]
    labels: [escalated]
  - id: bug-priority
    enforcement: enforce
    when: {type: [bug]}
    require: [{field: priority, present: true}]
    actions: {set: {priority: Medium}}
  - id: audited
    enforcement: audit
    require: [{field: title, min_length: 200}]
  - id: wip
    across: assignee
    enforcement: enforce
    require: [{count: {max: 5}}]
"""


def pack(text: str = PACK) -> Pack:
    compiled, _pos, errors = parse_pack(text, "plan.yaml")
    assert not errors, [str(e) for e in errors]
    assert compiled is not None
    return compiled


def item(**fields: Any) -> WorkItem:
    data = {
        "key": "jira:PAY-1", "tracker": "jira", "native_id": "PAY-1", "project": "PAY",
        "type": "story", "title": "Checkout shows saved cards", "status": "In Progress",
        "status_category": "in_progress", "estimate": 3, **fields,
    }  # fmt: skip
    return WorkItem.from_dict(data)


def plan(work_item: WorkItem, **kwargs: Any) -> list[dict[str, Any]]:
    compiled = pack()
    findings = evaluate(compiled, work_item, Context(NOW))
    return [a.to_dict() for a in plan_actions(compiled, work_item, findings, **kwargs)]


def of_type(actions: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [a for a in actions if a["type"] == kind]


def test_audit_findings_write_nothing() -> None:
    work_item = item()  # fails only the audit rule (title shorter than 200)
    assert [f.rule for f in evaluate(pack(), work_item, Context(NOW))] == ["audited"]
    assert plan(work_item) == []


def test_advise_gives_one_managed_comment_with_messages_and_hints() -> None:
    actions = plan(item(estimate=None))
    assert actions == [
        {
            "type": "comment",
            "item": "jira:PAY-1",
            "body": {
                "marker": COMMENT_MARKER,
                "status": "fail",
                "summary": "1 PMO rule not met.",
                "findings": [
                    {
                        "rule": "has-estimate",
                        "title": "Stories are estimated",
                        "severity": "medium",
                        "enforcement": "advise",
                        "message": "Stories are estimated: estimate must be set",
                        "hint": "Size the story with the team.",
                    }
                ],
            },
        }
    ]


def test_all_pass_updates_an_existing_comment_only() -> None:
    passing = item(title="x" * 200)
    assert plan(passing) == []
    (comment,) = plan(passing, has_managed_comment=True)
    assert comment["body"]["status"] == "pass"
    assert comment["body"]["summary"] == "All PMO rules pass."
    assert comment["body"]["findings"] == []


def test_enforce_adds_the_prefixed_label_and_comments() -> None:
    blocked = item(status="Blocked", status_changed="2026-10-20T00:00:00Z")
    actions = plan(blocked)
    assert of_type(actions, "add_label") == [
        {"type": "add_label", "item": "jira:PAY-1", "label": "pmo-escalated"}
    ]
    (comment,) = of_type(actions, "comment")
    assert [f["rule"] for f in comment["body"]["findings"]] == ["blocked-escalation"]


def test_enforce_without_labels_uses_the_rule_id_and_a_custom_prefix() -> None:
    actions = plan(item(type="bug"), prefix="gov-")
    assert of_type(actions, "add_label") == [
        {"type": "add_label", "item": "jira:PAY-1", "label": "gov-bug-priority"}
    ]


def test_labels_already_on_the_item_are_not_added_again() -> None:
    blocked = item(
        status="Blocked", status_changed="2026-10-20T00:00:00Z", labels=["PMO-Escalated"]
    )
    assert of_type(plan(blocked), "add_label") == []
    assert of_type(plan(blocked), "remove_label") == []


def test_labels_of_rules_that_pass_again_are_removed() -> None:
    unblocked = item(labels=["pmo-escalated", "pmo-bug-priority", "team-red"], title="x" * 200)
    assert of_type(plan(unblocked), "remove_label") == [
        {"type": "remove_label", "item": "jira:PAY-1", "label": "pmo-escalated"},
        {"type": "remove_label", "item": "jira:PAY-1", "label": "pmo-bug-priority"},
    ]


@pytest.mark.parametrize(
    "label",
    [
        "escalated",  # set by a person: no prefix
        "needs-review",
        "pmo-something-else",  # prefixed but no rule of this set adds it
        "pmo-rag-red",  # rollups own these
        "pmo-wip",  # across rules are not evaluated per item
    ],
)
def test_labels_the_ruleset_does_not_own_are_never_removed(label: str) -> None:
    assert of_type(plan(item(labels=[label], title="x" * 200)), "remove_label") == []


def test_a_rule_that_errors_keeps_its_label() -> None:
    compiled = pack(
        "version: 1\nenforcement: enforce\nrules:\n"
        "  - id: budget\n    require: [{field: custom.budget, max: 10}]\n"
    )
    work_item = item(labels=["pmo-budget"], custom={"budget": "lots"})
    findings = evaluate(compiled, work_item, Context(NOW))
    assert [f.status for f in findings] == ["error"]
    assert plan_actions(compiled, work_item, findings) == []


def test_enforce_field_actions_set_values_that_differ() -> None:
    actions = plan(item(type="bug"))
    assert of_type(actions, "set_field") == [
        {
            "type": "set_field",
            "item": "jira:PAY-1",
            "field": "priority",
            "value": "Medium",
            "rule": "bug-priority",
        }
    ]


def test_field_actions_only_for_enforce_rules() -> None:
    compiled = pack(
        PACK.replace(
            "enforcement: enforce\n    when: {type", "enforcement: advise\n    when: {type"
        )
    )
    work_item = item(type="bug")
    findings = evaluate(compiled, work_item, Context(NOW))
    kinds = [a.type for a in plan_actions(compiled, work_item, findings)]
    assert kinds == ["comment"]


def test_action_is_frozen_with_readable_payload() -> None:
    action = Action("add_label", "jira:PAY-1", {"label": "pmo-escalated"})
    assert action.label == "pmo-escalated" and action.field is None
    assert action.to_dict() == {"type": "add_label", "item": "jira:PAY-1", "label": "pmo-escalated"}
    with pytest.raises(TypeError):
        action.payload["label"] = "other"  # type: ignore[index]
