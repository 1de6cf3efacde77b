"""Evaluate a stored item: its own rules with its stored parent as context, and the
portfolio (`across:`) rules over its groups as the store has them. The worker, the
sweep and the audit all evaluate through here, so they cannot disagree."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from connector.model import WorkItem
from rules import Context, Finding, RuleSet, evaluate
from webhooks.governance.hierarchy import link_findings
from webhooks.governance.portfolio_groups import Counted, Groups, across_findings
from webhooks.resources import Resources


def evaluate_stored(
    resources: Resources,
    item: WorkItem,
    *,
    ruleset: RuleSet | None = None,
    known: Mapping[str, WorkItem] | None = None,
    now: dt.datetime | None = None,
    groups: Groups | None = None,
    counted: Counted | None = None,
    loads: dict[str, Any] | None = None,
) -> list[Finding]:
    """The item's findings now. `ruleset` defaults to the rules in force; `known` may
    hold items already read (the sweep's page), looked in before the store for the
    parent. `now` defaults to the runtime's clock. `groups` and `counted`: portfolio
    groups already read and counted, `loads`: everyone's load judged once, kept by a
    caller checking many items (the sweep)."""
    ruleset = ruleset if ruleset is not None else resources.rules.current()
    parent = None
    if item.parent:
        parent = (known or {}).get(item.parent) or resources.store.get_item(item.parent)
    context = Context(now=now or resources.clock(), parent=parent)
    findings = evaluate(ruleset, item, context)
    findings += across_findings(resources, ruleset, item, context, groups, counted, loads)
    findings += link_findings(item, resources.settings)  # ambiguous portfolio links
    return findings
