"""Sending the PMO report on a channel, through the notification outbox and the queue.

A report to send becomes one message in the outbox (`report:<schedule>:<slot>`), sent by
the same send task as escalation messages: retried after the receiver's Retry-After or
the backoff, dead-lettered after the last attempt, replayed by `deadletters replay`,
never put in a person's digest. A scheduled report's message and its record are saved in
one commit keyed by the schedule's slot, so each slot yields one message however many
workers tick, and whether or not one restarts. `pmo-bridge report --send` saves its
message the same way and sends it at once (`webhooks.commands.report`)."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Mapping
from typing import Any

from config.notify import Channel, Notify, ReportSchedule
from webhooks.governance.channels import SendFailed, send_document
from webhooks.governance.report import PeopleSource, Report, build_report
from webhooks.governance.report_render import render, render_html, title
from webhooks.store.notifications import REPORT_PREFIX, NewNotification, Notification

log = logging.getLogger(__name__)


def _channel(channel_name: str, notify: Notify) -> Channel:
    channel = notify.channels.get(channel_name)
    if channel is None:
        known = ", ".join(sorted(notify.channels)) or "none"
        raise SendFailed(f"unknown channel {channel_name!r} (configured: {known})", retryable=False)
    return channel


def destination(channel_name: str, notify: Notify) -> str:
    """Where a report on `channel_name` goes, in words. Raises SendFailed when the
    channel is not configured."""
    channel = _channel(channel_name, notify)
    if channel.kind == "smtp":
        return (
            f"{channel_name} (e-mail to {', '.join(channel.to)} via {channel.host}:{channel.port})"
        )
    return f"{channel_name} ({channel.kind})"


def report_message(
    report: Report, channel_name: str, notify: Notify, *, form: str, key: str
) -> NewNotification:
    """The outbox message of `report` on `channel_name`: the text (Markdown, or CSV), and
    for e-mail in html form an HTML alternative. `key` follows the report prefix."""
    channel = _channel(channel_name, notify)
    text = render(report, "md" if form == "html" else form)
    html_body = render_html(report) if channel.kind == "smtp" and form == "html" else None
    body = json.dumps({"text": text, "html": html_body})
    return NewNotification(
        f"{REPORT_PREFIX}{key}", channel_name, f"{REPORT_PREFIX}{key}"[:255], title(report), body
    )


def send_report_message(
    message: Notification, notify: Notify, *, environ: Mapping[str, str] | None, session: Any
) -> None:
    """One attempt at a report's message (the send task's). Raises SendFailed."""
    channel = notify.channels.get(message.channel)
    if channel is None:
        raise SendFailed(f"channel {message.channel!r} is no longer configured", retryable=False)
    data = json.loads(message.body)
    send_document(
        channel, message.subject, str(data["text"]), data.get("html"),
        environ=environ, session=session,
    )  # fmt: skip


def schedule_name(schedule: ReportSchedule) -> str:
    return f"{schedule.every} -> {schedule.to}"


def queue_scheduled_reports(
    store: Any, notify: Notify, now: dt.datetime, *, people: PeopleSource | None = None
) -> list[int]:
    """Put every scheduled report that is due in the outbox, once per slot; returns the
    ids of the messages queued (the escalation tick then queues their send tasks).
    `people`: load against capacity from the people register, for its section."""
    queued = []
    for schedule in notify.reports:
        name = schedule_name(schedule)
        last = store.last_report(name)
        if not schedule.due(last.sent_at if last else None, now):
            continue
        slot = schedule.slot(now)
        report = build_report(
            store, now, since_days=schedule.since_days, projects=schedule.projects,
            previous_rag=last.rag if last else None, people=people,
        )  # fmt: skip
        try:
            key = f"{name}:{slot:%Y-%m-%dT%H:%MZ}"
            message = report_message(report, schedule.to, notify, form=schedule.format, key=key)
            where = destination(schedule.to, notify)
        except SendFailed as exc:  # the config was checked on load: a channel since removed
            log.error("report.not_queued", extra={"schedule": name, "error": str(exc)})
            continue
        note = store.queue_report(
            message, schedule=name, at=now, destination=where, rag=report.rag_now
        )
        if note is None:  # another worker queued this slot's report first
            continue
        log.info("report.queued", extra={"schedule": name, "to": where, "notification": note})
        queued.append(note)
    return queued
