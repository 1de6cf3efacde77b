"""Portfolio (`across:`) rules, pure: groups, counts and the findings they give."""

from __future__ import annotations

import datetime as dt

import pytest

from connector.model import ItemType, Person, StatusCategory, WorkItem
from rules import Context
from rules.pack import parse_pack
from rules.portfolio import evaluate_across, group_count, group_key, person_key

NOW = Context(now=dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC))
PACK_TEXT = """
version: 1
name: portfolio
rules:
  - id: wip
    title: At most two items in progress per person
    across: assignee
    when: {status_category: [in_progress]}
    require:
      - {count: {max: 2}}
  - id: one-project
    across: assignee
    when: {status_category: [in_progress]}
    require:
      - {count: {distinct: project, max: 1}}
"""


def pack():
    compiled, _positions, errors = parse_pack(PACK_TEXT, "portfolio.yaml")
    assert not errors, errors
    return compiled


def item(key: str, person: Person | None, *, project="PAY", done=False) -> WorkItem:
    tracker, native = key.split(":", 1)
    return WorkItem(
        key=key, tracker=tracker, native_id=native, project=project, type=ItemType.STORY,
        title=f"Item {key}", status="Done" if done else "In Progress",
        status_category=StatusCategory.DONE if done else StatusCategory.IN_PROGRESS,
        assignee=person,
    )  # fmt: skip


# One person as each tracker shows them: an opaque Jira Cloud id, an Azure DevOps e-mail.
ANA_JIRA = Person("Ana Ruiz", "712020:3c1e6f0a-2b4d")
ANA_AZURE = Person("ana  ruiz", "ana@fabrikam.com")


@pytest.mark.parametrize(
    ("person", "expected"),
    [(ANA_JIRA, "ana ruiz"), (ANA_AZURE, "ana ruiz"), (Person("  "), None), (None, None)],
)
def test_person_key_folds_case_and_spacing(person, expected):
    assert person_key(person) == expected


def test_group_keys():
    story = item("jira:PAY-1", ANA_JIRA)
    assert group_key("assignee", story) == "ana ruiz"
    assert group_key("project", story) == "jira:PAY"
    assert group_key("tracker", story) == "jira"
    assert group_key("parent", story) is None


def test_one_person_across_trackers_breaks_wip():
    members = [
        item("jira:PAY-1", ANA_JIRA),
        item("jira:WEB-2", ANA_JIRA, project="WEB"),
        item("azure-devops:7", ANA_AZURE, project="Fabrikam"),
    ]
    findings = evaluate_across(pack(), members[0], {"wip": members, "one-project": members}, NOW)
    by_rule = {f.rule: f for f in findings}
    assert set(by_rule) == {"wip", "one-project"}
    assert "Ana Ruiz has 3 items (at most 2 allowed)" in by_rule["wip"].message
    assert "3 project values" in by_rule["one-project"].message


def test_done_items_and_other_people_do_not_count():
    members = [
        item("jira:PAY-1", ANA_JIRA),
        item("jira:PAY-2", ANA_JIRA, done=True),
        item("azure-devops:7", Person("Raj Patel", "raj@fabrikam.com")),
    ]
    rules = {r.id: r for r in pack().rules}
    assert group_count(rules["wip"], [members[0]]) == (1, False)
    assert evaluate_across(pack(), members[0], {"wip": members}, NOW) == []


def test_an_item_outside_the_rule_gets_no_finding():
    done = item("jira:PAY-9", ANA_JIRA, done=True)
    many = [item(f"jira:PAY-{i}", ANA_JIRA) for i in range(5)]
    assert evaluate_across(pack(), done, {"wip": many}, NOW) == []
    unassigned = item("jira:PAY-10", None)
    assert evaluate_across(pack(), unassigned, {"wip": many}, NOW) == []
