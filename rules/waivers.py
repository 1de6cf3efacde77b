"""Waivers: an approved, dated exemption of some items from one rule.

A waivers file (`*.waivers.yaml` beside the packs, or named directly) holds:

    version: 1
    waivers:
      - rule: story-estimated              # a rule id of the loaded packs
        items: [jira:PAY-12, PAY-14]       # item keys or tracker ids; and/or
        projects: [PAY]                    #   projects; and/or
        when: {type: [spike]}              #   a `when` selector as in rules
        reason: Discovery spike, sized after the workshop
        approver: Dana Lee (PMO lead)
        expires: 2027-03-31                # the item is flagged again on this day
        ticket: https://jira.example.com/browse/PMO-7   # optional

Every selector given must match (at least one is required). A failing finding of a
waived item becomes `waived` while `today < expires`; on the expiry day it fails again.
Loading checks the shape and the selectors; rule ids and past expiry dates are checked
where the rules and the date are known (rules.ruleset, `rules validate`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from marshmallow import ValidationError, validate
from marshmallow import fields as mf

from config.yamlsafe import TooLarge, read_yaml_text
from rules.checkspec import when_errors
from rules.errors import RuleError
from rules.pack import Matcher, compile_when
from rules.schema import StrictSchema, schema_errors
from rules.yamlpos import Positions, load_yaml

_TEXT = validate.Length(min=1, max=500)
_SELECTORS = ("items", "projects", "when")
MAX_WAIVERS = 10_000  # per file: bounded like every other input


class _WaiverSchema(StrictSchema):
    rule = mf.String(required=True, validate=validate.Length(min=1))
    items = mf.List(mf.String(), validate=validate.Length(min=1))
    projects = mf.List(mf.String(), validate=validate.Length(min=1))
    when = mf.Dict(keys=mf.String())
    reason = mf.String(required=True, validate=_TEXT)
    approver = mf.String(required=True, validate=_TEXT)
    expires = mf.Raw(required=True)
    ticket = mf.String(validate=_TEXT)


class WaiverFileSchema(StrictSchema):
    version = mf.Integer(
        strict=True, required=True,
        validate=validate.OneOf((1,), error="unsupported version {input!r} (allowed: 1)"),
    )  # fmt: skip
    waivers = mf.List(
        mf.Nested(_WaiverSchema), required=True, validate=validate.Length(max=MAX_WAIVERS)
    )


@dataclass(frozen=True, slots=True)
class Waiver:
    rule: str
    reason: str
    approver: str
    expires: dt.date
    items: frozenset[str] | None = None  # item keys or tracker ids
    projects: frozenset[str] | None = None
    when: Matcher | None = field(default=None, compare=False)
    when_text: str = ""  # the selector as written, for listings
    ticket: str | None = None
    path: str = ""
    line: int = 0
    rule_at: tuple[int, int] = (1, 1)
    expires_at: tuple[int, int] = (1, 1)

    def active(self, today: dt.date) -> bool:
        return today < self.expires

    def covers(self, item: Any, ctx: Any) -> bool:
        return (
            (self.items is None or item.key in self.items or item.native_id in self.items)
            and (self.projects is None or item.project in self.projects)
            and (self.when is None or self.when(item, ctx))
        )

    def note(self) -> str:
        """How the managed comment shows it."""
        until = self.expires.isoformat()
        return f"waived until {until} (approved by {self.approver}: {self.reason})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "items": sorted(self.items or ()),
            "projects": sorted(self.projects or ()),
            "when": self.when_text,
            "reason": self.reason,
            "approver": self.approver,
            "expires": self.expires.isoformat(),
            "ticket": self.ticket or "",
            "file": self.path,
            "line": self.line,
        }


def read_waivers(path: str) -> tuple[list[Waiver], list[RuleError]]:
    try:
        text = read_yaml_text(path)
    except (OSError, UnicodeDecodeError, TooLarge) as exc:
        return [], [RuleError(path, 1, 1, f"cannot read file: {exc}")]
    return parse_waivers(text, path)


def parse_waivers(text: str, path: str = "<waivers>") -> tuple[list[Waiver], list[RuleError]]:
    """Every waiver of the file, or every problem in it (then no waivers at all)."""
    data, pos, errors = load_yaml(text, path)
    if errors:
        return [], errors
    if not isinstance(data, Mapping):
        return [], [RuleError(path, 1, 1, "a waivers file is a mapping with version and waivers")]
    try:
        WaiverFileSchema().load(data)
    except ValidationError as exc:
        errors = schema_errors(exc.messages, (), data, pos)
    waivers = []
    for index, raw in enumerate(data.get("waivers") or ()):
        if not isinstance(raw, Mapping):
            continue
        wpath = ("waivers", index)
        errors += when_errors(raw.get("when"), (*wpath, "when"), pos)
        if not any(raw.get(name) for name in _SELECTORS):
            message = "say which items are waived: items, projects and/or when"
            errors.append(pos.error(wpath, message))
        expires = _date(raw.get("expires"))
        if "expires" in raw and expires is None:
            errors.append(pos.error((*wpath, "expires"), "expires: expected a date (2027-03-31)"))
        if not errors:
            waivers.append(_waiver(raw, expires, path, pos, wpath))
    return ([], sorted(set(errors))) if errors else (waivers, [])


def _date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        return None


def _waiver(
    raw: Mapping[str, Any], expires: Any, path: str, pos: Positions, wpath: tuple[Any, ...]
) -> Waiver:
    written = raw.get("when") or {}
    when = {k: tuple(v) if isinstance(v, list) else (v,) for k, v in written.items()}
    return Waiver(
        rule=raw["rule"], reason=raw["reason"], approver=raw["approver"], expires=expires,
        items=frozenset(raw["items"]) if raw.get("items") else None,
        projects=frozenset(raw["projects"]) if raw.get("projects") else None,
        when=compile_when(when) if when else None,
        when_text=", ".join(f"{k}: {', '.join(map(str, v))}" for k, v in when.items()),
        ticket=raw.get("ticket"), path=path, line=pos.value(wpath)[0],
        rule_at=pos.value((*wpath, "rule")), expires_at=pos.value((*wpath, "expires")),
    )  # fmt: skip


def waiver_errors(waivers: Iterable[Waiver], rule_ids: Mapping[str, Any]) -> list[RuleError]:
    """Unknown rule ids. Portfolio (`across:`) rules are waived like the others: the
    finding on each covered member of a breaking group is `waived`."""
    return [
        RuleError(waiver.path, *waiver.rule_at, f"unknown rule {waiver.rule!r}")
        for waiver in waivers
        if waiver.rule not in rule_ids
    ]


def expired_errors(waivers: Iterable[Waiver], today: dt.date) -> list[RuleError]:
    """`rules validate` refuses waivers past their expiry: renewed or removed, not left."""
    return [
        RuleError(
            w.path, *w.expires_at, f"waiver expired on {w.expires.isoformat()}: renew or remove it"
        )
        for w in waivers
        if not w.active(today)
    ]


def waiver_for(waivers: Sequence[Waiver], rule: str, item: Any, ctx: Any) -> Waiver | None:
    """The active waiver of `rule` for the item (the one lasting longest), if any."""
    found = [w for w in waivers if w.rule == rule and w.active(ctx.today) and w.covers(item, ctx)]
    return max(found, key=lambda w: w.expires) if found else None


def expiring_within(waivers: Iterable[Waiver], today: dt.date, days: int) -> list[Waiver]:
    """Active waivers whose expiry is at most `days` days after `today`, soonest first."""
    last = today + dt.timedelta(days=days)
    return sorted(
        (w for w in waivers if w.active(today) and w.expires <= last),
        key=lambda w: (w.expires, w.rule, w.line),
    )
