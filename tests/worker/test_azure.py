"""End to end for Azure DevOps: a real service-hook payload posted with Basic auth, the
queue drained by the real worker, and the exact HTTP calls the `azure-devops` library
makes (after its `OPTIONS {org}/_apis` location discovery), each checked against
Microsoft's spec."""

from __future__ import annotations

import json

import pytest
import responses

from config.settings import TrackerConfig
from tests.support.helpers import load_fixture, sent
from tests.support.queue_helpers import drain
from tests.support.service import AZURE_SECRET_ENV, azure_headers, make_settings
from tests.support.spec_check import assert_documented
from tests.support.worker_helpers import (
    ADO_BOT,
    ADO_PROJECT,
    ADO_URL,
    BOT,
    DANA,
    LENA,
    mock_azure_discovery,
    reset_azure_location_caches,
    story_update,
    work_item,
)
from webhooks.governance.comments import MARKER
from webhooks.http.app import create_app

SECRET = "azure-e2e-secret"
ITEM = f"{ADO_URL}/_apis/wit/workItems/4711"
COMMENTS = f"{ADO_URL}/{ADO_PROJECT}/_apis/wit/workItems/4711/comments"
ITEM_PATH = "/fabrikam/_apis/wit/workItems/4711"
COMMENTS_PATH = f"/fabrikam/{ADO_PROJECT}/_apis/wit/workItems/4711/comments"
HUMAN_TAGS = "checkout; payments; pci"


@pytest.fixture
def service(tmp_path, monkeypatch):
    reset_azure_location_caches(monkeypatch)
    monkeypatch.setenv(AZURE_SECRET_ENV, SECRET)
    monkeypatch.setenv("TEST_AZURE_PAT", "pat-token")
    tracker = TrackerConfig(
        name="azure-devops",
        kind="azure-devops",
        url=ADO_URL,
        token_env="TEST_AZURE_PAT",
        webhook_secret_env=AZURE_SECRET_ENV,
        bot_account=ADO_BOT,
        fields={"estimate": "Microsoft.VSTS.Scheduling.StoryPoints"},
    )
    settings = make_settings(tmp_path, trackers={"azure-devops": tracker}, rollup_delay_seconds=0.0)
    app = create_app(settings=settings)
    return app, app.extensions["pmo_bridge"]


@pytest.fixture
def mock():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        mock_azure_discovery(rsps)
        yield rsps


def deliver(app, payload):
    body = json.dumps(payload).encode()
    answer = app.test_client().post(
        "/webhooks/azure-devops", data=body, headers=azure_headers(SECRET)
    )
    assert answer.status_code in (200, 202), answer.get_json()
    return answer


def api_calls(mock, *, discovery=True):
    """Every call after discovery, each checked against the spec on the way."""
    calls = list(mock.calls)
    if discovery:
        assert calls[0].request.method == "OPTIONS"
        assert calls[0].request.url == f"{ADO_URL}/_apis"
        calls = calls[1:]
    assert all(c.request.method != "OPTIONS" for c in calls)
    for call in calls:
        assert_documented(call.request, "azure-devops", ADO_URL)
    return [sent(c) for c in calls]


def unowned(rev=3, tags=HUMAN_TAGS, **kw):
    """Story 4711 moved to Active with nobody assigned: owner-in-progress fails."""
    return story_update(rev=rev, tags=tags, assignee=None, **kw)


NO_COMMENTS = {"totalCount": 0, "count": 0, "comments": []}
# the comment a PATCH's System.History made, as the comments list shows it
NEWEST = {"totalCount": 1, "count": 1, "comments": [
    {"id": 42, "workItemId": 4711, "text": f"<h3>{MARKER}</h3>", "createdBy": BOT}
]}  # fmt: skip


def mock_first_round(mock, rev=3, tags=HUMAN_TAGS):
    mock.get(ITEM, json=work_item(rev=rev, tags=tags))
    mock.patch(ITEM, json=work_item(rev=rev + 1, tags=f"{tags}; pmo-unowned"))
    mock.get(COMMENTS, json=NO_COMMENTS)  # no managed comment yet
    mock.get(COMMENTS, json=NEWEST)  # after the PATCH: the comment it made


def tags_patch(rev, tags):
    return [
        {"op": "test", "path": "/rev", "value": rev},
        # replace: the service merges an `add` on System.Tags, so it could not remove
        {"op": "replace", "path": "/fields/System.Tags", "value": tags},
    ]


