"""The portfolio dashboard page and its inline SVG helpers, rendered without a browser."""

from __future__ import annotations

import copy
import json
import re
from html.parser import HTMLParser

import pytest

from tests.support.helpers import TESTS
from webhooks.dashboard.page import build_view, render_dashboard, safe_url
from webhooks.dashboard.svg import format_number, meter_svg, nice_date, trend_svg

SAMPLE = json.loads((TESTS / "dashboard" / "sample_portfolio.json").read_text())


def sample() -> dict:
    return copy.deepcopy(SAMPLE)


def walk(nodes):
    for node in nodes:
        yield node
        yield from walk(node.get("children") or [])


class Elements(HTMLParser):
    """Collects (tag, attrs) of every start tag, and checks tags nest properly."""

    VOID = {"meta", "link", "br", "img", "input", "hr", "rect", "line", "path", "polyline"}

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.stack: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1:]}>"
        self.stack.pop()

    def with_attr(self, name: str) -> list[dict[str, str | None]]:
        return [attrs for _, attrs in self.elements if name in attrs]


def parse(html: str) -> Elements:
    parser = Elements()
    parser.feed(html)
    parser.close()
    assert parser.stack == [], f"unclosed tags: {parser.stack}"
    return parser


@pytest.fixture(scope="module")
def page() -> str:
    return render_dashboard(SAMPLE)


@pytest.fixture(scope="module")
def dom(page) -> Elements:
    return parse(page)


def test_page_is_a_self_contained_html_document(page):
    assert page.lstrip().lower().startswith("<!doctype html>")
    assert "<script" not in page.lower()
    # Nothing is fetched from elsewhere: no external stylesheet, script or font.
    assert not re.search(r'(src|href)="(https?:)?//[^"]*\.(css|js|woff2?)', page)
    assert "as of" in page and "23 Nov 2026 10:00 UTC" in page


def test_totals_carry_the_headline_figures(dom):
    (totals,) = [a for a in dom.with_attr("id") if a["id"] == "totals"]
    assert totals["data-items"] == "62"
    assert totals["data-open-findings"] == "13"
    assert totals["data-noncompliant-items"] == "10"
    assert totals["data-compliant-pct"] == "83.9"
    counts = {a["data-rag-count"]: a["data-count"] for a in dom.with_attr("data-rag-count")}
    assert counts == {"green": "4", "amber": "3", "red": "1"}


def test_rag_badges_carry_text_not_only_colour(page):
    assert re.search(r'data-rag-badge="amber">.*?3 Amber</span>', page)
    assert re.search(r'data-rag-badge="red">.*?Red</span>', page)


def test_tree_rows_follow_the_tree_in_order_with_rag_and_depth(dom):
    rows = dom.with_attr("data-depth")
    nodes = list(walk(SAMPLE["tree"]))
    assert [r["data-key"] for r in rows] == [n["key"] for n in nodes]
    by_key = {r["data-key"]: r for r in rows}
    assert by_key["jira:PAY-1"]["data-rag"] == "amber"
    assert by_key["jira:PAY-1"]["data-depth"] == "0"
    assert by_key["azure-devops:4711"]["data-rag"] == "red"
    assert by_key["azure-devops:4711"]["data-depth"] == "1"  # a Jira initiative owns it
    assert by_key["azure-devops:4713"]["data-depth"] == "2"
    assert "data-rag" not in by_key["azure-devops:4713"]  # a leaf has no rollup
    assert by_key["azure-devops:4713"]["data-open-findings"] == "3"
    assert by_key["jira:PAY-1"]["data-blocked"] == "2"
    assert by_key["azure-devops:4711"]["data-overdue"] == "1"


def test_progress_bars_show_percent_and_points(dom, page):
    progress = dom.with_attr("data-progress")
    parents = [n for n in walk(SAMPLE["tree"]) if n["rollup"]]
    assert [p["data-progress"] for p in progress] == [
        str(round(n["rollup"]["progress"] * 100)) for n in parents
    ]
    pay1 = progress[0]
    assert (pay1["data-progress"], pay1["data-points-done"], pay1["data-points-total"]) == (
        "45",
        "24.5",
        "55",
    )
    assert "24.5 / 55 pts" in page
    assert 'aria-label="Card tokenisation: 62% done"' in page


def test_due_and_forecast_show_the_slip(page):
    assert "Due 15 Dec 2026" in page and "Forecast 27 Dec 2026" in page
    assert "12 days late" in page
    assert "2 days early" in page
    assert "forecast 12 days past due" in page  # the rollup's own reasons


