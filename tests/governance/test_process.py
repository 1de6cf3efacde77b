"""The worker's quick paths (webhooks/governance/process.py, with the batch task of
webhooks/worker/tasks.py): edits a later one in the same batch supersedes, a delivery
that changes nothing, a team comment no rule can see. Real store and queue (SQLite),
Jira's HTTP mocked with `responses`."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import replace
from pathlib import Path

import pytest
import responses

from config.settings import TrackerConfig
from tests.support.service import make_settings
from tests.support.worker_helpers import jira_unowned, store_as_intake
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
        built.site_comments = {}  # (issue key, comment id) -> ADF body, as the site keeps it
        for key in ("TEST-1", "TEST-2"):  # a first write-back: labels and a new comment
            mock.get(f"{API}/issue/{key}/comment", json={"comments": [], "total": 0, "startAt": 0})
            mock.put(f"{API}/issue/{key}", status=204)
            mock.add_callback(
                "POST", f"{API}/issue/{key}/comment", callback=_keep(built.site_comments, key)
            )
            url = re.compile(rf"{re.escape(API)}/issue/{key}/comment/(\d+)$")
            mock.add_callback("GET", url, callback=_read(built.site_comments, key))
            mock.add_callback("PUT", url, callback=_keep(built.site_comments, key))
        built.mock = mock
        yield built
    built.huey.flush()
    built.store.close()


def _keep(comments: dict, key: str):
    """POST .../comment (id 10500) or PUT .../comment/{id}: the body kept."""

    def callback(request):
        comment_id = request.path_url.split("?")[0].rsplit("/", 1)[1]
        comment_id = "10500" if comment_id == "comment" else comment_id
        comments[(key, comment_id)] = json.loads(request.body)["body"]
        return 201 if request.method == "POST" else 200, {}, json.dumps({"id": comment_id})

    return callback


def _read(comments: dict, key: str):
    """GET .../comment/{id}: the comment as kept, 404 once deleted."""

    def callback(request):
        comment_id = request.path_url.split("?")[0].rsplit("/", 1)[1]
        body = comments.get((key, comment_id))
        if body is None:
            return 404, {}, json.dumps({"errorMessages": ["Can not find a comment"]})
        answer = {"id": comment_id, "body": body, "author": {"accountId": "pmo-bot"}}
        return 200, {}, json.dumps(answer)

    return callback


def receive(runtime: Runtime, payload: dict, delivery: str) -> int:
    return store_as_intake(runtime, payload, delivery)


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


def test_an_edit_superseded_by_one_waiting_in_a_later_batch_is_done_without_work(
    runtime, monkeypatch
):
    seen = processed(runtime, monkeypatch)
    older = receive(runtime, jira_unowned("TEST-1", minute=32), "d-1")
    newer = receive(runtime, jira_unowned("TEST-1", minute=40), "d-2")  # another task's

    runtime.tasks._process_batch([older])
    assert seen == []
    assert runtime.store.get_item("jira:TEST-1") is None  # nothing done for the older one
    runtime.tasks._process_delivery(newer)

    assert seen == [newer]
    assert runtime.store.get_item("jira:TEST-1").updated.minute == 40
    assert {r.status for r in runtime.store.get_deliveries([older, newer])} == {"done"}


def test_an_edit_is_processed_when_the_later_one_is_finished_or_the_bots(runtime, monkeypatch):
    seen = processed(runtime, monkeypatch)
    newer = receive(runtime, jira_unowned("TEST-1", minute=40), "d-1")
    runtime.store.finish_delivery(newer)  # finished: it supersedes nothing any more
    bots = jira_unowned("TEST-2", minute=40)
    bots["user"] = {"accountId": "pmo-bot", "displayName": "PMO bot"}
    older = receive(runtime, jira_unowned("TEST-1", minute=32), "d-2")
    also_older = receive(runtime, jira_unowned("TEST-2", minute=32), "d-3")
    receive(runtime, bots, "d-4")  # the service's own account never supersedes

    runtime.tasks._process_batch([older, also_older])

    assert seen == [older, also_older]


def test_a_deletion_between_stops_superseding(runtime, monkeypatch):
    seen = processed(runtime, monkeypatch)
    older = receive(runtime, jira_unowned("TEST-1", minute=32), "d-1")
    deleted = dict(jira_unowned("TEST-1", minute=35), webhookEvent="jira:issue_deleted")
    receive(runtime, deleted, "d-2")
    receive(runtime, jira_unowned("TEST-1", minute=40), "d-3")

    runtime.tasks._process_batch([older])

    assert seen == [older]


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
    row = receive(runtime, comment_created(), "d-2")

    outcome = runtime.tasks.processor.process(runtime.store.get_delivery(row))

    assert outcome == "comment"
    assert not [
        c
        for c in runtime.mock.calls
        if c.request.method == "GET" and "comment" not in c.request.url
    ]
    assert runtime.store.get_delivery(row).status == "done"
    assert runtime.store.get_item("jira:TEST-1").updated.minute == 32


MANAGED = f"{API}/issue/TEST-1/comment/10500"


def calls(runtime: Runtime, method: str, url: str) -> list:
    return [
        c
        for c in runtime.mock.calls
        if c.request.method == method and c.request.url.split("?")[0] == url
    ]


def known_with_a_comment(runtime: Runtime) -> None:
    """TEST-1 governed once (its managed comment written), and fetchable."""
    payload = jira_unowned("TEST-1", minute=32)
    runtime.mock.get(re.compile(rf"{re.escape(API)}/issue/TEST-1(\?.*)?$"), json=payload["issue"])
    runtime.tasks._process_batch([receive(runtime, payload, "d-1")])
    assert runtime.store.get_ledger("jira:TEST-1").comment_text_hash is not None


def changed_records(caplog) -> list[str]:
    return [r.reason for r in caplog.records if r.msg == "writeback.managed_comment_changed"]


def test_a_team_comment_reads_the_managed_comment_by_id_and_nothing_else(runtime):
    known_with_a_comment(runtime)
    before = len(runtime.mock.calls)

    row = receive(runtime, comment_created(), "d-2")
    outcome = runtime.tasks.processor.process(runtime.store.get_delivery(row))

    assert outcome == "comment"
    assert [(c.request.method, c.request.url) for c in runtime.mock.calls[before:]] == [
        ("GET", MANAGED)
    ]


def test_a_managed_comment_found_edited_on_a_team_comment_is_restored_once(runtime, caplog):
    known_with_a_comment(runtime)
    original = runtime.site_comments[("TEST-1", "10500")]
    edited = {"version": 1, "type": "doc", "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": "I removed this"}]}
    ]}  # fmt: skip
    runtime.site_comments[("TEST-1", "10500")] = edited  # the PM's edit, no event for it

    with caplog.at_level(logging.WARNING, logger="webhooks.governance.comment_guard"):
        row = receive(runtime, comment_created(), "d-2")
        outcome = runtime.tasks.processor.process(runtime.store.get_delivery(row))

    assert outcome != "comment"  # governed: restored in place
    assert len(calls(runtime, "PUT", MANAGED)) == 1
    assert runtime.site_comments[("TEST-1", "10500")] == original
    assert len(calls(runtime, "GET", MANAGED)) == 1  # read once, not again while governing
    assert changed_records(caplog) == ["managed comment found edited on reading it: restored"]
    assert runtime.store.get_delivery(row).status == "done"

    # the next team comment reads it as written: nothing written, no loop
    row = receive(runtime, comment_created(), "d-3")
    assert runtime.tasks.processor.process(runtime.store.get_delivery(row)) == "comment"
    assert len(calls(runtime, "PUT", MANAGED)) == 1
    assert len(calls(runtime, "GET", MANAGED)) == 2
    assert len(changed_records(caplog)) == 1


def test_a_managed_comment_found_deleted_on_a_team_comment_is_re_created(runtime, caplog):
    known_with_a_comment(runtime)
    posted = len(calls(runtime, "POST", f"{API}/issue/TEST-1/comment"))
    del runtime.site_comments[("TEST-1", "10500")]

    with caplog.at_level(logging.WARNING, logger="webhooks.governance.comment_guard"):
        row = receive(runtime, comment_created(), "d-2")
        runtime.tasks.processor.process(runtime.store.get_delivery(row))

    assert len(calls(runtime, "POST", f"{API}/issue/TEST-1/comment")) == posted + 1
    assert ("TEST-1", "10500") in runtime.site_comments
    assert changed_records(caplog) == ["managed comment found deleted on reading it: re-created"]
    ledger = runtime.store.get_ledger("jira:TEST-1")
    assert ledger.comment_id == "10500" and ledger.comment_text_hash is not None


def test_a_ledger_without_the_text_hash_is_checked_by_governing_then_keeps_it(runtime):
    known_with_a_comment(runtime)
    ledger = runtime.store.get_ledger("jira:TEST-1")
    runtime.store.save_ledger("jira:TEST-1", replace(ledger, comment_text_hash=None))
    writes = [c for c in runtime.mock.calls if c.request.method != "GET"]

    row = receive(runtime, comment_created(), "d-2")
    outcome = runtime.tasks.processor.process(runtime.store.get_delivery(row))

    assert outcome != "comment"  # the item fetched and governed, the comment read there
    assert len(calls(runtime, "GET", MANAGED)) == 1
    assert [c for c in runtime.mock.calls if c.request.method != "GET"] == writes
    assert runtime.store.get_ledger("jira:TEST-1") == ledger  # its text hash kept now
    row = receive(runtime, comment_created(), "d-3")
    assert runtime.tasks.processor.process(runtime.store.get_delivery(row)) == "comment"
