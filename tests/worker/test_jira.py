"""End to end for Jira: a real payload posted to the service, the queue drained by the real
worker, and the exact HTTP calls the `jira` client makes, each checked against the spec."""

from __future__ import annotations

import json

import pytest
import responses

from config.settings import TrackerConfig
from tests.support.helpers import load_fixture
from tests.support.queue_helpers import drain
from tests.support.service import JIRA_SECRET_ENV, jira_headers, make_settings
from tests.support.spec_check import assert_documented
from webhooks.governance.comments import MARKER
from webhooks.governance.writeback import WriteBack
from webhooks.http.app import create_app

SITE = "https://zulipp.atlassian.net"
API = f"{SITE}/rest/api/3"
SECRET = "jira-e2e-secret"
BOT = "5b10ac8d82e05b22cc7d4ef5"


@pytest.fixture
def service(tmp_path, monkeypatch):
    monkeypatch.setenv(JIRA_SECRET_ENV, SECRET)
    monkeypatch.setenv("TEST_JIRA_EMAIL", "pmo-bot@example.com")
    monkeypatch.setenv("TEST_JIRA_TOKEN", "api-token")
    tracker = TrackerConfig(
        name="jira",
        kind="jira",
        url=SITE,
        deployment="cloud",
        user_env="TEST_JIRA_EMAIL",
        token_env="TEST_JIRA_TOKEN",
        webhook_secret_env=JIRA_SECRET_ENV,
        bot_account=BOT,
    )
    app = create_app(settings=make_settings(tmp_path, trackers={"jira": tracker}))
    return app, app.extensions["pmo_bridge"]


def deliver(app, payload, delivery):
    body = json.dumps(payload).encode()
    return app.test_client().post(
        "/webhooks/jira", data=body, headers=jira_headers(body, SECRET, delivery)
    )


def status_payload():
    """The real Cloud transition To Do -> In Progress on TEST-1, which has no assignee."""
    return load_fixture("jira", "issue_updated__status_cloud")


def calls_summary():
    return [(c.request.method, c.request.url.split("?")[0]) for c in responses.calls]


def check_all_documented():
    for call in responses.calls:
        assert_documented(call.request, "jira", SITE)


def mock_empty_comments(key="TEST-1"):
    responses.get(f"{API}/issue/{key}/comment", json={"comments": [], "total": 0, "startAt": 0})


def managed_comment(comment_id="10500", body=None):
    """A comment as Jira lists it: the bot's, carrying the marker."""
    adf = {"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": MARKER}]}
    ]}  # fmt: skip
    return {"id": comment_id, "body": body or adf, "author": {"accountId": BOT}}


def mock_first_writes(key="TEST-1", api=API, body=None):
    """Jira answers for a first write-back: no managed comment yet, then one edit with the
    labels and the comment (answered 204, without the comment), then the newest comment."""
    responses.get(f"{api}/issue/{key}/comment", json={"comments": [], "total": 0, "startAt": 0})
    responses.put(f"{api}/issue/{key}", status=204)
    newest = {"comments": [managed_comment(body=body)], "total": 1, "startAt": 0}
    responses.get(f"{api}/issue/{key}/comment", json=newest)


@responses.activate
def test_noncompliant_item_gets_one_comment_and_a_managed_label(service):
    app, runtime = service
    mock_first_writes()

    assert deliver(app, status_payload(), "d1").status_code == 202
    drain(runtime)

    # no managed comment yet; the label and the comment in one edit; the comment's id
    assert calls_summary() == [
        ("GET", f"{API}/issue/TEST-1/comment"),
        ("PUT", f"{API}/issue/TEST-1"),
        ("GET", f"{API}/issue/TEST-1/comment"),
    ]
    edit = json.loads(responses.calls[1].request.body)["update"]
    assert edit["labels"] == [{"add": "pmo-unowned"}]
    ((verb, added),) = [next(iter(op.items())) for op in edit["comment"]]
    comment = added["body"]
    assert verb == "add" and comment["type"] == "doc" and comment["version"] == 1
    assert "orderBy=-created" in responses.calls[2].request.url
    assert "maxResults=1" in responses.calls[2].request.url
    text = json.dumps(comment)
    assert "owner-in-progress" in text and "PMO compliance (pmo-bridge)" in text
    check_all_documented()
    ledger = runtime.store.get_ledger("jira:TEST-1")
    assert ledger.comment_id == "10500" and ledger.labels == frozenset({"pmo-unowned"})


