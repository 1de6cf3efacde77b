"""The periodic sweep: ages and due dates change without events, so in-flight items are
re-evaluated from the store on a schedule (default hourly) and only real changes are
written. Rollup parents are recomputed too: forecasts and slips move with the calendar."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from rules import Context, evaluate
from webhooks.people import record_allocation, refresh_capacity
from webhooks.portfolio_rules import across_findings
from webhooks.rollups import spec_for

if TYPE_CHECKING:
    from webhooks.runtime import Runtime

log = logging.getLogger(__name__)
IN_FLIGHT = ("todo", "in_progress")


def sweep(runtime: Runtime) -> dict[str, int]:
    """Re-check every in-flight item; queue a re-govern only where the findings differ
    from the open ones in the store. Returns counts for the log and for tests."""
    store = runtime.store
    ruleset = runtime.rules.current()
    now = runtime.clock()
    open_by_item: dict[str, set[str]] = {}
    for finding in store.open_findings():
        open_by_item.setdefault(finding.item_key, set()).add(finding.rule)

    refresh_capacity(runtime)  # Azure DevOps sprint capacity, where configured
    store.regroup_people()  # a person mapped since: their items group under them
    checked = changed = parents = 0
    items = list(store.iter_items(status_categories=IN_FLIGHT))
    by_key = {item.key: item for item in items}
    for item in items:  # first every load (windows move on as weeks pass), then the rules
        record_allocation(runtime, item.key, item)
    for item in items:
        checked += 1
        parent = by_key.get(item.parent) if item.parent else None
        if item.parent and parent is None:
            parent = store.get_item(item.parent)
        context = Context(now=now, parent=parent)
        findings = evaluate(ruleset, item, context)
        findings += across_findings(runtime, ruleset, item, context)
        if {f.rule for f in findings} != open_by_item.get(item.key, set()):
            runtime.tasks.regovern(item.key, delay=0)
            changed += 1
        if spec_for(ruleset, item) is not None:
            runtime.rollups.request(item.key)
            parents += 1
    result = {"checked": checked, "changed": changed, "parents": parents}
    log.info("sweep.done", extra=result)
    return result
