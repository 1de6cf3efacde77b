"""A person's edit or deletion of the managed comment is noticed, from Jira's comment
events that name it or from the next read (any other person's comment event on either
tracker; Azure DevOps' `workitem.commented` names no comment), and undone once: restored
in place, or re-created; a comment that reads as written is left alone."""

from __future__ import annotations

import copy
import datetime as dt
import json
import logging
from pathlib import Path

import pytest
import responses

from tests.support.helpers import PACKS
from tests.support.portfolio_gen import (
    ADO_ORG,
    JIRA_SITE,
    TRACKER_ENV,
    FakeTrackers,
    Spec,
    ado_event,
    event_for,
    tracker_configs,
)
from tests.support.queue_helpers import drain
from tests.support.service import make_settings
from tests.support.spec_check import assert_documented
from webhooks.http.app import create_app
from webhooks.worker.runtime import Runtime

PACK = PACKS / "sweep.yaml"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "jira"
NOW = dt.datetime(2024, 6, 12, 9, 0, tzinfo=dt.UTC)


STORY = Spec("jira", "PAY-7", "story", "Refund export", "In Progress", 3,
             assignee="dana@fabrikam.com", status_changed=NOW - dt.timedelta(days=9))  # fmt: skip
ADO_STORY = Spec("azure-devops", "4711", "story", "Checkout API", "Active", 5,
                 assignee="lena@fabrikam.com", status_changed=NOW - dt.timedelta(days=9))  # fmt: skip


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
        story = fake.know(STORY)
        client = app.test_client()
        post(client, event_for(story), "first")
        drain(runtime)
        yield client, runtime, fake, rsps


