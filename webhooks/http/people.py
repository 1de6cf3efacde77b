"""The people views: load by person and week as a heat map (`/people`), as JSON and CSV
(`/api/people`), behind the same viewer access as the portfolio dashboard."""

from __future__ import annotations

import csv
import io
from functools import lru_cache
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from webhooks.dashboard.cache import SnapshotCache
from webhooks.governance.people import people_report
from webhooks.http.viewer import require_viewer

bp = Blueprint("people", __name__)
bp.before_request(require_viewer)
MAX_WEEKS = 26
TEAM_MAX = 200


def _report() -> dict[str, Any]:
    """The cached full report (every person, 26 weeks), cut to the request's team and
    weeks: reading every share is one build per `dashboard_cache_seconds`, not per reader."""
    cache = current_app.extensions.get("pmo_bridge_people")
    if cache is None:
        runtime = current_app.extensions["pmo_bridge"]
        cache = current_app.extensions.setdefault(
            "pmo_bridge_people",
            SnapshotCache(
                lambda: people_report(runtime, weeks=MAX_WEEKS),
                runtime.settings.dashboard_cache_seconds,
            ),
        )
    team = (request.args.get("team") or "").strip()[:TEAM_MAX] or None
    weeks = min(max(request.args.get("weeks", 12, type=int), 1), MAX_WEEKS)
    return cut(cache.get().data, team, weeks)


def cut(report: dict[str, Any], team: str | None, weeks: int) -> dict[str, Any]:
    shown = set(report["weeks"][:weeks])
    people = [
        {**p, "load": p["load"][:weeks],
         "items": [{**i, "weeks": {w: a for w, a in i["weeks"].items() if w in shown}}
                   for i in p["items"]]}
        for p in report["people"]
        if team is None or p["team"] == team
    ]  # fmt: skip
    names = {p["id"] for p in people}
    return {
        "weeks": report["weeks"][:weeks],
        "teams": report["teams"],
        "people": people,
        "under_allocated": [
            u for u in report["under_allocated"]
            if u["person"] in names and all(w in shown for w in u["weeks"])
        ],
    }  # fmt: skip


@bp.get("/api/people")
def api_people() -> Response:
    report = _report()
    wanted = request.args.get("format") or (
        "csv" if request.accept_mimetypes.best == "text/csv" else "json"
    )
    if wanted != "csv":
        return jsonify(report)
    return Response(
        to_csv(report),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="people.csv"'},
    )


def to_csv(report: dict[str, Any]) -> str:
    """One row per person: id, name, team, then load % per week (blank: no capacity)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["person", "name", "team", *report["weeks"]])
    for person in report["people"]:
        load = ["" if f is None else f"{f * 100:.0f}" for f in person["load"]]
        writer.writerow(
            [_cell(person["id"]), _cell(person["name"]), _cell(person["team"] or ""), *load]
        )
    return out.getvalue()


def _cell(text: str) -> str:
    """A spreadsheet must not run a name as a formula."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(Path(__file__).resolve().parents[1] / "dashboard" / "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def heat(fraction: float | None) -> str:
    """The cell's class: none, low (< 50%), ok, high (> 100%), over (> 110%)."""
    if fraction is None:
        return "none"
    if fraction > 1.1:
        return "over"
    if fraction > 1.0:
        return "high"
    return "low" if fraction < 0.5 else "ok"


@bp.get("/people")
def people_page() -> Response:
    report = _report()
    html = (
        _environment()
        .get_template("people.html")
        .render(report=report, heat=heat, team=request.args.get("team") or "")
    )
    return Response(html, content_type="text/html; charset=utf-8")