@responses.activate
def test_same_delivery_twice_and_same_state_twice_write_once(service):
    app, runtime = service
    mock_first_writes()

    payload = status_payload()
    assert deliver(app, payload, "same").status_code == 202
    assert deliver(app, payload, "same").get_json()["status"] == "duplicate"
    later = {**payload, "timestamp": payload["timestamp"] + 1000}  # the same state again
    assert deliver(app, later, "other-delivery-same-state").status_code == 202
    drain(runtime)
    assert len(responses.calls) == 3  # comment lookup, one edit (label, comment), its id


@responses.activate
def test_fix_in_tracker_edits_comment_in_place_and_removes_label(service):
    app, runtime = service
    mock_first_writes()
    responses.put(f"{API}/issue/TEST-1/comment/10500", status=200, json={"id": "10500"})
    deliver(app, status_payload(), "before-fix")
    drain(runtime)
    responses.calls.reset()

    fixed = status_payload()
    fixed["issue"]["fields"]["assignee"] = {
        "accountId": "557058:ana",
        "displayName": "Ana Ruiz",
    }
    fixed["issue"]["fields"]["labels"] = ["pmo-unowned", "customer-x"]
    fixed["issue"]["fields"]["updated"] = "2017-01-30T18:40:00.000+0100"
    fixed["changelog"]["items"] = [
        {
            "field": "assignee",
            "fieldtype": "jira",
            "from": None,
            "fromString": None,
            "to": "557058:ana",
            "toString": "Ana Ruiz",
        }
    ]
    deliver(app, fixed, "after-fix")
    drain(runtime)

    assert calls_summary() == [
        ("PUT", f"{API}/issue/TEST-1"),
        ("PUT", f"{API}/issue/TEST-1/comment/10500"),
    ]
    assert json.loads(responses.calls[0].request.body) == {
        "update": {"labels": [{"remove": "pmo-unowned"}]}
    }
    assert "All PMO rules pass" in json.dumps(json.loads(responses.calls[1].request.body))
    check_all_documented()


@responses.activate
def test_own_write_back_echo_starts_no_new_round(service):
    """The webhook Jira sends for our own label edit and comment comes back: no writes."""
    app, runtime = service
    mock_first_writes()
    deliver(app, status_payload(), "original")
    drain(runtime)
    responses.calls.reset()

    bot = {"accountId": BOT, "displayName": "PMO Bot", "active": True}
    echo = status_payload()
    echo["user"] = bot
    echo["issue"]["fields"]["labels"] = ["pmo-unowned"]
    echo["issue"]["fields"]["updated"] = "2017-01-30T18:33:00.000+0100"
    echo["changelog"]["items"] = [
        {
            "field": "labels",
            "fieldtype": "jira",
            "from": None,
            "fromString": "",
            "to": None,
            "toString": "pmo-unowned",
        }
    ]
    comment_echo = load_fixture("jira", "comment_created__cloud")
    comment_echo["comment"]["author"] = bot
    comment_echo["comment"]["updateAuthor"] = bot
    deliver(app, echo, "echo-labels")
    deliver(app, comment_echo, "echo-comment")
    drain(runtime)
    assert len(responses.calls) == 0


@responses.activate
def test_echo_not_recognised_by_actor_still_writes_nothing(service):
    """Even without the actor check, the ledger diff keeps an echo from writing again."""
    app, runtime = service
    mock_first_writes()
    deliver(app, status_payload(), "original")
    drain(runtime)
    responses.calls.reset()

    echo = status_payload()
    echo["user"] = {"accountId": "someone-else", "displayName": "Automation"}
    echo["issue"]["fields"]["labels"] = ["pmo-unowned"]
    echo["issue"]["fields"]["updated"] = "2017-01-30T18:33:00.000+0100"
    deliver(app, echo, "echo-other-actor")
    drain(runtime)
    assert len(responses.calls) == 0


@responses.activate
def test_stale_event_never_overwrites_newer_state(service):
    app, runtime = service
    mock_first_writes()
    newer = status_payload()
    newer["issue"]["fields"]["updated"] = "2017-01-30T19:00:00.000+0100"
    newer["issue"]["fields"]["summary"] = "Newer title"
    deliver(app, newer, "newer")
    drain(runtime)
    older = status_payload()
    older["issue"]["fields"]["summary"] = "Older title"
    deliver(app, older, "older")
    drain(runtime)
    assert runtime.store.get_item("jira:TEST-1").title == "Newer title"


