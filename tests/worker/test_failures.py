"""The worker's retry policy end to end against a mocked Jira Cloud: transient failures are
retried until the event is applied exactly once, rate limits are waited out for as long
as Jira asks (for one issue or for the whole site), permanent failures go to the
dead-letter store, where the CLI and the admin API show them and `replay` brings them
back once the tracker has recovered."""

from __future__ import annotations

import json
import re
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import pytest
import requests
import responses
import yaml

from connector.errors import RateLimited
from tests.support.queue_helpers import drain
from tests.support.service import SERVICE_PACK, jira_headers, make_settings
from tests.support.spec_check import assert_documented
from tests.support.worker_helpers import JIRA_API, JIRA_BOT, JIRA_SITE, jira_tracker, jira_unowned
from webhooks.commands import main as cli
from webhooks.governance.comments import MARKER
from webhooks.http.app import create_app
from webhooks.queue.holds import tracker_hold_key

SECRET = "jira-failures-secret"
ADMIN_TOKEN = "admin-failures-token"
LANDS_THEN_TIMES_OUT = "lands-then-times-out"


@dataclass(frozen=True)
class Call:
    at: float  # time.monotonic()
    op: str  # labels | labels_comment | comments | comment | edit_comment
    key: str
    status: int | None  # None: no answer (connection error, timeout)


class FakeJira:
    """Jira Cloud behind `responses`, with state (labels and comments per issue), so a
    retried write sees what an earlier attempt already did. `script(op, key, ...)` sets
    the answers for the next calls of one operation on one issue (`key="*"`: any issue);
    an answer is (status, headers), an exception to raise, or LANDS_THEN_TIMES_OUT. An
    issue edit that also adds a comment (`update.comment`) is the "labels" route, recorded
    as "labels_comment"."""

    ROUTES = (
        ("PUT", "labels", r"/issue/(?P<key>[A-Z]+-\d+)(\?|$)"),
        ("GET", "comments", r"/issue/(?P<key>[A-Z]+-\d+)/comment(\?|$)"),
        ("POST", "comment", r"/issue/(?P<key>[A-Z]+-\d+)/comment(\?|$)"),
        ("PUT", "edit_comment", r"/issue/(?P<key>[A-Z]+-\d+)/comment/(?P<id>\d+)(\?|$)"),
    )

    def __init__(self, rsps: responses.RequestsMock) -> None:
        self.rsps = rsps
        self.calls: list[Call] = []
        self.labels: dict[str, set[str]] = defaultdict(set)
        self.comments: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.scripts: dict[tuple[str, str], list[Any]] = defaultdict(list)
        self._next_id = 10500
        for method, op, path in self.ROUTES:
            pattern = re.compile(re.escape(JIRA_API) + path)
            rsps.add_callback(method, pattern, callback=self._callback(op, pattern))

    def script(self, op: str, key: str, *answers: Any) -> None:
        self.scripts[(op, key)].extend(answers)

    def ops(self, key: str | None = None) -> list[tuple[str, int | None]]:
        return [(c.op, c.status) for c in self.calls if key is None or c.key == key]

    def count(self, op: str, key: str, status: int | None = None) -> int:
        return sum(
            1 for c in self.calls if (c.op, c.key) == (op, key) and (status in (None, c.status))
        )

    def check_documented(self) -> None:
        for call in self.rsps.calls:
            assert_documented(call.request, "jira", JIRA_SITE)

    def _callback(self, op: str, pattern: re.Pattern[str]):
        def callback(request: Any) -> tuple[int, dict[str, str], str]:
            match = pattern.match(request.url)
            key = match.group("key")
            queue = self.scripts[(op, key)] or self.scripts[(op, "*")]
            answer = queue.pop(0) if queue else None
            at = time.monotonic()
            body = json.loads(request.body) if request.body else {}
            called = op
            if op == "labels" and "comment" in body.get("update", {}):
                called = "labels_comment"  # an edit that adds a comment too
            if isinstance(answer, BaseException):
                self.calls.append(Call(at, called, key, None))
                raise answer
            if isinstance(answer, tuple):
                status, headers = answer
                self.calls.append(Call(at, called, key, status))
                return status, headers, json.dumps({"errorMessages": ["scripted failure"]})
            status, answered = self._apply(called, key, match, request)
            if answer == LANDS_THEN_TIMES_OUT:
                self.calls.append(Call(at, called, key, None))
                raise requests.exceptions.ReadTimeout("read timed out (scripted)")
            self.calls.append(Call(at, called, key, status))
            text = json.dumps(answered) if answered else ""
            return status, {"Content-Type": "application/json"}, text

        return callback

    def _add_comment(self, key: str, body: Any) -> dict[str, Any]:
        self._next_id += 1
        comment = {"id": str(self._next_id), "body": body, "author": {"accountId": JIRA_BOT}}
        self.comments[key].append(comment)
        return comment

    def _apply(self, op: str, key: str, match: re.Match[str], request: Any) -> tuple[int, Any]:
        body = json.loads(request.body) if request.body else {}
        if op in ("labels", "labels_comment"):
            for change in body["update"].get("labels", []):
                if "add" in change:
                    self.labels[key].add(change["add"])
                else:
                    self.labels[key].discard(change["remove"])
            for change in body["update"].get("comment", []):
                self._add_comment(key, change["add"]["body"])
            return 204, None
        if op == "comments":
            comments = list(self.comments[key])
            if "orderBy=-created" in request.url:  # newest first
                comments.reverse()
            if "maxResults=1" in request.url:
                comments = comments[:1]
            return 200, {
                "startAt": 0,
                "maxResults": 100,
                "total": len(comments),
                "comments": comments,
            }
        if op == "comment":
            comment = self._add_comment(key, body["body"])
            return 201, {"id": comment["id"]}
        comment = next(c for c in self.comments[key] if c["id"] == match.group("id"))
        comment["body"] = body["body"]
        return 200, {"id": comment["id"]}


