"""`pmo-bridge audit`: run the rules over existing items of a live tracker
(`webhooks.governance.audit`) and print the report as a table, JSON or CSV. A dry run
unless `--apply`."""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys

from tqdm import tqdm

from config.settings import load_settings
from connector.errors import TrackerError
from rules.rollup import plural
from webhooks.commands.preflight import ready_for_tracker_command
from webhooks.governance.audit import AuditReport, ProgressBar, run_audit
from webhooks.resources import Resources


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


def _progress_bar(total: int) -> ProgressBar:
    return tqdm(total=total or None, unit="item", desc="audit", file=sys.stderr, leave=False)


def audit_command(args: argparse.Namespace) -> int:
    overrides = {"rules": tuple(args.rules)} if getattr(args, "rules", None) else None
    settings = load_settings(args.config, overrides=overrides)
    # before the store exists: a command refused on its config leaves no files behind
    ready_for_tracker_command(settings, args.tracker)
    resources = Resources.from_settings(settings)
    try:
        report = run_audit(
            resources,
            args.tracker,
            args.query,
            apply=args.apply,
            progress=_progress_bar if not args.no_progress and sys.stderr.isatty() else None,
        )
    except TrackerError as exc:
        print(f"pmo-bridge: audit: {args.tracker}: {exc}", file=sys.stderr)
        return 1
    print(format_report(report, args.format))
    return 0
