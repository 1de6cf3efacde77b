"""The PMO's views: the portfolio dashboard (HTML) and the same data as JSON and CSV, all
from one cached snapshot per process (`webhooks.dashboard.cache`), filtered by the URL's
query (`webhooks.dashboard.filter`). JSON comes in pages (`offset`, `limit`); the CSV
holds every matching row unless a page is asked for (`webhooks.dashboard.paging`)."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Response, current_app, request

from webhooks.dashboard.cache import Snapshot, SnapshotCache
from webhooks.dashboard.filter import (
    FilterError,
    PortfolioFilter,
    facet_options,
    filter_rows,
    parse_filter,
)
from webhooks.dashboard.index import build_index
from webhooks.dashboard.page import page_count, render_dashboard
from webhooks.dashboard.paging import DEFAULT_LIMIT, Paging, csv_chunks, json_page, parse_paging
from webhooks.dashboard.snapshot import build_portfolio
from webhooks.http.errors import ApiError
from webhooks.http.viewer import require_viewer

bp = Blueprint("portfolio", __name__)
bp.before_request(require_viewer)


def snapshot() -> Snapshot:
    cache = current_app.extensions.get("pmo_bridge_portfolio")
    if cache is None:
        runtime = current_app.extensions["pmo_bridge"]
        cache = current_app.extensions.setdefault(
            "pmo_bridge_portfolio",
            SnapshotCache(
                lambda: build_portfolio(runtime),
                runtime.settings.dashboard_cache_seconds,
                prepare=prepare,
            ),
        )
    return cache.get()


def prepare(snapshot: Snapshot) -> None:
    """The filter index and the form's options, made with the snapshot, not by a reader."""
    snapshot.memo("index", build_index)
    snapshot.memo("options", facet_options)


def request_filter() -> PortfolioFilter:
    try:
        return parse_filter(request.args)
    except FilterError as exc:
        raise ApiError(400, f"bad filter: {exc}") from None


def filtered_page(current: Snapshot, flt: PortfolioFilter) -> Snapshot:
    """The page's view of the filter: its summary and rows, not a copy of the tree."""
    if not flt.active:
        return current
    return current.view(
        f"page:{flt.query()}",
        lambda data: Snapshot(
            filter_rows(data, flt, current.memo("index", build_index)), current.built_at
        ),
    )


def request_paging(default: int | None) -> Paging:
    try:
        return parse_paging(request.args, default=default)
    except FilterError as exc:
        raise ApiError(400, f"bad page: {exc}") from None


def json_view(current: Snapshot, flt: PortfolioFilter, paging: Paging) -> Snapshot:
    """One page of the filter's view: a snapshot of its own, made once per snapshot,
    filter and page, so its encodings are made once too."""
    return current.view(
        f"json:{flt.query()}:{paging.offset}:{paging.limit}",
        lambda data: Snapshot(
            json_page(data, flt, current.memo("index", build_index), paging), current.built_at
        ),
    )


@bp.get("/api/portfolio")
def api_portfolio():
    return _json()


@bp.get("/api/portfolio.json")
def api_portfolio_json():
    answer = _json()
    answer.headers["Content-Disposition"] = 'attachment; filename="portfolio.json"'
    return answer


@bp.get("/api/portfolio.csv")
def api_portfolio_csv():
    """Every matching row (or the page asked for), written as it is read."""
    flt = request_filter()
    paging = request_paging(None)
    current = snapshot()
    chunks = csv_chunks(current.data, flt, current.memo("index", build_index), paging)
    return Response(
        chunks,
        content_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="portfolio.csv"',
            "Cache-Control": "private, no-cache",
        },
    )


def _json() -> Response:
    flt = request_filter()
    paging = request_paging(DEFAULT_LIMIT)
    view = json_view(snapshot(), flt, paging)
    answer = _answer("json", current_app.json.dumps, "application/json", view)
    following = view.data["paging"]["next"]
    if following is not None and answer.status_code == 200:
        answer.headers["Link"] = f'<{request.path}?{following}>; rel="next"'
    return answer


@bp.get("/portfolio")
def portfolio_page():
    flt = request_filter()
    current = snapshot()
    view = filtered_page(current, flt)
    pages = view.memo("pages", page_count)
    page = min(max(request.args.get("page", 1, type=int), 1), pages)
    options = current.memo("options", facet_options)
    query = flt.query()
    return _answer(
        f"html:{page}",
        lambda data: render_dashboard(data, page, query=query, options=options),
        "text/html; charset=utf-8",
        view,
    )


def _answer(
    kind: str,
    encode: Callable[[dict], str | bytes],
    content_type: str,
    view: Snapshot,
) -> Response:
    """The (filtered) snapshot as encoded once for every reader: 304 when the reader has
    it (ETag), gzip when it accepts it, so a reader costs a few kilobytes on the wire."""
    etag = view.etag(kind, encode)
    headers = {"ETag": f'"{etag}"', "Cache-Control": "private, no-cache", "Vary": "Accept-Encoding"}
    if etag in request.if_none_match:
        return Response(status=304, headers=headers)
    if "gzip" in request.accept_encodings:
        body = view.gzipped(kind, encode)
        headers["Content-Encoding"] = "gzip"
    else:
        body = view.encoded(kind, encode)
    return Response(body, content_type=content_type, headers=headers)