def test_noncompliant_story_gets_a_tag_and_one_comment(service, mock):
    app, runtime = service
    mock_first_round(mock)

    assert deliver(app, unowned()).status_code == 202
    drain(runtime)

    project, lookup, read, write, newest = api_calls(mock)
    assert project == ("GET", ITEM_PATH, {"fields": "System.TeamProject"}, None)
    assert lookup == ("GET", COMMENTS_PATH, {"$top": "200", "order": "asc"}, None)
    assert read == ("GET", ITEM_PATH, {"fields": "System.Tags"}, None)
    # the tag and the first comment in one revision: System.History is the comment
    *tags, history = write[3]
    assert write[:3] == ("PATCH", ITEM_PATH, {})
    assert tags == tags_patch(3, f"{HUMAN_TAGS}; pmo-unowned")
    assert (history["op"], history["path"]) == ("add", "/fields/System.History")
    assert mock.calls[4].request.headers["Content-Type"].startswith("application/json-patch+json")
    html = history["value"]
    assert "PMO compliance (pmo-bridge)" in html and "owner-in-progress" in html
    assert newest == ("GET", COMMENTS_PATH, {"$top": "1", "order": "desc"}, None)
    ledger = runtime.store.get_ledger("azure-devops:4711")
    assert ledger.comment_id == "42" and ledger.labels == frozenset({"pmo-unowned"})
    assert runtime.store.delivery_counts()["done"] == 1


def test_compliant_story_and_a_repeated_state_write_nothing(service, mock):
    app, runtime = service
    compliant = load_fixture("azure-devops", "workitem.updated__tags_and_points")
    deliver(app, compliant)
    drain(runtime)
    assert len(mock.calls) == 0  # not even discovery: nothing to write

    mock_first_round(mock)
    deliver(app, unowned(delivery="first"))
    assert deliver(app, unowned(delivery="first")).get_json()["status"] == "duplicate"
    deliver(app, unowned(delivery="same-state-again"))
    drain(runtime)
    methods = [m for m, *_ in api_calls(mock)]
    assert methods == ["GET", "GET", "GET", "PATCH", "GET"]  # one round only


def test_fix_removes_the_pmo_tag_keeps_human_tags_and_edits_the_comment(service, mock):
    app, runtime = service
    mock_first_round(mock)
    deliver(app, unowned())
    drain(runtime)
    mock.calls.reset()

    tagged = f"{HUMAN_TAGS}; pmo-unowned"
    mock.replace(responses.GET, ITEM, json=work_item(rev=5, tags=tagged, assignee=LENA))
    mock.replace(responses.PATCH, ITEM, json=work_item(rev=6, tags=HUMAN_TAGS, assignee=LENA))
    mock.patch(f"{COMMENTS}/42", json={"id": 42, "text": "x"})
    deliver(app, story_update(rev=5, tags=tagged, old_tags=tagged, assignee=LENA))
    drain(runtime)

    read, write, comment = api_calls(mock, discovery=False)
    assert read == ("GET", ITEM_PATH, {"fields": "System.Tags"}, None)
    assert write == (
        "PATCH",
        ITEM_PATH,
        {},
        tags_patch(5, HUMAN_TAGS),
    )
    assert comment[:3] == ("PATCH", f"{COMMENTS_PATH}/42", {})
    assert "All PMO rules pass" in comment[3]["text"]
    assert runtime.store.get_ledger("azure-devops:4711").labels == frozenset()


