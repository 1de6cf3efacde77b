"""Portfolio rules (`across:`): a check over a group of items from every tracker and
project, e.g. work in progress per person, or how many projects one person works in.

Pure, like the rest of `rules/`: the caller passes the group's members (from the store);
this module only decides. A finding lands on every member of a group that breaks the
rule, so each person's own items say why; on a member an active waiver of the rule
covers (by its items, projects or `when`), it is `waived`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from config.people import Directory, resolve_person
from connector.model import Person, WorkItem
from rules.engine import Context, Finding, waive
from rules.pack import Pack, Rule, RuleSet
from rules.schema import DISTINCT_FIELDS  # noqa: F401  (re-exported for callers)
from rules.templates import render


def person_key(
    person: Person | None, people: Directory | None = None, tracker: str = ""
) -> str | None:
    """One person across trackers: the PMO's people file maps each account to a person
    (`@id`, through `config.people.resolve_person` like everything that groups by
    person); account ids never match between Jira Cloud (opaque ids) and Azure DevOps
    (e-mail names), so unmapped people are grouped by display name, with case and
    spacing folded."""
    if person is None:
        return None
    if people is not None:
        member = resolve_person(people, tracker, person)
        if member is not None and member.mapped:
            return f"@{member.id}"
    if not person.display_name.strip():
        return None
    return " ".join(person.display_name.split()).casefold()


def group_key(field: str, item: WorkItem, people: Directory | None = None) -> str | None:
    """Which group `item` belongs to for `across: field`; None puts it in no group."""
    if field in ("assignee", "reporter"):
        return person_key(getattr(item, field), people, item.tracker)
    if field == "project":
        return f"{item.tracker}:{item.project}"
    if field == "parent":
        return item.parent
    if field == "tracker":
        return item.tracker
    return None


def _distinct_value(field: str, item: WorkItem, people: Directory | None) -> str | None:
    if field == "project":
        return f"{item.tracker}:{item.project}"
    if field == "assignee":
        return person_key(item.assignee, people, item.tracker)
    value = getattr(item, field, None)
    return None if value is None else str(value)


def across_rules(ruleset: Pack | RuleSet) -> list[tuple[Pack, Rule]]:
    packs = ruleset.packs if isinstance(ruleset, RuleSet) else (ruleset,)
    # `across: person` load rules read a ledger, not groups (`rules.load`)
    return [
        (pack, rule) for pack in packs for rule in pack.rules if rule.across and rule.load is None
    ]


def member_matches(pack: Pack, rule: Rule, item: WorkItem, context: Context) -> bool:
    if pack.scope is not None and not pack.in_scope(item):
        return False
    return rule.applies(item, context)


def evaluate_across(
    ruleset: Pack | RuleSet,
    item: WorkItem,
    groups: Mapping[str, Sequence[WorkItem]],
    context: Context,
    people: Directory | None = None,
    *,
    memo: dict[tuple[str, str], Any] | None = None,
) -> list[Finding]:
    """Findings of the `across:` rules for `item`, given for each rule id the items of
    the item's group (the item itself included or not: it is de-duplicated by key);
    `people` maps accounts to people for rules across assignee or reporter.
    `memo`: per (rule, group), the matching members and their count, kept by a caller
    that checks many members of the same groups (a sweep) so each group is counted once."""
    findings = []
    for pack, rule in across_rules(ruleset):
        if not member_matches(pack, rule, item, context):
            continue
        group = group_key(rule.across, item, people)
        if group is None:
            continue
        known = memo.get((rule.id, group)) if memo is not None else None
        if known is None:
            members = {
                m.key: m for m in groups.get(rule.id, ()) if member_matches(pack, rule, m, context)
            }
            known = (members, group_count(rule, members.values(), people))
            if memo is not None:
                memo[(rule.id, group)] = known
        members, counted = known
        if members.get(item.key) != item:  # the item as it is now, not as stored
            members = {**members, item.key: item}
            counted = group_count(rule, members.values(), people)
        finding = _check(rule, item, group, counted, context, people)
        if finding is not None:
            findings.append(finding)
    # a waiver names the items it exempts: the group is still counted whole, and the
    # finding on each waived member is `waived` (its managed comment says until when)
    return waive(ruleset, findings, item, context)


def group_count(
    rule: Rule, members: Iterable[WorkItem], people: Directory | None = None
) -> tuple[int, bool]:
    """(what the rule counts in the group, whether that breaks the rule's bounds)."""
    distinct = rule.count.get("distinct")
    members = list(members)
    if distinct:
        count = len({v for m in members if (v := _distinct_value(str(distinct), m, people))})
    else:
        count = len(members)
    low, high = rule.count.get("min"), rule.count.get("max")
    breaks = (high is not None and count > high) or (low is not None and count < low)
    return count, breaks


def _check(
    rule: Rule,
    item: WorkItem,
    group: str,
    counted: tuple[int, bool],
    context: Context,
    people: Directory | None,
) -> Finding | None:
    count, breaks = counted
    if not breaks:
        return None
    distinct = rule.count.get("distinct")
    counted = f"{distinct} values" if distinct else "items"
    low, high = rule.count.get("min"), rule.count.get("max")
    if rule.message is not None:
        message = render(rule.message, item, context)
    else:
        who = group
        if rule.across == "assignee" and item.assignee:
            member = people.resolve(item.assignee.account_id, None) if people else None
            who = member.name if member and member.mapped else item.assignee.display_name
        bound = f"at most {high}" if high is not None and count > high else f"at least {low}"
        message = f"{rule.title or rule.id}: {who} has {count} {counted} ({bound} allowed)"
    hint = rule.hint or f"Rebalance the {rule.across}'s work across the portfolio."
    return Finding(
        rule.id, rule.severity, rule.enforcement, message, "fail", item.key, rule.title, hint
    )
