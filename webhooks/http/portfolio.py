"""The PMO's views: the portfolio dashboard (HTML) and the same data as JSON."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

bp = Blueprint("portfolio", __name__)


def _data() -> dict:
    from webhooks.portfolio import build_portfolio

    return build_portfolio(current_app.extensions["pmo_bridge"])


@bp.get("/api/portfolio")
def api_portfolio():
    return jsonify(_data())


@bp.get("/portfolio")
def portfolio_page():
    from webhooks.dashboard import render_dashboard

    return Response(render_dashboard(_data()), content_type="text/html; charset=utf-8")