def test_compliance_by_project_rows(dom, page):
    rows = {r["data-project"]: r for r in dom.with_attr("data-project")}
    assert set(rows) == {"PAY", "WEB", "Fabrikam"}
    assert rows["Fabrikam"]["data-tracker"] == "azure-devops"
    assert rows["Fabrikam"]["data-items"] == "20"
    assert rows["Fabrikam"]["data-open-findings"] == "5"
    assert rows["WEB"]["data-noncompliant-items"] == "4"
    assert rows["WEB"]["data-compliant-pct"] == "77.8"
    assert 'aria-label="PAY: 87.5% compliant"' in page


def test_compliance_by_rule_sorted_by_open_findings_with_severity(dom):
    rules = dom.with_attr("data-rule")
    counts = [int(r["data-open-findings"]) for r in rules]
    assert counts == sorted(counts, reverse=True)
    assert rules[0]["data-rule"] == "story-estimated"
    severity = {r["data-rule"]: r["data-severity"] for r in rules}
    assert severity["blocked-escalation"] == "critical"


def test_worst_items_link_into_the_trackers(dom):
    worst = [a for a in dom.with_attr("data-max-severity")]
    assert [w["data-key"] for w in worst] == [w["key"] for w in SAMPLE["worst_items"]]
    hrefs = {a["href"] for _, a in dom.elements if "href" in a}
    assert "https://dev.azure.com/fabrikam/Fabrikam/_workitems/edit/4713" in hrefs
    assert "https://acme.atlassian.net/browse/PAY-1" in hrefs


def test_trend_chart_is_inline_svg_with_a_point_per_day(dom, page):
    dots = [a for tag, a in dom.elements if tag == "circle" and a.get("class") == "dot"]
    assert [d["data-value"] for d in dots] == ["22", "20", "21", "18", "16", "15", "13"]
    assert "max 22" in page and "min 13" in page
    assert "17 Nov" in page and "23 Nov" in page


def test_text_from_trackers_is_escaped():
    data = sample()
    data["tree"][0]["title"] = "<script>alert('x')</script>"
    data["tree"][0]["rollup"]["rag_reasons"] = ['"><img src=x onerror=alert(1)>']
    data["compliance_by_project"][0]["project"] = "<b>PAY</b>"
    data["trend"][0]["date"] = "<svg onload=alert(1)>"
    html = render_dashboard(data)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "<img" not in html and "<b>PAY" not in html and "<svg onload" not in html
    parse(html)  # and the page still nests properly
    # The sample's own "One-page checkout <beta>" title survives as text.
    assert "One-page checkout &lt;beta&gt;" in render_dashboard(SAMPLE)


def test_only_http_links_reach_an_href():
    data = sample()
    data["tree"][0]["url"] = "javascript:alert(1)"
    data["worst_items"][0]["url"] = " JAVASCRIPT:alert(1)"
    html = render_dashboard(data)
    assert "javascript:" not in html.lower()
    assert "Payments modernisation" in html  # still shown, just not linked
    assert safe_url("https://acme.atlassian.net/browse/PAY-1") == (
        "https://acme.atlassian.net/browse/PAY-1"
    )
    assert safe_url("data:text/html,x") is None
    assert safe_url(None) is None


@pytest.mark.parametrize(
    "data", [{}, {"tree": [], "totals": {"items": 0}}], ids=["nothing", "zeros"]
)
def test_an_empty_portfolio_renders_a_friendly_empty_state(data):
    html = render_dashboard(data)
    dom = parse(html)
    assert 'id="empty"' in html and "No items yet" in html and "pmo-bridge demo" in html
    assert "No trend yet" in html
    assert "Nothing out of line" in html
    assert dom.with_attr("data-depth") == []
    (totals,) = [a for a in dom.with_attr("id") if a["id"] == "totals"]
    assert totals["data-open-findings"] == "0"


def test_partial_and_malformed_snapshot_still_renders():
    data = {
        "totals": {"items": "7", "open_findings": None, "compliant_pct": float("nan")},
        "tree": [{"key": "jira:X-1", "rollup": {"progress": 7, "rag": "purple"}, "children": [1]}],
        "compliance_by_project": [{"project": "X", "compliant_pct": 140}],
        "compliance_by_rule": [{"rule": "r", "severity": "bogus"}],
        "worst_items": [{}],
        "trend": ["junk", {"date": "2026-11-20", "open_findings": "inf"}],
    }
    html = render_dashboard(data)
    dom = parse(html)
    (row,) = dom.with_attr("data-depth")
    assert "data-rag" not in row  # unknown RAG values are not shown as one
    assert dom.with_attr("data-progress")[0]["data-progress"] == "100"  # clamped
    assert dom.with_attr("data-project")[0]["data-compliant-pct"] == "100.0"
    assert dom.with_attr("data-rule")[0]["data-severity"] == "info"
    assert 'id="empty"' not in html  # 7 items exist, the tree just has no rollups yet


