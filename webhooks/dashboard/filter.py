"""Filters on the portfolio snapshot, as the URL carries them (shareable links):
`?project=PAY&rag=red&rag=amber&noncompliant=1`.

A facet given several times (or comma-separated) matches any of its values; facets
combine with AND. A node matches on its own facts: tracker, project, type, its rollup's
RAG, the rule and severity of its open findings (one finding must match both when both
are given), its owner (one person across trackers: the people file's id or name, or a
display name; through the index, a display name the person has in one tracker finds
their items in every tracker), its team (the owner's team in the people file), its area
(an Azure DevOps area path matches its sub-areas too; a Jira issue is in each of its
components), and whether it has open findings. The filtered view keeps the snapshot's
shape: matching nodes with their ancestors as context (`matched: false`), and totals,
compliance by project and rule and the items most out of line recounted over the
matching nodes only. The trend stays the whole portfolio's.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from webhooks.dashboard.counts import recount, recount_indexed
from webhooks.dashboard.facets import facet_keys
from webhooks.dashboard.index import PortfolioIndex, build_index

FACETS = ("tracker", "project", "team", "area", "type", "rag", "rule", "severity", "owner")
# facets matched whatever the case
FOLDED = ("project", "owner", "team", "area")
RAGS = ("green", "amber", "red")
SEVERITIES = ("critical", "high", "medium", "low", "info")
MAX_VALUES = 20  # values per facet
MAX_VALUE_LENGTH = 200
_YES = ("1", "true", "yes", "on")
_NO = ("", "0", "false", "no", "off")


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
        for name in ("owner", "team", "area"):
            if name in wanted and not wanted[name] & set(facet_keys(name, node)):
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
        if name in FOLDED:
            given = [" ".join(value.split()).casefold() for value in given]
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


def filter_portfolio(
    data: Mapping[str, Any], flt: PortfolioFilter, index: PortfolioIndex | None = None
) -> dict[str, Any]:
    """The snapshot as seen through `flt` (the snapshot itself when no filter is set);
    `index`: the snapshot's `build_index`, when the caller keeps one."""
    if not flt.active:
        return dict(data)
    index = index or build_index(data)
    summary, kept, matched = filter_summary(data, flt, index)
    return {**summary, "tree": index.tree(kept, matched)}


def filter_rows(data: Mapping[str, Any], flt: PortfolioFilter, index: PortfolioIndex) -> dict:
    """What the page needs of the filtered view: the summary and its rows as
    `entries` (node, depth, matched), without copying the tree."""
    summary, kept, matched = filter_summary(data, flt, index)
    return {**summary, "tree": [], "entries": index.entries(kept, matched)}


def filter_summary(
    data: Mapping[str, Any], flt: PortfolioFilter, index: PortfolioIndex
) -> tuple[dict[str, Any], list[int], set[int]]:
    """Everything of the filtered view but its tree; the kept and the matched nodes."""
    matched = select(index, flt)
    kept = index.with_ancestors(matched)
    if "rule" in flt.values or "severity" in flt.values:  # counts only matching findings
        counts = recount([index.nodes[i] for i in sorted(matched)], flt, data)
    else:
        counts = recount_indexed(index, matched, data)
    keys = {index.nodes[i].get("key") for i in matched}
    summary = {
        **data,
        "rag_changes": [c for c in _seq(data.get("rag_changes")) if c.get("key") in keys],
        "project_trend": [p for p in _seq(data.get("project_trend")) if _place_matches(flt, p)],
        "filter": flt.to_dict(),
        **counts,
    }
    return summary, kept, matched


def select(index: PortfolioIndex, flt: PortfolioFilter) -> set[int]:
    """Indices of the nodes `flt` matches (`PortfolioFilter.matches`, by set algebra)."""
    wanted = flt.values
    chosen: set[int] | None = index.noncompliant if flt.noncompliant else None
    for name in ("tracker", "project", "team", "area", "type", "rag", "owner"):
        if name in wanted:
            found = index.having(name, wanted[name])
            chosen = found if chosen is None else chosen & found
    if "rule" in wanted or "severity" in wanted:
        found = index.with_findings(wanted.get("rule"), wanted.get("severity"))
        chosen = found if chosen is None else chosen & found
    return set(chosen) if chosen is not None else index.everything


def _place_matches(flt: PortfolioFilter, row: Mapping[str, Any]) -> bool:
    wanted = flt.values
    return ("tracker" not in wanted or row.get("tracker") in wanted["tracker"]) and (
        "project" not in wanted or str(row.get("project") or "").casefold() in wanted["project"]
    )


def walk(nodes: Iterable[Any]) -> Iterator[Mapping[str, Any]]:
    """Every node of a tree, parents before their children."""
    for node in nodes:
        if isinstance(node, Mapping):
            yield node
            yield from walk(_seq(node.get("children")))


def _seq(value: Any) -> list[Any] | tuple[Any, ...]:
    return value if isinstance(value, list | tuple) else ()


MAX_OWNER_OPTIONS = 500


def facet_options(data: Mapping[str, Any]) -> dict[str, Any]:
    """The values each facet can take in this snapshot, for the filter form. An owner's
    value is the people file's id of a mapped person, else the display name."""
    names = ("tracker", "project", "type", "team", "area", "owner")
    seen: dict[str, set[str]] = {name: set() for name in names}
    labels: dict[str, str] = {}  # "owner:<id>" -> the person's name, for the form
    for node in walk(_seq(data.get("tree"))):
        for name in ("tracker", "project", "type", "team"):
            value = node.get(name)
            if isinstance(value, str) and value:
                seen[name].add(value)
        area = node.get("area")
        if isinstance(area, str) and area:
            if "\\" in area:
                parts = area.split("\\")
                seen["area"].update("\\".join(parts[:n]) for n in range(1, len(parts) + 1))
            else:
                seen["area"].update(area.split(", "))
        owner = node.get("owner")
        if isinstance(owner, Mapping) and isinstance(owner.get("id"), str):
            name = str(owner.get("name") or "")
            if owner["id"].startswith("name:"):
                seen["owner"].add(name)
            else:
                seen["owner"].add(owner["id"])
                labels[f"owner:{owner['id']}"] = name
        elif isinstance(node.get("assignee"), str) and node["assignee"]:
            seen["owner"].add(node["assignee"])
    rules = [
        str(r.get("rule")) for r in _seq(data.get("compliance_by_rule")) if isinstance(r, Mapping)
    ]

    def by_name(value: str) -> str:
        return labels.get(f"owner:{value}", value).casefold()

    return {
        "tracker": sorted(seen["tracker"]),
        "project": sorted(seen["project"]),
        "type": sorted(seen["type"]),
        "team": sorted(seen["team"]),
        "area": sorted(seen["area"])[:MAX_OWNER_OPTIONS],
        "rag": list(RAGS),
        "rule": sorted(rules),
        "severity": list(SEVERITIES),
        "owner": sorted(seen["owner"] - {""}, key=by_name)[:MAX_OWNER_OPTIONS],
        "labels": labels,
    }
