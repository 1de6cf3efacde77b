"""The PMO portfolio dashboard: one server-rendered HTML page, no JavaScript, no assets.

`render_dashboard(data)` takes what `GET /api/portfolio` returns and gives back the page.
Charts are inline SVG built here from numbers only; every piece of text that reaches
SVG or HTML is escaped (the Jinja environment autoescapes, and the SVG helpers escape
explicitly because they return `Markup`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

RAGS = ("green", "amber", "red")
SEVERITIES = ("critical", "high", "medium", "low", "info")
METER_TONES = frozenset({"progress", "green", "amber", "red", "muted"})


def render_dashboard(data: Mapping[str, Any]) -> str:
    """The whole dashboard page for one portfolio snapshot."""
    return _environment().get_template("portfolio.html").render(view=build_view(data))


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(Path(__file__).with_name("templates")),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(meter_svg=meter_svg, trend_svg=trend_svg)
    env.filters.update(nice_date=nice_date, number=format_number)
    return env


# --- view model: tolerant of missing keys so a partial snapshot still renders ---------


def build_view(data: Mapping[str, Any]) -> dict[str, Any]:
    totals = _mapping(data.get("totals"))
    rag = _mapping(totals.get("rag"))
    rules = sorted(
        (_rule(r) for r in _seq(data.get("compliance_by_rule"))),
        key=lambda r: (-r["open_findings"], SEVERITIES.index(r["severity"]), r["rule"]),
    )
    rows = list(_flatten(_seq(data.get("tree")), depth=0))
    return {
        "generated_at": data.get("generated_at")
        if isinstance(data.get("generated_at"), str)
        else None,
        "generated_label": _generated_label(data.get("generated_at")),
        "totals": {
            "items": int(_num(totals.get("items"))),
            "open_findings": int(_num(totals.get("open_findings"))),
            "noncompliant_items": int(_num(totals.get("noncompliant_items"))),
            "compliant_pct": _num(totals.get("compliant_pct"), None),
            "rag": {name: int(_num(rag.get(name))) for name in RAGS},
        },
        "rows": rows,
        "projects": [_project(p) for p in _seq(data.get("compliance_by_project"))],
        "rules": rules,
        "worst": [_worst(w) for w in _seq(data.get("worst_items"))],
        "trend": [_mapping(p) for p in _seq(data.get("trend"))],
        "empty": not rows and not _num(totals.get("items")),
    }


def _flatten(nodes: Iterable[Any], depth: int) -> Iterable[dict[str, Any]]:
    for node in nodes:
        if not isinstance(node, Mapping):
            continue
        rollup = _mapping(node.get("rollup")) if node.get("rollup") else None
        children = _seq(node.get("children"))
        row = {
            "key": str(node.get("key") or ""),
            "title": str(node.get("title") or node.get("key") or "(untitled)"),
            "url": safe_url(node.get("url")),
            "type": str(node.get("type") or "other"),
            "tracker": str(node.get("tracker") or ""),
            "project": str(node.get("project") or ""),
            "status": str(node.get("status") or ""),
            "status_category": str(node.get("status_category") or "todo"),
            "assignee": node.get("assignee"),
            "open_findings": int(_num(node.get("open_findings"))),
            "depth": depth,
            "has_children": bool(children),
            "rollup": _rollup(rollup) if rollup is not None else None,
            "due": node.get("due_date"),
        }
        yield row
        yield from _flatten(children, depth + 1)


def _rollup(rollup: Mapping[str, Any]) -> dict[str, Any]:
    rag = str(rollup.get("rag") or "").lower()
    progress = min(max(_num(rollup.get("progress")), 0.0), 1.0)
    return {
        "rag": rag if rag in RAGS else None,
        "rag_reasons": [str(r) for r in _seq(rollup.get("rag_reasons"))],
        "progress": progress,
        "progress_pct": round(progress * 100),
        "children": int(_num(rollup.get("children"))),
        "points_total": format_number(rollup.get("points_total")),
        "points_done": format_number(rollup.get("points_done")),
        "due": rollup.get("due"),
        "forecast_end": rollup.get("forecast_end"),
        "slip_days": _slip_days(rollup.get("due"), rollup.get("forecast_end")),
        "overdue": int(_num(rollup.get("overdue_children"))),
        "blocked": int(_num(rollup.get("blocked_children"))),
        "noncompliant": int(_num(rollup.get("noncompliant_children"))),
    }


def _project(raw: Any) -> dict[str, Any]:
    row = _mapping(raw)
    pct = min(max(_num(row.get("compliant_pct")), 0.0), 100.0)
    return {
        "tracker": str(row.get("tracker") or ""),
        "project": str(row.get("project") or ""),
        "items": int(_num(row.get("items"))),
        "noncompliant_items": int(_num(row.get("noncompliant_items"))),
        "open_findings": int(_num(row.get("open_findings"))),
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
        "open_findings": int(_num(row.get("open_findings"))),
        "max_severity": _severity(row.get("max_severity")),
        "rules": [str(r) for r in _seq(row.get("rules"))],
    }


def _rule(raw: Any) -> dict[str, Any]:
    row = _mapping(raw)
    rule = str(row.get("rule") or "")
    return {
        "rule": rule,
        "title": str(row.get("title") or rule),
        "severity": _severity(row.get("severity")),
        "open_findings": int(_num(row.get("open_findings"))),
    }


def _slip_days(due: Any, forecast: Any) -> int | None:
    due_d, forecast_d = _date(due), _date(forecast)
    return (forecast_d - due_d).days if due_d and forecast_d else None


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


# --- small formatting helpers (also Jinja filters) ----------------------------------------


def safe_url(value: Any) -> str | None:
    """Only http(s) links reach an href: a `javascript:` URL from a tracker field must not."""
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip() if urlsplit(value.strip()).scheme.lower() in ("http", "https") else None


def nice_date(value: Any) -> str:
    parsed = _date(value)
    if parsed is None:
        return str(value) if value else "—"
    return f"{parsed.day} {parsed:%b %Y}"


def format_number(value: Any) -> str:
    number = _num(value)
    return str(int(number)) if number == int(number) else f"{number:.1f}"


def _date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and len(value) >= 10:
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def _num(value: Any, default: Any = 0.0) -> Any:
    """A finite float, or `default`: SVG coordinates only ever come from here."""
    if isinstance(value, bool):
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if math.isfinite(number) else default


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _seq(value: Any) -> Sequence[Any]:
    return value if isinstance(value, list | tuple) else ()


def _f(number: float) -> str:
    """Compact SVG coordinate."""
    text = f"{number:.1f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


# --- inline SVG: every piece goes through Markup(...).format, which escapes its arguments --


def meter_svg(fraction: Any, *, label: str, tone: str = "progress", width: int = 120) -> Markup:
    """A horizontal bar filled to `fraction` (0..1), e.g. progress or compliance."""
    share = min(max(_num(fraction), 0.0), 1.0)
    return Markup(
        '<svg class="meter" role="img" aria-label="{label}" width="{w}" height="10" '
        'viewBox="0 0 {w} 10" focusable="false"><rect class="meter-track" width="{w}" '
        'height="10" rx="5"/><rect class="meter-fill tone-{tone}" width="{fill}" height="10" '
        'rx="5"/></svg>'
    ).format(
        label=label,
        w=int(_num(width, 120)),
        tone=tone if tone in METER_TONES else "progress",
        fill=_f(_num(width, 120) * share),
    )


def trend_svg(points: Iterable[Any], *, width: int = 640, height: int = 220) -> Markup:
    """Area-and-line chart of open findings per day: y-axis 0..max, dates on the x-axis
    (at most ~8 labels), the lowest and highest day marked, a text summary for readers."""
    series = [
        (str(p.get("date") or ""), max(_num(p.get("open_findings")), 0.0))
        for p in points
        if isinstance(p, Mapping)
    ]
    if not series:
        return Markup('<p class="empty">No trend yet: it starts with the first day of data.</p>')

    n = len(series)
    left, right, top, base = 44, 16, 18, height - 30
    values = [v for _, v in series]
    low, high = min(values), max(values)
    ceiling = high if high > 0 else 1.0
    coords = [
        (
            left + ((width - left - right) / 2 if n == 1 else (width - left - right) * i / (n - 1)),
            top + (base - top) * (1 - v / ceiling),
        )
        for i, v in enumerate(values)
    ]
    summary = (
        f"Open findings per day, {nice_date(series[0][0])} to {nice_date(series[-1][0])}: "
        f"from {format_number(values[0])} to {format_number(values[-1])}; "
        f"lowest {format_number(low)}, highest {format_number(high)}."
    )
    parts = [
        Markup(
            '<svg class="trend" role="img" aria-label="{s}" viewBox="0 0 {w} {h}" width="100%" '
            'preserveAspectRatio="xMidYMid meet" focusable="false"><title>{s}</title>'
            '<line class="grid" x1="{l}" x2="{r}" y1="{t}" y2="{t}"/>'
            '<line class="axis" x1="{l}" x2="{r}" y1="{b}" y2="{b}"/>'
            '<text class="tick" x="{lx}" y="{ty}" text-anchor="end">{top}</text>'
            '<text class="tick" x="{lx}" y="{by}" text-anchor="end">0</text>'
        ).format(
            s=summary,
            w=width,
            h=height,
            l=left,
            r=width - right,
            t=top,
            b=base,
            lx=left - 6,
            ty=top + 4,
            by=base + 4,
            top=format_number(ceiling),
        )
    ]
    step = max(1, math.ceil(n / 8))
    labelled = [*range(0, n, step), *([n - 1] if (n - 1) % step else [])]
    for i in labelled:
        parts.append(
            Markup('<text class="tick" x="{}" y="{}" text-anchor="{}">{}</text>').format(
                _f(coords[i][0]), height - 8, _anchor(i, n), _short(series[i][0])
            )
        )
    if n > 1:
        line = " ".join(f"{_f(px)},{_f(py)}" for px, py in coords)
        area = (
            f"M{_f(coords[0][0])},{base} L{line.replace(' ', ' L')} L{_f(coords[-1][0])},{base} Z"
        )
        parts.append(
            Markup('<path class="area" d="{}"/><polyline class="line" points="{}"/>').format(
                area, line
            )
        )
    if n == 1:
        marks = {0: format_number(high)}
    elif high == low:
        marks = {}  # a flat line: the axis labels already say it
    else:
        marks = {values.index(low): f"min {format_number(low)}"}
        marks[values.index(high)] = f"max {format_number(high)}"
    for i, ((day, value), (px, py)) in enumerate(zip(series, coords, strict=True)):
        parts.append(
            Markup(
                '<circle class="dot" cx="{x}" cy="{y}" r="3.5" data-date="{d}" data-value="{v}">'
                "<title>{nice}: {v} open</title></circle>"
            ).format(x=_f(px), y=_f(py), d=day, v=format_number(value), nice=nice_date(day))
        )
        if i in marks:
            label_y = py - 8 if value == high or py > base - 18 else py + 16
            parts.append(
                Markup('<text class="mark" x="{}" y="{}" text-anchor="{}">{}</text>').format(
                    _f(px), _f(label_y), _anchor(i, n), marks[i]
                )
            )
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


def _anchor(index: int, count: int) -> str:
    """Labels at either end of the x-axis are anchored inwards so they stay inside."""
    if count > 1 and index == 0:
        return "start"
    if count > 1 and index == count - 1:
        return "end"
    return "middle"


def _short(day: str) -> str:
    parsed = _date(day)
    return f"{parsed.day} {parsed:%b}" if parsed else day
