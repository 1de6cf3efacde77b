"""The drill-down pages: one portfolio parent (`/portfolio/item/<key>`) and one rule
(`/portfolio/rule/<rule>`), from the same snapshot as the dashboard."""

from __future__ import annotations

from flask import Blueprint, Response, current_app

from webhooks.dashboard.drill import MAX_RULE_ROWS, render_item, render_rule
from webhooks.http.errors import ApiError
from webhooks.http.portfolio import snapshot
from webhooks.http.viewer import require_viewer

bp = Blueprint("portfolio_pages", __name__)
bp.before_request(require_viewer)
MAX_KEY = 300  # a key or rule id in the path, in characters


@bp.get("/portfolio/item/<path:key>")
def item_page(key: str):
    _bounded(key)
    current = snapshot()
    runtime = current_app.extensions["pmo_bridge"]
    page = current.view(
        f"item:{key}",
        lambda data: render_item(
            data, key, _history(runtime, key), lambda keys: _escalations(runtime, keys)
        ),
    )
    if page is None:
        raise ApiError(404, f"no portfolio item {key[:80]!r} (keys look like jira:PAY-1)")
    return Response(page, content_type="text/html; charset=utf-8")


@bp.get("/portfolio/rule/<path:rule>")
def rule_page(rule: str):
    _bounded(rule)
    current = snapshot()
    store = current_app.extensions["pmo_bridge"].store

    def make(data):
        findings = store.open_findings_of_rule(rule, MAX_RULE_ROWS)
        items = store.get_items({f.item_key for f in findings})
        return render_rule(data, rule, findings, items)

    page = current.view(f"rule:{rule}", make)
    if page is None:
        raise ApiError(404, f"no rule {rule[:80]!r} with open findings")
    return Response(page, content_type="text/html; charset=utf-8")


def _bounded(text: str) -> None:
    if len(text) > MAX_KEY:
        raise ApiError(400, f"at most {MAX_KEY} characters in the path")


def _history(runtime, key: str) -> list[dict]:
    return [
        {"day": d.day.isoformat(), "rag": d.rag, "reasons": d.reasons}
        for d in runtime.store.rag_history(key)
    ]


MAX_ESCALATIONS = 200  # steps listed on a parent's page, newest first


def _escalations(runtime, keys: list[str]) -> list[dict]:
    return [
        {
            "key": fired.item_key,
            "rule": fired.rule,
            "step": fired.step,
            "person": fired.person,
            "role": fired.role,
            "via": list(fired.via),
            "fired_at": fired.fired_at.isoformat(),
            "open": still_open,
        }
        for fired, still_open in runtime.store.escalations_of(keys, MAX_ESCALATIONS)
    ]
