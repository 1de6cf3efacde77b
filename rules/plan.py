"""Write-back planning: from findings to the actions a tracker client carries out.

- audit: nothing is written.
- advise: one managed comment listing the failing findings with a how-to-fix hint; when
  nothing fails any more and the item already has the comment, it is updated to say so.
- enforce: as advise, plus a label per failing rule (`labels: [escalated]` becomes
  `pmo-escalated`; without labels, `pmo-<rule-id>`) and the rule's `actions: {set: ...}`.

Label removal is deliberately narrow. A label is removed only when it carries the prefix,
some per-item rule of this rule set could add it, no failing or erroring rule wants it, and
the rule that owns it was evaluated (across rules are not, so their labels stay).
`pmo-rag-*` labels belong to rollups and are never touched here. Labels people set
(without the prefix) are never removed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from connector.model import WorkItem
from rules.engine import Finding
from rules.fields import compile_field
from rules.pack import Pack, Rule, RuleSet, as_ruleset

COMMENT_MARKER = "PMO compliance (pmo-bridge)"
ROLLUP_LABEL_PREFIX = "rag-"


@dataclass(frozen=True, slots=True)
class Action:
    type: str  # comment | add_label | remove_label | set_field
    item_key: str
    payload: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "payload", MappingProxyType(dict(self.payload)))

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "item": self.item_key, **self.payload}

    # convenience reads of the payload, e.g. `action.label` for add_label / remove_label
    @property
    def label(self) -> str | None:
        return self.payload.get("label")

    @property
    def field(self) -> str | None:
        return self.payload.get("field")

    @property
    def value(self) -> Any:
        return self.payload.get("value")

    @property
    def body(self) -> Mapping[str, Any] | None:
        return self.payload.get("body")


def rule_labels(rule: Rule, prefix: str) -> tuple[str, ...]:
    """The labels an enforce rule puts on a failing item, prefix included."""
    names = rule.labels or (rule.id,)
    return tuple(n if n.startswith(prefix) else f"{prefix}{n}" for n in names)


def plan_actions(
    pack_or_ruleset: Pack | RuleSet,
    item: WorkItem,
    findings: list[Finding],
    *,
    prefix: str = "pmo-",
    has_managed_comment: bool = False,
) -> list[Action]:
    ruleset = as_ruleset(pack_or_ruleset)
    rules = {r.id: r for r in ruleset.rules}
    failing = [f for f in findings if f.status == "fail"]
    actions: list[Action] = []

    # waived findings are listed in the comment (with their waiver) but get no labels
    shown = [
        f for f in findings
        if f.status in ("fail", "waived") and f.enforcement in ("advise", "enforce")
    ]  # fmt: skip
    if shown:
        actions.append(Action("comment", item.key, {"body": _comment_body(shown)}))
    elif has_managed_comment:
        actions.append(Action("comment", item.key, {"body": _comment_body([])}))

    have = {label.casefold(): label for label in item.labels}
    wanted: dict[str, str] = {}
    for finding in failing:
        rule = rules.get(finding.rule)
        if rule is not None and finding.enforcement == "enforce":
            for label in rule_labels(rule, prefix):
                wanted.setdefault(label.casefold(), label)
    for folded, label in wanted.items():
        if folded not in have:
            actions.append(Action("add_label", item.key, {"label": label}))

    # labels still claimed by a failing or broken rule, or by rules not evaluated per item
    keep = set(wanted)
    for finding in findings:
        rule = rules.get(finding.rule)
        if rule is not None and finding.status != "waived":  # waived: its label comes off
            keep.update(label.casefold() for label in rule_labels(rule, prefix))
    owned: set[str] = set()
    for rule in rules.values():
        labels = {label.casefold() for label in rule_labels(rule, prefix)}
        (keep if rule.across is not None else owned).update(labels)
    rollup_prefix = f"{prefix}{ROLLUP_LABEL_PREFIX}".casefold()
    for folded, label in have.items():
        if (
            folded.startswith(prefix.casefold())
            and not folded.startswith(rollup_prefix)
            and folded in owned
            and folded not in keep
        ):
            actions.append(Action("remove_label", item.key, {"label": label}))

    for finding in failing:
        rule = rules.get(finding.rule)
        if rule is None or finding.enforcement != "enforce":
            continue
        for name, value in rule.set_fields.items():
            current = compile_field(name).get(item, None)
            if current != value:
                actions.append(
                    Action("set_field", item.key, {"field": name, "value": value, "rule": rule.id})
                )
    return actions


def _comment_body(failing: list[Finding]) -> dict[str, Any]:
    """Structured content; connector/document.py renders it for each tracker."""
    if not failing:
        return {
            "marker": COMMENT_MARKER,
            "status": "pass",
            "summary": "All PMO rules pass.",
            "findings": [],
        }
    count = sum(1 for f in failing if f.status != "waived")
    return {
        "marker": COMMENT_MARKER,
        "status": "fail" if count else "waived",
        "summary": f"{count} PMO rule{'s' if count != 1 else ''} not met.",
        "findings": [
            {
                "rule": f.rule,
                "title": f.title,
                "severity": f.severity,
                "enforcement": f.enforcement,
                "message": f.message,
                "hint": f.hint,
                **({"owner": f.owner} if f.owner else {}),
                **({"waived": f.waiver.note()} if f.waiver is not None else {}),
            }
            for f in failing
        ],
    }
