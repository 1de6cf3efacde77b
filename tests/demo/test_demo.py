"""`pmo-bridge demo`: the scripted week runs clean and tells its story in under a minute,
and with --keep-running its dashboard shows in a real browser what its API says."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.browser import check_dashboard_matches_api
from webhooks.commands.main import main

DASHBOARD = re.compile(r"^Dashboard: (http://127\.0\.0\.1:\d+)/portfolio", re.MULTILINE)


def test_the_demo_week_runs_clean_and_tells_what_happened(capsys):
    started = time.monotonic()
    code = main(["demo"])
    elapsed = time.monotonic() - started
    out = capsys.readouterr().out

    assert code == 0, out
    assert elapsed < 60
    assert "first audit of every item" in out
    assert re.search(r"\d+ items checked: \d+ comply, \d+ need attention", out)
    # a story started without an estimate is flagged, then resolved once estimated
    assert re.search(r"flagged   PAY-\d+ +story-estimated", out)
    assert re.search(r"resolved  PAY-\d+ +story-estimated", out)
    assert re.search(r"edited in place \(still 1 on the item\)", out)
    # blocking a story turns its epic red; the sweep escalates it; unblocking clears it
    assert re.search(r"rollup    WEB-1 +Checkout redesign: GREEN -> RED", out)
    assert re.search(r"label     WEB-\d+ +\+ pmo-escalated", out)
    assert re.search(r"label     WEB-\d+ +- pmo-escalated", out)
    # an Azure DevOps feature closing moves the Jira initiative that owns it
    closing = out.split("Elena closes feature", 1)[1].split("\n\n", 1)[0]
    assert re.search(r"rollup    PAY-1 +Payments platform 2025", closing)
    # the bulk edit of 15 stories: one rollup write per parent, not one per story
    bulk = out.split("bulk-edits 15 WEB stories", 1)[1].split("\n\n", 1)[0]
    assert "15 webhooks in" in bulk or "16 webhooks in" in bulk or "17 webhooks in" in bulk
    assert len(re.findall(r"^ +rollup ", bulk, re.MULTILINE)) <= 2
    assert "most on any item: 1)" in out
    assert "dead letters  0" in out
    assert "nothing failed" in out
    # the blocked story's assignee is reached by a mention; the weekly report goes out
    assert re.search(r"jira:WEB-\d+ +blocked-escalation: Tom Berg \(assignee\), by mention", out)
    report = re.search(r"^Weekly PMO report: (\S+)$", out, re.MULTILINE)
    assert report and Path(report.group(1)).read_text().startswith("<!DOCTYPE html>")
    assert re.search(r"e-mailed to pmo-office@example.com \(local mailbox 127.0.0.1:\d+\)", out)
    assert DASHBOARD.search(out)
    assert '{"ts"' not in out  # no JSON log lines in the story
    # not on a terminal, so it ended: it says so and how to keep it up, and left no files
    assert "The demo has stopped, and its dashboard with it" in out
    assert "`pmo-bridge demo --keep-running`" in out
    assert not os.path.exists("pmo-bridge.demo.yaml")


@pytest.fixture(scope="module")
def live_demo() -> Iterator[str]:
    """`pmo-bridge demo --keep-running` in a subprocess; yields the service's base URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "webhooks.commands.main", "demo", "--keep-running"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: list[str] = []
    found = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if DASHBOARD.search(line):
                found.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        if not found.wait(90):
            proc.kill()
            pytest.fail("the demo printed no dashboard address:\n" + "".join(lines))
        yield DASHBOARD.search("".join(lines)).group(1)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert code == 0, "".join(lines)


@pytest.mark.browser
def test_the_live_demo_dashboard_shows_its_api_figures(live_demo, chromium_page):
    """The browser check of tests/test_dashboard_browser.py, on the demo's own service;
    the screenshot of the demo portfolio goes where tests.support.browser.screenshot_dir says."""
    check_dashboard_matches_api(live_demo, chromium_page)
