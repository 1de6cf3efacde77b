"""`/api/portfolio` in pages (offset, limit; bounded), and the CSV export of a filtered
view holding every matching row however many pages the JSON takes."""

from __future__ import annotations

import csv
import io

import pytest

from tests.dashboard.test_filters import service  # noqa: F401  (the module's portfolio)
from webhooks.dashboard.filter import walk
from webhooks.dashboard.paging import DEFAULT_LIMIT, MAX_LIMIT


def rows(data) -> list[str]:
    """The page's own rows: not the copies of ancestors shown on an earlier page."""
    return [n["key"] for n in walk(data["tree"]) if not n.get("continued")]


def get(service, query: str):  # noqa: F811
    answer = service.client.get(f"/api/portfolio?{query}")
    assert answer.status_code == 200, answer.get_json()
    return answer


@pytest.mark.parametrize("query", ["", "project=PAY", "noncompliant=1&tracker=jira"])
def test_pages_put_together_are_the_whole_view(service, query):  # noqa: F811
    whole = get(service, query).get_json()
    assert whole["paging"] == {"offset": 0, "limit": DEFAULT_LIMIT, "rows": len(rows(whole)),
                               "next": None}  # fmt: skip
    seen, following, pages = [], f"{query}&limit=4".lstrip("&"), 0
    while following is not None:
        answer = get(service, following)
        page = answer.get_json()
        assert len(rows(page)) <= 4 and page["totals"] == whole["totals"]
        seen += rows(page)
        following = page["paging"]["next"]
        link = answer.headers.get("Link")
        assert (link is None) == (following is None)
        if following:
            assert link == f'</api/portfolio?{following}>; rel="next"'
        pages += 1
    assert seen == rows(whole)
    assert pages == -(-len(seen) // 4)


def test_a_row_whose_parent_is_on_an_earlier_page_comes_with_its_ancestors(service):  # noqa: F811
    page = get(service, "offset=3&limit=2").get_json()
    (root,) = page["tree"]
    assert root["key"] == "jira:PAY-1" and root["continued"] is True
    everything = rows(get(service, "").get_json())
    assert rows(page) == everything[3:5]
    parent = next(n for n in walk(page["tree"]) if n["key"] == "jira:PAY-10")
    assert parent["continued"] is True  # PAY-11 (row 2) was on the first page, under it
    assert [c["key"] for c in parent["children"]] == everything[3:5]
    assert page["paging"]["offset"] == 3 and page["paging"]["next"] == "offset=5&limit=2"


def test_a_filtered_page_keeps_its_filter_in_the_next_link(service):  # noqa: F811
    page = get(service, "project=PAY&limit=3").get_json()
    assert page["paging"]["next"] == "project=pay&offset=3&limit=3"
    assert page["paging"]["rows"] == len(
        [n for n in walk(get(service, "project=PAY").get_json()["tree"])]
    )


def test_the_csv_holds_every_matching_row_whatever_the_json_page(service):  # noqa: F811
    text = service.client.get("/api/portfolio.csv?project=PAY&limit=3&offset=2")
    paged = [r["key"] for r in csv.DictReader(io.StringIO(text.get_data(as_text=True)))]
    whole = service.client.get("/api/portfolio.csv?project=PAY").get_data(as_text=True)
    every = [r["key"] for r in csv.DictReader(io.StringIO(whole))]
    matched = [n["key"] for n in walk(get(service, "project=PAY").get_json()["tree"])
               if n["matched"]]  # fmt: skip
    assert every == matched and len(every) > 5  # no default page for the CSV
    assert paged == every[2:5]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (f"limit={MAX_LIMIT + 1}", f"limit: must be between 1 and {MAX_LIMIT}"),
        ("limit=0", "limit: must be between 1 and"),
        ("offset=-1", "offset: expected a whole number, got '-1'"),
        ("offset=ten", "offset: expected a whole number"),
        ("limit=1e3", "limit: expected a whole number"),
        ("offset=" + "9" * 40, "offset: expected a whole number"),
    ],
)
def test_a_bad_page_is_a_clear_400(service, query, message):  # noqa: F811
    for path in ("/api/portfolio", "/api/portfolio.json", "/api/portfolio.csv"):
        answer = service.client.get(f"{path}?{query}")
        assert answer.status_code == 400, path
        assert message in answer.get_json()["error"]


def test_an_offset_past_the_end_is_an_empty_last_page(service):  # noqa: F811
    page = get(service, "offset=1000").get_json()
    assert page["tree"] == [] and page["paging"]["next"] is None
    assert page["paging"]["rows"] == len(rows(get(service, "").get_json()))
