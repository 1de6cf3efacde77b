"""The PMO report as Markdown (wikis), HTML (e-mail: inline styles, tables, no scripts, no
external resources, so common mail clients show it as sent) and CSV (spreadsheets: one
row per table row, the section named in the first column)."""

from __future__ import annotations

import csv
import html
import io
from dataclasses import dataclass

from webhooks.governance.report import Report, sparkline, trend_arrow

FORMATS = ("md", "html", "csv")


@dataclass(frozen=True)
class Section:
    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    empty: str  # shown when there are no rows
    note: str = ""


def _day(value: object) -> str:
    return value.strftime("%d %b %Y") if value is not None else "-"  # type: ignore[attr-defined]


def sections(report: Report) -> list[Section]:
    rag = Section(
        "What changed colour" if not report.first else "Red now (first report)",
        ("Item", "Title", "Was", "Now", "Why"),
        tuple(
            (
                c.key,
                c.title,
                (c.before or "new").upper(),
                c.now.upper(),
                "; ".join(c.reasons) or "-",
            )
            for c in report.rag_changes
        ),
        "No RAG changes." if not report.first else "Nothing is red.",
    )
    activity = Section(
        "Findings per project and rule",
        ("Project", "Rule", "New", "Resolved", "Open", "Trend"),
        tuple(
            (
                a.project,
                a.rule,
                str(a.new),
                str(a.resolved),
                str(a.open_now),
                f"{a.open_then} → {a.open_now} {trend_arrow(a.open_then, a.open_now)}",
            )
            for a in report.activity
        ),
        "No findings in this period.",
    )
    trends = Section(
        "Open findings per project, day by day",
        ("Project", "Trend", "Then", "Now"),
        tuple(
            (project, sparkline(values), str(values[0]), str(values[-1]))
            for project, values in sorted(report.trends.items())
        ),
        "No findings in this period.",
    )
    overdue = Section(
        "Overdue items",
        ("Item", "Project", "Title", "Due", "Assignee"),
        tuple((o.key, o.project, o.title, _day(o.due), o.assignee) for o in report.overdue),
        "Nothing is overdue.",
    )
    fired = Section(
        "Escalations fired",
        ("When", "Item", "Rule", "Step", "Reached", "How"),
        tuple(
            (
                _day(e.fired_at),
                e.item_key,
                e.rule,
                str(e.step + 1),
                f"{e.person} ({e.role})" if e.role else e.person,
                ", ".join(e.via),
            )
            for e in report.escalations
        ),
        "No escalations.",
    )
    slips = Section(
        "Forecast slips",
        ("Item", "Title", "Slip (days)", "Forecast end", "Target"),
        tuple(
            (s.key, s.title, str(s.slip_days), _day(s.forecast_end), _day(s.target_due))
            for s in report.slips
        ),
        "No forecast slips.",
    )
    people = _people(report)
    waivers = Section(
        "Waivers expiring in the next 7 days",
        ("Item", "Rule", "Expires", "Reason"),
        tuple(
            (
                str(w.get("item", "")),
                str(w.get("rule", "")),
                str(w.get("expires", "")),
                str(w.get("reason", "")),
            )
            for w in report.waivers_expiring or ()
        ),
        "No waiver expires."
        if report.waivers_expiring is not None
        else "No waiver register is connected.",
    )
    return [rag, trends, activity, overdue, fired, slips, people, waivers]


def _percent(fraction: float | None) -> str:
    return "-" if fraction is None else f"{fraction * 100:.0f}%"


def _people(report: Report) -> Section:
    """The most over-allocated people, from the people register; without one, who has
    the most work in progress."""
    if report.over_allocated is None:
        return Section(
            "Most work in progress",
            ("Person", "Items in progress"),
            tuple((who, str(n)) for who, n in report.busiest),
            "Nobody has work in progress.",
            note="Counted from items in progress; allocation against capacity needs the "
            "people register.",
        )
    return Section(
        "Most over-allocated people",
        ("Person", "Team", "This week", "Peak", "Peak week", "Items"),
        tuple(
            (
                p.name,
                p.team or "-",
                _percent(p.this_week),
                _percent(p.peak),
                _day(p.peak_week),
                str(p.items),
            )
            for p in report.over_allocated
        ),
        "Nobody is over capacity in the weeks ahead.",
        note="Load against capacity from the people register, the whole portfolio, for "
        "the next 12 weeks.",
    )


def title(report: Report) -> str:
    scope = ", ".join(report.projects) if report.projects else "portfolio"
    return f"PMO report ({scope}): {_day(report.since)} to {_day(report.until)}"


def _md_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def render_md(report: Report) -> str:
    out = [f"# {title(report)}", ""]
    for section in sections(report):
        out += [f"## {section.title}", ""]
        if not section.rows:
            out += [section.empty, ""]
            continue
        out.append("| " + " | ".join(section.header) + " |")
        out.append("|" + "---|" * len(section.header))
        out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in section.rows]
        out.append("")
        if section.note:
            out += [f"_{section.note}_", ""]
    return "\n".join(out)


_FONT = "font-family:Arial,Helvetica,sans-serif;font-size:13px"
_TABLE = f"border-collapse:collapse;{_FONT};margin:0 0 16px 0"
_TH = "border:1px solid #c8c8c8;background:#f0f0f0;padding:4px 8px;text-align:left"
_TD = "border:1px solid #c8c8c8;padding:4px 8px;vertical-align:top"
_RAG_COLOURS = {"RED": "#c62828", "AMBER": "#b26a00", "GREEN": "#2e7d32"}


def _html_cell(text: str) -> str:
    colour = _RAG_COLOURS.get(text)
    escaped = html.escape(text)
    return f'<b style="color:{colour}">{escaped}</b>' if colour else escaped


def render_html(report: Report) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html><head><meta charset="utf-8"><title>'
        + html.escape(title(report))
        + "</title></head>",
        '<body style="font-family:Arial,Helvetica,sans-serif;color:#222222">',
        f'<h1 style="font-size:20px">{html.escape(title(report))}</h1>',
    ]
    for section in sections(report):
        parts.append(
            f'<h2 style="font-size:16px;margin:20px 0 8px 0">{html.escape(section.title)}</h2>'
        )
        if not section.rows:
            parts.append(f'<p style="margin:0 0 16px 0">{html.escape(section.empty)}</p>')
            continue
        head = "".join(f'<th style="{_TH}">{html.escape(h)}</th>' for h in section.header)
        rows = "".join(
            "<tr>" + "".join(f'<td style="{_TD}">{_html_cell(c)}</td>' for c in row) + "</tr>"
            for row in section.rows
        )
        parts.append(f'<table role="presentation" style="{_TABLE}"><tr>{head}</tr>{rows}</table>')
        if section.note:
            parts.append(f'<p style="color:#666666;font-size:12px">{html.escape(section.note)}</p>')
    parts.append("</body></html>")
    return "\n".join(parts)


def _csv_safe(text: str) -> str:
    # A cell starting with = + - @ is a formula to spreadsheets: item titles are typed by people
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def render_csv(report: Report) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["section", "c1", "c2", "c3", "c4", "c5", "c6"])
    for section in sections(report):
        writer.writerow([section.title, *section.header])
        for row in section.rows:
            writer.writerow([section.title, *(_csv_safe(c) for c in row)])
    return buffer.getvalue()


RENDERERS = {"md": render_md, "html": render_html, "csv": render_csv}


def render(report: Report, form: str) -> str:
    return RENDERERS[form](report)