def test_stale_revision_is_reread_and_replanned_once(service, mock):
    """Someone saved the item between our read and our write: the `test /rev` op fails
    with 412, the worker reads the item again and plans against what it now shows."""
    app, runtime = service
    newer_tags = f"{HUMAN_TAGS}; urgent"
    mock.get(ITEM, json=work_item(rev=3, tags=HUMAN_TAGS))  # the item's project
    mock.get(ITEM, json=work_item(rev=3, tags=HUMAN_TAGS))  # the tags read before writing
    stale = {
        "$id": "1",
        "message": "TF26071: This work item has been changed by someone else since you "
        "opened it. You will need to refresh it and discard your changes.",
        "typeKey": "WorkItemRevisionMismatchException",
    }
    mock.patch(ITEM, status=412, json=stale)
    mock.get(ITEM, json=work_item(rev=4, tags=newer_tags))  # the re-read (get_item)
    mock.get(ITEM, json=work_item(rev=4, tags=newer_tags))  # the tags read, second plan
    mock.patch(ITEM, json=work_item(rev=5, tags=f"{newer_tags}; pmo-unowned"))
    mock.get(COMMENTS, json=NO_COMMENTS)
    mock.get(COMMENTS, json=NO_COMMENTS)
    mock.get(COMMENTS, json=NEWEST)

    deliver(app, unowned())
    drain(runtime)

    calls = api_calls(mock)
    assert [(m, p, q) for m, p, q, _ in calls] == [
        ("GET", ITEM_PATH, {"fields": "System.TeamProject"}),
        ("GET", COMMENTS_PATH, {"$top": "200", "order": "asc"}),
        ("GET", ITEM_PATH, {"fields": "System.Tags"}),
        ("PATCH", ITEM_PATH, {}),
        ("GET", ITEM_PATH, {"$expand": "relations"}),
        ("GET", COMMENTS_PATH, {"$top": "200", "order": "asc"}),
        ("GET", ITEM_PATH, {"fields": "System.Tags"}),
        ("PATCH", ITEM_PATH, {}),
        ("GET", COMMENTS_PATH, {"$top": "1", "order": "desc"}),
    ]
    assert calls[3][3][:2] == tags_patch(3, f"{HUMAN_TAGS}; pmo-unowned")
    assert calls[7][3][:2] == tags_patch(4, f"{newer_tags}; pmo-unowned")
    assert runtime.store.get_ledger("azure-devops:4711").comment_id == "42"
    assert runtime.store.get_item("azure-devops:4711").revision == 4
    assert runtime.store.delivery_counts()["done"] == 1


def test_reread_item_is_re_evaluated_not_written_with_the_stale_findings(service, mock):
    """The payload says nobody owns the story, but by the time we write someone has
    assigned it (and the item moved on): the re-read item is the one stored, and
    deliveries older than it are skipped as stale, so its findings decide the writes."""
    app, runtime = service
    mock.get(ITEM, json=work_item(rev=4, tags=HUMAN_TAGS, assignee=LENA))  # all reads
    mock.get(COMMENTS, json=NO_COMMENTS)

    deliver(app, unowned(rev=3))
    drain(runtime)

    calls = api_calls(mock)
    assert [(m, p, q) for m, p, q, _ in calls] == [
        ("GET", ITEM_PATH, {"fields": "System.TeamProject"}),
        ("GET", COMMENTS_PATH, {"$top": "200", "order": "asc"}),  # no managed comment yet
        ("GET", ITEM_PATH, {"fields": "System.Tags"}),  # at rev 4, not 3: Conflict
        ("GET", ITEM_PATH, {"$expand": "relations"}),
    ]  # no pmo-unowned tag, no comment
    assert runtime.store.get_item("azure-devops:4711").revision == 4
    assert runtime.store.open_findings("azure-devops:4711") == []
    assert runtime.store.get_ledger("azure-devops:4711").labels == frozenset()
    assert runtime.store.delivery_counts()["done"] == 1


def test_own_edit_starts_no_new_round(service, mock):
    app, runtime = service
    mock_first_round(mock)
    deliver(app, unowned())
    drain(runtime)
    mock.calls.reset()

    tagged = f"{HUMAN_TAGS}; pmo-unowned"
    echo = unowned(rev=4, tags=tagged, old_tags=HUMAN_TAGS, by=BOT, only_tags=True)
    commented = load_fixture("azure-devops", "workitem.commented__sample")
    commented["resource"]["id"] = 4711
    commented["resource"]["fields"]["System.ChangedBy"] = BOT
    deliver(app, echo)
    deliver(app, commented)
    drain(runtime)
    assert len(mock.calls) == 0
    assert runtime.store.delivery_counts()["ignored"] == 2


