"""`pmo-bridge report`: the PMO report now, to stdout, a file or a channel (scheduled
reports: `webhooks.governance.report_send`).

    pmo-bridge report --since 7d --format html --send pmo-mail
    pmo-bridge report --format csv --out week-49.csv
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from config.settings import ConfigError, load_settings
from rules.fields import parse_duration
from webhooks.governance.channels import SendFailed
from webhooks.governance.people import report_people
from webhooks.governance.report import build_report
from webhooks.governance.report_render import FORMATS, render, render_html, render_md
from webhooks.governance.report_send import send_report
from webhooks.resources import Resources

log = logging.getLogger(__name__)

MANUAL = "manual"
MAX_SINCE_DAYS = 366


def report_command(args: Any) -> int:
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    since = parse_duration(args.since)
    if since is None or not 1 <= since.days <= MAX_SINCE_DAYS:
        print(
            f"error: --since {args.since!r}: a duration of 1 to 366 days, e.g. 7d", file=sys.stderr
        )
        return 2
    try:  # the rules and the people file are read too (the people section)
        resources = Resources.from_settings(settings)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    store = resources.store
    now = resources.clock()
    last = store.last_report(MANUAL)
    report = build_report(
        store, now, since_days=since.days, projects=args.project or (),
        previous_rag=last.rag if last else None, people=lambda: report_people(resources),
    )  # fmt: skip
    destinations = []
    if args.out:
        Path(args.out).write_text(render(report, args.format), encoding="utf-8")
        destinations.append(str(Path(args.out).resolve()))
    if args.send:
        try:
            destinations.append(send_report(report, args.send, settings.notify, form=args.format))
        except SendFailed as exc:
            print(f"error: --send {args.send}: {exc}", file=sys.stderr)
            return 1
    if not destinations:
        sys.stdout.write(
            render(report, args.format) if args.format != "html" else render_html(report)
        )
        return 0
    store.record_report(MANUAL, now, "; ".join(destinations), report.rag_now)
    for where in destinations:
        print(f"report sent to {where}")
    return 0


__all__ = ["FORMATS", "render_md", "report_command"]
