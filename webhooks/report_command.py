"""`pmo-bridge report`: the PMO report now, to stdout, a file or a channel; and the
scheduled reports of the config (`reports:`), sent by the worker when due.

    pmo-bridge report --since 7d --format html --send pmo-mail
    pmo-bridge report --format csv --out week-49.csv
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
from pathlib import Path
from typing import Any

from config.notify import Notify, ReportSchedule
from config.settings import ConfigError, load_settings
from rules.fields import parse_duration
from webhooks.channels import SendFailed, send_document
from webhooks.report import Report, build_report
from webhooks.report_render import FORMATS, render, render_html, render_md, title
from webhooks.store import Store

log = logging.getLogger(__name__)

MANUAL = "manual"
MAX_SINCE_DAYS = 366


def send_report(
    report: Report, channel_name: str, notify: Notify, *, form: str = "html", environ: Any = None
) -> str:
    """Send `report` on a configured channel; returns where it went. Raises SendFailed."""
    channel = notify.channels.get(channel_name)
    if channel is None:
        known = ", ".join(sorted(notify.channels)) or "none"
        raise SendFailed(f"unknown channel {channel_name!r} (configured: {known})", retryable=False)
    text = render(report, "md" if form == "html" else form)
    html_body = render_html(report) if channel.kind == "smtp" and form == "html" else None
    send_document(channel, title(report), text, html_body, environ=environ)
    if channel.kind == "smtp":
        return (
            f"{channel_name} (e-mail to {', '.join(channel.to)} via {channel.host}:{channel.port})"
        )
    return f"{channel_name} ({channel.kind})"


def schedule_name(schedule: ReportSchedule) -> str:
    return f"{schedule.every} -> {schedule.to}"


def run_scheduled_reports(
    store: Any, notify: Notify, now: dt.datetime, *, environ: Any = None
) -> list[str]:
    """Send every scheduled report that is due; returns where each went. A failed send
    is retried at the next run (the schedule stays due until one goes through)."""
    sent = []
    for schedule in notify.reports:
        name = schedule_name(schedule)
        last = store.last_report(name)
        if not schedule.due(last.sent_at if last else None, now):
            continue
        report = build_report(
            store, now, since_days=schedule.since_days, projects=schedule.projects,
            previous_rag=last.rag if last else None,
        )  # fmt: skip
        try:
            where = send_report(report, schedule.to, notify, form=schedule.format, environ=environ)
        except SendFailed as exc:
            log.error("report.send_failed", extra={"schedule": name, "error": str(exc)})
            continue
        store.record_report(name, now, where, report.rag_now)
        log.info("report.sent", extra={"schedule": name, "to": where})
        sent.append(where)
    return sent


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
    store = Store.from_settings(settings)
    store.migrate()
    now = dt.datetime.now(dt.UTC)
    last = store.last_report(MANUAL)
    report = build_report(
        store, now, since_days=since.days, projects=args.project or (),
        previous_rag=last.rag if last else None,
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


__all__ = ["FORMATS", "render_md", "report_command", "run_scheduled_reports", "send_report"]
