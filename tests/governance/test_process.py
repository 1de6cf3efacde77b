"""The worker's quick paths (webhooks/governance/process.py, with the batch task of
webhooks/worker/tasks.py): edits a later one in the same batch supersedes, a delivery
that changes nothing, a team comment no rule can see. Real store and queue (SQLite),
Jira's HTTP mocked with `responses`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import responses

from config.settings import TrackerConfig
from tests.support.service import make_settings
from tests.support.worker_helpers import jira_unowned
from webhooks.worker.runtime import Runtime

SITE = "https://zulipp.atlassian.net"
API = f"{SITE}/rest/api/3"
# One rule, reading the assignee and status only: a comment cannot change what it says.
PACK = """\
version: 1
name: Quick paths
rules:
  - id: owner-in-progress
    severity: high
    when: {status_category: [in_progress]}
    require:
      - {field: assignee, present: true}
"""


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch) -> Runtime:
    monkeypatch.setenv("TEST_JIRA_EMAIL", "pmo-bot@example.com")
    monkeypatch.setenv("TEST_JIRA_TOKEN", "api-token")
    pack = tmp_path / "pack.yaml"
    pack.write_text(PACK)
    jira = TrackerConfig(
        name="jira",
        kind="jira",
        url=SITE,
        deployment="cloud",
        user_env="TEST_JIRA_EMAIL",
        token_env="TEST_JIRA_TOKEN",
        bot_account="pmo-bot",
    )
    settings = make_settings(
        tmp_path, trackers={"jira": jira}, rules=(str(pack),), replay_window_seconds=0
    )
    built = Runtime.from_settings(settings)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        for key in ("TEST-1", "TEST-2"):  # a first write-back: labels and a new comment
            mock.get(f"{API}/issue/{key}/comment", json={"comments": [], "total": 0, "startAt": 0})
            mock.put(f"{API}/issue/{key}", status=204)
            mock.post(f"{API}/issue/{key}/comment", status=201, json={"id": "10500"})
        built.mock = mock
        yield built
    built.huey.flush()
    built.store.close()


def receive(runtime: Runtime, payload: dict, delivery: str, event: str = "") -> int:
    body = json.dumps(payload).encode()
    native = event or payload.get("webhookEvent", "jira:issue_updated")
    row = runtime.store.record_delivery("jira", delivery, native, body, status="queued")
    assert row is not None
    return row


def processed(runtime: Runtime, monkeypatch) -> list[int]:
    seen: list[int] = []
    real = runtime.tasks.processor.process

    def spy(record, event=None):
        seen.append(record.id)
        return real(record, event)

    monkeypatch.setattr(runtime.tasks.processor, "process", spy)
    return seen


def test_an_edit_superseded_later_in_the_same_batch_is_done_without_work(runtime, monkeypatch):
    seen = processed(runtime, monkeypatch)
    older = receive(runtime, jira_unowned("TEST-1", minute=32), "d-1")
    other = receive(runtime, jira_unowned("TEST-2", minute=33), "d-2")
    newer = receive(runtime, jira_unowned("TEST-1", minute=40), "d-3")

    runtime.tasks._process_batch([older, other, newer])

    assert seen == [other, newer]  # the older edit of TEST-1 was never processed
    rows = {r.id: r for r in runtime.store.get_deliveries([older, other, newer])}
    assert {r.status for r in rows.values()} == {"done"}
    assert [rows[i].attempts for i in (older, other, newer)] == [1, 1, 1]
    stored = runtime.store.get_item("jira:TEST-1")
    assert stored is not None and stored.updated.minute == 40
    assert runtime.store.open_findings("jira:TEST-1")


def test_an_older_edit_after_a_newer_one_in_the_batch_is_stale_not_superseding(
    runtime, monkeypatch
):
    seen = processed(runtime, monkeypatch)
    newer = receive(runtime, jira_unowned("TEST-1", minute=40), "d-1")
    older = receive(runtime, jira_unowned("TEST-1", minute=32), "d-2")  # arrived late

    runtime.tasks._process_batch([newer, older])

    assert seen == [newer, older]  # only a later delivery supersedes
    assert runtime.store.get_item("jira:TEST-1").updated.minute == 40
    statuses = {r.status for r in runtime.store.get_deliveries([newer, older])}
    assert statuses == {"done"}


def test_a_repeat_that_changes_nothing_is_one_write_and_one_attempt(runtime):
    first = receive(runtime, jira_unowned("TEST-1", minute=32), "d-1")
    runtime.tasks._process_batch([first])
    findings = runtime.store.open_findings("jira:TEST-1")
    written = [c for c in runtime.mock.calls if c.request.method != "GET"]
    assert written  # the first delivery's managed comment
    again = receive(runtime, jira_unowned("TEST-1", minute=33), "d-2")

    outcome = runtime.tasks.processor.process(runtime.store.get_delivery(again))

    assert outcome == "unchanged"
    assert [c for c in runtime.mock.calls if c.request.method != "GET"] == written
    row = runtime.store.get_delivery(again)
    assert (row.status, row.attempts) == ("done", 1)
    assert runtime.store.get_item("jira:TEST-1").updated.minute == 33  # stored all the same
    assert runtime.store.open_findings("jira:TEST-1") == findings


def comment_created(key: str = "TEST-1") -> dict:
    number = int(key.rsplit("-", 1)[1])
    return {
        "timestamp": 1485800000000,
        "webhookEvent": "comment_created",
        "comment": {
            "id": "10077",
            "self": f"https://x.atlassian.net/rest/api/2/issue/{10000 + number - 1}/comment/10077",
            "body": "A team member's note",
            "author": {"accountId": "someone", "displayName": "Someone"},
        },
        "issue": {"id": str(10000 + number - 1), "key": key, "fields": {"summary": "x"}},
    }


def test_a_team_comment_on_a_known_item_is_done_without_fetching(runtime):
    runtime.tasks._process_batch([receive(runtime, jira_unowned("TEST-1", minute=32), "d-1")])
    row = receive(runtime, comment_created(), "d-2", "comment_created")

    outcome = runtime.tasks.processor.process(runtime.store.get_delivery(row))

    assert outcome == "comment"
    assert not [
        c
        for c in runtime.mock.calls
        if c.request.method == "GET" and "comment" not in c.request.url
    ]
    assert runtime.store.get_delivery(row).status == "done"
    assert runtime.store.get_item("jira:TEST-1").updated.minute == 32
