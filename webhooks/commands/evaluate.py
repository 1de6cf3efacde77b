"""`pmo-bridge evaluate`: one webhook payload in, the item, findings and planned actions
out as JSON. Nothing is stored, queued or written: it shows what the service would do."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

from config.settings import ConfigError, load_settings
from connector import trackers
from connector.errors import PayloadError
from connector.model import Ignored, parse_datetime
from rules import Context, RulesFileError, evaluate, load_ruleset, plan_actions
from webhooks.http.jsonbody import BodyError, decode_body


class UnusableInput(Exception):
    """Input the command cannot work with; the message is the one line shown."""


def _read_payload(source: str) -> Any:
    try:
        raw = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    except OSError as exc:
        raise UnusableInput(f"cannot read {source}: {exc.strerror or exc}") from None
    if not raw.strip():
        raise UnusableInput(f"{source} is empty")
    try:  # as intake reads bodies: bounded depth, no NaN or Infinity, no lone surrogates
        return decode_body(raw)
    except BodyError as exc:
        raise UnusableInput(f"{source}: {exc}") from None


def evaluate_payload(
    payload: Any,
    tracker_kind: str,
    rule_paths: list[str],
    *,
    config: str | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    settings = load_settings(config)
    of_kind = settings.trackers_of_kind(tracker_kind)
    if not of_kind:
        raise UnusableInput(f"no {tracker_kind} tracker in the configuration")
    tracker = of_kind[0]
    try:
        event = trackers.adapter(tracker).parse_event(payload, tracker)
    except PayloadError as exc:
        raise UnusableInput(f"not a usable {tracker_kind} event: {exc}") from None
    if isinstance(event, Ignored):
        raise UnusableInput(f"not a work-item event ({event.native_event}): {event.reason}")
    if event.item is None:
        raise UnusableInput(
            f"the {event.native_event} payload carries no item to evaluate "
            "(the service fetches it from the tracker)"
        )
    try:
        ruleset = load_ruleset(rule_paths)
    except RulesFileError as exc:
        raise UnusableInput(
            "rules do not load: " + "; ".join(str(e) for e in exc.errors[:3])
        ) from None
    # offline: the tracker's configured field names, else the names in the rules
    context = Context(
        now=now or dt.datetime.now(dt.UTC), parent=None, field_names=tracker.field_names
    )
    findings = evaluate(ruleset, event.item, context)
    actions = plan_actions(ruleset, event.item, findings, prefix=settings.label_prefix)
    return {
        "item": event.item.to_dict(),
        "findings": [f.to_dict() for f in findings],
        "actions": [a.to_dict() for a in actions],
    }


def evaluate_command(args: argparse.Namespace) -> int:
    try:
        now = parse_datetime(args.now) if args.now else None
    except ValueError:
        print(f"pmo-bridge: evaluate: --now {args.now!r} is not an ISO timestamp", file=sys.stderr)
        return 2
    try:
        payload = _read_payload(args.payload)
        result = evaluate_payload(
            payload, args.tracker, list(args.rules), config=args.config, now=now
        )
        # Strict JSON out: a value JSON cannot hold is an error here, not invalid output.
        text = json.dumps(result, indent=2, ensure_ascii=False, allow_nan=False)
    except (UnusableInput, ConfigError) as exc:
        print(f"pmo-bridge: evaluate: {exc}", file=sys.stderr)
        return 2
    except (ValueError, RecursionError) as exc:
        print(f"pmo-bridge: evaluate: cannot evaluate this payload: {exc}", file=sys.stderr)
        return 2
    print(text)
    return 0