def post(client, payload, delivery: str, tracker: str = "jira") -> None:
    answer = client.post(
        f"/webhooks/{tracker}", data=json.dumps(payload), content_type="application/json",
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


def comment_writes(fake: FakeTrackers, key: str = "jira:PAY-7") -> list[str]:
    return [w.kind for w in fake.writes if w.key == key and w.kind.startswith("comment")]


def documented(rsps) -> None:
    for call in rsps.calls:
        if call.request.method == "OPTIONS":
            continue
        if call.request.url.startswith(JIRA_SITE):
            assert_documented(call.request, "jira", JIRA_SITE)
        else:
            assert_documented(call.request, "azure-devops", ADO_ORG)


def test_an_edited_managed_comment_is_restored_once_with_a_logged_reason(env, caplog) -> None:
    client, runtime, fake, _ = env
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
    client, runtime, fake, _ = env
    ledger = runtime.store.get_ledger("jira:PAY-7")
    del fake.comments["jira:PAY-7"][ledger.comment_id]
    post(client, comment_event("comment_deleted", ledger.comment_id), "delete-1")
    drain(runtime)
    assert comment_writes(fake) == ["comment_add", "comment_add"]
    new_id = runtime.store.get_ledger("jira:PAY-7").comment_id
    assert new_id != ledger.comment_id
    assert "PMO compliance" in fake.comments["jira:PAY-7"][new_id]


def changed_records(caplog) -> list[str]:
    return [r.reason for r in caplog.records if r.msg == "writeback.managed_comment_changed"]


def test_jira_an_edit_without_its_event_is_restored_at_the_next_read_once(env, caplog) -> None:
    """The PM's edit arrives without its comment_updated (a lost delivery, a webhook
    without comment events); their next comment makes the service read the managed
    comment by id: restored once; the comment after that reads as written: no write."""
    client, runtime, fake, rsps = env
    ledger = runtime.store.get_ledger("jira:PAY-7")
    original = fake.comments["jira:PAY-7"][ledger.comment_id]
    fake.comments["jira:PAY-7"][ledger.comment_id] = "I removed this"
    with caplog.at_level(logging.WARNING, logger="webhooks.governance.comment_guard"):
        post(client, comment_event("comment_created", "20001"), "reply-1")
        drain(runtime)
    assert comment_writes(fake) == ["comment_add", "comment_update"]
    assert fake.comments["jira:PAY-7"][ledger.comment_id] == original
    assert changed_records(caplog) == ["managed comment found edited on reading it: restored"]
    # the next person's comment: read again, as written, nothing written; no loop
    post(client, comment_event("comment_created", "20002"), "reply-2")
    drain(runtime)
    assert comment_writes(fake) == ["comment_add", "comment_update"]
    assert fake.reads.count(("jira:PAY-7", "comment_get")) == 2
    assert len(changed_records(caplog)) == 1
    documented(rsps)


def test_jira_a_deletion_without_its_event_is_re_created_at_the_next_read(env, caplog) -> None:
    client, runtime, fake, rsps = env
    ledger = runtime.store.get_ledger("jira:PAY-7")
    del fake.comments["jira:PAY-7"][ledger.comment_id]
    with caplog.at_level(logging.WARNING, logger="webhooks.governance.comment_guard"):
        post(client, comment_event("comment_created", "20001"), "reply-1")
        drain(runtime)
    assert comment_writes(fake) == ["comment_add", "comment_add"]
    new_id = runtime.store.get_ledger("jira:PAY-7").comment_id
    assert new_id != ledger.comment_id and "PMO compliance" in fake.comments["jira:PAY-7"][new_id]
    assert changed_records(caplog) == ["managed comment found deleted on reading it: re-created"]
    documented(rsps)


def ado_commented(fake: FakeTrackers) -> dict:
    """A person's comment on the Azure DevOps story: `workitem.commented`, the work item
    at its new revision, the comment only as System.History (no comment id)."""
    spec = fake.know(ADO_STORY)
    payload = ado_event(spec, "workitem.commented")
    payload["resource"]["fields"]["System.History"] = "<div>I removed the PMO part</div>"
    return payload


@pytest.fixture
def ado(env):
    client, runtime, fake, rsps = env
    post(client, event_for(fake.know(ADO_STORY)), "ado-first", "azure-devops")
    drain(runtime)
    assert comment_writes(fake, "azure-devops:4711") == ["comment_add"]
    return client, runtime, fake, rsps


def test_azure_devops_an_edited_comment_is_restored_from_the_next_comment_event(
    ado, caplog
) -> None:
    client, runtime, fake, rsps = ado
    key = "azure-devops:4711"
    ledger = runtime.store.get_ledger(key)
    original = fake.comments[key][ledger.comment_id]
    fake.comments[key][ledger.comment_id] = "<div>I removed this</div>"
    with caplog.at_level(logging.WARNING, logger="webhooks.governance.comment_guard"):
        post(client, ado_commented(fake), "ado-c1", "azure-devops")
        drain(runtime)
    assert comment_writes(fake, key) == ["comment_add", "comment_update"]
    assert fake.comments[key][ledger.comment_id] == original
    assert changed_records(caplog) == ["managed comment found edited on reading it: restored"]
    post(client, ado_commented(fake), "ado-c2", "azure-devops")  # restored once, no loop
    drain(runtime)
    assert comment_writes(fake, key) == ["comment_add", "comment_update"]
    assert fake.reads.count((key, "comment_get")) == 2
    documented(rsps)


def test_azure_devops_a_comment_event_with_the_managed_comment_as_written_writes_nothing(
    ado, caplog
) -> None:
    """A team comment: the managed comment is read by id, found as written, and the item
    shown whole in the event is judged as any edit: its plan is the one last written,
    so it is stored and done without governing again."""
    client, runtime, fake, rsps = ado
    key = "azure-devops:4711"
    with caplog.at_level(logging.INFO, logger="webhooks.governance.process"):
        post(client, ado_commented(fake), "ado-c1", "azure-devops")
        drain(runtime)
    assert comment_writes(fake, key) == ["comment_add"]
    assert fake.reads.count((key, "comment_get")) == 1
    outcomes = [r.outcome for r in caplog.records if r.getMessage() == "worker.event_processed"]
    assert outcomes == ["unchanged"]
    assert runtime.store.get_item(key).revision == fake.specs[key].revision  # stored
    documented(rsps)


def test_azure_devops_a_deleted_comment_is_re_created_from_the_next_comment_event(
    ado, caplog
) -> None:
    client, runtime, fake, rsps = ado
    key = "azure-devops:4711"
    ledger = runtime.store.get_ledger(key)
    del fake.comments[key][ledger.comment_id]
    with caplog.at_level(logging.WARNING, logger="webhooks.governance.comment_guard"):
        post(client, ado_commented(fake), "ado-c1", "azure-devops")
        drain(runtime)
    assert comment_writes(fake, key) == ["comment_add", "comment_add"]
    new_id = runtime.store.get_ledger(key).comment_id
    assert new_id != ledger.comment_id and "PMO compliance" in fake.comments[key][new_id]
    assert changed_records(caplog) == ["managed comment found deleted on reading it: re-created"]
    documented(rsps)


def test_azure_devops_an_update_that_changes_the_comment_count_reads_the_comment(
    ado, caplog
) -> None:
    """A comment removed shows in the next update as a changed System.CommentCount: the
    managed comment is read, found gone, and re-created."""
    client, runtime, fake, rsps = ado
    key = "azure-devops:4711"
    ledger = runtime.store.get_ledger(key)
    del fake.comments[key][ledger.comment_id]
    payload = ado_event(fake.know(ADO_STORY), "workitem.updated")
    payload["resource"]["fields"]["System.CommentCount"] = {"oldValue": 1, "newValue": 0}
    with caplog.at_level(logging.WARNING, logger="webhooks.governance.comment_guard"):
        post(client, payload, "ado-u1", "azure-devops")
        drain(runtime)
    assert comment_writes(fake, key) == ["comment_add", "comment_add"]
    assert changed_records(caplog) == ["managed comment found deleted on reading it: re-created"]
    # an update that does not touch the comments reads nothing
    post(client, event_for(fake.know(ADO_STORY)), "ado-u2", "azure-devops")
    drain(runtime)
    assert fake.reads.count((key, "comment_get")) == 1
    documented(rsps)
