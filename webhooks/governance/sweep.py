"""The periodic sweep: ages and due dates change without events, so in-flight items are
re-evaluated from the store on a schedule (default hourly) and only real changes are
written: a new or fixed finding, or a waiver that expired (the item is flagged again).
Rollup parents are recomputed too: forecasts and slips move with the calendar."""

from __future__ import annotations

import logging
from typing import Any

from rules.rollup import spec_for
from webhooks.governance.evaluation import evaluate_stored
from webhooks.governance.followups import FollowUps
from webhooks.governance.people import refresh_capacity, sync_allocations
from webhooks.governance.portfolio_groups import Counted, Groups
from webhooks.resources import Resources

log = logging.getLogger(__name__)
IN_FLIGHT = ("todo", "in_progress")


def sweep(resources: Resources, follow_ups: FollowUps) -> dict[str, int]:
    """Re-check every in-flight item; queue a re-govern only where the findings differ
    from the open ones in the store. Returns counts for the log and for tests."""
    store = resources.store
    ruleset = resources.rules.current()
    now = resources.clock()
    # by status too: a waiver expiring today turns `waived` into `fail` on the same rule
    open_by_item: dict[str, set[tuple[str, str]]] = {}
    for finding in store.open_findings():
        open_by_item.setdefault(finding.item_key, set()).add((finding.rule, finding.status))

    refresh_capacity(resources)  # Azure DevOps sprint capacity, where configured
    store.regroup_people()  # a person mapped since: their items group under them
    checked = changed = parents = 0
    items = list(store.iter_items(status_categories=IN_FLIGHT))
    by_key = {item.key: item for item in items}
    groups: Groups = {}  # each portfolio group read and counted once per sweep, not once
    counted: Counted = {}  # per member
    # first every load (windows move on as weeks pass), written where it moved; then the
    # rules, everyone's load judged once, not once per item
    loads: dict[str, Any] = {"ledger": sync_allocations(resources, items)}
    for item in items:
        checked += 1
        findings = evaluate_stored(
            resources, item, ruleset=ruleset, known=by_key, now=now, groups=groups,
            counted=counted, loads=loads,
        )  # fmt: skip
        if {(f.rule, f.status) for f in findings} != open_by_item.get(item.key, set()):
            follow_ups.regovern(item.key, delay=0)
            changed += 1
        if spec_for(ruleset.rollups, item) is not None:
            follow_ups.recompute_rollup(item.key)
            parents += 1
    result = {"checked": checked, "changed": changed, "parents": parents}
    log.info("sweep.done", extra=result)
    return result
