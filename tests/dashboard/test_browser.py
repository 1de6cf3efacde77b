"""The dashboard in a real headless Chromium: what a person sees equals the JSON API.

By default the page is served from the sample snapshot by a tiny Flask app on 127.0.0.1;
set PMO_BRIDGE_DASHBOARD_URL (e.g. the address `pmo-bridge demo` prints) to check a live
service instead. The screenshot goes to PMO_BRIDGE_SCREENSHOT, or dashboard.png in PMO_BRIDGE_SCREENSHOTS
(docs/ to refresh it) or a temporary folder.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator

import pytest
from flask import Flask, jsonify
from werkzeug.serving import make_server

from tests.support.browser import check_dashboard_matches_api
from tests.support.helpers import TESTS
from webhooks.dashboard.page import render_dashboard

pytestmark = pytest.mark.browser

SAMPLE = TESTS / "dashboard" / "sample_portfolio.json"


def sample_app(data: dict) -> Flask:
    app = Flask("dashboard-sample")

    @app.get("/portfolio")
    def portfolio():
        return render_dashboard(data)

    @app.get("/api/portfolio")
    def api_portfolio():
        return jsonify(data)

    return app


@pytest.fixture(scope="module")
def dashboard_base_url() -> Iterator[str]:
    """Where `/portfolio` and `/api/portfolio` live: a live service when
    PMO_BRIDGE_DASHBOARD_URL is set, else the sample snapshot served on a free port."""
    live = os.environ.get("PMO_BRIDGE_DASHBOARD_URL")
    if live:
        yield live.rstrip("/")
        return
    server = make_server("127.0.0.1", 0, sample_app(json.loads(SAMPLE.read_text())), threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="dashboard-sample", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


def test_dashboard_shows_the_api_figures(dashboard_base_url, chromium_page):
    check_dashboard_matches_api(dashboard_base_url, chromium_page)
