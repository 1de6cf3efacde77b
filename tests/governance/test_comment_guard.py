"""A person's edit or deletion of the managed comment is noticed from Jira's comment
events and undone once: restored in place, or re-created."""

from __future__ import annotations

import copy
import datetime as dt
import json
import logging
from pathlib import Path

import pytest
import responses

from tests.support.helpers import PACKS
from tests.support.portfolio_gen import TRACKER_ENV, FakeTrackers, Spec, event_for, tracker_configs
from tests.support.queue_helpers import drain
from tests.support.service import make_settings
from webhooks.http.app import create_app
from webhooks.worker.runtime import Runtime

PACK = PACKS / "sweep.yaml"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "jira"
NOW = dt.datetime(2024, 6, 12, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def env(tmp_path, monkeypatch):
    for name, value in TRACKER_ENV.items():
        monkeypatch.setenv(name, value)
    settings = make_settings(tmp_path, trackers=tracker_configs(), rules=(str(PACK),))
    runtime = Runtime.from_settings(settings, clock=lambda: NOW)
    app = create_app(settings=settings, runtime=runtime)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake = FakeTrackers()
        fake.install(rsps)
        story = fake.know(
            Spec("jira", "PAY-7", "story", "Refund export", "In Progress", 3,
                 assignee="dana@fabrikam.com", status_changed=NOW - dt.timedelta(days=9))
        )  # fmt: skip
        client = app.test_client()
        post(client, event_for(story), "first")
        drain(runtime)
        yield client, runtime, fake


def post(client, payload, delivery: str) -> None:
    answer = client.post(
        "/webhooks/jira", data=json.dumps(payload), content_type="application/json",
        headers={"X-Atlassian-Webhook-Identifier": delivery},
    )  # fmt: skip
    assert answer.status_code == 202


def comment_event(kind: str, comment_id: str) -> dict:
    payload = copy.deepcopy(json.loads((FIXTURES / f"{kind}__cloud.json").read_text()))
    payload["issue"]["key"] = "PAY-7"
    payload["comment"]["id"] = comment_id
    payload["comment"]["self"] = (
        f"https://acme.atlassian.net/rest/api/2/issue/10042/comment/{comment_id}"
    )
    payload["comment"]["body"] = "I removed this"
    return payload


def comment_writes(fake: FakeTrackers) -> list[str]:
    return [w.kind for w in fake.writes if w.key == "jira:PAY-7" and w.kind.startswith("comment")]


def test_an_edited_managed_comment_is_restored_once_with_a_logged_reason(env, caplog) -> None:
    client, runtime, fake = env
    ledger = runtime.store.get_ledger("jira:PAY-7")
    assert comment_writes(fake) == ["comment_add"]
    original = fake.comments["jira:PAY-7"][ledger.comment_id]
    fake.comments["jira:PAY-7"][ledger.comment_id] = "I removed this"  # the PM's edit
    with caplog.at_level(logging.WARNING, logger="webhooks.governance.comment_guard"):
        post(client, comment_event("comment_updated", ledger.comment_id), "edit-1")
        drain(runtime)
    assert comment_writes(fake) == ["comment_add", "comment_update"]
    assert fake.comments["jira:PAY-7"][ledger.comment_id] == original
    (record,) = [r for r in caplog.records if r.msg == "writeback.managed_comment_changed"]
    assert record.reason.startswith("managed comment edited by Priya Natarajan: restored")
    # a comment of the team's own is not the service's business
    post(client, comment_event("comment_updated", "99999"), "edit-2")
    drain(runtime)
    assert comment_writes(fake) == ["comment_add", "comment_update"]


def test_a_deleted_managed_comment_is_re_created(env) -> None:
    client, runtime, fake = env
    ledger = runtime.store.get_ledger("jira:PAY-7")
    del fake.comments["jira:PAY-7"][ledger.comment_id]
    post(client, comment_event("comment_deleted", ledger.comment_id), "delete-1")
    drain(runtime)
    assert comment_writes(fake) == ["comment_add", "comment_add"]
    new_id = runtime.store.get_ledger("jira:PAY-7").comment_id
    assert new_id != ledger.comment_id
    assert "PMO compliance" in fake.comments["jira:PAY-7"][new_id]