def test_own_tag_write_echo_with_bookkeeping_fields_is_dropped_at_once(service, mock):
    """The echo of the service's own tag write names every field the save touched:
    ChangedBy (now the bot), ChangedDate, Rev, AuthorizedDate, Watermark, ... Those are
    bookkeeping, so the echo is recognised as the service's own edit before any work."""
    app, runtime = service
    mock_first_round(mock)
    deliver(app, unowned())
    drain(runtime)
    mock.calls.reset()

    tagged = f"{HUMAN_TAGS}; pmo-unowned"
    echo = unowned(rev=4, tags=tagged, old_tags=HUMAN_TAGS, by=BOT, only_tags=True)
    changes = echo["resource"]["fields"]
    changes["System.ChangedBy"] = {
        "oldValue": f"{DANA['displayName']} <{DANA['uniqueName']}>",
        "newValue": f"{BOT['displayName']} <{BOT['uniqueName']}>",
    }
    for name, old, new in (
        ("System.AuthorizedDate", "2024-05-01T10:00:00Z", "2024-05-02T10:00:00Z"),
        ("System.RevisedDate", "2024-05-02T10:00:00Z", "9999-01-01T00:00:00Z"),
        ("System.Watermark", 41, 42),
        ("System.AuthorizedAs", DANA["uniqueName"], BOT["uniqueName"]),
        ("System.PersonId", 1, 2),
    ):
        changes[name] = {"oldValue": old, "newValue": new}
    deliver(app, echo)
    drain(runtime)
    assert len(mock.calls) == 0
    assert runtime.store.delivery_counts()["ignored"] == 1
    assert runtime.store.get_delivery(2).error == "the service's own edit"


def test_wrong_or_missing_basic_password_is_refused(service, mock):
    app, _ = service
    body = json.dumps(unowned()).encode()
    client = app.test_client()
    assert (
        client.post("/webhooks/azure-devops", data=body, headers=azure_headers(None)).status_code
        == 401
    )
    assert (
        client.post("/webhooks/azure-devops", data=body, headers=azure_headers("nope")).status_code
        == 401
    )
    assert len(mock.calls) == 0


def test_a_refused_field_action_is_an_error_finding_and_blocks_nothing(tmp_path, monkeypatch, mock):
    """Azure DevOps answers 400 to a rule's field action (a priority outside the field's
    allowed values): the tag is written, the comment too, and it says the action was
    refused; the delivery is done, not dead."""
    reset_azure_location_caches(monkeypatch)
    monkeypatch.setenv(AZURE_SECRET_ENV, SECRET)
    monkeypatch.setenv("TEST_AZURE_PAT", "pat-token")
    pack = tmp_path / "actions.yaml"
    pack.write_text(
        "version: 1\nrules:\n  - id: owner-in-progress\n    enforcement: enforce\n"
        "    when: {status_category: [in_progress]}\n"
        "    require: [{field: assignee, present: true}]\n    labels: [unowned]\n"
        '    actions: {set: {priority: "9"}}\n'
    )
    tracker = TrackerConfig(
        name="azure-devops", kind="azure-devops", url=ADO_URL, token_env="TEST_AZURE_PAT",
        webhook_secret_env=AZURE_SECRET_ENV, bot_account=ADO_BOT,
    )  # fmt: skip
    settings = make_settings(
        tmp_path, trackers={"azure-devops": tracker}, rules=(str(pack),), rollup_delay_seconds=0.0
    )
    app = create_app(settings=settings)
    runtime = app.extensions["pmo_bridge"]
    mock.get(ITEM, json=work_item(rev=3, tags=HUMAN_TAGS))
    mock.patch(ITEM, json=work_item(rev=4, tags=f"{HUMAN_TAGS}; pmo-unowned"))
    refusal = {
        "$id": "1",
        "message": "TF401320: Rule Error for field Priority. Error code: InvalidListValue.",
        "typeKey": "RuleValidationException",
    }
    mock.patch(ITEM, status=400, json=refusal)  # the second PATCH: the field action
    mock.get(COMMENTS, json={"totalCount": 0, "count": 0, "comments": []})
    mock.post(COMMENTS, json={"id": 42, "text": "x"})

    deliver(app, unowned())
    drain(runtime)

    calls = api_calls(mock)
    assert [(m, p) for m, p, *_ in calls] == [
        ("GET", ITEM_PATH), ("PATCH", ITEM_PATH), ("PATCH", ITEM_PATH),
        ("GET", COMMENTS_PATH), ("POST", COMMENTS_PATH),
    ]  # fmt: skip
    assert calls[2][3] == [
        {"op": "add", "path": "/fields/Microsoft.VSTS.Common.Priority", "value": 9}
    ]
    html = calls[4][3]["text"]
    assert "the tracker refused the rule&#x27;s field action (priority=9)" in html
    ledger = runtime.store.get_ledger("azure-devops:4711")
    assert ledger.labels == frozenset({"pmo-unowned"}) and ledger.comment_id == "42"
    (record,) = [runtime.store.get_delivery(1)]
    assert record.status == "done" and record.error.startswith("fields refused:")
    assert runtime.dead_letters() == []
