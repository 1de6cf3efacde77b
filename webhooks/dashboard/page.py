"""The PMO portfolio dashboard: one server-rendered HTML page, no JavaScript, no assets.

`render_dashboard(data)` takes what `GET /api/portfolio` returns and gives back the page.
Charts are inline SVG built here from numbers only; every piece of text that reaches
SVG or HTML is escaped (the Jinja environment autoescapes, and the SVG helpers escape
explicitly because they return `Markup`).

The SVG helpers and the number/date formatting live in `webhooks.dashboard.svg`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from webhooks.dashboard.svg import (
    as_number,
    format_number,
    meter_svg,
    nice_date,
    spark_svg,
    trend_svg,
)

__all__ = ["RAGS", "SEVERITIES", "build_view", "render_dashboard", "safe_url"]

RAGS = ("green", "amber", "red")
PAGE_ROWS = 250  # portfolio rows per page: 2,000 items on one page made 1.5 MB of HTML
SEVERITIES = ("critical", "high", "medium", "low", "info")


def render_dashboard(
    data: Mapping[str, Any],
    page: int = 1,
    *,
    query: str = "",
    options: Mapping[str, Sequence[str]] | None = None,
) -> str:
    """The dashboard page for one portfolio snapshot (or a filtered view of it, `query`
    being its filter as URL query), with page `page` of its rows."""
    view = build_view(data, page)
    view["query"] = query
    view["options"] = options or {}
    view["chosen"] = _mapping(data.get("filter"))
    return environment().get_template("portfolio.html").render(view=view)


def page_count(data: Mapping[str, Any]) -> int:
    """How many pages the snapshot's portfolio rows take (at least one)."""
    entries = data.get("entries")
    rows = (
        len(entries)
        if isinstance(entries, list)
        else sum(1 for _ in _walk(_seq(data.get("tree")), depth=0))
    )
    return max(1, -(-rows // PAGE_ROWS))


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(Path(__file__).with_name("templates")),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(meter_svg=meter_svg, trend_svg=trend_svg, spark_svg=spark_svg)
    env.filters.update(nice_date=nice_date, number=format_number)
    return env


# --- view model: tolerant of missing keys so a partial snapshot still renders ---------


def build_view(data: Mapping[str, Any], page: int = 1) -> dict[str, Any]:
    totals = _mapping(data.get("totals"))
    rag = _mapping(totals.get("rag"))
    rules = sorted(
        (_rule(r) for r in _seq(data.get("compliance_by_rule"))),
        key=lambda r: (-r["open_findings"], SEVERITIES.index(r["severity"]), r["rule"]),
    )
    # only the page's rows become row dicts: a 100,000-item tree is walked, not converted
    # `entries`: a filtered view's rows, (node, depth, matched), made from the snapshot's index
    entries = data.get("entries")
    if not isinstance(entries, list):
        entries = [(node, depth, True) for node, depth in _walk(_seq(data.get("tree")), 0)]
    nodes = entries
    pages = max(1, -(-len(nodes) // PAGE_ROWS))
    page = min(max(page, 1), pages)
    first = (page - 1) * PAGE_ROWS
    rows = [_row(node, depth, hit) for node, depth, hit in nodes[first : first + PAGE_ROWS]]
    return {
        "generated_at": data.get("generated_at")
        if isinstance(data.get("generated_at"), str)
        else None,
        "generated_label": _generated_label(data.get("generated_at")),
        "totals": {
            "items": int(as_number(totals.get("items"))),
            "open_findings": int(as_number(totals.get("open_findings"))),
            "noncompliant_items": int(as_number(totals.get("noncompliant_items"))),
            "compliant_pct": as_number(totals.get("compliant_pct"), None),
            "rag": {name: int(as_number(rag.get(name))) for name in RAGS},
        },
        "rows": rows,
        "paging": {
            "page": page,
            "pages": pages,
            "first": first + 1,
            "last": min(first + PAGE_ROWS, len(nodes)),
            "rows": len(nodes),
        },
        "projects": [_project(p) for p in _seq(data.get("compliance_by_project"))],
        "rules": rules,
        "worst": [_worst(w) for w in _seq(data.get("worst_items"))],
        "waivers": _waivers(data.get("waivers")),
        "trend": [_mapping(p) for p in _seq(data.get("trend"))],
        "changes_since": data.get("rag_changes_since"),
        "changes": _changes(data.get("rag_changes"), nodes),
        "project_trend": [_project_trend(p) for p in _seq(data.get("project_trend"))],
        "empty": not nodes and not as_number(totals.get("items")),
    }


def _walk(nodes: Iterable[Any], depth: int) -> Iterable[tuple[Mapping[str, Any], int]]:
    for node in nodes:
        if not isinstance(node, Mapping):
            continue
        yield node, depth
        yield from _walk(_seq(node.get("children")), depth + 1)


def _flatten(nodes: Iterable[Any], depth: int) -> Iterable[dict[str, Any]]:
    for node, at in _walk(nodes, depth):
        yield _row(node, at)


def _row(node: Mapping[str, Any], depth: int, matched: bool = True) -> dict[str, Any]:
    rollup = _mapping(node.get("rollup")) if node.get("rollup") else None
    children = _seq(node.get("children"))
    return {
        "key": str(node.get("key") or ""),
        "title": str(node.get("title") or node.get("key") or "(untitled)"),
        "url": safe_url(node.get("url")),
        "type": str(node.get("type") or "other"),
        "tracker": str(node.get("tracker") or ""),
        "project": str(node.get("project") or ""),
        "status": str(node.get("status") or ""),
        "status_category": str(node.get("status_category") or "todo"),
        "assignee": owner_name(node),
        "team": _text(node.get("team")),
        "area": _text(node.get("area")),
        "open_findings": int(as_number(node.get("open_findings"))),
        "depth": depth,
        "has_children": bool(children),
        "rollup": _rollup(rollup, _mapping(node.get("schedule"))) if rollup is not None else None,
        "due": node.get("due_date"),
        "matched": matched and node.get("matched", True) is not False,
        "rules": sorted(
            {str(f.get("rule")) for f in _seq(node.get("findings")) if isinstance(f, Mapping)}
        ),
    }


def owner_name(node: Mapping[str, Any]) -> str | None:
    """The owner as one person: the people file's name of a mapped person, else the
    tracker's display name."""
    owner = _mapping(node.get("owner"))
    name = owner.get("name") if isinstance(owner.get("name"), str) else node.get("assignee")
    return name if isinstance(name, str) and name else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _rollup(rollup: Mapping[str, Any], schedule: Mapping[str, Any]) -> dict[str, Any]:
    """The rollup's figures as the page shows them; due, forecast and slip are the
    rollup's own schedule (`rules.rollup_schedule`), never recomputed here."""
    rag = str(rollup.get("rag") or "").lower()
    progress = min(max(as_number(rollup.get("progress")), 0.0), 1.0)
    slip = schedule.get("slip_days")
    return {
        "rag": rag if rag in RAGS else None,
        "rag_reasons": [str(r) for r in _seq(rollup.get("rag_reasons"))],
        "progress": progress,
        "progress_pct": round(progress * 100),
        "children": int(as_number(rollup.get("children"))),
        "points_total": format_number(rollup.get("points_total")),
        "points_done": format_number(rollup.get("points_done")),
        "due": schedule.get("due"),
        "due_from_children": schedule.get("due_source") == "children",
        "forecast_end": schedule.get("forecast_end"),
        "slip_days": slip if isinstance(slip, int) and not isinstance(slip, bool) else None,
        "slip": str(schedule.get("slip") or ""),
        "overdue": int(as_number(rollup.get("overdue_children"))),
        "blocked": int(as_number(rollup.get("blocked_children"))),
        "noncompliant": int(as_number(rollup.get("noncompliant_children"))),
    }


def _changes(raw: Any, nodes: Sequence[tuple[Any, ...]]) -> list[dict[str, Any]]:
    wanted = {str(_mapping(c).get("key") or "") for c in _seq(raw)}
    titles = {e[0].get("key"): e[0] for e in nodes if e[0].get("key") in wanted} if wanted else {}
    out = []
    for change in _seq(raw):
        change = _mapping(change)
        key = str(change.get("key") or "")
        row = titles.get(key, {})
        before, now = change.get("before"), change.get("now")
        out.append(
            {
                "key": key,
                "title": str(row.get("title") or key),
                "before": before if before in RAGS else None,
                "now": now if now in RAGS else None,
            }
        )
    order = {"red": 0, "amber": 1, "green": 2, None: 3}
    return sorted(out, key=lambda c: (order[c["now"]], c["key"]))


def _project_trend(raw: Any) -> dict[str, Any]:
    row = _mapping(raw)
    points = [_mapping(p) for p in _seq(row.get("points"))]
    known = [p for p in points if p.get("open_findings") is not None]
    return {
        "tracker": str(row.get("tracker") or ""),
        "project": str(row.get("project") or ""),
        "points": points,
        "first": known[0] if known else {},
        "last": known[-1] if known else {},
        "days": len(known),
    }


def _project(raw: Any) -> dict[str, Any]:
    row = _mapping(raw)
    pct = min(max(as_number(row.get("compliant_pct")), 0.0), 100.0)
    return {
        "tracker": str(row.get("tracker") or ""),
        "project": str(row.get("project") or ""),
        "items": int(as_number(row.get("items"))),
        "noncompliant_items": int(as_number(row.get("noncompliant_items"))),
        "open_findings": int(as_number(row.get("open_findings"))),
        "compliant_pct": pct,
        "tone": "green" if pct >= 90 else "amber" if pct >= 75 else "red",
    }


def _worst(raw: Any) -> dict[str, Any]:
    row = _mapping(raw)
    key = str(row.get("key") or "")
    return {
        "key": key,
        "title": str(row.get("title") or key),
        "url": safe_url(row.get("url")),
        "tracker": str(row.get("tracker") or ""),
        "project": str(row.get("project") or ""),
        "open_findings": int(as_number(row.get("open_findings"))),
        "max_severity": _severity(row.get("max_severity")),
        "rules": [str(r) for r in _seq(row.get("rules"))],
    }


def _waivers(raw: Any) -> dict[str, Any]:
    section = _mapping(raw)

    def text(row: Mapping[str, Any], name: str) -> str:
        value = row.get(name)
        return str(value) if value is not None else ""

    waived = []
    for entry in _seq(section.get("waived")):
        row = _mapping(entry)
        key = text(row, "key")
        waived.append(
            {
                "key": key,
                "title": text(row, "title") or key,
                "url": safe_url(row.get("url")),
                **{name: text(row, name) for name in ("rule", "expires", "approver", "reason")},
            }
        )
    expiring = [
        {
            name: text(_mapping(entry), name)
            for name in ("rule", "expires", "approver", "reason", "items", "projects", "when")
        }
        for entry in _seq(section.get("expiring"))
    ]
    count = int(as_number(section.get("waived_findings")))
    return {"count": count, "waived": waived, "expiring": expiring}


def _rule(raw: Any) -> dict[str, Any]:
    row = _mapping(raw)
    rule = str(row.get("rule") or "")
    return {
        "rule": rule,
        "title": str(row.get("title") or rule),
        "severity": _severity(row.get("severity")),
        "open_findings": int(as_number(row.get("open_findings"))),
    }


def _severity(value: Any) -> str:
    return value if value in SEVERITIES else "info"


def _generated_label(value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        stamp = datetime.fromisoformat(value)
    except ValueError:
        return value
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(UTC)
    return f"{nice_date(stamp)} {stamp:%H:%M}" + (" UTC" if stamp.tzinfo else "")


# --- input cleaning: what a snapshot holds is never trusted --------------------------


def safe_url(value: Any) -> str | None:
    """Only http(s) links reach an href: a `javascript:` URL from a tracker field must not."""
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip() if urlsplit(value.strip()).scheme.lower() in ("http", "https") else None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _seq(value: Any) -> Sequence[Any]:
    return value if isinstance(value, list | tuple) else ()
