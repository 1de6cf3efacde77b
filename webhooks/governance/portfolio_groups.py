"""Portfolio rules at the edge: read each `across:` group from the store, and when a
group crosses a bound, have its other members re-checked so every item concerned shows
the finding (and drops it once the group is back within bounds)."""

from __future__ import annotations

from typing import Any

from connector.model import WorkItem
from rules import Context, Finding, RuleSet
from rules.engine import waive
from rules.portfolio import (
    across_rules,
    evaluate_across,
    group_count,
    group_key,
    member_matches,
)
from webhooks.governance.people import load_findings, load_rechecks
from webhooks.resources import Resources

Groups = dict[tuple[str, str], list[WorkItem]]  # (field, group key) -> stored members
Counted = dict[tuple[str, str], Any]  # (rule id, group key) -> members and their count


def across_groups(
    resources: Resources, ruleset: RuleSet, item: WorkItem, cache: Groups | None = None
) -> dict[str, list[WorkItem]]:
    """rule id -> the stored members of the item's group for that rule. `cache`: groups
    already read (a sweep reads each group once, not once per member)."""
    groups: dict[str, list[WorkItem]] = {}
    cache = {} if cache is None else cache
    for _pack, rule in across_rules(ruleset):
        key = group_key(rule.across, item, resources.people)
        if key is None:
            continue
        if (rule.across, key) not in cache:
            cache[(rule.across, key)] = resources.store.group_members(rule.across, key)
        groups[rule.id] = cache[(rule.across, key)]
    return groups


def across_findings(
    resources: Resources,
    ruleset: RuleSet,
    item: WorkItem,
    context: Context,
    cache: Groups | None = None,
    memo: Counted | None = None,
    loads: dict[str, Any] | None = None,
) -> list[Finding]:
    """`cache`, `memo` and `loads` (see `across_groups`, `evaluate_across`,
    `load_findings`): kept by a sweep."""
    found = waive(ruleset, load_findings(resources, ruleset, item, loads), item, context)
    if not across_rules(ruleset):
        return found
    groups = across_groups(resources, ruleset, item, cache)
    return found + evaluate_across(ruleset, item, groups, context, resources.people, memo=memo)


def members_to_recheck(
    resources: Resources, ruleset: RuleSet, items: list[WorkItem], context: Context
) -> set[str]:
    """Keys of group members (of the groups `items` are or were in) whose open findings
    for an across rule no longer match what the group now says."""
    stale: set[str] = load_rechecks(resources, ruleset, items)
    for pack, rule in across_rules(ruleset):
        seen_groups = set()
        for item in items:
            key = group_key(rule.across, item, resources.people)
            if key is None or key in seen_groups:
                continue
            seen_groups.add(key)
            members = [
                m
                for m in resources.store.group_members(rule.across, key)
                if member_matches(pack, rule, m, context)
            ]
            if not members:
                continue
            _count, breaking = group_count(rule, members, resources.people)
            flagged = resources.store.keys_with_open_finding(rule.id, [m.key for m in members])
            for member in members:
                if (member.key in flagged) != breaking:
                    stale.add(member.key)
    return stale
