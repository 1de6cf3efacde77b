"""The portfolio view as a file for the steering pack: one CSV row per portfolio row
(matching rows only when filtered), the schedule and RAG exactly as `/api/portfolio`
carries them."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any

from webhooks.dashboard.filter import walk
from webhooks.dashboard.page import owner_name

COLUMNS = (
    "key", "title", "type", "tracker", "project", "area", "status", "owner", "owner_id", "team",
    "rag", "rag_reasons",
    "progress_pct", "due", "due_source", "forecast_end", "slip_days", "slip",
    "open_findings", "rules",
)  # fmt: skip
# A spreadsheet runs a cell that starts like a formula; tracker text must never do that.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def export_rows(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One dict per portfolio row in page order; context ancestors of a filtered view
    (`matched: false`) are left out."""
    return [
        export_row(node)
        for node in walk(data.get("tree") or ())
        if node.get("matched") is not False
    ]


def export_row(node: Mapping[str, Any]) -> dict[str, Any]:
    """The CSV's columns of one portfolio node."""
    rollup = node.get("rollup") if isinstance(node.get("rollup"), Mapping) else {}
    schedule = node.get("schedule") if isinstance(node.get("schedule"), Mapping) else {}
    owner = node.get("owner") if isinstance(node.get("owner"), Mapping) else {}
    progress = rollup.get("progress")
    return {
        "key": node.get("key"),
        "title": node.get("title"),
        "type": node.get("type"),
        "tracker": node.get("tracker"),
        "project": node.get("project"),
        "area": node.get("area") or "",
        "status": node.get("status"),
        "owner": owner_name(node) or "",
        "owner_id": owner.get("id") or "",
        "team": node.get("team") or "",
        "rag": rollup.get("rag") or "",
        "rag_reasons": "; ".join(rollup.get("rag_reasons") or ()),
        "progress_pct": round(progress * 100) if isinstance(progress, int | float) else "",
        "due": schedule.get("due") or node.get("due_date") or "",
        "due_source": schedule.get("due_source") or ("item" if node.get("due_date") else ""),
        "forecast_end": schedule.get("forecast_end") or "",
        "slip_days": "" if schedule.get("slip_days") is None else schedule["slip_days"],
        "slip": schedule.get("slip") or "",
        "open_findings": node.get("open_findings") or 0,
        "rules": " ".join(sorted({f["rule"] for f in node.get("findings") or ()})),
    }


def row_cells(row: Mapping[str, Any]) -> list[Any]:
    return [_cell(row[name]) for name in COLUMNS]


def to_csv(data: Mapping[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in export_rows(data):
        writer.writerow(row_cells(row))
    return out.getvalue()


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value
