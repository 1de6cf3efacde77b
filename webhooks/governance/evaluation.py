"""Evaluate a stored item: its own rules with its stored parent as context, the
portfolio (`across:`) rules over its groups as the store has them, and, for a rollup
parent, the findings of its rollup (`rules.rollup.rollup_findings`: done with open
children). The worker, the
sweep and the audit all evaluate through here, so they cannot disagree."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from connector.model import StatusCategory, WorkItem
from rules import Context, Finding, RuleSet, evaluate
from rules.rollup import Rollup, spec_for
from rules.rollup.findings import rollup_findings
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
    rollup: Rollup | None = None,
    loads: dict[str, Any] | None = None,
) -> list[Finding]:
    """The item's findings now. `ruleset` defaults to the rules in force; `known` may
    hold items already read (the sweep's page), looked in before the store for the
    parent. `now` defaults to the runtime's clock. `groups` and `counted`: portfolio
    groups already read and counted, `loads`: everyone's load judged once, kept by a
    caller checking many items (the sweep). `rollup`: the item's rollup when the caller
    holds it, else read from the store (only for a done rollup parent: the one case a
    rollup raises a finding)."""
    ruleset = ruleset if ruleset is not None else resources.rules.current()
    parent = None
    if item.parent:
        parent = (known or {}).get(item.parent) or resources.store.get_item(item.parent)
    tracker = resources.settings.trackers.get(item.tracker)
    names = tracker.field_names if tracker is not None else {}
    context = Context(now=now or resources.clock(), parent=parent, field_names=names)
    findings = evaluate(ruleset, item, context)
    findings += across_findings(resources, ruleset, item, context, groups, counted, loads)
    findings += link_findings(item, resources.settings)  # ambiguous portfolio links
    if item.status_category is StatusCategory.DONE:
        spec = spec_for(ruleset.rollups, item)
        if spec is not None:
            if rollup is None:
                rollup = resources.store.get_rollup(item.key)
            findings += rollup_findings(spec, item, rollup)
    return findings
