"""Notification delivery against real local servers, through the real queue: e-mail
through an SMTP server that requires STARTTLS and a login, Slack and Teams posts
validated by a local receiver, the signed webhook checked by its signature; retries
honour Retry-After, failures end as dead messages, digests batch a person's messages
into one. (Retries, dead letters and exactly-once on Redis too: tests/worker/.)"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import hashlib
import hmac
import json
import socket
from pathlib import Path

import pytest
import requests
import responses

from config.notify import Channel, Notify
from config.settings import TrackerConfig
from tests.support.notify_queue import Clock, notify_runtime, send_due
from tests.support.notify_servers import (
    SMTP_PASSWORD,
    SMTP_USER,
    self_signed,
    start_receiver,
    start_smtp,
)
from tests.support.spec_check import assert_documented
from webhooks.commands.main import main
from webhooks.governance.channels import SIGNATURE_HEADER, TIMESTAMP_HEADER, slack_payload
from webhooks.governance.escalation import TRACKER_COMMENT
from webhooks.governance.notify_delivery import window_end
from webhooks.store import Store

T0 = dt.datetime(2026, 12, 3, 9, 5, tzinfo=dt.UTC)
ENV = {
    "SMTP_USER": SMTP_USER,
    "SMTP_PASSWORD": SMTP_PASSWORD,
    "SLACK_URL": "",
    "TEAMS_URL": "",
    "HOOK_URL": "",
    "HOOK_SECRET": "hook-signing-key",
}


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def smtp(tls):
    mailbox, port, stop = start_smtp(*tls)
    yield mailbox, port
    stop()


@pytest.fixture
def receiver():
    rec, stop = start_receiver()
    yield rec
    stop()


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def service(tmp_path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch):
    """`service(notify, **settings)`: a runtime on the real queue; secrets in the env."""
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    made = []

    def make(notify: Notify, environ: dict[str, str] | None = None, **overrides):
        for name, value in (environ or {}).items():
            monkeypatch.setenv(name, value)
        runtime = notify_runtime(tmp_path, notify, clock, **overrides)
        made.append(runtime)
        return runtime

    yield make
    for runtime in made:
        runtime.store.close()


def mail_channel(port: int, cert: Path, **changes) -> Channel:
    base = dict(
        name="pmo-mail", kind="smtp", host="127.0.0.1", port=port, starttls=True,
        user_env="SMTP_USER", password_env="SMTP_PASSWORD", sender="pmo@example.com",
        to=("pmo-office@example.com",), ca_file=str(cert),
    )  # fmt: skip
    base.update(changes)
    return Channel(**base)


def chat_channels(url: str) -> dict[str, Channel]:
    return {
        "slack": Channel(name="slack", kind="slack", url_env="SLACK_URL"),
        "teams": Channel(name="teams", kind="teams", url_env="TEAMS_URL"),
        "hook": Channel(name="hook", kind="webhook", url_env="HOOK_URL", secret_env="HOOK_SECRET"),
    }


def env_for(url: str) -> dict[str, str]:
    return {
        **ENV,
        "SLACK_URL": f"{url}/slack",
        "TEAMS_URL": f"{url}/teams",
        "HOOK_URL": f"{url}/hook",
    }


def queue(store: Store, channel: str, recipient: str, n: int = 1, at: dt.datetime = T0) -> None:
    for i in range(n):
        store.queue_notification(
            dedupe_key=f"{channel}:{recipient}:{i}:{at.isoformat()}", channel=channel,
            recipient=recipient, subject=f"PMO escalation: jira:PAY-{7 + i} Blocked too long",
            body="Escalated to Priya Shah (programme lead). jira:PAY-7 <Payments> & co has failed since 1 Dec.",
            link="https://example.atlassian.net/browse/PAY-7", now=at,
        )  # fmt: skip


def test_email_goes_through_starttls_and_login_to_a_real_server(service, smtp, tls) -> None:
    mailbox, port = smtp
    runtime = service(Notify(channels={"pmo-mail": mail_channel(port, tls[0])}))
    queue(runtime.store, "pmo-mail", "priya@example.com")
    assert send_due(runtime) == 1
    [(sender, rcpts, raw)] = mailbox.messages
    assert sender == "pmo@example.com"
    assert sorted(rcpts) == ["pmo-office@example.com", "priya@example.com"]
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["Subject"] == "PMO escalation: jira:PAY-7 Blocked too long"
    assert "Escalated to Priya Shah (programme lead)" in msg.get_content()
    assert [(n.status, n.attempts) for n in runtime.store.notifications()] == [("sent", 1)]


def test_a_refused_login_is_dead_at_once_and_nothing_is_sent(service, smtp, tls) -> None:
    mailbox, port = smtp
    notify = Notify(channels={"pmo-mail": mail_channel(port, tls[0])})
    runtime = service(notify, {"SMTP_PASSWORD": "wrong"})
    queue(runtime.store, "pmo-mail", "priya@example.com")
    send_due(runtime)
    [dead] = runtime.store.notifications(status="dead")
    assert dead.attempts == 1
    assert "login refused" in dead.error and "wrong" not in dead.error
    [letter] = runtime.dead_letters()
    assert (letter.tracker, letter.attempts) == ("notify:pmo-mail", 1)
    assert mailbox.messages == []


def test_a_server_that_cannot_be_reached_is_retried_then_dead(service, tls) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    notify = Notify(channels={"pmo-mail": mail_channel(closed_port, tls[0])})
    runtime = service(notify, max_retries=2, retry_base_seconds=0.05)
    queue(runtime.store, "pmo-mail", "priya@example.com")
    send_due(runtime)
    [note] = runtime.store.notifications()
    assert (note.status, note.attempts) == ("dead", 3)  # the first try and 2 retries
    [letter] = runtime.dead_letters()
    assert letter.error.startswith("SMTP: ConnectionRefusedError")


def test_slack_and_teams_payloads_pass_the_receivers_checks(service, receiver) -> None:
    runtime = service(Notify(channels=chat_channels(receiver.url)), env_for(receiver.url))
    queue(runtime.store, "slack", "Priya Shah")
    queue(runtime.store, "teams", "Priya Shah")
    assert send_due(runtime) == 2
    assert receiver.invalid == []
    assert [n.status for n in runtime.store.notifications()] == ["sent", "sent"]
    slack = next(body for path, _, body in receiver.posts if path == "/slack")
    assert slack["blocks"][0]["type"] == "header"
    # Slack's control characters are escaped in mrkdwn text
    assert "&lt;Payments&gt; &amp; co" in slack["blocks"][1]["text"]["text"]
    teams = next(body for path, _, body in receiver.posts if path == "/teams")
    card = teams["attachments"][0]["content"]
    assert card["actions"][0]["url"] == "https://example.atlassian.net/browse/PAY-7"


def test_the_receivers_refuse_what_the_schemas_refuse(receiver) -> None:
    too_long = slack_payload([])
    too_long["blocks"][0]["text"]["text"] = "x" * 151
    assert requests.post(f"{receiver.url}/slack", json=too_long, timeout=5).status_code == 400
    card = {"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
            "content": {"type": "AdaptiveCard", "version": "1.4", "body": [{"type": "TextBlock"}]}}]}  # fmt: skip
    assert requests.post(f"{receiver.url}/teams", json=card, timeout=5).status_code == 400
    assert len(receiver.invalid) == 2


def test_the_webhook_is_signed_over_timestamp_and_body(service, receiver) -> None:
    runtime = service(Notify(channels=chat_channels(receiver.url)), env_for(receiver.url))
    queue(runtime.store, "hook", "Priya Shah")
    send_due(runtime)
    [(_, headers, body)] = receiver.posts
    raw = json.dumps(body, ensure_ascii=False).encode()
    stamp = headers[TIMESTAMP_HEADER]
    expected = hmac.new(b"hook-signing-key", stamp.encode() + b"." + raw, hashlib.sha256)
    assert headers[SIGNATURE_HEADER] == "sha256=" + expected.hexdigest()
    assert body["messages"][0]["recipient"] == "Priya Shah"


def test_retry_after_is_honoured_then_the_message_goes(service, receiver) -> None:
    runtime = service(Notify(channels=chat_channels(receiver.url)), env_for(receiver.url))
    queue(runtime.store, "slack", "Priya Shah")
    receiver.fail_next(429, {"Retry-After": "1"})
    send_due(runtime)
    (first, _, refused), (second, _, ok) = receiver.hits
    assert (refused, ok) == (429, 200)
    assert second - first >= 1.0  # the queue held the retry as long as Slack asked
    [note] = runtime.store.notifications()
    assert (note.status, note.attempts) == ("sent", 2)
    assert note.next_attempt_at == T0 + dt.timedelta(seconds=1)
    assert len(receiver.posts) == 1


def test_a_client_error_is_dead_without_retries(service, receiver) -> None:
    runtime = service(Notify(channels=chat_channels(receiver.url)), env_for(receiver.url))
    queue(runtime.store, "teams", "Priya Shah")
    receiver.fail_next(404)
    send_due(runtime)
    [note] = runtime.store.notifications()
    assert (note.status, note.attempts, note.error) == ("dead", 1, "teams answered 404")
    assert len(receiver.hits) == 1


def test_digest_batches_a_persons_messages_into_one_per_hour(service, receiver, clock) -> None:
    channels = chat_channels(receiver.url)
    notify = Notify(
        channels={
            **channels,
            "slack": Channel(name="slack", kind="slack", url_env="SLACK_URL", digest="hour"),
        }
    )
    runtime = service(notify, env_for(receiver.url))
    for minute in (5, 20, 40):
        queue(runtime.store, "slack", "Priya Shah", at=T0.replace(minute=minute))
    queue(runtime.store, "slack", "Sam Lee", at=T0.replace(minute=50))
    clock.now = T0.replace(minute=55)
    assert send_due(runtime) == 0  # the hour is not over
    assert {n.status for n in runtime.store.notifications()} == {"pending"}
    clock.now = T0.replace(hour=10, minute=0)
    assert send_due(runtime) == 2  # one task per person
    assert [n.status for n in runtime.store.notifications()] == ["sent"] * 4
    assert len(receiver.posts) == 2  # one message per person
    priya = next(b for _, _, b in receiver.posts if "3 notifications" in b["text"])
    assert len(priya["blocks"]) == 4  # header + three sections
    assert window_end(T0, "day") == dt.datetime(2026, 12, 4, tzinfo=dt.UTC)


JIRA = "https://acme.atlassian.net"


@pytest.mark.parametrize("deployment", ["cloud", "server"])
def test_a_comment_step_posts_one_tracker_comment_with_the_mention(service, deployment) -> None:
    tracker = TrackerConfig(name="jira", kind="jira", url=JIRA, deployment=deployment,
                            user_env="U", token_env="T")  # fmt: skip
    runtime = service(Notify(), {"U": "bot@acme.example", "T": "tok"},
                      trackers={"jira": tracker})  # fmt: skip
    account = "557058:priya" if deployment == "cloud" else "priya.shah"
    runtime.store.queue_notification(
        dedupe_key="1:1:tracker-comment", channel=TRACKER_COMMENT, recipient="jira:PAY-7",
        subject="s", link=None, now=T0,
        body=json.dumps({"name": "Priya Shah", "account": account, "text": "PAY-7 is blocked."}),
    )  # fmt: skip
    version = "3" if deployment == "cloud" else "2"
    with responses.RequestsMock() as rsps:
        rsps.add(
            "POST",
            f"{JIRA}/rest/api/{version}/issue/PAY-7/comment",
            json={"id": "10010"},
            status=201,
        )
        send_due(runtime)
        [call] = rsps.calls
        assert_documented(call.request, "jira", JIRA)  # ADF comments checked against the schema
    body = json.loads(call.request.body)["body"]
    if deployment == "cloud":
        mention = body["content"][1]["content"][0]
        assert mention == {
            "type": "mention",
            "attrs": {"id": "557058:priya", "text": "@Priya Shah"},
        }
    else:
        assert body.endswith("\n\n[~priya.shah] PAY&#45;7 is blocked.")
    assert [n.status for n in runtime.store.notifications()] == ["sent"]


def test_dead_notifications_are_listed_with_their_error(tmp_path: Path, capsys) -> None:
    config = tmp_path / "pmo.yaml"
    config.write_text(f"database_url: sqlite:///{tmp_path / 'cli.db'}\n")
    store = Store(f"sqlite:///{tmp_path / 'cli.db'}")
    store.migrate()
    queue(store, "teams", "Priya Shah")
    [note] = store.notifications()
    store.notification_outcome([note.id], status="dead", now=T0, error="teams answered 404")
    assert main(["notifications", "list", "--config", str(config), "--status", "dead"]) == 0
    line = capsys.readouterr().out
    assert "dead" in line and "teams answered 404" in line and "attempts 0" in line
    assert main(["notifications", "list", "--config", str(config), "--status", "pending"]) == 0
    assert capsys.readouterr().out == "no notifications with status pending\n"


def test_an_http_date_retry_after_is_read_and_a_garbled_one_falls_back(service, receiver) -> None:
    runtime = service(Notify(channels=chat_channels(receiver.url)), env_for(receiver.url),
                      retry_base_seconds=0.2)  # fmt: skip
    queue(runtime.store, "slack", "Priya Shah")
    receiver.fail_next(503, {"Retry-After": "not a date"})
    send_due(runtime)
    [note] = runtime.store.notifications()
    assert note.status == "sent"
    wait = note.next_attempt_at - T0
    assert dt.timedelta(seconds=0.1) <= wait <= dt.timedelta(seconds=0.2)  # backoff, attempt 0
