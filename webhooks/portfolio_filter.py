"""Filters on the portfolio snapshot, as the URL carries them (shareable links):
`?project=PAY&rag=red&rag=amber&noncompliant=1`.

A facet given several times (or comma-separated) matches any of its values; facets
combine with AND. A node matches on its own facts: tracker, project, type, its rollup's
RAG, the rule and severity of its open findings (one finding must match both when both
are given), its owner, and whether it has open findings. The filtered view keeps the
snapshot's shape: matching nodes with their ancestors as context (`matched: false`), and
totals, compliance by project and rule and the items most out of line recounted over the
matching nodes only. The trend stays the whole portfolio's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

FACETS = ("tracker", "project", "type", "rag", "rule", "severity", "owner")
RAGS = ("green", "amber", "red")
SEVERITIES = ("critical", "high", "medium", "low", "info")
_SEVERITY_RANK = {name: len(SEVERITIES) - n for n, name in enumerate(SEVERITIES)}
MAX_VALUES = 20  # values per facet
MAX_VALUE_LENGTH = 200
_YES = ("1", "true", "yes", "on")
_NO = ("", "0", "false", "no", "off")
WORST_ITEMS = 10


class FilterError(ValueError):
    """A filter the URL got wrong; the message says which parameter and why."""


@dataclass(frozen=True)
class PortfolioFilter:
    values: Mapping[str, frozenset[str]] = field(default_factory=dict)
    noncompliant: bool = False

    @property
    def active(self) -> bool:
        return self.noncompliant or any(self.values.values())

    def pairs(self) -> list[tuple[str, str]]:
        """The filter as sorted query pairs: equal filters give equal URLs (and cache keys)."""
        pairs = [(name, value) for name in FACETS for value in sorted(self.values.get(name, ()))]
        return pairs + ([("noncompliant", "1")] if self.noncompliant else [])

    def query(self) -> str:
        return urlencode(self.pairs())

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            name: sorted(self.values[name]) for name in FACETS if name in self.values
        }
        if self.noncompliant:
            out["noncompliant"] = True
        return out

    def matches(self, node: Mapping[str, Any]) -> bool:
        wanted = self.values
        if self.noncompliant and not node.get("open_findings"):
            return False
        for name in ("tracker", "type"):
            if name in wanted and str(node.get(name) or "") not in wanted[name]:
                return False
        if (
            "project" in wanted
            and str(node.get("project") or "").casefold() not in wanted["project"]
        ):
            return False
        if "owner" in wanted and str(node.get("assignee") or "").casefold() not in wanted["owner"]:
            return False
        if "rag" in wanted:
            rollup = node.get("rollup")
            if not isinstance(rollup, Mapping) or rollup.get("rag") not in wanted["rag"]:
                return False
        if "rule" in wanted or "severity" in wanted:
            return any(self.finding_matches(f) for f in _seq(node.get("findings")))
        return True

    def finding_matches(self, finding: Mapping[str, Any]) -> bool:
        wanted = self.values
        return ("rule" not in wanted or finding.get("rule") in wanted["rule"]) and (
            "severity" not in wanted or finding.get("severity") in wanted["severity"]
        )


def parse_filter(args: Any) -> PortfolioFilter:
    """The filter in a request's query arguments (a werkzeug MultiDict or a mapping of
    lists); unknown parameters are left alone (`page` belongs to the pager)."""
    values: dict[str, frozenset[str]] = {}
    for name in FACETS:
        raw = args.getlist(name) if hasattr(args, "getlist") else _seq(args.get(name))
        given = [part.strip() for value in raw for part in str(value).split(",") if part.strip()]
        if not given:
            continue
        if len(given) > MAX_VALUES:
            raise FilterError(f"{name}: at most {MAX_VALUES} values, got {len(given)}")
        for value in given:
            if len(value) > MAX_VALUE_LENGTH:
                raise FilterError(f"{name}: a value is longer than {MAX_VALUE_LENGTH} characters")
        if name in ("project", "owner"):
            given = [value.casefold() for value in given]
        if name == "rag":
            given = [value.lower() for value in given]
            _allowed(name, given, RAGS)
        if name == "severity":
            given = [value.lower() for value in given]
            _allowed(name, given, SEVERITIES)
        values[name] = frozenset(given)
    flag = str(args.get("noncompliant", "") or "").strip().lower()
    if flag not in _YES + _NO:
        raise FilterError(f"noncompliant: expected 1 or 0, got {flag[:40]!r}")
    return PortfolioFilter(values=values, noncompliant=flag in _YES)


def _allowed(name: str, given: Iterable[str], allowed: tuple[str, ...]) -> None:
    for value in given:
        if value not in allowed:
            raise FilterError(
                f"{name}: unknown value {value[:40]!r} (allowed: {', '.join(allowed)})"
            )


def filter_portfolio(data: Mapping[str, Any], flt: PortfolioFilter) -> dict[str, Any]:
    """The snapshot as seen through `flt` (the snapshot itself when no filter is set)."""
    if not flt.active:
        return dict(data)
    matched: list[Mapping[str, Any]] = []

    def prune(nodes: Iterable[Any]) -> list[dict[str, Any]]:
        kept = []
        for node in nodes:
            if not isinstance(node, Mapping):
                continue
            children = prune(_seq(node.get("children")))
            hit = flt.matches(node)
            if hit:
                matched.append(node)
            if hit or children:
                kept.append({**node, "children": children, "matched": hit})
        return kept

    tree = prune(_seq(data.get("tree")))
    keys = {node.get("key") for node in matched}
    return {
        **data,
        "rag_changes": [c for c in _seq(data.get("rag_changes")) if c.get("key") in keys],
        "project_trend": [p for p in _seq(data.get("project_trend")) if _place_matches(flt, p)],
        "filter": flt.to_dict(),
        "tree": tree,
        **recount(matched, flt, data),
    }


def _place_matches(flt: PortfolioFilter, row: Mapping[str, Any]) -> bool:
    wanted = flt.values
    return ("tracker" not in wanted or row.get("tracker") in wanted["tracker"]) and (
        "project" not in wanted or str(row.get("project") or "").casefold() in wanted["project"]
    )


def recount(
    nodes: list[Mapping[str, Any]], flt: PortfolioFilter, data: Mapping[str, Any]
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
    worst.sort(
        key=lambda pair: (
            -max(_SEVERITY_RANK.get(f.get("severity"), 0) for f in pair[1]),
            -len(pair[1]),
            str(pair[0].get("key")),
        )
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
            for rule, count in rules.most_common()
        ],
        "worst_items": [
            {
                "key": node.get("key"),
                "title": node.get("title"),
                "url": node.get("url"),
                "tracker": node.get("tracker"),
                "project": node.get("project"),
                "open_findings": len(findings),
                "max_severity": max(
                    (f.get("severity") for f in findings), key=lambda s: _SEVERITY_RANK.get(s, 0)
                ),
                "rules": sorted(f["rule"] for f in findings),
            }
            for node, findings in worst[:WORST_ITEMS]
        ],
    }


def walk(nodes: Iterable[Any]) -> Iterator[Mapping[str, Any]]:
    """Every node of a tree, parents before their children."""
    for node in nodes:
        if isinstance(node, Mapping):
            yield node
            yield from walk(_seq(node.get("children")))


def _pct(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 1) if whole else 100.0


def _seq(value: Any) -> list[Any] | tuple[Any, ...]:
    return value if isinstance(value, list | tuple) else ()


MAX_OWNER_OPTIONS = 500


def facet_options(data: Mapping[str, Any]) -> dict[str, list[str]]:
    """The values each facet can take in this snapshot, for the filter form."""
    seen: dict[str, set[str]] = {name: set() for name in ("tracker", "project", "type", "owner")}
    for node in walk(_seq(data.get("tree"))):
        for name, key in (("tracker", "tracker"), ("project", "project"), ("type", "type"),
                          ("owner", "assignee")):  # fmt: skip
            value = node.get(key)
            if isinstance(value, str) and value:
                seen[name].add(value)
    rules = [
        str(r.get("rule")) for r in _seq(data.get("compliance_by_rule")) if isinstance(r, Mapping)
    ]
    return {
        "tracker": sorted(seen["tracker"]),
        "project": sorted(seen["project"]),
        "type": sorted(seen["type"]),
        "rag": list(RAGS),
        "rule": sorted(rules),
        "severity": list(SEVERITIES),
        "owner": sorted(seen["owner"])[:MAX_OWNER_OPTIONS],
    }
