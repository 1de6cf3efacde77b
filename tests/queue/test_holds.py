"""Tracker-wide holds (webhooks/queue/holds.py) against mocked Jira HTTP: the hold is
checked before every request a client method sends, recorded the moment a 429 for the
whole site arrives, shared through the queue, and never shortened."""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

import huey
import pytest
import responses

from config.settings import TrackerConfig
from connector.errors import ItemNotFound, RateLimited
from connector.trackers import make_client
from webhooks.queue.holds import (
    HoldingClient,
    TrackerGate,
    TrackerHeld,
    held_until,
    hold_tracker,
)

URL = "https://acme.atlassian.net"
ENV = {"JIRA_EMAIL": "bot@acme.example", "JIRA_API_TOKEN": "s3cret-token"}
COMMENTS = re.compile(rf"{URL}/rest/api/3/issue/PAY-1/comment.*")
OTHER = f"{URL}/rest/api/3/issue/PAY-2"


def jira() -> TrackerConfig:
    return TrackerConfig(
        name="jira",
        kind="jira",
        url=URL,
        deployment="cloud",
        user_env="JIRA_EMAIL",
        token_env="JIRA_API_TOKEN",
        bot_account="bot-account-id",
    )


@pytest.fixture
def queue(tmp_path: Path) -> huey.Huey:
    return huey.SqliteHuey(name="holds", filename=str(tmp_path / "queue.db"))


def holding(queue: huey.Huey) -> HoldingClient:
    gate = TrackerGate(queue, "jira")
    return HoldingClient(make_client(jira(), environ=ENV, gate=gate), queue, "jira", gate)


def comment_page(start: int, total: int) -> str:
    comments = [{"id": str(start + n), "body": "a team comment"} for n in range(2)]
    return json.dumps({"startAt": start, "maxResults": 2, "total": total, "comments": comments})


def test_a_429_between_two_requests_of_one_method_stops_the_second(queue) -> None:
    """A method that pages (two GETs) had checked the hold once, before its first page:
    another thread's 429 arriving between the pages let the second page go out inside
    Retry-After. Now each request is checked as it is sent."""
    client = holding(queue)
    sent: list[str] = []

    other_saw: list[Exception] = []

    def other_call() -> None:
        try:
            client.get_item("PAY-2")
        except RateLimited as exc:
            other_saw.append(exc)

    def first_page(request):
        sent.append(request.url)
        other = threading.Thread(target=other_call)
        other.start()  # another worker thread, answered 429 for the whole site
        other.join()
        return 200, {}, comment_page(0, total=4)

    with responses.RequestsMock() as mock:
        mock.add_callback(responses.GET, COMMENTS, callback=first_page)
        mock.add(responses.GET, OTHER, status=429, headers={"Retry-After": "30"})
        with pytest.raises(TrackerHeld):
            client.find_managed_comment("PAY-1")
        comment_calls = [c for c in mock.calls if "/comment" in c.request.url]
    assert len(sent) == 1 and len(comment_calls) == 1  # the second page never went out
    assert [type(e) for e in other_saw] == [RateLimited]
    assert 29 < held_until(queue, "jira") - time.time() <= 30


def test_the_hold_is_recorded_when_the_429_arrives_not_when_the_method_returns(queue) -> None:
    """By the time the 429 response reaches the client's response hook the hold is in
    force for every thread of the process and in the queue for the other processes,
    before the library has even turned the answer into an exception."""
    client = holding(queue)
    seen: list[float | None] = []
    with responses.RequestsMock() as mock:
        mock.add(responses.GET, OTHER, status=429, headers={"Retry-After": "5"})
        real = client._client._jira._session.hooks["response"]

        def look(response, *args, **kwargs):
            seen.append(held_until(queue, "jira"))

        real.append(look)  # runs after the client's own hook
        with pytest.raises(RateLimited):
            client.get_item("PAY-2")
        with pytest.raises(TrackerHeld):
            client.get_item("PAY-2")  # not sent: only the first call reached the mock
        assert len(mock.calls) == 1
    assert seen and seen[0] is not None and seen[0] > time.time() + 4


def test_a_hold_made_in_another_process_stops_calls_here(queue) -> None:
    client = holding(queue)
    hold_tracker(queue, "jira", 20)  # as another worker process would, through the queue
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.GET, OTHER, json={})
        with pytest.raises(TrackerHeld) as held:
            client.get_item("PAY-2")
        assert len(mock.calls) == 0
    assert 19 < held.value.retry_after <= 20


def test_a_shorter_retry_after_never_shortens_a_hold(queue) -> None:
    hold_tracker(queue, "jira", 30)
    hold_tracker(queue, "jira", 1)
    assert held_until(queue, "jira") - time.time() > 29
    gate = TrackerGate(queue, "jira")
    gate.rate_limited(2)
    assert held_until(queue, "jira") - time.time() > 29
    with pytest.raises(TrackerHeld):
        gate.check()


def test_calls_go_out_again_once_the_hold_has_run_out(queue) -> None:
    client = holding(queue)
    hold_tracker(queue, "jira", 0.2)
    time.sleep(0.25)
    with responses.RequestsMock() as mock:
        mock.add(responses.GET, OTHER, status=404, json={"errorMessages": ["gone"]})
        with pytest.raises(ItemNotFound):  # sent, and answered
            client.get_item("PAY-2")
