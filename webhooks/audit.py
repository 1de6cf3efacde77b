"""`pmo-bridge audit`: run the rules over existing items of a live tracker.

A dry run by default: it pages through the query's items, evaluates each, seeds the store
(so rollups start from a true picture) and prints a report of findings per rule and
project. With `--apply` it also writes back, exactly as the service would."""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from config.settings import load_settings
from connector.errors import TrackerError
from rules.rollup_schedule import plural
from webhooks.hierarchy import with_portfolio_parent


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


def run_audit(
    runtime: Any, tracker_name: str, query: str, *, apply: bool = False, progress: bool = False
) -> AuditReport:
    from rules import Context, evaluate
    from webhooks.writeback import WriteBack

    client = runtime.client(tracker_name)
    if client is None:
        raise SystemExit(f"pmo-bridge: audit: tracker {tracker_name!r} has no url configured")
    # each client caps the page at its tracker's maximum (Jira 100, Azure DevOps 200)
    total, items = client.search(query, page_size=200)
    report = AuditReport(tracker_name, query)
    bar = _progress(total, progress)
    seen: list[Any] = []
    for fetched in items:
        item = with_portfolio_parent(fetched, runtime.settings)
        runtime.store.upsert_item(item)
        seen.append(item)
        bar.update(1)
    bar.close()
    # Evaluate after seeding so parent.<field> checks see parents fetched later in the page.
    ruleset = runtime.rules.current()
    now = runtime.clock()
    writer = WriteBack(runtime) if apply else None
    for item in seen:
        report.items += 1
        if writer is not None:
            before = runtime.store.get_ledger(item.key)
            writer.govern(item)
            report.writes += int(runtime.store.get_ledger(item.key) != before)
            findings = runtime.store.open_findings(item.key)
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
            parent = runtime.store.get_item(item.parent) if item.parent else None
            findings = evaluate(ruleset, item, Context(now=now, parent=parent))
            runtime.store.save_findings(item.key, [f.to_dict() for f in findings], now)
            rows = [f.to_dict() for f in findings]
        if rows:
            report.noncompliant_items += 1
        for row in rows:
            report.findings.append({"item": item.key, "project": item.project, **row})
            report.by_rule[row["rule"]] += 1
            report.by_project[item.project] += 1
    return report


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, enabled: bool) -> Any:
    if not enabled:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total or None, unit="item", desc="audit", file=sys.stderr, leave=False)


def format_report(report: AuditReport, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(report.to_dict(), indent=2, ensure_ascii=False)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["item", "project", "rule", "severity", "enforcement", "message"])
        for f in report.findings:
            writer.writerow(
                [f["item"], f["project"], f["rule"], f["severity"], f["enforcement"], f["message"]]
            )
        return out.getvalue().rstrip("\n")
    lines = [
        f"audit of {report.tracker}: {report.query}",
        f"{plural(report.items, 'item', 'items')}, {report.noncompliant_items} non-compliant, "
        f"{plural(len(report.findings), 'finding', 'findings')}",
        "",
        f"{'RULE':<32} {'FINDINGS':>8}",
    ]
    lines += [f"{rule:<32} {count:>8}" for rule, count in report.by_rule.most_common()]
    lines += ["", f"{'PROJECT':<32} {'FINDINGS':>8}"]
    lines += [f"{project:<32} {count:>8}" for project, count in report.by_project.most_common()]
    if report.writes:
        lines += ["", f"{plural(report.writes, 'item', 'items')} written back"]
    return "\n".join(lines)


def audit_command(args: argparse.Namespace) -> int:
    from webhooks.runtime import Runtime

    settings = load_settings(args.config)
    settings.tracker(args.tracker)  # one clear line for an unknown name
    runtime = Runtime.from_settings(settings)
    try:
        report = run_audit(
            runtime,
            args.tracker,
            args.query,
            apply=args.apply,
            progress=not args.no_progress and sys.stderr.isatty(),
        )
    except TrackerError as exc:
        print(f"pmo-bridge: audit: {args.tracker}: {exc}", file=sys.stderr)
        return 1
    print(format_report(report, args.format))
    return 0