def test_view_counts_match_the_sample_totals():
    """The sample is internally consistent, so it can stand in for a real snapshot."""
    view = build_view(SAMPLE)
    rags = [r["rollup"]["rag"] for r in view["rows"] if r["rollup"]]
    assert {rag: rags.count(rag) for rag in ("green", "amber", "red")} == SAMPLE["totals"]["rag"]
    projects = SAMPLE["compliance_by_project"]
    assert sum(p["items"] for p in projects) == SAMPLE["totals"]["items"]
    assert sum(p["open_findings"] for p in projects) == SAMPLE["totals"]["open_findings"]
    assert sum(r["open_findings"] for r in SAMPLE["compliance_by_rule"]) == 13
    assert SAMPLE["trend"][-1]["open_findings"] == SAMPLE["totals"]["open_findings"]
    assert len(view["rows"]) == 21


# --- SVG helpers ------------------------------------------------------------------------------


def svg_numbers(svg: str) -> list[float]:
    return [float(v) for v in re.findall(r'\b(?:x|y|x1|x2|y1|y2|cx|cy|width)="(-?[\d.]+)"', svg)]


def test_trend_with_one_point_draws_a_dot_and_no_line():
    svg = str(trend_svg([{"date": "2026-11-23", "open_findings": 5}]))
    parse(svg)
    assert svg.count("<circle") == 1 and "<polyline" not in svg
    assert 'data-value="5"' in svg and "23 Nov" in svg
    assert "from 5 to 5" in svg  # the text summary for screen readers


def test_trend_all_zeros_stays_on_the_baseline_without_dividing_by_zero():
    svg = str(trend_svg([{"date": f"2026-11-{d}", "open_findings": 0} for d in range(17, 24)]))
    parse(svg)
    ys = {float(y) for y in re.findall(r'cy="([\d.]+)"', svg)}
    assert len(ys) == 1  # a flat line on the x-axis
    assert "nan" not in svg.lower() and "inf" not in svg.lower()
    assert "min " not in svg and "max " not in svg


def test_trend_points_stay_inside_the_viewbox_and_thin_out_labels():
    points = [{"date": f"2026-10-{d:02d}", "open_findings": d * 3 % 17} for d in range(1, 31)]
    svg = str(trend_svg(points, width=600, height=200))
    assert svg.count("<circle") == 30
    assert all(0 <= v <= 600 for v in svg_numbers(svg))
    ticks = re.findall(r'class="tick"[^>]*>([^<]+)<', svg)
    assert 4 <= len(ticks) - 2 <= 10  # date labels, beyond the two y-axis labels
    assert "1 Oct" in ticks and "30 Oct" in ticks
    assert 'aria-label="Open findings per day, 1 Oct 2026 to 30 Oct 2026' in svg


def test_trend_without_points_says_so():
    assert "No trend yet" in trend_svg([])


def meter_fill(svg) -> str:
    return re.search(r'class="meter-fill tone-(\w+)" width="([\d.]+)"', str(svg)).group(2)


def test_meter_clamps_and_escapes():
    assert meter_fill(meter_svg(-3, label="x")) == "0"
    assert meter_fill(meter_svg(0.5, label="x")) == "60"
    assert meter_fill(meter_svg(2.5, label="x")) == "120"
    assert meter_fill(meter_svg("nan", label="x")) == "0"
    # An unknown tone falls back rather than reaching the class attribute.
    assert 'class="meter-fill tone-progress"' in meter_svg(0.5, label="x", tone='red" onload="x')
    svg = str(meter_svg(0.1, label='<b>"quoted"</b>'))
    assert 'aria-label="&lt;b&gt;&#34;quoted&#34;&lt;/b&gt;"' in svg


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-12-15", "15 Dec 2026"),
        ("2026-11-23T10:00:00+00:00", "23 Nov 2026"),
        (None, "—"),
        ("soon", "soon"),
    ],
)
def test_nice_date(value, expected):
    assert nice_date(value) == expected


def test_format_number():
    assert (format_number(55), format_number(24.5), format_number("x")) == ("55", "24.5", "0")