@pytest.fixture
def env(monkeypatch):
    monkeypatch.setenv("TEST_JIRA_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("TEST_JIRA_EMAIL", "pmo-bot@example.com")
    monkeypatch.setenv("TEST_JIRA_TOKEN", "api-token")
    monkeypatch.setenv("PMO_BRIDGE_ADMIN_TOKEN", ADMIN_TOKEN)


@pytest.fixture
def jira():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield FakeJira(rsps)


def service(tmp_path, **overrides):
    settings = make_settings(
        tmp_path, trackers={"jira": jira_tracker()}, rollup_delay_seconds=0.0, **overrides
    )
    app = create_app(settings=settings)
    runtime = app.extensions["pmo_bridge"]
    if settings.redis_url:
        # drain() polls; a blocking BRPOP would idle a second on every empty read.
        runtime.huey.storage.blocking = False
    return app, runtime


@pytest.fixture
def sqlite_service(tmp_path, env):
    return service(tmp_path)


def deliver(app, payload, delivery):
    """Post a delivery and relay it onto the queue, as a running worker's relay would."""
    body = json.dumps(payload).encode()
    answer = app.test_client().post(
        "/webhooks/jira", data=body, headers=jira_headers(body, SECRET, delivery)
    )
    assert answer.status_code == 202, answer.get_json()
    assert app.extensions["pmo_bridge"].relay_received() == 1


def first_delivery(runtime):
    """The one delivery of a fresh store (row ids start at 1)."""
    return runtime.store.get_delivery(1)


def run_one_task(runtime) -> None:
    huey = runtime.huey
    task = huey.dequeue()
    assert task is not None
    huey.execute(task)


# no managed comment yet: the label and the comment in one edit, then the comment's id
APPLIED = [("comments", 200), ("labels_comment", 204), ("comments", 200)]
FIND = ("comments", 200)


# -- transient failures ------------------------------------------------------------------


def test_tracker_503_then_recovery_applies_the_event_once(tmp_path, env, jira, engines):
    app, runtime = service(tmp_path, **engines)
    jira.script("labels", "TEST-1", (503, {}), (503, {}))
    deliver(app, jira_unowned(), "d1")
    drain(runtime)

    assert jira.ops() == [FIND, ("labels_comment", 503), FIND, ("labels_comment", 503), *APPLIED]
    assert len(jira.comments["TEST-1"]) == 1
    assert jira.labels["TEST-1"] == {"pmo-unowned"}
    record = first_delivery(runtime)
    assert (record.status, record.attempts) == ("done", 3)
    assert runtime.dead_letters() == []
    jira.check_documented()


@pytest.mark.parametrize(
    "failure",
    [requests.ConnectionError("connection refused"), requests.exceptions.ConnectTimeout("slow")],
)
def test_no_answer_is_retried(sqlite_service, jira, failure):
    app, runtime = sqlite_service
    jira.script("labels", "TEST-1", failure)
    deliver(app, jira_unowned(), "d1")
    drain(runtime)
    assert jira.ops() == [FIND, ("labels_comment", None), *APPLIED]
    assert first_delivery(runtime).status == "done"


def test_comment_that_landed_before_a_timeout_is_adopted_not_duplicated(sqlite_service, jira):
    """Jira created the comment but the answer never came: the retry finds it by its
    marker and edits it in place instead of posting a second one."""
    app, runtime = sqlite_service
    jira.script("labels", "TEST-1", LANDS_THEN_TIMES_OUT)
    deliver(app, jira_unowned(), "d1")
    drain(runtime)

    assert jira.ops() == [
        ("comments", 200),
        ("labels_comment", None),  # label and comment written, the answer lost
        ("comments", 200),  # the retry finds the comment by its marker
        ("labels", 204),  # the label again (the ledger never heard of it), on its own
        ("edit_comment", 200),
    ]
    (comment,) = jira.comments["TEST-1"]
    assert MARKER in json.dumps(comment["body"])
    assert runtime.store.get_ledger("jira:TEST-1").comment_id == comment["id"]
    jira.check_documented()


# -- rate limits -------------------------------------------------------------------------


def test_429_waits_retry_after_before_calling_again(sqlite_service, jira):
    app, runtime = sqlite_service
    jira.script("labels", "TEST-1", (429, {"Retry-After": "1"}))
    deliver(app, jira_unowned(), "d1")

    run_one_task(runtime)
    assert jira.ops() == [FIND, ("labels_comment", 429)]
    assert first_delivery(runtime).status == "queued"
    retry = runtime.huey.dequeue()  # queued with an eta one second ahead
    assert retry.args == (1, 1) and retry.eta is not None
    runtime.huey.execute(retry)  # not due yet: set aside in Huey's schedule, no call
    assert runtime.huey.scheduled_count() == 1
    assert jira.ops() == [FIND, ("labels_comment", 429)]
    drain(runtime)

    limited, retried = jira.calls[1], jira.calls[2]
    assert retried.at - limited.at >= 1.0
    assert jira.ops() == [FIND, ("labels_comment", 429), *APPLIED]
    assert first_delivery(runtime).status == "done"


def test_per_issue_limit_holds_only_that_issue(sqlite_service, jira):
    app, runtime = sqlite_service
    per_issue = {"Retry-After": "1", "RateLimit-Reason": "jira-per-issue-on-write"}
    jira.script("labels", "TEST-1", (429, per_issue))
    deliver(app, jira_unowned("TEST-1"), "d1")
    deliver(app, jira_unowned("TEST-2"), "d2")
    drain(runtime)

    limited = next(c for c in jira.calls if c.status == 429)
    assert (limited.op, limited.key, limited.status) == ("labels_comment", "TEST-1", 429)
    other = [c for c in jira.calls if c.key == "TEST-2"]
    assert [(c.op, c.status) for c in other] == APPLIED
    assert all(c.at - limited.at < 1.0 for c in other)  # not held
    retried = next(c for c in jira.calls if c.key == "TEST-1" and c.at > limited.at)
    assert retried.at - limited.at >= 1.0
    assert jira.ops("TEST-1") == [FIND, ("labels_comment", 429), *APPLIED]
    assert runtime.huey.get(tracker_hold_key("jira"), peek=True) is None


def test_site_wide_limit_holds_the_other_issues_too(sqlite_service, jira):
    app, runtime = sqlite_service
    jira.script("labels", "TEST-1", (429, {"Retry-After": "1"}))
    deliver(app, jira_unowned("TEST-1"), "d1")
    deliver(app, jira_unowned("TEST-2"), "d2")
    drain(runtime)

    limited = next(c for c in jira.calls if c.status == 429)
    assert (limited.key, limited.status) == ("TEST-1", 429)
    first_other = next(c for c in jira.calls if c.key == "TEST-2")
    assert first_other.at - limited.at >= 1.0
    assert jira.ops("TEST-2") == APPLIED
    assert jira.ops("TEST-1") == [FIND, ("labels_comment", 429), *APPLIED]


def test_site_wide_limit_stops_a_delivery_already_under_way(sqlite_service, jira, monkeypatch):
    """Another worker thread's call is answered 429 for the whole site while this
    delivery is being planned: its own calls are not made inside Retry-After. It is
    re-queued for when the hold ends, its attempt not counted, and then applied once."""
    app, runtime = sqlite_service
    jira.script("labels", "TEST-1", (429, {"Retry-After": "1"}))
    read_ledger = runtime.store.get_ledger

    def ledger_meanwhile_429(key):
        if not jira.calls:
            with pytest.raises(RateLimited):  # the other thread's call
                runtime.client("jira").update_labels("TEST-1", {"pmo-unowned"}, set())
        return read_ledger(key)

    monkeypatch.setattr(runtime.store, "get_ledger", ledger_meanwhile_429)
    deliver(app, jira_unowned("TEST-2"), "d2")
    run_one_task(runtime)
    assert jira.ops() == [("labels", 429)]  # nothing for TEST-2
    record = first_delivery(runtime)
    assert record.status == "queued" and "held" in record.error
    assert [t.args for t in runtime.huey.pending()] == [(1, 0)]  # the same attempt
    drain(runtime)
    assert jira.ops("TEST-2") == APPLIED
    assert jira.calls[1].at - jira.calls[0].at >= 0.9


# -- permanent failures and dead letters ---------------------------------------------------


def write_config(tmp_path, runtime) -> str:
    settings = runtime.settings
    config = {
        "trackers": {
            "jira": {
                "kind": "jira",
                "url": JIRA_SITE,
                "auth": {"user_env": "TEST_JIRA_EMAIL", "token_env": "TEST_JIRA_TOKEN"},
                "webhook_secret_env": "TEST_JIRA_WEBHOOK_SECRET",
                "bot_account": JIRA_BOT,
            }
        },
        "rules": [str(SERVICE_PACK)],
        "database_url": settings.database_url,
        "queue_path": settings.queue_path,
        "max_retries": settings.max_retries,
        "retry_base_seconds": settings.retry_base_seconds,
    }
    if settings.redis_url:
        config["redis_url"] = settings.redis_url
    path = tmp_path / "pmo-bridge.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return str(path)


def test_exhausted_retries_dead_letter_then_replay_applies_once(
    tmp_path, env, jira, engines, capsys
):
    app, runtime = service(tmp_path, max_retries=2, **engines)
    jira.script("labels", "TEST-1", *[(500, {})] * 3)
    deliver(app, jira_unowned(), "d1")
    drain(runtime)

    assert jira.ops() == [FIND, ("labels_comment", 500)] * 3  # the first try, 2 retries
    record = first_delivery(runtime)
    assert (record.status, record.attempts) == ("dead", 3)
    config = write_config(tmp_path, runtime)

    capsys.readouterr()
    assert cli.main(["deadletters", "list", "--config", config]) == 0
    table = capsys.readouterr().out
    assert "jira:issue_updated" in table and "HTTP 500" in table
    assert cli.main(["deadletters", "list", "--config", config, "--format", "json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert (listed["tracker"], listed["attempts"], listed["delivery_id"]) == ("jira", 3, "d1")
    assert listed["error"].startswith("TrackerUnavailable:")

    client = app.test_client()
    assert client.get("/admin/deadletters").status_code == 401
    answer = client.get("/admin/deadletters", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert answer.status_code == 200
    assert [d["id"] for d in answer.get_json()["deadletters"]] == [listed["id"]]

    # The tracker has recovered (the script is used up): replay, and the worker applies it.
    assert cli.main(["deadletters", "replay", "--config", config]) == 0
    assert "replayed 1 dead letter(s)" in capsys.readouterr().out
    drain(runtime)
    assert jira.ops()[6:] == APPLIED
    assert len(jira.comments["TEST-1"]) == 1
    (letter,) = runtime.dead_letters(include_replayed=True)
    assert letter.replayed_at is not None
    assert runtime.dead_letters() == []
    assert cli.main(["deadletters", "list", "--config", config]) == 0
    assert "no dead letters" in capsys.readouterr().out
    # Replaying again finds nothing to replay and applies nothing twice.
    assert cli.main(["deadletters", "replay", "--config", config]) == 0
    drain(runtime)
    assert len(jira.comments["TEST-1"]) == 1
    jira.check_documented()


def test_refused_labels_still_let_the_comment_be_written(sqlite_service, jira, caplog):
    """A permanent refusal of the labels (here Jira's 403 to a bot without the right) is
    not retried and does not block the comment; the delivery says which part failed and
    why, and the log and /readyz say it once for the tracker, not once per event."""
    app, runtime = sqlite_service
    jira.script("labels", "*", *[(403, {})] * 4)
    with caplog.at_level("INFO"):
        deliver(app, jira_unowned("TEST-1"), "d1")
        drain(runtime)
        deliver(app, jira_unowned("TEST-2"), "d2")
        drain(runtime)
    for key in ("TEST-1", "TEST-2"):
        # the one-call form refused, the parts one by one: the labels refused again,
        # the comment written
        assert jira.ops(key) == [FIND, ("labels_comment", 403), ("labels", 403), ("comment", 201)]
    assert MARKER in json.dumps(jira.comments["TEST-1"][0]["body"])
    record = first_delivery(runtime)
    assert (record.status, record.attempts) == ("done", 1)
    assert record.error.startswith("labels refused: jira update_labels TEST-1: HTTP 403")
    assert runtime.dead_letters() == []
    refused = [r for r in caplog.records if r.message == "writeback.refused"]
    assert [(r.tracker, r.part) for r in refused] == [("jira", "labels")]
    ready = app.test_client().get("/readyz")
    assert ready.status_code == 200
    writes = ready.get_json()["checks"]["writes"]
    assert list(writes["refused"]["jira"]) == ["labels"]
    assert writes["refused"]["jira"]["labels"].startswith("HTTP 403")
    # the labels go through again: the refusal is forgotten
    deliver(app, jira_unowned("TEST-3"), "d3")
    drain(runtime)
    assert jira.ops("TEST-3")[:2] == [FIND, ("labels_comment", 204)]
    assert app.test_client().get("/readyz").get_json()["checks"]["writes"]["refused"] == {}


def test_refused_comment_still_lets_the_labels_be_written(sqlite_service, jira):
    app, runtime = sqlite_service
    jira.script("labels", "TEST-1", (400, {}))  # the edit refuses the comment's body
    jira.script("comment", "TEST-1", (400, {}))
    deliver(app, jira_unowned(), "d1")
    drain(runtime)
    assert jira.ops() == [FIND, ("labels_comment", 400), ("labels", 204), ("comment", 400)]
    assert jira.labels["TEST-1"]  # written
    record = first_delivery(runtime)
    assert record.status == "done" and record.error.startswith("comment refused:")
    assert runtime.dead_letters() == []


def test_every_part_refused_is_dead_lettered_without_retrying(sqlite_service, jira):
    """Nothing written at all (labels and comment both refused): kept as a dead letter,
    to be replayed once the tracker's side is fixed."""
    app, runtime = sqlite_service
    jira.script("labels", "TEST-1", (400, {}), (400, {}))
    jira.script("comment", "TEST-1", (400, {}))
    deliver(app, jira_unowned(), "d1")
    drain(runtime)
    assert jira.ops() == [FIND, ("labels_comment", 400), ("labels", 400), ("comment", 400)]
    assert (first_delivery(runtime).status, first_delivery(runtime).attempts) == ("dead", 1)
    (letter,) = runtime.dead_letters()
    assert letter.error.startswith("PermanentTrackerError:") and letter.attempts == 1


def test_item_deleted_in_the_tracker_is_not_retried(sqlite_service, jira):
    """A 404 on a write cannot succeed later: one attempt, then the dead-letter store."""
    app, runtime = sqlite_service
    jira.script("labels", "TEST-1", (404, {}))
    deliver(app, jira_unowned(), "d1")
    drain(runtime)
    assert jira.ops() == [FIND, ("labels_comment", 404)]
    assert runtime.huey.scheduled_count() == 0 and runtime.huey.pending_count() == 0
    record = first_delivery(runtime)
    assert (record.status, record.attempts) == ("dead", 1)
    # Kept for an operator rather than read as a deletion: a 404 may also mean a wrong
    # URL or project in the configuration. The tracker's own delete event marks it gone.
    (letter,) = runtime.dead_letters()
    assert letter.error.startswith("ItemNotFound:")


# -- a killed worker -------------------------------------------------------------------


def test_worker_start_requeues_a_delivery_a_killed_worker_had_taken(sqlite_service, jira):
    """SIGKILL after Huey handed a task to a worker thread but before its delivery was
    marked processing (reading it, waiting for a tracker hold, bouncing off an item
    lock): the row is still "queued" and its task is gone. A starting worker queues it
    again at once, not `recover_after_seconds` later; a delivery whose task is still
    waiting in the queue or the schedule is not queued twice."""
    app, runtime = sqlite_service
    deliver(app, jira_unowned("TEST-1"), "d1")
    deliver(app, jira_unowned("TEST-2"), "d2")
    huey = runtime.huey
    assert huey.dequeue().args == (1, 0)  # taken by the worker that is then killed
    assert huey.dequeue().args == (2, 0)  # d2 failed once: its retry waits its back-off
    runtime.tasks.schedule(2, 1, 0.05)
    huey.add_schedule(huey.dequeue())  # as the consumer does with a task not yet due
    deliver(app, jira_unowned("TEST-3"), "d3")  # waits in the queue
    assert [runtime.store.get_delivery(n).status for n in (1, 2, 3)] == ["queued"] * 3

    assert runtime.tasks.recover_now(at_start=True) == 1
    assert sorted(t.args for t in huey.pending()) == [(1, 0), (3, 0)]
    assert [t.args for t in huey.scheduled()] == [(2, 1)]
    drain(runtime)
    assert [runtime.store.get_delivery(n).status for n in (1, 2, 3)] == ["done"] * 3
    assert {key: len(jira.comments[key]) for key in ("TEST-1", "TEST-2", "TEST-3")} == {
        "TEST-1": 1,
        "TEST-2": 1,
        "TEST-3": 1,
    }


def test_a_refused_field_action_is_an_error_finding_and_blocks_nothing(tmp_path, env, jira):
    """Jira answers 400 to a rule's field action (a priority the site does not have): the
    label is written, the comment too, and the comment says the action was refused."""
    pack = tmp_path / "actions.yaml"
    pack.write_text(
        "version: 1\nrules:\n  - id: owner-in-progress\n    enforcement: enforce\n"
        "    when: {status_category: [in_progress]}\n"
        "    require: [{field: assignee, present: true}]\n    labels: [unowned]\n"
        "    actions: {set: {priority: Highest}}\n"
    )
    app, runtime = service(tmp_path, rules=(str(pack),))
    jira.script("labels", "TEST-1", "apply", (400, {}))  # labels go through, fields do not
    # the priority is sent as the site's priority object: its id is asked once
    jira.rsps.get(f"{JIRA_API}/priority", json=[{"id": "1", "name": "Highest"}])
    deliver(app, jira_unowned(), "d1")
    drain(runtime)
    assert jira.ops() == [("labels", 204), ("labels", 400), ("comments", 200), ("comment", 201)]
    assert jira.labels["TEST-1"] == {"pmo-unowned"}
    body = json.dumps(jira.comments["TEST-1"][0]["body"])
    assert "the tracker refused the rule's field action (priority=Highest)" in body
    record = first_delivery(runtime)
    assert record.status == "done" and record.error.startswith("fields refused:")
    assert runtime.dead_letters() == []
