"""Notifications on the real queue (SqliteHuey, and Redis with PostgreSQL), as tracker
writes: a 429 waits out Retry-After, the last failed attempt leaves a dead letter that
the CLI and the admin API list and `replay` sends, and no step is ever sent twice: not
by a second task for the same batch, not by a tick run twice, not after a worker died
between the send and its record (at most once: that message is dead-lettered for a
person to replay, never re-sent on its own)."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from pathlib import Path

import pytest
import responses
import yaml

from config.notify import Channel, Contact, Notify
from connector.model import ItemType, Person, StatusCategory, WorkItem
from rules.escalate import compile_steps
from tests.support.notify_queue import Clock, notify_runtime, send_due
from tests.support.notify_servers import start_receiver
from tests.support.queue_helpers import drain
from tests.support.worker_helpers import JIRA_API, jira_tracker
from webhooks.commands import main as cli
from webhooks.governance.escalation import TRACKER_COMMENT, Chain
from webhooks.http.app import create_app
from webhooks.queue.holds import hold_tracker, tracker_hold_key
from webhooks.worker.notifications import ABANDONED

T0 = dt.datetime(2026, 12, 3, 9, 5, tzinfo=dt.UTC)
ADMIN_TOKEN = "admin-notify-token"
RULE = "blocked-too-long"


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch):
    rec, stop = start_receiver()
    monkeypatch.setenv("SLACK_URL", f"{rec.url}/slack")
    monkeypatch.setenv("PMO_BRIDGE_ADMIN_TOKEN", ADMIN_TOKEN)
    yield rec
    stop()


NOTIFY = Notify(
    channels={"slack": Channel(name="slack", kind="slack", url_env="SLACK_URL")},
    owners={"PAY": {"programme_lead": "Priya Shah"}},
    people={"Priya Shah": Contact("Priya Shah", "priya@example.com")},
)


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


PACK = f"""\
version: 1
rules:
  - id: {RULE}
    title: Blocked too long
    severity: critical
    when: {{status: [Blocked]}}
    require: [{{field: status_age, max: 5d}}]
    escalate: [{{after: 2d, to: "role:programme_lead", via: [slack]}}]
