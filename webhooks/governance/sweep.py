"""The periodic sweep: ages and due dates change without events, so in-flight items are
re-evaluated from the store on a schedule (default hourly) and only real changes are
written. Rollup parents are recomputed too: forecasts and slips move with the calendar."""

from __future__ import annotations

import logging

from rules.rollup import spec_for
from webhooks.governance.evaluation import evaluate_stored
from webhooks.governance.followups import FollowUps
from webhooks.resources import Resources

log = logging.getLogger(__name__)
IN_FLIGHT = ("todo", "in_progress")


def sweep(resources: Resources, follow_ups: FollowUps) -> dict[str, int]:
    """Re-check every in-flight item; queue a re-govern only where the findings differ
    from the open ones in the store. Returns counts for the log and for tests."""
    store = resources.store
    ruleset = resources.rules.current()
    now = resources.clock()
    open_by_item: dict[str, set[str]] = {}
    for finding in store.open_findings():
        open_by_item.setdefault(finding.item_key, set()).add(finding.rule)

    checked = changed = parents = 0
    items = list(store.iter_items(status_categories=IN_FLIGHT))
    by_key = {item.key: item for item in items}
    for item in items:
        checked += 1
        findings = evaluate_stored(resources, item, ruleset=ruleset, known=by_key, now=now)
        if {f.rule for f in findings} != open_by_item.get(item.key, set()):
            follow_ups.regovern(item.key, delay=0)
            changed += 1
        if spec_for(ruleset.rollups, item) is not None:
            follow_ups.recompute_rollup(item.key)
            parents += 1
    result = {"checked": checked, "changed": changed, "parents": parents}
    log.info("sweep.done", extra=result)
    return result