@responses.activate
def test_server_deployment_writes_wiki_markup_on_v2(tmp_path, monkeypatch):
    monkeypatch.setenv("TEST_JIRA_TOKEN", "pat")
    tracker = TrackerConfig(
        name="jira",
        kind="jira",
        url="http://localhost:2990/jira",
        deployment="server",
        token_env="TEST_JIRA_TOKEN",
        allow_unsigned=True,
    )
    app = create_app(settings=make_settings(tmp_path, trackers={"jira": tracker}))
    runtime = app.extensions["pmo_bridge"]
    api = "http://localhost:2990/jira/rest/api/2"
    payload = load_fixture("jira", "issue_updated__fields_server_no_type_name")
    key = payload["issue"]["key"]
    fields = payload["issue"]["fields"]
    fields["assignee"] = None
    fields["status"]["name"] = "In Progress"
    fields["status"]["statusCategory"]["key"] = "indeterminate"
    mock_first_writes(key, api, body=f"h3. {MARKER}")
    body = json.dumps(payload).encode()
    client = app.test_client()
    client.post("/webhooks/jira", data=body, headers={"Content-Type": "application/json"})
    drain(runtime)
    assert calls_summary() == [
        ("GET", f"{api}/issue/{key}/comment"),
        ("PUT", f"{api}/issue/{key}"),
        ("GET", f"{api}/issue/{key}/comment"),
    ]
    wiki = json.loads(responses.calls[1].request.body)["update"]["comment"][0]["add"]["body"]
    assert isinstance(wiki, str) and "||Rule||" in wiki
    for call in responses.calls:
        assert "notifyUsers" not in call.request.url
        assert_documented(call.request, "jira", "http://localhost:2990/jira")


# -- an event that leaves the write-back plan as it was last written ---------------------
def newer(minute: int, **fields):
    payload = status_payload()
    payload["timestamp"] += minute * 60_000
    payload["issue"]["fields"]["updated"] = (
        f"2099-01-30T19:{minute:02d}:00.000+0100"  # after our writes
    )
    payload["issue"]["fields"].update(fields)
    return payload


@responses.activate
def test_title_edit_on_a_written_item_is_stored_and_done_without_a_write_back(
    service,
    monkeypatch: pytest.MonkeyPatch,
):
    app, runtime = service
    mock_first_writes()
    deliver(app, status_payload(), "first")
    drain(runtime)
    assert len(responses.calls) == 3  # comment lookup, label and comment, the comment's id
    assert runtime.store.get_ledger("jira:TEST-1").findings_hash is not None
    responses.calls.reset()

    def no_apply(*args, **kwargs):
        raise AssertionError("a settled item was written back")

    monkeypatch.setattr(WriteBack, "apply", no_apply)
    deliver(app, newer(5, summary="Checkout: a clearer title", labels=["pmo-unowned"]), "edit")
    drain(runtime)

    assert len(responses.calls) == 0
    assert runtime.store.get_item("jira:TEST-1").title == "Checkout: a clearer title"
    assert runtime.store.delivery_counts()["done"] == 2


@responses.activate
def test_managed_label_removed_by_a_person_is_put_back(service):
    app, runtime = service
    mock_first_writes()
    deliver(app, status_payload(), "first")
    drain(runtime)
    responses.calls.reset()

    deliver(app, newer(5, labels=[]), "label-removed")  # same findings, label gone
    drain(runtime)

    assert calls_summary() == [("PUT", f"{API}/issue/TEST-1")]
    assert json.loads(responses.calls[0].request.body) == {
        "update": {"labels": [{"add": "pmo-unowned"}]}
    }
    check_all_documented()


@responses.activate
def test_owner_assigned_resolves_the_finding_through_the_full_write_back(service):
    app, runtime = service
    mock_first_writes()
    responses.put(f"{API}/issue/TEST-1/comment/10500", status=200, json={"id": "10500"})
    deliver(app, status_payload(), "first")
    drain(runtime)
    responses.calls.reset()

    owner = {"accountId": "5b10a2844c20165700ede21g", "displayName": "Mia Krystof"}
    deliver(app, newer(5, assignee=owner, labels=["pmo-unowned"]), "assigned")
    drain(runtime)

    assert calls_summary() == [
        ("PUT", f"{API}/issue/TEST-1"),
        ("PUT", f"{API}/issue/TEST-1/comment/10500"),
    ]
    assert runtime.store.open_findings("jira:TEST-1") == []
    check_all_documented()
