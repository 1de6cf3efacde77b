"""The dashboard's snapshot cache: one build per TTL however many read, readers served the
previous copy while one rebuilds, and the encoded page made once per snapshot."""

from __future__ import annotations

import threading

import pytest

from tests.support.service import make_settings
from webhooks.dashboard.cache import SnapshotCache
from webhooks.http.app import create_app


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_one_build_serves_every_reader_until_the_ttl():
    clock, builds = Clock(), []
    cache = SnapshotCache(lambda: builds.append(1) or {"n": len(builds)}, ttl=5, clock=clock)
    assert [cache.get().data["n"] for _ in range(50)] == [1] * 50
    clock.now = 4.9
    assert cache.get().data["n"] == 1
    clock.now = 5.0
    assert cache.get().data["n"] == 2 and len(builds) == 2


def test_readers_get_the_previous_copy_while_one_rebuilds():
    clock = Clock()
    started, release = threading.Event(), threading.Event()
    builds = []

    def build():
        builds.append(1)
        if len(builds) == 2:  # the rebuild: slow
            started.set()
            release.wait(5)
        return {"n": len(builds)}

    cache = SnapshotCache(build, ttl=5, clock=clock)
    assert cache.get().data["n"] == 1
    clock.now = 10
    rebuilder = threading.Thread(target=cache.get)
    rebuilder.start()
    assert started.wait(5)
    # Eight readers meanwhile: none waits, none builds.
    assert [cache.get().data["n"] for _ in range(8)] == [1] * 8
    release.set()
    rebuilder.join(5)
    assert cache.get().data["n"] == 2 and len(builds) == 2


def test_encoded_once_per_snapshot():
    cache = SnapshotCache(lambda: {"a": 1}, ttl=60)
    calls = []
    for _ in range(5):
        cache.get().encoded("html", lambda data: calls.append(1) or "<p>1</p>")
    assert calls == [1]


@pytest.mark.parametrize("path", ["/api/portfolio", "/portfolio"])
def test_dashboard_requests_share_one_snapshot(tmp_path, monkeypatch, path):
    import webhooks.http.portfolio as views

    builds = []
    real = views.build_portfolio
    monkeypatch.setattr(views, "build_portfolio", lambda rt: builds.append(1) or real(rt))
    client = create_app(settings=make_settings(tmp_path, dashboard_cache_seconds=30)).test_client()
    answers = [client.get(path) for _ in range(20)]
    assert {a.status_code for a in answers} == {200}
    assert len({a.get_data() for a in answers}) == 1
    assert builds == [1]


def test_readers_revalidate_with_etag_and_take_gzip(tmp_path):
    import gzip

    client = create_app(settings=make_settings(tmp_path, dashboard_cache_seconds=30)).test_client()
    first = client.get("/portfolio", headers={"Accept-Encoding": "gzip"})
    assert first.headers["Content-Encoding"] == "gzip"
    page = gzip.decompress(first.get_data()).decode()
    assert "<html" in page and page.encode() == client.get("/portfolio").get_data()
    again = client.get("/portfolio", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.get_data() == b""
    api = client.get("/api/portfolio")
    assert api.headers["ETag"] != first.headers["ETag"] and "totals" in api.get_json()


def test_the_portfolio_tree_is_paged():
    from webhooks.dashboard.page import PAGE_ROWS, page_count, render_dashboard

    epics = [{"key": f"jira:PAY-{n}", "title": f"Epic {n}", "type": "epic", "children": []}
             for n in range(PAGE_ROWS * 2 + 10)]  # fmt: skip
    data = {"tree": epics, "totals": {"items": len(epics)}}
    assert page_count(data) == 3
    first, last = render_dashboard(data), render_dashboard(data, 3)
    assert first.count('data-key="jira:PAY-') == PAGE_ROWS
    assert last.count('data-key="jira:PAY-') == 10
    assert f"Rows 1\u2013{PAGE_ROWS} of {len(epics)}" in first and 'rel="next"' in first
    assert 'rel="prev"' in last and 'rel="next"' not in last
    assert render_dashboard(data, 99) == last  # past the end: the last page


def test_page_parameter_is_clamped_over_http(tmp_path):
    client = create_app(settings=make_settings(tmp_path, dashboard_cache_seconds=30)).test_client()
    for page in ("1", "0", "-5", "999999", "x"):
        assert client.get(f"/portfolio?page={page}").status_code == 200
