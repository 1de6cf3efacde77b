"""`pmo-bridge rules explain RULE` and `pmo-bridge waivers list`: what is in force where.

Both read the rules the service would run (`--rules PATH`, else the config's `rules:`)."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
from collections.abc import Sequence

from config.settings import load_settings
from rules.fields import parse_duration
from rules.overrides import describe_rule, effective_rule
from rules.pack import RuleSet
from rules.ruleset import load_ruleset_with_errors
from rules.waivers import Waiver, expiring_within

_COLUMNS = ("rule", "items", "projects", "when", "expires", "approver", "reason", "ticket")


def _ruleset(args: argparse.Namespace) -> RuleSet | None:
    paths = args.rules or list(load_settings(args.config).rules)
    ruleset, errors = load_ruleset_with_errors(paths)
    for error in errors:
        print(error)
    return None if errors else ruleset


def explain_command(args: argparse.Namespace) -> int:
    """The rule as it applies to a tracker/project: base rule or an override of it."""
    ruleset = _ruleset(args)
    if ruleset is None:
        return 1
    base = ruleset.rule(args.rule)
    if base is None:
        print(f"error: no rule {args.rule!r} in {', '.join(p.path for p in ruleset.packs)}")
        return 1
    where = " ".join(
        part
        for part in (
            f"tracker {args.tracker}" if args.tracker else "",
            f"project {args.project}" if args.project else "",
        )
        if part
    )
    rule, override = effective_rule(ruleset.overrides, base, args.tracker, args.project)
    heading = f"{args.rule} for {where or 'every item'}"
    if override is None:
        print(f"{heading}: as defined in {base.pack} line {base.line}")
    else:
        print(
            f"{heading}: overridden by {override.pack} line {override.line} "
            f"(scope {override.describe_scope()})"
        )
    for line in describe_rule(rule, args.rule):
        print(line)
    for waiver in ruleset.waivers:
        if waiver.rule == args.rule and (
            args.project is None or waiver.projects is None or args.project in waiver.projects
        ):
            print(f"  waiver:      {_selector(waiver)} {waiver.note()}")
    return 0


def _selector(waiver: Waiver) -> str:
    parts = [
        ", ".join(sorted(waiver.items or ())),
        ", ".join(sorted(waiver.projects or ())),
        waiver.when_text,
    ]
    return "; ".join(p for p in parts if p)


def waivers_list_command(args: argparse.Namespace) -> int:
    """Every waiver, or those expiring within `--expiring` (e.g. 14d), soonest first."""
    ruleset = _ruleset(args)
    if ruleset is None:
        return 1
    today = dt.datetime.now(dt.UTC).date()
    waivers = sorted(ruleset.waivers, key=lambda w: (w.expires, w.rule, w.path, w.line))
    if args.expiring is not None:
        span = parse_duration(args.expiring)
        if span is None:
            print(f"error: --expiring {args.expiring!r}: write a duration such as 14d or 2w")
            return 2
        waivers = expiring_within(waivers, today, span.days)
    print(render_waivers(waivers, args.format), end="")
    return 0


def render_waivers(waivers: Sequence[Waiver], form: str) -> str:
    rows = [w.to_dict() for w in waivers]
    if form == "json":
        return json.dumps(rows, indent=2) + "\n"
    flat = [
        {k: ", ".join(v) if isinstance(v, list) else str(v) for k, v in row.items()} for row in rows
    ]
    if form == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for row in flat:
            # a cell starting with = + - @ is a formula to a spreadsheet: quoted as text
            writer.writerow({k: _cell(v) for k, v in row.items()})
        return out.getvalue()
    if not flat:
        return "no waivers\n"
    shown = ("rule", "expires", "approver", "items", "projects", "when", "reason")
    widths = {c: min(40, max(len(c), *(len(r[c]) for r in flat))) for c in shown}
    lines = ["  ".join(c.upper().ljust(widths[c]) for c in shown)]
    for row in flat:
        lines.append("  ".join(_clip(row[c], widths[c]).ljust(widths[c]) for c in shown))
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _cell(value: str) -> str:
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


def _clip(value: str, width: int) -> str:
    return value if len(value) <= width else value[: width - 1] + "…"
