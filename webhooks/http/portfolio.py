"""The PMO's views: the portfolio dashboard (HTML) and the same data as JSON."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify

from webhooks.dashboard.page import render_dashboard
from webhooks.dashboard.snapshot import build_portfolio

bp = Blueprint("portfolio", __name__)


def _data() -> dict[str, Any]:
    return build_portfolio(current_app.extensions["pmo_bridge"])


@bp.get("/api/portfolio")
def api_portfolio():
    return jsonify(_data())


@bp.get("/portfolio")
def portfolio_page():
    return Response(render_dashboard(_data()), content_type="text/html; charset=utf-8")
