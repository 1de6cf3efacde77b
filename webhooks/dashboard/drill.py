"""The drill-down pages' view models: one parent (its rollup with reasons, schedule,
children with their findings, the escalations fired on them) and one rule (the items
failing it, since when, by project). Built from the same snapshot as the dashboard, so
their figures agree."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from webhooks.dashboard.filter import walk
from webhooks.dashboard.page import build_view, environment, safe_url

MAX_RULE_ROWS = 1000  # items listed on a rule's page; the count says how many there are


def find_node(data: Mapping[str, Any], key: str) -> tuple[Mapping[str, Any], list[Mapping]] | None:
    """The node of `key` in the snapshot's tree with its ancestors (root first)."""

    def search(nodes: Iterable[Any], path: list[Mapping]) -> Any:
        for node in nodes:
            if not isinstance(node, Mapping):
                continue
            if node.get("key") == key:
                return node, path
            found = search(node.get("children") or (), [*path, node])
            if found:
                return found
        return None

    return search(data.get("tree") or (), [])


def render_item(
    data: Mapping[str, Any],
    key: str,
    history: list[Mapping[str, Any]],
    escalations: Callable[[list[str]], list[Mapping[str, Any]]] = lambda keys: [],
) -> str | None:
    """The parent's page; `escalations(keys)`: the steps fired on those items (the
    parent and its children), newest first."""
    found = find_node(data, key)
    if found is None:
        return None
    node, path = found
    subtree = {"tree": [{**node, "children": []}]}
    (row,) = build_view(subtree)["rows"]
    children = build_view({"tree": [{**c, "children": []} for c in node.get("children") or ()]})
    shown = [node, *(node.get("children") or ())]
    findings = {str(child.get("key")): list(child.get("findings") or ()) for child in shown}
    titles = {str(child.get("key")): child.get("title") for child in shown}
    return (
        environment()
        .get_template("portfolio_item.html")
        .render(
            row=row,
            path=[{"key": p.get("key"), "title": p.get("title")} for p in path],
            children=children["rows"],
            findings=findings,
            history=history,
            escalations=[
                {**e, "title": titles.get(str(e.get("key"))) or e.get("key")}
                for e in escalations([str(child.get("key")) for child in shown])
            ],
        )
    )


def render_rule(
    data: Mapping[str, Any],
    rule: str,
    findings: list[Any],
    items: Mapping[str, Any],
) -> str | None:
    """`findings`: the rule's open findings (oldest first); `items`: their items by key."""
    summary = next(
        (
            r
            for r in data.get("compliance_by_rule") or ()
            if isinstance(r, Mapping) and r.get("rule") == rule
        ),
        None,
    )
    if summary is None and not findings:
        return None
    nodes = {str(n.get("key")): n for n in walk(data.get("tree") or ())}
    rows = []
    for finding in findings:
        item = items.get(finding.item_key)
        node = nodes.get(finding.item_key, {})
        rows.append(
            {
                "key": finding.item_key,
                "title": getattr(item, "title", None) or node.get("title") or finding.item_key,
                "url": safe_url(node.get("url")),
                "tracker": getattr(item, "tracker", None) or node.get("tracker") or "",
                "project": getattr(item, "project", None) or node.get("project") or "",
                "severity": finding.severity,
                "since": finding.first_seen,
                "message": finding.message,
            }
        )
    by_project = Counter((r["tracker"], r["project"]) for r in rows)
    return (
        environment()
        .get_template("portfolio_rule.html")
        .render(
            rule=rule,
            summary=summary
            or {"rule": rule, "title": rule, "severity": "info", "open_findings": 0},
            rows=rows,
            by_project=sorted(by_project.items(), key=lambda kv: (-kv[1], kv[0])),
            total=(summary or {}).get("open_findings", len(rows)),
        )
    )
