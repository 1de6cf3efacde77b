"""Inline SVG for the dashboard (a meter bar and the findings trend chart), and the
number and date formatting the page shares with it.

SVG is built from numbers only; every piece of text goes through `Markup(...).format`,
which escapes its arguments, because these helpers return `Markup` the page will not
escape again.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from markupsafe import Markup

METER_TONES = frozenset({"progress", "green", "amber", "red", "muted"})


# --- number and date formatting (also Jinja filters) --------------------------------------


def nice_date(value: Any) -> str:
    parsed = as_date(value)
    if parsed is None:
        return str(value) if value else "—"
    return f"{parsed.day} {parsed:%b %Y}"


def format_number(value: Any) -> str:
    number = as_number(value)
    return str(int(number)) if number == int(number) else f"{number:.1f}"


def as_date(value: Any) -> date | None:
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


def as_number(value: Any, default: Any = 0.0) -> Any:
    """A finite float, or `default`: SVG coordinates only ever come from here."""
    if isinstance(value, bool):
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if math.isfinite(number) else default


def _f(number: float) -> str:
    """Compact SVG coordinate."""
    text = f"{number:.1f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


# --- inline SVG: every piece goes through Markup(...).format, which escapes its arguments --


def meter_svg(fraction: Any, *, label: str, tone: str = "progress", width: int = 120) -> Markup:
    """A horizontal bar filled to `fraction` (0..1), e.g. progress or compliance."""
    share = min(max(as_number(fraction), 0.0), 1.0)
    return Markup(
        '<svg class="meter" role="img" aria-label="{label}" width="{w}" height="10" '
        'viewBox="0 0 {w} 10" focusable="false"><rect class="meter-track" width="{w}" '
        'height="10" rx="5"/><rect class="meter-fill tone-{tone}" width="{fill}" height="10" '
        'rx="5"/></svg>'
    ).format(
        label=label,
        w=int(as_number(width, 120)),
        tone=tone if tone in METER_TONES else "progress",
        fill=_f(as_number(width, 120) * share),
    )


def trend_svg(points: Iterable[Any], *, width: int = 640, height: int = 220) -> Markup:
    """Area-and-line chart of open findings per day: y-axis 0..max, dates on the x-axis
    (at most ~8 labels), the lowest and highest day marked, a text summary for readers."""
    series = [
        (str(p.get("date") or ""), max(as_number(p.get("open_findings")), 0.0))
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
    labelled = axis_labels(n)
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


def axis_labels(count: int, most: int = 8) -> list[int]:
    """Indices of the days that get a date under the x-axis: evenly spaced, first and
    last always, and never two closer than the spacing (the last day replaces a regular
    label too close to it, rather than printing over it)."""
    if count <= 0:
        return []
    step = max(1, math.ceil(count / most))
    labelled = list(range(0, count, step))
    if labelled[-1] != count - 1:
        if count - 1 - labelled[-1] < step and len(labelled) > 1:
            labelled[-1] = count - 1
        else:
            labelled.append(count - 1)
    return labelled


def _anchor(index: int, count: int) -> str:
    """Labels at either end of the x-axis are anchored inwards so they stay inside."""
    if count > 1 and index == 0:
        return "start"
    if count > 1 and index == count - 1:
        return "end"
    return "middle"


def _short(day: str) -> str:
    parsed = as_date(day)
    return f"{parsed.day} {parsed:%b}" if parsed else day


def spark_svg(points: Iterable[Any], *, label: str, width: int = 260, height: int = 72) -> Markup:
    """A small chart of one project's open findings per day: a line through the days
    with data, broken (and shaded as "no data") over days nothing was recorded, never
    drawn down to zero there; the first and last day under the axis, the highest value
    beside it; the same figures as text for screen readers (`aria-label`, `<title>`)."""
    series: list[tuple[str, float | None]] = []
    for p in points:
        if isinstance(p, Mapping):
            raw = p.get("open_findings")
            value = None if raw is None else max(as_number(raw, None) or 0.0, 0.0)
            series.append((str(p.get("date") or ""), value))
    known = [(day, v) for day, v in series if v is not None]
    if not known:
        return Markup('<p class="empty small">No day recorded yet.</p>')
    n = len(series)
    left, right, top, base = 30, 10, 8, height - 18
    high = max(v for _, v in known)
    ceiling = high if high > 0 else 1.0
    span = width - left - right

    def x(i: int) -> float:
        return left + (span / 2 if n == 1 else span * i / (n - 1))

    def y(v: float) -> float:
        return top + (base - top) * (1 - v / ceiling)

    missing = n - len(known)
    summary = (
        f"{label}: open findings per day, {nice_date(series[0][0])} to "
        f"{nice_date(series[-1][0])}: from {format_number(known[0][1])} to "
        f"{format_number(known[-1][1])}, highest {format_number(high)}"
        + (f"; {missing} day{'' if missing == 1 else 's'} without data" if missing else "")
        + "."
    )
    parts = [
        Markup(
            '<svg class="spark" role="img" aria-label="{s}" viewBox="0 0 {w} {h}" width="{w}" '
            'height="{h}" focusable="false"><title>{s}</title>'
            '<line class="axis" x1="{l}" x2="{r}" y1="{b}" y2="{b}"/>'
            '<text class="tick" x="{lx}" y="{ty}" text-anchor="end">{top}</text>'
            '<text class="tick" x="{lx}" y="{by}" text-anchor="end">0</text>'
        ).format(
            s=summary,
            w=width,
            h=height,
            l=left,
            r=width - right,
            b=base,
            lx=left - 4,
            ty=top + 8,
            by=base + 3,
            top=format_number(ceiling),
        )
    ]
    step = span / (n - 1) if n > 1 else span
    runs: list[list[int]] = []
    gap_start: int | None = None
    for i, (_, value) in enumerate(series):
        if value is None:
            gap_start = i if gap_start is None else gap_start
            continue
        if gap_start is not None:
            parts.append(_gap(x(gap_start) - step / 2, x(i - 1) + step / 2, top, base))
            gap_start = None
        if runs and runs[-1][-1] == i - 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    if gap_start is not None:
        parts.append(_gap(x(gap_start) - step / 2, x(n - 1) + step / 2, top, base))
    for run in runs:
        coords = [(x(i), y(series[i][1] or 0.0)) for i in run]
        if len(run) > 1:
            line = " ".join(f"{_f(px)},{_f(py)}" for px, py in coords)
            parts.append(Markup('<polyline class="line" points="{}"/>').format(line))
        for i, (px, py) in zip(run, coords, strict=True):
            if len(run) == 1 or i == known_last(series):
                parts.append(
                    Markup(
                        '<circle class="point" cx="{}" cy="{}" r="2.5" data-date="{}" '
                        'data-value="{}"/>'
                    ).format(_f(px), _f(py), series[i][0], format_number(series[i][1]))
                )
    for i in axis_labels(n, most=2):
        parts.append(
            Markup('<text class="tick" x="{}" y="{}" text-anchor="{}">{}</text>').format(
                _f(min(max(x(i), left), width - right)),
                height - 4,
                _anchor(i, n),
                _short(series[i][0]),
            )
        )
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


def known_last(series: list[tuple[str, float | None]]) -> int:
    """The index of the last day with data."""
    return max(i for i, (_, v) in enumerate(series) if v is not None)


def _gap(x1: float, x2: float, top: float, base: float) -> Markup:
    return Markup(
        '<g><title>no data</title><rect class="nodata" x="{}" y="{}" width="{}" height="{}"/></g>'
    ).format(_f(x1), _f(top), _f(max(x2 - x1, 1.0)), _f(base - top))
