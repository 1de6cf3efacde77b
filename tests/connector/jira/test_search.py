"""Jira Cloud audits at tracker speed: the enhanced search asked for ids only (its
largest pages), then the issues by POST /rest/api/3/issue/bulkfetch, 100 ids a call,
several calls in flight (bounded by `read_concurrency`), with only the fields the
mapping reads; a 429's Retry-After holds every call. Each request is checked against
the vendor's description."""

from __future__ import annotations

import json
import threading
import time

import pytest
import responses

from connector.errors import RateLimited
from connector.jira.item import issue_fields
from connector.trackers import make_client
from tests.connector.jira.test_client import ENV, api, issue_json, sent, tracker

JQL = "project = PAY ORDER BY key"


def issue(number: int) -> dict:
    raw = issue_json(f"PAY-{number}")
    return {**raw, "id": str(10000 + number)}


class BulkFetch:
    """issue/bulkfetch on a mock: answers the ids asked for, counts calls in flight."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.bodies: list[dict] = []
        self.in_flight = self.most_in_flight = 0
        self.times: list[float] = []
        self._lock = threading.Lock()

    def __call__(self, request):
        body = json.loads(request.body)
        with self._lock:
            self.bodies.append(body)
            self.times.append(time.monotonic())
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        time.sleep(self.delay)
        with self._lock:
            self.in_flight -= 1
        ids = sorted(body["issueIdsOrKeys"], key=int)
        issues = [issue(int(i) - 10000) for i in ids]
        return 200, {}, json.dumps({"issues": issues, "issueErrors": []})


@pytest.fixture
def mock():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        yield rsps


def ids_pages(mock, count: int, page: int) -> None:
    """The enhanced search's id-only pages over PAY-1..count, chained by token."""
    for start in range(0, count, page):
        body: dict = {"issues": [{"id": str(10000 + n)} for n in range(start + 1, min(start + page, count) + 1)]}  # fmt: skip
        if start + page < count:
            body["nextPageToken"] = f"tok-{start + page}"
        else:
            body["isLast"] = True
        mock.post(api("3", "search/jql"), json=body)


def test_ids_in_the_largest_pages_then_bulk_fetches_of_100_with_the_mapped_fields(mock):
    mock.post(api("3", "search/approximate-count"), json={"count": 250})
    ids_pages(mock, 250, page=200)  # Jira may give fewer than asked: follow the token
    fetch = BulkFetch()
    mock.add_callback("POST", api("3", "issue/bulkfetch"), callback=fetch)
    client = make_client(tracker("cloud", read_concurrency=3), environ=ENV)

    total, items = client.search(JQL)
    assert total == 250
    assert [i.native_id for i in items] == [f"PAY-{n}" for n in range(1, 251)]

    searches = [sent(c) for c in mock.calls if c.request.url.endswith("search/jql")]
    assert [s[3] for s in searches] == [
        {"jql": JQL, "maxResults": 5000},  # no fields: ids only, the largest page
        {"jql": JQL, "maxResults": 5000, "nextPageToken": "tok-200"},
    ]
    for call in mock.calls:
        sent(call)  # every request as the vendor documents it
    assert sorted(len(b["issueIdsOrKeys"]) for b in fetch.bodies) == [50, 100, 100]
    assert {tuple(b["fields"]) for b in fetch.bodies} == {tuple(issue_fields(tracker()))}
    assert "*all" not in fetch.bodies[0]["fields"]
    assert "customfield_10016" in fetch.bodies[0]["fields"]  # the configured estimate


def test_bulk_fetches_run_in_parallel_up_to_the_configured_bound(mock):
    mock.post(api("3", "search/approximate-count"), json={"count": 1000})
    ids_pages(mock, 1000, page=5000)
    fetch = BulkFetch(delay=0.2)
    mock.add_callback("POST", api("3", "issue/bulkfetch"), callback=fetch)
    client = make_client(tracker("cloud", read_concurrency=4), environ=ENV)

    started = time.monotonic()
    _total, items = client.search(JQL)
    assert len(list(items)) == 1000
    elapsed = time.monotonic() - started

    assert len(fetch.bodies) == 10
    assert fetch.most_in_flight == 4  # never more than configured, and it did overlap
    assert elapsed < 10 * 0.2  # sequential would take 2 s


def test_a_429_holds_every_bulk_fetch_for_its_retry_after_then_retries(mock):
    mock.post(api("3", "search/approximate-count"), json={"count": 300})
    ids_pages(mock, 300, page=5000)
    throttled: list[float] = []

    def throttle_once(request):
        throttled.append(time.monotonic())
        return 429, {"Retry-After": "1"}, json.dumps({"errorMessages": ["Rate limit exceeded"]})

    fetch = BulkFetch()
    mock.add_callback("POST", api("3", "issue/bulkfetch"), callback=throttle_once)
    mock.add_callback("POST", api("3", "issue/bulkfetch"), callback=fetch)
    client = make_client(tracker("cloud", read_concurrency=1), environ=ENV)

    _total, items = client.search(JQL)
    assert [i.native_id for i in items] == [f"PAY-{n}" for n in range(1, 301)]
    assert len(throttled) == 1 and len(fetch.bodies) == 3
    assert min(fetch.times) - throttled[0] >= 1.0  # nothing sent inside the Retry-After


def test_a_retry_after_beyond_two_minutes_fails_the_read(mock):
    mock.post(api("3", "search/approximate-count"), json={"count": 1})
    ids_pages(mock, 1, page=5000)
    mock.post(api("3", "issue/bulkfetch"), status=429, headers={"Retry-After": "3600"})
    client = make_client(tracker("cloud"), environ=ENV)
    _total, items = client.search(JQL)
    with pytest.raises(RateLimited):
        list(items)


def test_without_the_count_endpoint_the_total_is_unknown(mock):
    mock.post(api("3", "search/approximate-count"), status=404, json={"errorMessages": []})
    ids_pages(mock, 1, page=5000)
    mock.add_callback("POST", api("3", "issue/bulkfetch"), callback=BulkFetch())
    client = make_client(tracker("cloud"), environ=ENV)
    total, items = client.search("project = PAY")
    assert total == 0
    assert [i.native_id for i in items] == ["PAY-1"]
    assert len(mock.calls) == 3
