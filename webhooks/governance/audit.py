"""The audit: run the rules over existing items of a live tracker.

A dry run by default: it pages through the query's items, seeds the store with them (so
rollups and portfolio groups start from a true picture), evaluates each exactly as the
worker does (`evaluate_stored`: its own rules and the portfolio `across:` rules) and
reports findings per rule and project. With `apply` it also writes back, as the service
would. `pmo-bridge audit` (`webhooks.commands.audit`) prints the report."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from connector.model import WorkItem
from rules import reads_field
from rules.rollup import spec_for
from webhooks.governance.evaluation import evaluate_stored
from webhooks.governance.hierarchy import with_portfolio_parent
from webhooks.governance.people import sync_allocations
from webhooks.governance.portfolio_groups import Counted, Groups
from webhooks.governance.rollups import Rollups
from webhooks.governance.writeback import WriteBack
from webhooks.resources import Resources


@dataclass
class AuditReport:
    tracker: str
    query: str
    items: int = 0
    findings: list[dict[str, Any]] = field(default_factory=list)
    by_rule: Counter = field(default_factory=Counter)
    by_project: Counter = field(default_factory=Counter)
    noncompliant_items: int = 0
    writes: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "tracker": self.tracker,
            "query": self.query,
            "items": self.items,
            "noncompliant_items": self.noncompliant_items,
            "findings": self.findings,
            "by_rule": dict(self.by_rule.most_common()),
            "by_project": dict(self.by_project.most_common()),
            "writes": self.writes,
        }


class ProgressBar(Protocol):
    def update(self, n: int) -> None: ...

    def close(self) -> None: ...


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


class _NoFollowUps:
    """The audit computes its rollups in order itself: nothing to queue."""

    def regovern(self, key: str, *, delay: float = 0.5) -> bool:
        return False

    def recompute_rollup(self, parent_key: str) -> bool:
        return False


def _children_first(items: list[WorkItem], specs: Any) -> list[WorkItem]:
    """Items without a rollup first, then rollup parents deepest first, so each parent's
    rollup is computed from children already evaluated."""
    by_key = {item.key: item for item in items}

    def depth(item: WorkItem) -> int:
        steps, seen = 0, {item.key}
        while item.parent in by_key and item.parent not in seen:
            item = by_key[item.parent]
            seen.add(item.key)
            steps += 1
        return steps

    leaves = [i for i in items if spec_for(specs, i) is None]
    parents = [i for i in items if spec_for(specs, i) is not None]
    return leaves + sorted(parents, key=depth, reverse=True)


def run_audit(
    resources: Resources,
    tracker_name: str,
    query: str,
    *,
    apply: bool = False,
    progress: Callable[[int], ProgressBar] | None = None,
) -> AuditReport:
    """Seed the store with the query's items, evaluate each as the worker would (its own
    rules and the portfolio rules over the seeded groups) and report; with `apply`,
    write back too. `progress(total)` makes a bar for the fetching."""
    client = resources.client(tracker_name)
    if client is None:
        raise SystemExit(f"pmo-bridge: audit: tracker {tracker_name!r} has no url configured")
    ruleset = resources.rules.current()
    # each client caps the page at its tracker's maximum (Jira 100, Azure DevOps 200);
    # links are left out of the read where that is cheaper and no rule reads them
    total, items = client.search(query, page_size=200, links=reads_field(ruleset, "links"))
    report = AuditReport(tracker_name, query)
    bar = progress(total) if progress is not None else _NoBar()
    seen: list[WorkItem] = []
    for fetched in items:
        item = with_portfolio_parent(fetched, resources.settings)
        resources.store.upsert_item(item)
        seen.append(item)
        bar.update(1)
    bar.close()
    ledger = sync_allocations(resources, seen)  # one read of the shares, changes written
    # Evaluate after seeding so parent.<field> checks see parents fetched later in the page.
    now = resources.clock()
    writer = WriteBack(resources) if apply else None
    rollups = Rollups(resources, _NoFollowUps())
    if writer is not None:
        seen = _children_first(seen, ruleset.rollups)
    # A dry run changes nothing the rules read between items: each portfolio group and
    # everyone's load is read and judged once, as the sweep does.
    groups: Groups = {}
    counted: Counted = {}
    loads: dict[str, Any] = {"ledger": ledger}
    for item in seen:
        report.items += 1
        if writer is not None:
            before = resources.store.get_ledger(item.key)
            # A rollup parent gets the comment the service gives it: rollup table and
            # findings, from its children's findings written just before.
            spec = spec_for(ruleset.rollups, item)
            rollup = rollups.refresh(item, spec)[0] if spec is not None else None
            writer.govern(item, rollup=rollup, rollup_spec=spec)
            report.writes += int(resources.store.get_ledger(item.key) != before)
            findings = resources.store.open_findings(item.key)
            rows = [
                {
                    "rule": f.rule,
                    "severity": f.severity,
                    "enforcement": f.enforcement,
                    "message": f.message,
                    "status": f.status,
                }
                for f in findings
            ]
        else:
            findings = evaluate_stored(
                resources, item, ruleset=ruleset, now=now, groups=groups, counted=counted,
                loads=loads,
            )  # fmt: skip
            resources.store.save_findings(item.key, [f.to_dict() for f in findings], now)
            rows = [f.to_dict() for f in findings]
        if rows:
            report.noncompliant_items += 1
        for row in rows:
            report.findings.append({"item": item.key, "project": item.project, **row})
            report.by_rule[row["rule"]] += 1
            report.by_project[item.project] += 1
    return report
