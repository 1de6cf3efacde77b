"""PMO reports on the notification queue (SqliteHuey, and Redis with PostgreSQL): a
scheduled report is one outbox message per slot, however many workers tick and whether
or not one restarts in between; it is sent by the send task with the retry policy of
tracker writes (Retry-After, backoff, a dead letter that `replay` sends), never held in a
digest. `pmo-bridge report --send` sends at once with the same policy, leaves a dead
letter on its last failure, and hands a long wait to the queue."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
from pathlib import Path

import pytest
import yaml

from config.notify import Channel, Notify, ReportSchedule
from connector.model import ItemType, Person, StatusCategory, WorkItem
from rules.rollup import Rollup
from tests.support.notify_queue import Clock, notify_runtime
from tests.support.notify_servers import (
    SMTP_PASSWORD,
    SMTP_USER,
    self_signed,
    start_receiver,
    start_smtp,
)
from tests.support.queue_helpers import drain
from webhooks.commands import main as cli
from webhooks.governance.report_send import queue_scheduled_reports, schedule_name

MONDAY = dt.datetime(2026, 12, 7, 8, 0, 30, tzinfo=dt.UTC)
WEEKLY = ReportSchedule("mon 08:00", "pmo-mail")


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def smtp(tls, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SMTP_USER", SMTP_USER)
    monkeypatch.setenv("SMTP_PASSWORD", SMTP_PASSWORD)
    mailbox, port, stop = start_smtp(*tls)
    yield mailbox, port
    stop()


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch):
    rec, stop = start_receiver()
    monkeypatch.setenv("SLACK_URL", f"{rec.url}/slack")
    yield rec
    stop()


@pytest.fixture
def clock() -> Clock:
    return Clock(MONDAY)


@pytest.fixture
def runtimes(tmp_path: Path, clock: Clock, engines):
    """`runtimes(notify, **settings)`: a worker's runtime; several share the store and
    the queue, as several workers (or one restarted) do."""
    made = []

    def make(notify: Notify, **overrides):
        runtime = notify_runtime(tmp_path, notify, clock, **engines, **overrides)
        made.append(runtime)
        return runtime

    yield make
    for runtime in made:
        runtime.store.close()


def mail(port: int, cert: Path) -> Channel:
    return Channel(
        name="pmo-mail", kind="smtp", host="127.0.0.1", port=port, user_env="SMTP_USER",
        password_env="SMTP_PASSWORD", to=("pmo@example.com",), ca_file=str(cert),
    )  # fmt: skip


SLACK = Channel(name="slack", kind="slack", url_env="SLACK_URL", digest="hour")
SLACK_WEEKLY = ReportSchedule("mon 08:00", "slack", format="md")


def seed(store) -> None:
    epic = WorkItem(
        key="jira:PAY-1", tracker="jira", native_id="PAY-1", project="PAY", type=ItemType.EPIC,
        title="Payments v2", status="In Progress", status_category=StatusCategory.IN_PROGRESS,
        assignee=Person("Sam Lee", "sam"),
    )  # fmt: skip
    store.upsert_item(epic)
    store.save_rollup(
        epic.key,
        Rollup(
            parent_key=epic.key, children=3, by_category={"in_progress": 3}, done=0,
            points_total=0, points_done=0, leaves_total=3, leaves_done=0, progress=0.0,
            start=None, due=None, target_due=dt.date(2026, 12, 1),
            forecast_end=dt.date(2026, 12, 15), overdue_children=1, blocked_children=1,
            noncompliant_children=0, slip_days=14, progress_behind=None, rag="red",
            rag_reasons=("slip 14 days",), throughput_per_day=0.5, recent_done_points=0,
            recent_done_leaves=1,
        ),
    )  # fmt: skip


def test_a_scheduled_report_is_mailed_once_per_slot_by_several_workers(
    runtimes, smtp, tls, clock, monkeypatch
) -> None:
    mailbox, port = smtp
    notify = Notify(channels={"pmo-mail": mail(port, tls[0])}, reports=(WEEKLY,))
    first, second = runtimes(notify), runtimes(notify)
    seed(first.store)
    # the second worker read "no report yet" before the first committed its slot
    monkeypatch.setattr(second.store, "last_report", lambda name: None)
    assert first.escalation.tick()["reports"] == 1
    assert second.escalation.tick()["reports"] == 0  # the slot is taken: no second message
    drain(first)
    [(_, rcpts, raw)] = mailbox.messages
    assert rcpts == ["pmo@example.com"]
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["Subject"] == "PMO report (portfolio): 30 Nov 2026 to 07 Dec 2026"
    assert "Red now (first report)" in msg.get_body(("plain",)).get_content()
    assert "<table" in msg.get_body(("html",)).get_content()
    [note] = first.store.notifications()
    assert (note.status, note.attempts, note.channel) == ("sent", 1, "pmo-mail")
    last = first.store.last_report(schedule_name(WEEKLY))
    assert last.rag == {"jira:PAY-1": "red"} and f"notification {note.id}" in last.destination

    # a worker started later in the same slot, and the next day: nothing more
    restarted = runtimes(notify)
    assert restarted.escalation.tick()["reports"] == 0
    clock.advance(days=1)
    assert first.escalation.tick()["reports"] == 0
    drain(first)
    assert len(mailbox.messages) == 1
    clock.advance(days=6)  # the next Monday: the next slot
    assert restarted.escalation.tick()["reports"] == 1
    drain(restarted)
    assert len(mailbox.messages) == 2
    second_report = email.message_from_bytes(mailbox.messages[1][2], policy=email.policy.default)
    assert "07 Dec 2026 to 14 Dec 2026" in second_report["Subject"]


def test_a_report_queued_before_a_restart_is_sent_once_after_retry_after_never_digested(
    runtimes, receiver, clock
) -> None:
    notify = Notify(channels={"slack": SLACK}, reports=(SLACK_WEEKLY,))
    dying = runtimes(notify)
    seed(dying.store)
    # the tick committed the report's message, then the process ended before the relay
    [note_id] = queue_scheduled_reports(dying.store, notify, clock())
    assert [n.status for n in dying.store.notifications()] == ["pending"]
    restarted = runtimes(notify)
    receiver.fail_next(429, {"Retry-After": "1"})
    counts = restarted.escalation.tick()
    # its channel batches a person's messages by the hour; a report goes at once
    assert (counts["reports"], counts["queued"]) == (0, 1)
    drain(restarted)
    assert [status for _, _, status in receiver.hits] == [429, 200]
    assert receiver.hits[1][0] - receiver.hits[0][0] >= 1.0
    assert receiver.invalid == []  # valid Block Kit
    [(path, _, body)] = receiver.posts
    assert path == "/slack" and body["text"].startswith("PMO report (portfolio)")
    assert "Payments v2" in json.dumps(body["blocks"])
    [note] = restarted.store.notifications()
    assert (note.id, note.status, note.attempts) == (note_id, "sent", 2)
    restarted.escalation.tick()
    drain(restarted)
    assert len(receiver.posts) == 1


def test_a_report_that_keeps_failing_is_a_dead_letter_that_replay_sends_once(
    runtimes, receiver, clock
) -> None:
    notify = Notify(channels={"slack": SLACK}, reports=(SLACK_WEEKLY,))
    runtime = runtimes(notify, max_retries=2)
    seed(runtime.store)
    for _ in range(3):
        receiver.fail_next(503)
    assert runtime.escalation.tick()["reports"] == 1
    drain(runtime)
    assert [status for _, _, status in receiver.hits] == [503] * 3
    [note] = runtime.store.notifications()
    assert (note.status, note.attempts, note.error) == ("dead", 3, "slack answered 503")
    [letter] = runtime.dead_letters()
    assert (letter.tracker, letter.native_event) == ("notify:slack", "notification")
    # the slot is done: later ticks never make a second message for it
    clock.advance(minutes=5)
    assert runtime.escalation.tick()["reports"] == 0
    assert runtime.replay_dead_letters() == [letter.id]
    drain(runtime)
    assert len(receiver.posts) == 1 and receiver.invalid == []
    [note] = runtime.store.notifications()
    assert (note.status, note.attempts) == ("sent", 1)
    assert runtime.replay_dead_letters() == []
    drain(runtime)
    assert len(receiver.posts) == 1


# -- pmo-bridge report --send ---------------------------------------------------------------


def cli_config(tmp_path: Path, **extra) -> str:
    config = {
        "database_url": f"sqlite:///{tmp_path / 'cli.db'}",
        "queue_path": str(tmp_path / "cli-queue.db"),
        "channels": {"slack": {"kind": "slack", "url_env": "SLACK_URL"}},
        "max_retries": 1,
        "retry_base_seconds": 0.05,
        **extra,
    }
    path = tmp_path / "pmo-bridge.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return str(path)


def test_report_send_retries_then_leaves_a_dead_letter_that_replay_sends(
    tmp_path, receiver, capsys
) -> None:
    config = cli_config(tmp_path)
    receiver.fail_next(429, {"Retry-After": "1"})
    assert cli.main(["report", "--config", config, "--format", "md", "--send", "slack"]) == 0
    assert "report sent to slack (slack)" in capsys.readouterr().out
    assert [status for _, _, status in receiver.hits] == [429, 200]
    assert receiver.hits[1][0] - receiver.hits[0][0] >= 1.0

    receiver.fail_next(503)
    receiver.fail_next(503)  # max_retries 1: two attempts
    assert cli.main(["report", "--config", config, "--format", "md", "--send", "slack"]) == 1
    err = capsys.readouterr().err
    assert "error: --send slack: slack answered 503 (after 2 attempt(s))" in err
    assert "kept as dead letter 1: `pmo-bridge deadletters replay 1`" in err
    assert cli.main(["deadletters", "list", "--config", config, "--format", "json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert (listed["id"], listed["tracker"], listed["attempts"]) == (1, "notify:slack", 2)
    assert cli.main(["deadletters", "replay", "--config", config, "1"]) == 0
    worker = notify_runtime(
        tmp_path, Notify(channels={"slack": Channel("slack", "slack", url_env="SLACK_URL")}),
        Clock(MONDAY), database_url=f"sqlite:///{tmp_path / 'cli.db'}",
        queue_path=str(tmp_path / "cli-queue.db"),
    )  # fmt: skip
    drain(worker)
    assert len(receiver.posts) == 2  # the first report, and the replayed one: once each
    assert [n.status for n in worker.store.notifications()] == ["sent", "sent"]
    worker.store.close()


def test_report_send_hands_a_long_retry_after_to_the_queue(tmp_path, receiver, capsys) -> None:
    config = cli_config(tmp_path)
    receiver.fail_next(429, {"Retry-After": "120"})
    assert cli.main(["report", "--config", config, "--format", "md", "--send", "slack"]) == 0
    out = capsys.readouterr().out
    assert "slack asked to wait 120 s: the report is queued as notification 1" in out
    assert "report sent to" not in out
    worker = notify_runtime(
        tmp_path, Notify(channels={"slack": Channel("slack", "slack", url_env="SLACK_URL")}),
        Clock(MONDAY), database_url=f"sqlite:///{tmp_path / 'cli.db'}",
        queue_path=str(tmp_path / "cli-queue.db"),
    )  # fmt: skip
    # on the queue for a worker, due when the wait is over
    [task] = worker.huey.pending()
    assert task.args == ([1],) and task.eta is not None
    assert 100 <= (task.eta - dt.datetime.now(dt.UTC).replace(tzinfo=None)).total_seconds() <= 120
    [note] = worker.store.notifications()
    assert (note.status, note.attempts) == ("queued", 1)
    assert worker.escalation.tick()["queued"] == 0  # not claimed a second time
    assert receiver.posts == []
    worker.store.close()
