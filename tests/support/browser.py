"""A headless Chromium for the dashboard tests, and the check that a dashboard page
shows what its JSON API says."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def screenshot_dir() -> Path:
    """Where the browser tests leave their screenshots: PMO_BRIDGE_SCREENSHOTS (e.g.
    `docs`, to refresh the pictures the docs show), else a temporary folder, so a test
    run never changes the working tree."""
    wanted = os.environ.get("PMO_BRIDGE_SCREENSHOTS")
    return Path(wanted) if wanted else Path(tempfile.mkdtemp(prefix="pmo-bridge-shots-"))


def find_chromium() -> str | None:
    for candidate in ("chromium", "chromium-browser"):
        found = shutil.which(candidate)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def missing(reason: str) -> None:
    """Outside CI a missing browser skips with the reason; in CI it is a failure."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; CI must provide it", pytrace=False)
    pytest.skip(reason)


@contextlib.contextmanager
def chromium_context(profile: Path, **options: Any) -> Iterator[Any]:
    """A headless Debian Chromium through Playwright (no browser download), JavaScript
    off unless asked: the pages must work without it. Skips (fails in CI) without one."""
    executable = find_chromium()
    if executable is None:
        missing("no Chromium binary found (apt-get install chromium)")
    try:
        from playwright import sync_api
    except ImportError:
        missing("the playwright package is not installed (pip install playwright)")
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=executable,
            headless=True,
            args=CHROMIUM_ARGS,
            **{"java_script_enabled": False, **options},
        )
        try:
            yield context
        finally:
            context.close()


@pytest.fixture(scope="module")
def chromium_page(tmp_path_factory):
    profile = tmp_path_factory.mktemp("chromium-profile")
    with chromium_context(profile, viewport={"width": 1360, "height": 900}) as context:
        yield context.new_page()


def fetch_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def walk(nodes):
    for node in nodes:
        yield node
        yield from walk(node.get("children") or [])


def attrs(page, selector: str, *names: str) -> list[dict[str, str | None]]:
    return [
        {name: element.get_attribute(name) for name in names}
        for element in page.query_selector_all(selector)
    ]


def check_dashboard_matches_api(dashboard_base_url: str, page: Any) -> None:
    """What the page shows equals what `/api/portfolio` says, figure by figure; then a
    screenshot for the docs."""
    api = fetch_json(f"{dashboard_base_url}/api/portfolio")
    response = page.goto(f"{dashboard_base_url}/portfolio", wait_until="load")
    assert response is not None and response.ok
    assert page.title().startswith("PMO portfolio")

    totals = api["totals"]
    box = page.locator("#totals")
    assert box.get_attribute("data-items") == str(totals["items"])
    assert box.get_attribute("data-open-findings") == str(totals["open_findings"])
    assert box.get_attribute("data-noncompliant-items") == str(totals["noncompliant_items"])
    for rag in ("green", "amber", "red"):
        badge = page.locator(f'#totals [data-rag-count="{rag}"]')
        assert badge.get_attribute("data-count") == str(totals["rag"].get(rag, 0))
        assert badge.inner_text().strip().lower() == f"{totals['rag'].get(rag, 0)} {rag}"

    nodes = list(walk(api["tree"]))
    rows = attrs(page, "#tree tr[data-key]", "data-key", "data-rag", "data-open-findings")
    assert [row["data-key"] for row in rows] == [node["key"] for node in nodes]
    for row, node in zip(rows, nodes, strict=True):
        rollup = node.get("rollup")
        assert row["data-rag"] == (rollup["rag"] if rollup else None), node["key"]
        assert row["data-open-findings"] == str(node.get("open_findings", 0)), node["key"]
        if rollup:
            shown = page.locator(f'#tree tr[data-key="{node["key"]}"] [data-rag-badge]')
            assert shown.inner_text().strip().lower() == rollup["rag"]

    progress = attrs(page, "#tree [data-progress]", "data-progress")
    expected = [str(round(n["rollup"]["progress"] * 100)) for n in nodes if n.get("rollup")]
    assert [p["data-progress"] for p in progress] == expected
    first_parent = next(n for n in nodes if n.get("rollup"))
    text = page.locator(f'#tree tr[data-key="{first_parent["key"]}"] .progress').inner_text()
    assert f"{round(first_parent['rollup']['progress'] * 100)}%" in text

    shown_projects = attrs(
        page,
        "#projects tr[data-project]",
        "data-tracker",
        "data-project",
        "data-items",
        "data-noncompliant-items",
        "data-open-findings",
    )
    assert shown_projects == [
        {
            "data-tracker": p["tracker"],
            "data-project": p["project"],
            "data-items": str(p["items"]),
            "data-noncompliant-items": str(p["noncompliant_items"]),
            "data-open-findings": str(p["open_findings"]),
        }
        for p in api["compliance_by_project"]
    ]

    rules = attrs(page, "#rules tr[data-rule]", "data-rule", "data-open-findings")
    assert sorted((r["data-rule"], r["data-open-findings"]) for r in rules) == sorted(
        (r["rule"], str(r["open_findings"])) for r in api["compliance_by_rule"]
    )
    counts = [int(r["data-open-findings"]) for r in rules]
    assert counts == sorted(counts, reverse=True)

    worst_links = page.locator("#worst li[data-key] a")
    assert worst_links.count() == len(api["worst_items"])
    assert worst_links.first.get_attribute("href") == api["worst_items"][0]["url"]
    assert page.locator("#trend svg circle.dot").count() == len(api["trend"])

    # Laid out like a dashboard, not stacked: the trend and project cards share a row.
    trend_box = page.locator("#trend").bounding_box()
    projects_box = page.locator("#projects").bounding_box()
    assert trend_box and projects_box and abs(trend_box["y"] - projects_box["y"]) < 2
    for card in ("#projects", "#tree"):  # and the tables fit their cards without scrolling
        frame = page.locator(f"{card} .scroll").bounding_box()
        table = page.locator(f"{card} table").bounding_box()
        assert table["x"] + table["width"] <= frame["x"] + frame["width"] + 0.5, card

    target = Path(os.environ.get("PMO_BRIDGE_SCREENSHOT") or screenshot_dir() / "dashboard.png")
    target.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target), full_page=True)
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
