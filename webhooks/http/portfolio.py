"""The PMO's views: the portfolio dashboard (HTML) and the same data as JSON, both from
one cached snapshot per process (`webhooks.dashboard.cache`)."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Response, current_app, request

from webhooks.dashboard.cache import Snapshot, SnapshotCache
from webhooks.dashboard.page import page_count, render_dashboard
from webhooks.dashboard.snapshot import build_portfolio
from webhooks.http.viewer import require_viewer

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
    return _answer("json", current_app.json.dumps, "application/json")


@bp.get("/portfolio")
def portfolio_page():
    snapshot = _snapshot()
    pages = snapshot.memo("pages", page_count)
    page = min(max(request.args.get("page", 1, type=int), 1), pages)
    return _answer(
        f"html:{page}",
        lambda data: render_dashboard(data, page),
        "text/html; charset=utf-8",
        snapshot,
    )


def _answer(
    kind: str,
    encode: Callable[[dict], str | bytes],
    content_type: str,
    snapshot: Snapshot | None = None,
) -> Response:
    """The snapshot as encoded once for every reader: 304 when the reader has it (ETag),
    gzip when it accepts it, so a reader costs a few kilobytes on the wire."""
    snapshot = snapshot or _snapshot()
    etag = snapshot.etag(kind, encode)
    headers = {"ETag": f'"{etag}"', "Cache-Control": "private, no-cache", "Vary": "Accept-Encoding"}
    if etag in request.if_none_match:
        return Response(status=304, headers=headers)
    if "gzip" in request.accept_encodings:
        body = snapshot.gzipped(kind, encode)
        headers["Content-Encoding"] = "gzip"
    else:
        body = snapshot.encoded(kind, encode)
    return Response(body, content_type=content_type, headers=headers)
