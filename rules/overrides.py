"""Per-scope overrides: a pack that `extend:`s another changes some of its rules for some
trackers and projects, leaving the base pack as it is.

    version: 1
    name: Payments programme
    extend: ../pmo-standard.yaml       # the rules file whose rules are changed
    scope: {jira: [PAY]}               # where the overrides apply (each may set its own)
    overrides:
      - rule: story-estimated
        require: [{field: estimate, present: true}, {field: estimate, max: 8}]
      - rule: title-meaningful
        disabled: true

An override replaces the keys it names (severity, enforcement, when, require, message,
hint, owner) of the base rule and keeps the others; `disabled: true` switches the rule
off in the scope. Where several overrides of one rule cover an item, the last loaded wins.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from rules.errors import RuleError
from rules.pack import Owner, Pack, Rule, Scope, compile_rule, compile_scope, in_scope
from rules.yamlpos import Positions

_CHANGED = ("severity", "enforcement", "when", "require", "message", "hint", "owner")


@dataclass(frozen=True)
class Override:
    rule_id: str
    pack: str  # the overriding rules file
    scope: Scope
    rule: Rule | None  # the effective rule in the scope; None = disabled there
    line: int

    def covers(self, tracker: str | None, project: str | None) -> bool:
        return in_scope(self.scope, tracker, project)

    def describe_scope(self) -> str:
        if self.scope is None:
            return "everywhere"
        return "; ".join(
            f"{tracker}: {', '.join(sorted(projects)) if projects is not None else 'all projects'}"
            for tracker, projects in self.scope.items()
        )


def compile_overrides(
    pack: Pack, base: Pack, positions: Positions
) -> tuple[list[Override], list[RuleError]]:
    """The pack's overrides of rules of `base`; an unknown rule id is an error."""
    rules = {r.id: r for r in base.rules}
    found: list[Override] = []
    errors: list[RuleError] = []
    for index, raw in enumerate(pack.overrides):
        path = ("overrides", index)
        rule = rules.get(raw["rule"])
        if rule is None:
            message = f"unknown rule {raw['rule']!r}: {base.path} has no such rule"
            errors.append(positions.error((*path, "rule"), message))
            continue
        line = positions.value(path)[0]
        scope = compile_scope(raw["scope"]) if raw.get("scope") is not None else pack.scope
        effective = None
        if not raw.get("disabled"):
            merged = {**rule.raw, **{k: raw[k] for k in _CHANGED if k in raw}}
            effective = compile_rule(
                merged, rule.pack, base.enforcement, rule.line, rule.owner or pack.owner
            )
            if "owner" in raw:
                effective = _with_owner(effective, Owner.from_dict(raw["owner"]))
        found.append(Override(rule.id, pack.path, scope, effective, line))
    return found, errors


def _with_owner(rule: Rule, owner: Owner | None) -> Rule:
    return replace(rule, owner=owner)


def effective_rule(
    overrides: Sequence[Override], base: Rule, tracker: str | None, project: str | None
) -> tuple[Rule | None, Override | None]:
    """The rule in force for a tracker/project (None when disabled there), and the
    override that made it so (None: the base rule)."""
    chosen = None
    for override in overrides:
        if override.rule_id == base.id and override.covers(tracker, project):
            chosen = override
    if chosen is None:
        return base, None
    return chosen.rule, chosen


def describe_rule(rule: Rule | None, rule_id: str) -> list[str]:
    """A rule as `rules explain` prints it."""
    if rule is None:
        return [f"{rule_id}: disabled in this scope"]
    raw: Mapping[str, Any] = rule.raw
    lines = [
        f"{rule.id}: {rule.title or '(no title)'}",
        f"  severity:    {rule.severity}",
        f"  enforcement: {rule.enforcement}",
        f"  when:        {_flow(raw.get('when') or {}) or '(every item)'}",
        "  require:",
    ]
    lines += [f"    - {_flow(check)}" for check in raw.get("require") or ()]
    if rule.owner is not None:
        lines.append(f"  owner:       {rule.owner}")
    return lines


def _flow(value: Any) -> str:
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    return str(value).lower() if isinstance(value, bool) else str(value)
