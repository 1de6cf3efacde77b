"""`pmo-bridge report`: the PMO report now, to stdout, a file or a channel (scheduled
reports: `webhooks.governance.report_send`).

    pmo-bridge report --since 7d --format html --send pmo-mail
    pmo-bridge report --format csv --out week-49.csv

`--send` saves the report as a message in the notification outbox and sends it from
this process at once, with the send task's policy: a failed attempt that may succeed
later is tried again after the receiver's Retry-After (or the backoff); the last one
leaves a dead letter that `pmo-bridge deadletters replay ID` sends again through a
worker. A wait longer than INLINE_MAX_WAIT hands the message to the queue instead: a
running worker sends it then (the command says so)."""

from __future__ import annotations

import datetime as dt
import logging
import sys
import uuid
from pathlib import Path
from typing import Any

from config.settings import ConfigError, load_settings
from rules.fields import parse_duration
from webhooks.governance.channels import SendFailed
from webhooks.governance.people import report_people
from webhooks.governance.report import build_report
from webhooks.governance.report_render import FORMATS, render, render_html, render_md
from webhooks.governance.report_send import destination, report_message
from webhooks.worker.runtime import Runtime

log = logging.getLogger(__name__)

MANUAL = "manual"
MAX_SINCE_DAYS = 366
INLINE_MAX_WAIT = 30.0  # seconds this command waits between attempts before the queue takes over


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
    if args.send:
        try:
            where = destination(args.send, settings.notify)
        except SendFailed as exc:
            print(f"error: --send {args.send}: {exc}", file=sys.stderr)
            return 1
    try:  # the rules and the people file are read too (the people section)
        resources = Runtime.from_settings(settings)
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
    destinations, done = [], []
    if args.out:
        Path(args.out).write_text(render(report, args.format), encoding="utf-8")
        destinations.append(str(Path(args.out).resolve()))
        done.append(destinations[-1])
    if args.send:
        sent = _send(resources, report, args.send, args.format, now)
        if sent is None:
            return 1
        destinations.append(where if sent else f"{where}, queued for a worker")
        if sent:
            done.append(where)
    if not destinations:
        sys.stdout.write(
            render(report, args.format) if args.format != "html" else render_html(report)
        )
        return 0
    store.record_report(MANUAL, now, "; ".join(destinations), report.rag_now)
    for place in done:
        print(f"report sent to {place}")
    return 0


def _send(runtime: Runtime, report: Any, channel: str, form: str, now: dt.datetime) -> bool | None:
    """Send the report's message now; True when sent, False when handed to the queue,
    None when it failed (a dead letter; said on stderr)."""
    key = f"{MANUAL}:{now:%Y-%m-%dT%H:%M:%SZ}:{uuid.uuid4().hex[:12]}"
    message = report_message(report, channel, runtime.settings.notify, form=form, key=key)
    # claimed by this process: not for a worker's tick, nor taken for lost while it tries
    patience = dt.timedelta(seconds=INLINE_MAX_WAIT * (runtime.settings.max_retries + 2))
    note = runtime.store.queue_notification(
        dedupe_key=message.dedupe_key, channel=message.channel, recipient=message.recipient,
        subject=message.subject, body=message.body, link=None, now=now,
        claimed_until=now + patience,
    )  # fmt: skip
    assert note is not None  # a fresh key
    tasks = runtime.escalation.notifications
    status, outcome, letter = tasks.send_now([note], max_wait=INLINE_MAX_WAIT)
    if status == "dead":
        error = outcome.error if outcome is not None else "failed"
        print(
            f"error: --send {channel}: {error} (after {outcome.attempts if outcome else 0} "
            f"attempt(s)); kept as dead letter {letter}: `pmo-bridge deadletters replay "
            f"{letter}` sends it again through a worker",
            file=sys.stderr,
        )
        return None
    if status == "queued":
        wait = outcome.wait if outcome is not None else 0.0
        print(
            f"{channel} asked to wait {wait:.0f} s: the report is queued as notification "
            f"{note}; a running worker (`pmo-bridge worker`) sends it then"
        )
        return False
    return True


__all__ = ["FORMATS", "render_md", "report_command"]
