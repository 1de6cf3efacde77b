"""Sending the PMO report on a channel, now or on the config's schedule (`reports:`):
the worker's escalation tick sends each scheduled report when it is due."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from config.notify import Notify, ReportSchedule
from webhooks.governance.channels import SendFailed, send_document
from webhooks.governance.report import PeopleSource, Report, build_report
from webhooks.governance.report_render import render, render_html, title

log = logging.getLogger(__name__)


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
    store: Any, notify: Notify, now: dt.datetime, *, environ: Any = None,
    people: PeopleSource | None = None,
) -> list[str]:  # fmt: skip
    """Send every scheduled report that is due; returns where each went. A failed send
    is retried at the next run (the schedule stays due until one goes through).
    `people`: load against capacity from the people register, for its section."""
    sent = []
    for schedule in notify.reports:
        name = schedule_name(schedule)
        last = store.last_report(name)
        if not schedule.due(last.sent_at if last else None, now):
            continue
        report = build_report(
            store, now, since_days=schedule.since_days, projects=schedule.projects,
            previous_rag=last.rag if last else None, people=people,
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
