"""The PMO's views: the portfolio dashboard (HTML) and the same data as JSON, both from
one cached snapshot per process (`webhooks.portfolio_cache`)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app

from webhooks.dashboard import render_dashboard
from webhooks.portfolio import build_portfolio
from webhooks.portfolio_cache import Snapshot, SnapshotCache
from webhooks.viewer import require_viewer

bp = Blueprint("portfolio", __name__)
bp.before_request(require_viewer)


def _snapshot() -> Snapshot:
    cache = current_app.extensions.get("pmo_bridge_portfolio")
    if cache is None:
        runtime = current_app.extensions["pmo_bridge"]
        cache = current_app.extensions.setdefault(
            "pmo_bridge_portfolio",
            SnapshotCache(
                lambda: build_portfolio(runtime), runtime.settings.dashboard_cache_seconds
            ),
        )
    return cache.get()


@bp.get("/api/portfolio")
def api_portfolio():
    body = _snapshot().encoded("json", current_app.json.dumps)
    return Response(body, content_type="application/json")


@bp.get("/portfolio")
def portfolio_page():
    body = _snapshot().encoded("html", render_dashboard)
    return Response(body, content_type="text/html; charset=utf-8")
