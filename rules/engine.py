"""Evaluation: one work item against compiled packs, giving findings for failed rules.

Passing rules produce nothing (no objects are built for them). A rule whose check raises
becomes an `error` finding and evaluation carries on with the other rules. Rules with
`across:` (portfolio rules over groups of items) are not evaluated per item and are
skipped here. A pack with a `scope` only sees items of the listed trackers and projects.
A rule changed by an override is evaluated as the override has it where the override's
scope covers the item. A failure covered by an active waiver is `waived`, not `fail`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from connector.model import WorkItem
from rules.fields import show_fields
from rules.overrides import effective_rule
from rules.pack import Matcher, Pack, Rule, RuleSet, as_ruleset
from rules.templates import render
from rules.waivers import Waiver, waiver_for


@dataclass(frozen=True, slots=True)
class Context:
    """What a rule may know beyond the item: the time of evaluation and the parent item."""

    now: dt.datetime
    parent: WorkItem | None = None
    # how the item's tracker names its fields, for hints ("Set Mitigation plan"):
    # configured name (`mitigation` for custom.mitigation) -> the tracker's display name
    field_names: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)
    today: dt.date = field(init=False)

    def __post_init__(self) -> None:
        now = self.now if self.now.tzinfo else self.now.replace(tzinfo=dt.UTC)
        object.__setattr__(self, "now", now)
        object.__setattr__(self, "today", now.date())

    @classmethod
    def at(cls, now: dt.datetime | None = None, parent: WorkItem | None = None) -> Context:
        return cls(now or dt.datetime.now(dt.UTC), parent)


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    severity: str
    enforcement: str
    message: str
    status: str  # "fail" | "error" | "waived"
    item_key: str = ""
    title: str = ""  # the rule's title
    hint: str = ""  # how to fix it, for the managed comment
    owner: str = ""  # who answers questions about the rule: "name, contact"
    waiver: Waiver | None = None  # what waived it (status "waived")

    def to_dict(self) -> dict[str, str]:
        data = {
            "rule": self.rule,
            "severity": self.severity,
            "enforcement": self.enforcement,
            "message": self.message,
            "status": self.status,
        }
        if self.owner:
            data["owner"] = self.owner
        if self.waiver is not None:
            data["waiver"] = self.waiver.note()
        return data


def evaluate(pack_or_ruleset: Pack | RuleSet, item: WorkItem, context: Context) -> list[Finding]:
    """Findings for every rule the item fails (or that broke), in pack and rule order."""
    findings: list[Finding] = []
    packs = pack_or_ruleset.packs if isinstance(pack_or_ruleset, RuleSet) else (pack_or_ruleset,)
    for pack in packs:
        if pack.scope is not None and not pack.in_scope(item):
            continue
        bucket = pack.buckets.get((id(item.type), id(item.status_category)))
        for ok, rule in pack.rules_for(item) if bucket is None else bucket:
            try:
                if not ok(item, context):
                    findings.append(_failure(rule, item, context))
            except Exception as exc:  # one broken rule never hides the others
                findings.append(_error(rule, item, exc))
    if isinstance(pack_or_ruleset, RuleSet) and (
        pack_or_ruleset.overridden or pack_or_ruleset.waivers
    ):
        return _adjusted(pack_or_ruleset, item, context, findings)
    return findings


def _adjusted(
    ruleset: RuleSet, item: WorkItem, context: Context, findings: list[Finding]
) -> list[Finding]:
    """Overrides covering the item replace their base rule's result; then waivers. Kept
    out of the loop above, so rule sets without either pay nothing for them."""
    for pack, base in ruleset.overridden:
        rule, override = effective_rule(ruleset.overrides, base, item.tracker, item.project)
        if override is None or (pack.scope is not None and not pack.in_scope(item)):
            continue
        findings = [f for f in findings if f.rule != base.id]
        if (
            rule is not None
            and rule.across is None
            and (rule.types is None or item.type in rule.types)
            and (rule.categories is None or item.status_category in rule.categories)
        ):
            _check(rule, rule.ok, item, context, findings)
    return waive(ruleset, findings, item, context)


def _check(
    rule: Rule, ok: Matcher, item: WorkItem, context: Context, findings: list[Finding]
) -> None:
    try:
        if not ok(item, context):
            findings.append(_failure(rule, item, context))
    except Exception as exc:  # one broken rule never hides the others
        findings.append(_error(rule, item, exc))


def waive(
    ruleset: Pack | RuleSet, findings: list[Finding], item: WorkItem, context: Context
) -> list[Finding]:
    """Each failure covered by an active waiver of its rule turns `waived`: per-item rules
    here, portfolio (`across:`) and load rules where they are evaluated."""
    waivers = ruleset.waivers if isinstance(ruleset, RuleSet) else ()
    if not waivers or not findings:
        return findings
    return [_waived(f, waivers, item, context) for f in findings]


def _waived(finding: Finding, waivers: tuple[Waiver, ...], item: WorkItem, ctx: Context) -> Finding:
    if finding.status != "fail":
        return finding
    waiver = waiver_for(waivers, finding.rule, item, ctx)
    return finding if waiver is None else replace(finding, status="waived", waiver=waiver)


def _failure(rule: Rule, item: WorkItem, context: Context) -> Finding:
    checks = rule.checks
    failed = checks if len(checks) == 1 else [c for c in checks if not c.test(item, context)]
    if rule.message is not None:
        message = render(rule.message, item, context)
    elif len(failed) == 1:
        message = rule.message_prefix + failed[0].describe(item, context)
    else:
        message = rule.message_prefix + "; ".join(c.describe(item, context) for c in failed)
    if rule.hint:
        hint = rule.hint
    elif len(failed) == 1:
        hint = failed[0].hint
    else:
        hint = " ".join(dict.fromkeys(c.hint for c in failed))
    hint = show_fields(hint, context.field_names)
    owner = str(rule.owner) if rule.owner else ""
    return Finding(
        rule.id, rule.severity, rule.enforcement, message, "fail", item.key, rule.title, hint,
        owner,
    )  # fmt: skip


def _error(rule: Rule, item: WorkItem, exc: Exception) -> Finding:
    message = f"rule {rule.id} could not be evaluated: {type(exc).__name__}: {exc}"
    owner = str(rule.owner) if rule.owner else ""
    return Finding(
        rule.id, rule.severity, rule.enforcement, message, "error", item.key, rule.title, "", owner
    )


def failing_rule_ids(findings: list[Finding]) -> list[str]:
    return [f.rule for f in findings if f.status == "fail"]


__all__ = ["Context", "Finding", "as_ruleset", "evaluate", "failing_rule_ids"]