"""


@pytest.fixture
def runtime(tmp_path: Path, clock: Clock, engines, receiver):
    pack = tmp_path / "escalate.yaml"
    pack.write_text(PACK)
    rt = notify_runtime(tmp_path, NOTIFY, clock, max_retries=2, rules=(str(pack),), **engines)
    yield rt
    rt.store.close()


def queue(store, n: int = 1) -> list[int]:
    return [
        store.queue_notification(
            dedupe_key=f"7:{n}:{i}",
            channel="slack",
            recipient="Priya Shah",
            subject=f"PMO escalation: jira:PAY-{7 + i}",
            body="Blocked since 1 Dec.",
            link=None,
            now=T0,
        )
        for i in range(n)
    ]


def test_a_429_is_retried_after_retry_after_then_sent_once(runtime, receiver) -> None:
    queue(runtime.store)
    receiver.fail_next(429, {"Retry-After": "1"})
    send_due(runtime)
    statuses = [status for _, _, status in receiver.hits]
    assert statuses == [429, 200]
    assert receiver.hits[1][0] - receiver.hits[0][0] >= 1.0
    [note] = runtime.store.notifications()
    assert (note.status, note.attempts) == ("sent", 2)
    assert runtime.dead_letters() == []


def write_config(tmp_path: Path, runtime) -> str:
    settings = runtime.settings
    config = {
        "database_url": settings.database_url,
        "queue_path": settings.queue_path,
        "rules": list(settings.rules),
        "channels": {"slack": {"kind": "slack", "url_env": "SLACK_URL"}},
    }
    if settings.redis_url:
        config["redis_url"] = settings.redis_url
    path = tmp_path / "pmo-bridge.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return str(path)


def test_the_last_failed_attempt_is_a_dead_letter_that_replay_sends_once(
    runtime, receiver, tmp_path, capsys
) -> None:
    queue(runtime.store)
    for _ in range(3):
        receiver.fail_next(503)
    send_due(runtime)
    assert [status for _, _, status in receiver.hits] == [503] * 3  # max_retries=2
    [note] = runtime.store.notifications()
    assert (note.status, note.attempts, note.error) == ("dead", 3, "slack answered 503")

    config = write_config(tmp_path, runtime)
    capsys.readouterr()
    assert cli.main(["deadletters", "list", "--config", config, "--format", "json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert (listed["tracker"], listed["native_event"], listed["attempts"]) == (
        "notify:slack", "notification", 3,
    )  # fmt: skip
    assert listed["error"] == "slack answered 503"
    app = create_app(settings=runtime.settings)
    answer = app.test_client().get(
        "/admin/deadletters", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )
    assert [d["id"] for d in answer.get_json()["deadletters"]] == [listed["id"]]

    # the receiver is back: replay, and the worker sends it, once
    assert cli.main(["deadletters", "replay", "--config", config]) == 0
    assert "replayed 1 dead letter(s)" in capsys.readouterr().out
    drain(runtime)
    assert len(receiver.posts) == 1
    [note] = runtime.store.notifications()
    assert (note.status, note.attempts) == ("sent", 1)
    assert runtime.dead_letters() == []
    assert cli.main(["deadletters", "replay", "--config", config]) == 0
    drain(runtime)
    assert len(receiver.posts) == 1


def test_two_tasks_for_one_batch_send_it_once(runtime, receiver) -> None:
    queue(runtime.store)
    tasks = runtime.escalation.notifications
    [batch] = runtime.escalation.delivery.due_batches(runtime.clock())
    tasks.enqueue(batch)
    tasks.enqueue(batch)  # a recovered task beside the original
    drain(runtime)
    assert len(receiver.posts) == 1
    assert [n.attempts for n in runtime.store.notifications()] == [1]


def test_a_lost_task_is_queued_again_and_sent_once(runtime, receiver, clock) -> None:
    queue(runtime.store)
    # claimed by a tick that died before it queued the task
    assert runtime.escalation.delivery.due_batches(clock()) == [(1,)]
    assert send_due(runtime) == 0
    assert receiver.posts == []  # not yet stale
    clock.advance(seconds=runtime.settings.recover_after_seconds + 1)
    send_due(runtime)
    assert len(receiver.posts) == 1
    assert runtime.store.notifications()[0].status == "sent"


def test_a_worker_that_dies_after_sending_never_sends_it_again(
    runtime, receiver, clock, monkeypatch
) -> None:
    queue(runtime.store)
    store = runtime.store

    def killed(*args, **kwargs):  # the process ends between the post and its record
        raise SystemExit("killed")

    with monkeypatch.context() as patch:
        patch.setattr(store, "notification_outcome", killed)
        tasks = runtime.escalation.notifications
        [batch] = runtime.escalation.delivery.due_batches(clock())
        with pytest.raises(SystemExit):
            tasks._send(list(batch))
    assert len(receiver.posts) == 1
    assert store.notifications()[0].status == "sending"

    send_due(runtime)  # a tick soon after: the attempt may still be under way
    assert store.notifications()[0].status == "sending"
    clock.advance(seconds=runtime.settings.recover_after_seconds + 1)
    send_due(runtime)
    send_due(runtime)
    assert len(receiver.posts) == 1  # at most once
    [note] = store.notifications()
    assert (note.status, note.error) == ("dead", ABANDONED)
    [letter] = runtime.dead_letters()
    assert letter.tracker == "notify:slack" and "may or may not" in letter.error


def test_an_escalation_step_reaches_its_person_once_through_the_queue(
    runtime, receiver, clock
) -> None:
    item = WorkItem(
        key="jira:PAY-7", tracker="jira", native_id="PAY-7", project="PAY",
        type=ItemType.STORY, title="Payment retries", status="Blocked",
        status_category=StatusCategory.IN_PROGRESS, assignee=Person("Sam Lee", "557058:sam"),
    )  # fmt: skip
    store = runtime.store
    store.upsert_item(item)
    finding = {"rule": RULE, "severity": "critical", "message": "Blocked 6 days", "status": "fail"}
    store.save_findings(item.key, [finding], T0)
    steps = compile_steps([{"after": "2d", "to": "role:programme_lead", "via": ["slack"]}])
    chains = {RULE: Chain(RULE, "Blocked too long", "critical", steps)}
    escalator = runtime.escalation.escalator
    clock.advance(days=3)
    assert len(escalator.run(chains, clock())) == 1
    # the step and its message were saved together: the message waits in the outbox
    assert [n.status for n in store.notifications()] == ["pending"]
    assert escalator.run(chains, clock()) == []  # a second run at the same moment
    send_due(runtime)
    send_due(runtime)
    [(path, _, body)] = receiver.posts
    assert path == "/slack" and "Escalated to Priya Shah (programme lead)" in json.dumps(body)


def test_the_worker_tick_fires_the_step_and_queues_its_message_once(
    runtime, receiver, clock
) -> None:
    item = WorkItem(
        key="jira:PAY-7", tracker="jira", native_id="PAY-7", project="PAY",
        type=ItemType.STORY, title="Payment retries", status="Blocked",
        status_category=StatusCategory.IN_PROGRESS,
    )  # fmt: skip
    runtime.store.upsert_item(item)
    finding = {"rule": RULE, "severity": "critical", "message": "Blocked 6 days", "status": "fail"}
    runtime.store.save_findings(item.key, [finding], T0)
    clock.advance(days=3)
    counts = runtime.escalation.tick()
    assert (counts["fired"], counts["queued"]) == (1, 1)
    again = runtime.escalation.tick()  # the next minute, before the worker ran the task
    assert (again["fired"], again["queued"]) == (0, 0)
    drain(runtime)
    assert runtime.escalation.tick()["queued"] == 0
    drain(runtime)
    [(path, _, _)] = receiver.posts
    assert path == "/slack"
    assert [n.status for n in runtime.store.notifications()] == ["sent"]


# -- a separate tracker comment shares the tracker-wide hold of tracker writes ----------


@pytest.fixture
def jira_runtime(tmp_path: Path, clock: Clock, engines, monkeypatch: pytest.MonkeyPatch):
    for name, value in (("TEST_JIRA_EMAIL", "bot@acme.example"), ("TEST_JIRA_TOKEN", "tok")):
        monkeypatch.setenv(name, value)
    rt = notify_runtime(tmp_path, Notify(), clock, trackers={"jira": jira_tracker()}, **engines)
    yield rt
    rt.store.close()


def queue_comment(store, key: str) -> int:
    body = {"name": "Priya Shah", "account": "557058:priya", "text": f"{key} is blocked."}
    return store.queue_notification(
        dedupe_key=f"{key}:1:{TRACKER_COMMENT}", channel=TRACKER_COMMENT,
        recipient=f"jira:{key}", subject="s", body=json.dumps(body), link=None, now=T0,
    )  # fmt: skip


def comment_calls(rsps: responses.RequestsMock, *answers: tuple[int, dict[str, str]]):
    """POST comment on any issue: the `answers` first, then 201; returns [(time, key, status)]."""
    calls: list[tuple[float, str, int]] = []
    script = list(answers)

    def answer(request):
        status, headers = script.pop(0) if script else (201, {})
        key = request.url.split("/issue/")[1].split("/")[0]
        calls.append((time.time(), key, status))
        return status, headers, json.dumps({"id": "10010"} if status == 201 else {})

    pattern = re.compile(re.escape(JIRA_API) + r"/issue/[A-Z]+-\d+/comment$")
    rsps.add_callback("POST", pattern, callback=answer)
    return calls


def test_a_site_wide_429_on_a_comment_holds_the_tracker_for_writes_and_comments(
    jira_runtime,
) -> None:
    runtime = jira_runtime
    queue_comment(runtime.store, "PAY-7")
    queue_comment(runtime.store, "PAY-8")
    with responses.RequestsMock() as rsps:
        calls = comment_calls(rsps, (429, {"Retry-After": "1"}))
        before = time.time()
        send_due(runtime)
    limited, *rest = calls
    assert (limited[1], limited[2]) == ("PAY-7", 429)
    # the hold tracker writes read (`held_until`) was set for Retry-After, at the 429
    until = runtime.huey.get(tracker_hold_key("jira"), peek=True)
    assert until is not None and before + 1.0 <= float(until) <= time.time() + 1.0
    # the other comment was not posted inside Retry-After, and waiting cost it no attempt
    assert sorted((key, status) for _, key, status in rest) == [("PAY-7", 201), ("PAY-8", 201)]
    assert all(at - limited[0] >= 1.0 for at, _, _ in rest)
    notes = {n.recipient: n for n in runtime.store.notifications()}
    assert {k: (n.status, n.attempts) for k, n in notes.items()} == {
        "jira:PAY-7": ("sent", 2), "jira:PAY-8": ("sent", 1),
    }  # fmt: skip
    assert runtime.dead_letters() == []


def test_a_comment_waits_out_a_hold_a_tracker_write_set_without_using_attempts(
    jira_runtime,
) -> None:
    runtime = jira_runtime
    queue_comment(runtime.store, "PAY-7")
    hold_tracker(runtime.huey, "jira", 1.0)  # a label write was answered 429 site-wide
    held_at = time.time()
    with responses.RequestsMock() as rsps:
        calls = comment_calls(rsps)
        send_due(runtime)
    [(at, key, status)] = calls
    assert (key, status) == ("PAY-7", 201) and at - held_at >= 0.9
    [note] = runtime.store.notifications()
    assert (note.status, note.attempts) == ("sent", 1)
