"""The figures of a filtered portfolio view (totals, compliance by project and by rule,
the items most out of line), recounted over the matching nodes: from the snapshot's
index when the filter is on nodes alone, by a walk over the matching nodes when it picks
findings (rule, severity), where only the matching findings count."""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Mapping
from typing import Any, Protocol

from webhooks.dashboard.index import SEVERITY_RANK, PortfolioIndex


class FindingFilter(Protocol):
    """Which findings count (`webhooks.dashboard.filter.PortfolioFilter` is one)."""

    def finding_matches(self, finding: Mapping[str, Any]) -> bool: ...


RAGS = ("green", "amber", "red")
WORST_ITEMS = 10
_SEVERITY_RANK = SEVERITY_RANK


def recount_indexed(
    index: PortfolioIndex, matched: set[int], data: Mapping[str, Any]
) -> dict[str, Any]:
    """`recount` for a filter on the nodes alone (every open finding of a matched node
    counts), from the index's sets: what a walk over the matched nodes would give."""
    rules = {
        r.get("rule"): r for r in _seq(data.get("compliance_by_rule")) if isinstance(r, Mapping)
    }
    counts = index.finding_counts
    bad = matched & index.noncompliant
    projects = []
    for (tracker, project), members in sorted(index.places.items()):
        here = matched & members
        if here:
            failing = here & bad
            projects.append(
                {"tracker": tracker, "project": project, "items": len(here),
                 "noncompliant_items": len(failing),
                 "open_findings": sum(counts[i] for i in failing),
                 "compliant_pct": _pct(len(here) - len(failing), len(here))}
            )  # fmt: skip
    per_rule: Counter[str] = Counter()
    severity_of: dict[str, str] = {}
    for (rule, severity), members in index.findings.items():
        hits = len(bad & members)
        if hits:
            per_rule[rule] += hits
            severity_of[rule] = severity
    worst = []
    for i in index.worst_first:
        if i in matched:
            worst.append(i)
            if len(worst) == WORST_ITEMS:
                break
    rag = {level: len(matched & index.by.get("rag", {}).get(level, set())) for level in RAGS}
    open_total = sum(counts[i] for i in bad)
    return {
        "totals": {
            "items": len(matched),
            "open_findings": open_total,
            "noncompliant_items": len(bad),
            "compliant_pct": _pct(len(matched) - len(bad), len(matched)),
            "rag": rag,
        },
        "compliance_by_project": projects,
        "compliance_by_rule": [
            {
                "rule": rule,
                "title": rules.get(rule, {}).get("title", rule),
                "severity": rules.get(rule, {}).get("severity") or severity_of[rule],
                "open_findings": n,
            }
            for rule, n in sorted(per_rule.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        "worst_items": [
            _worst_item(index.nodes[i], list(_seq(index.nodes[i].get("findings")))) for i in worst
        ],
    }


def _worst_item(node: Mapping[str, Any], findings: list[Mapping[str, Any]]) -> dict[str, Any]:
    return {
        "key": node.get("key"),
        "title": node.get("title"),
        "url": node.get("url"),
        "tracker": node.get("tracker"),
        "project": node.get("project"),
        "open_findings": len(findings) or int(node.get("open_findings") or 0),
        "max_severity": max(
            (f.get("severity") for f in findings),
            key=lambda s: _SEVERITY_RANK.get(s, 0),
            default="info",
        ),
        "rules": sorted(str(f.get("rule")) for f in findings),
    }


def recount(
    nodes: list[Mapping[str, Any]], flt: FindingFilter, data: Mapping[str, Any]
) -> dict[str, Any]:
    """Totals, compliance by project and by rule and the worst items over `nodes`."""
    titles = {
        r.get("rule"): r for r in _seq(data.get("compliance_by_rule")) if isinstance(r, Mapping)
    }
    rag: Counter[str] = Counter()
    projects: dict[tuple[str, str], dict[str, Any]] = {}
    rules: Counter[str] = Counter()
    severity_of: dict[str, str] = {}
    open_total = noncompliant = 0
    worst = []
    for node in nodes:
        rollup = node.get("rollup")
        if isinstance(rollup, Mapping) and rollup.get("rag") in RAGS:
            rag[rollup["rag"]] += 1
        findings = [f for f in _seq(node.get("findings")) if flt.finding_matches(f)]
        open_total += len(findings)
        noncompliant += bool(findings)
        row = projects.setdefault(
            (str(node.get("tracker")), str(node.get("project"))),
            {"tracker": node.get("tracker"), "project": node.get("project"), "items": 0,
             "noncompliant_items": 0, "open_findings": 0},
        )  # fmt: skip
        row["items"] += 1
        row["noncompliant_items"] += bool(findings)
        row["open_findings"] += len(findings)
        for finding in findings:
            rules[finding["rule"]] += 1
            severity_of[finding["rule"]] = finding.get("severity") or "medium"
        if findings:
            worst.append((node, findings))
    for row in projects.values():
        row["compliant_pct"] = _pct(row["items"] - row["noncompliant_items"], row["items"])
    worst = heapq.nsmallest(
        WORST_ITEMS,
        worst,
        key=lambda pair: (
            -max(_SEVERITY_RANK.get(f.get("severity"), 0) for f in pair[1]),
            -len(pair[1]),
            str(pair[0].get("key")),
        ),
    )
    return {
        "totals": {
            "items": len(nodes),
            "open_findings": open_total,
            "noncompliant_items": noncompliant,
            "compliant_pct": _pct(len(nodes) - noncompliant, len(nodes)),
            "rag": {level: rag.get(level, 0) for level in RAGS},
        },
        "compliance_by_project": sorted(
            projects.values(), key=lambda r: (str(r["tracker"]), str(r["project"]))
        ),
        "compliance_by_rule": [
            {
                "rule": rule,
                "title": titles.get(rule, {}).get("title", rule),
                "severity": titles.get(rule, {}).get("severity") or severity_of[rule],
                "open_findings": count,
            }
            for rule, count in sorted(rules.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        "worst_items": [_worst_item(node, findings) for node, findings in worst],
    }


def _pct(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 1) if whole else 100.0


def _seq(value: Any) -> list[Any] | tuple[Any, ...]:
    return value if isinstance(value, list | tuple) else ()
