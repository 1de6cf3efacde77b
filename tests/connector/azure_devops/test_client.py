"""The Azure DevOps write-back client against mocked Azure DevOps HTTP, through the real
`azure-devops` library: discovery, every request's method, path, query and body, call
counts, each request checked against Microsoft's spec, and the error translation table."""

from __future__ import annotations

import base64
import email.utils
import json
import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from config.settings import TrackerConfig
from connector.azure_devops.client import merge_tags
from connector.azure_devops.item import work_item_fields
from connector.azure_devops.wiql import paged_query
from connector.clients import TrackerClient
from connector.document import MARKER, Document, Paragraph, Table, body_text
from connector.errors import (
    Conflict,
    ItemNotFound,
    PermanentTrackerError,
    RateLimited,
    TrackerUnavailable,
)
from connector.trackers import make_client
from tests.support.azure_devops import OPTIONS_BODY
from tests.support.helpers import load_fixture
from tests.support.helpers import sent as recorded
from tests.support.spec_check import assert_documented

URL = "https://dev.azure.com/fabrikam"
ENV = {"AZURE_DEVOPS_PAT": "pat-s3cret"}
PROJECT = "Fabrikam-Fiber"


def tracker(**changes) -> TrackerConfig:
    base = {
        "name": "azure-devops",
        "kind": "azure-devops",
        "url": URL,
        "token_env": "AZURE_DEVOPS_PAT",
        "bot_account": "pmo-bot@fabrikam.com",
        "project": PROJECT,
        "fields": {"estimate": "Microsoft.VSTS.Scheduling.StoryPoints"},
    }
    base.update(changes)
    return TrackerConfig(**base)


@pytest.fixture(autouse=True)
def fresh_location_caches(monkeypatch):
    """The library caches resource locations per process and on disk (12 h, under the
    home folder): each test starts cold and writes nothing to disk."""
    from azure.devops import _file_cache
    from azure.devops import client as ado_client

    monkeypatch.setattr(ado_client.Client, "_locations_cache", {})
    for cache in (_file_cache.OPTIONS_CACHE, _file_cache.RESOURCE_CACHE):
        monkeypatch.setattr(cache, "file_name", "")
        monkeypatch.setattr(cache, "data", {})
        monkeypatch.setattr(cache, "initial_load_occurred", True)


@pytest.fixture
def mock():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.add("OPTIONS", f"{URL}/_apis", json=OPTIONS_BODY)
        yield rsps


@pytest.fixture
def calls():
    return []


@pytest.fixture
def client(calls):
    return make_client(tracker(), environ=ENV, on_call=lambda *a: calls.append(a))


def sent(call):
    """(method, path, query, JSON body) of a recorded request, checked against the spec
    on the way (api-version travels in the Accept header, as the library sends it)."""
    assert_documented(call.request, "azure-devops", URL)
    return recorded(call)


def api_calls(mock):
    """The calls after discovery, which is asserted once per test where it matters."""
    assert mock.calls[0].request.method == "OPTIONS"
    return mock.calls[1:]


def work_item(wid: int = 5, rev: int = 3, tags: str | None = None) -> dict:
    wi = load_fixture("azure-devops", "workitem.created__sample")["resource"]
    wi["id"] = wid
    wi["rev"] = rev
    wi["fields"]["System.TeamProject"] = PROJECT
    if tags is not None:
        wi["fields"]["System.Tags"] = tags
    return wi


def wi_url(wid: int = 5, project: str | None = None) -> str:
    return f"{URL}/{project + '/' if project else ''}_apis/wit/workItems/{wid}"


DOC = Document("Compliance", [Paragraph("Owner <missing> & overdue"), Table(["Rule"], [["x"]])])


# -- construction and discovery --------------------------------------------------------


def test_construction_makes_no_call_and_turns_msrest_retries_off(mock):
    mock.remove("OPTIONS", f"{URL}/_apis")
    client = make_client(tracker(), environ=ENV, timeout=3.0)
    assert isinstance(client, TrackerClient)
    assert len(mock.calls) == 0
    assert client._wit.config.connection.timeout == 3.0
    assert client._wit.config.retry_policy().total == 0


def test_discovery_is_one_options_call_then_cached(mock, client):
    mock.get(wi_url(), json=work_item())
    client.get_item("5")
    client.get_item("5")
    assert [c.request.method for c in mock.calls] == ["OPTIONS", "GET", "GET"]
    options = mock.calls[0].request
    assert options.url == f"{URL}/_apis"
    expected = base64.b64encode(b":pat-s3cret").decode()
    assert options.headers["Authorization"] == f"Basic {expected}"


# -- reading -----------------------------------------------------------------------------


def test_get_item(mock, client, calls):
    mock.get(wi_url(), json=work_item())
    item = client.get_item("5")
    assert item.key == "azure-devops:5"
    (call,) = api_calls(mock)
    assert sent(call) == ("GET", "/fabrikam/_apis/wit/workItems/5", {"$expand": "relations"}, None)
    assert "api-version=7.1-preview.3" in call.request.headers["Accept"]
    assert ("azure-devops", "get_item", 200) in [c[:3] for c in calls]


def batch_answer(bodies: list[dict]):
    """workitemsbatch on a mock: answers with the ids asked for, whatever the order."""

    def answer(request):
        body = json.loads(request.body)
        bodies.append(body)
        value = [work_item(i) for i in body["ids"]]
        return 200, {}, json.dumps({"count": len(value), "value": value})

    return answer


@pytest.mark.parametrize("links", [True, False])
def test_search_runs_wiql_then_batches_of_200_several_in_flight(mock, links):
    """With links (a rule reads them): relations, so every field (Azure DevOps refuses
    `fields` beside `$expand`); without: only the fields the mapping reads."""
    ids = list(range(1, 451))
    mock.post(
        f"{URL}/{PROJECT}/_apis/wit/wiql",
        json={"workItems": [{"id": i, "url": "u"} for i in ids], "queryType": "flat"},
    )
    bodies: list[dict] = []
    batch_url = f"{URL}/{PROJECT}/_apis/wit/workItemsBatch"
    mock.add_callback(
        "POST", batch_url, callback=batch_answer(bodies), content_type="application/json"
    )
    client = make_client(tracker(read_concurrency=3), environ=ENV)
    query = "SELECT [System.Id] FROM WorkItems WHERE [System.State] = 'Active'"
    total, items = client.search(query, page_size=500, links=links)
    assert total == 450
    assert len(api_calls(mock)) == 1  # batches are read as the caller iterates
    assert [i.native_id for i in items] == [str(i) for i in ids]  # in the query's order
    wiql, *batches = (sent(c) for c in api_calls(mock))
    paged = {"query": paged_query(query, 0)}  # ids above 0 in id order, 19,999 at most
    assert wiql == ("POST", f"/fabrikam/{PROJECT}/_apis/wit/wiql", {"$top": "19999"}, paged)
    assert {b[:2] for b in batches} == {("POST", f"/fabrikam/{PROJECT}/_apis/wit/workItemsBatch")}
    assert sorted(b["ids"] for b in bodies) == [ids[:200], ids[200:400], ids[400:]]
    if links:
        assert {(b["$expand"], b.get("fields")) for b in bodies} == {("relations", None)}
    else:
        fields = work_item_fields(tracker())
        assert {tuple(b["fields"]) for b in bodies} == {tuple(fields)}
        assert not any("$expand" in b for b in bodies)
        assert "System.Parent" in fields and "System.Tags" in fields


def test_search_reads_the_ids_of_a_large_query_in_pages_of_19999(mock):
    """The service refuses a WIQL answer of over 20,000 work items (VS402337): the ids
    are read 19,999 at a time, ordered by id, each page asking for the ids above the
    last one; every request as Microsoft documents it."""
    everything = list(range(1, 45_001))
    queries: list[str] = []

    def wiql(request):
        query = json.loads(request.body)["query"]
        queries.append(query)
        after = int(re.search(r"\[System\.Id\] > (\d+)", query).group(1))
        top = int(parse_qs(urlsplit(request.url).query)["$top"][0])
        found = [i for i in everything if i > after][:top]
        return 200, {}, json.dumps({"workItems": [{"id": i, "url": "u"} for i in found]})

    mock.add_callback("POST", f"{URL}/{PROJECT}/_apis/wit/wiql", callback=wiql)
    client = make_client(tracker(), environ=ENV)
    query = (
        "SELECT [System.Title] FROM WorkItems WHERE [System.State] = 'Active' "
        "ORDER BY [System.Title]"
    )
    total, _ = client.search(query, page_size=200, links=False)
    assert total == 45_000
    assert queries == [paged_query(query, after) for after in (0, 19_999, 39_998)]
    assert queries[1] == (
        "SELECT [System.Id] FROM WorkItems WHERE ([System.State] = 'Active') "
        "AND [System.Id] > 19999 ORDER BY [System.Id] ASC"
    )
    for call in api_calls(mock):
        assert_documented(call.request, "azure-devops", URL)


@pytest.mark.parametrize(
    ("query", "paged"),
    [
        ("select [System.Id] from workitems",
         "SELECT [System.Id] FROM WorkItems WHERE [System.Id] > 7 ORDER BY [System.Id] ASC"),
        ("SELECT [System.Id] FROM WorkItems WHERE [System.Title] = 'order by asof where' "
         "OR [System.State] = 'New' ORDER BY [System.ChangedDate] DESC ASOF '2026-01-01'",
         "SELECT [System.Id] FROM WorkItems WHERE ([System.Title] = 'order by asof where' "
         "OR [System.State] = 'New') AND [System.Id] > 7 ORDER BY [System.Id] ASC "
         "ASOF '2026-01-01'"),
        ("SELECT [System.Id] FROM WorkItemLinks WHERE [Source].[System.Id] = 1", None),
    ],
)  # fmt: skip
def test_a_query_is_paged_by_id_keeping_its_condition_and_asof(query, paged):
    assert paged_query(query, 7) == paged


def test_find_managed_comment_follows_continuation_and_prefers_the_bot(mock, client):
    bot = {"displayName": "PMO bot", "uniqueName": "pmo-bot@fabrikam.com", "id": "b"}
    human = {"displayName": "Jamal", "uniqueName": "jamal@fabrikam.com", "id": "h"}
    comments = f"{wi_url(5, PROJECT)}/comments"
    mock.get(wi_url(), json=work_item())  # the project, once
    mock.get(
        comments,
        json={
            "totalCount": 3,
            "count": 2,
            "continuationToken": "next",
            "comments": [
                {"id": 1, "text": "<p>hi</p>", "createdBy": human},
                {"id": 2, "text": f"<p>quoting {MARKER}</p>", "createdBy": human},
            ],
        },
    )
    mock.get(
        comments,
        json={
            "totalCount": 3,
            "count": 1,
            "comments": [{"id": 3, "text": DOC.to_html(), "createdBy": bot}],
        },
    )
    found = client.find_managed_comment("5")
    assert found is not None and found.id == "3"
    project, page1, page2 = (sent(c) for c in api_calls(mock))
    assert project[2] == {"fields": "System.TeamProject"}
    assert page1[:3] == (
        "GET",
        f"/fabrikam/{PROJECT}/_apis/wit/workItems/5/comments",
        {"$top": "200", "order": "asc"},
    )
    assert page2[2] == {"$top": "200", "order": "asc", "continuationToken": "next"}


def test_whoami_reads_connection_data(mock, client):
    mock.get(
        f"{URL}/_apis/ConnectionData",
        json={
            "authenticatedUser": {
                "id": "u-1",
                "providerDisplayName": "PMO bot",
                "properties": {
                    "Account": {"$type": "System.String", "$value": "pmo-bot@fabrikam.com"}
                },
            }
        },
    )
    me = client.whoami()
    assert (me.display_name, me.account_id) == ("PMO bot", "pmo-bot@fabrikam.com")
    (call,) = api_calls(mock)
    assert (
        call.request.method == "GET"
        and urlsplit(call.request.url).path == "/fabrikam/_apis/ConnectionData"
    )


# -- writing -----------------------------------------------------------------------------


def test_comments_are_html_through_the_comments_api(mock, client):
    comments = f"{wi_url(5, PROJECT)}/comments"
    mock.get(wi_url(), json=work_item())
    mock.post(comments, json={"id": 42, "text": DOC.to_html()})
    mock.patch(f"{comments}/42", json={"id": 42, "text": DOC.to_html()})
    assert client.add_comment("5", DOC) == "42"
    client.update_comment("5", "42", DOC)
    _, add, update = api_calls(mock)
    assert sent(add) == (
        "POST",
        f"/fabrikam/{PROJECT}/_apis/wit/workItems/5/comments",
        {},
        {"text": DOC.to_html()},
    )
    assert sent(update) == (
        "PATCH",
        f"/fabrikam/{PROJECT}/_apis/wit/workItems/5/comments/42",
        {},
        {"text": DOC.to_html()},
    )
    assert "&lt;missing&gt; &amp; overdue" in json.loads(add.request.body)["text"]
    assert "api-version=7.1-preview.4" in add.request.headers["Accept"]


def test_project_is_remembered_from_reads(mock, client):
    mock.get(wi_url(), json=work_item())
    mock.post(f"{wi_url(5, PROJECT)}/comments", json={"id": 1})
    client.get_item("5")
    client.add_comment("5", DOC)
    assert [c.request.method for c in api_calls(mock)] == ["GET", "POST"]


def test_update_labels_tests_the_revision_and_replaces_tags(mock, client):
    """`replace`, not `add`: Azure DevOps merges an `add` on System.Tags into the tags
    already there, so a tag could never be taken away."""
    mock.get(wi_url(), json=work_item(rev=7, tags="Customer; pmo-old; Blocked"))
    mock.patch(wi_url(), json=work_item(rev=8))
    client.update_labels("5", {"pmo-late", "BLOCKED"}, {"PMO-OLD"}, revision=7)
    read, write = (sent(c) for c in api_calls(mock))
    assert read == ("GET", "/fabrikam/_apis/wit/workItems/5", {"fields": "System.Tags"}, None)
    assert write == (
        "PATCH",
        "/fabrikam/_apis/wit/workItems/5",
        {},
        [
            {"op": "test", "path": "/rev", "value": 7},
            {
                "op": "replace",
                "path": "/fields/System.Tags",
                "value": "Customer; Blocked; pmo-late",
            },
        ],
    )
    patch = api_calls(mock)[1].request
    assert patch.headers["Content-Type"].startswith("application/json-patch+json")


def test_update_labels_without_revision_tests_the_revision_it_read(mock, client):
    mock.get(wi_url(), json=work_item(rev=4, tags=""))
    mock.patch(wi_url(), json=work_item(rev=5))
    client.update_labels("5", {"pmo-x"}, set())
    assert sent(api_calls(mock)[1])[3][0] == {"op": "test", "path": "/rev", "value": 4}


def test_update_labels_writes_nothing_when_nothing_changes(mock, client):
    mock.get(wi_url(), json=work_item(tags="pmo-x; Other"))
    client.update_labels("5", {"PMO-X"}, {"absent"})
    client.update_labels("5", set(), set())
    assert [c.request.method for c in api_calls(mock)] == ["GET"]


BOT = {"displayName": "PMO bot", "uniqueName": "pmo-bot@fabrikam.com", "id": "b"}


def test_tags_and_a_new_comment_in_one_revision_then_the_comment_id_is_read(mock, client):
    """System.History in the same PATCH as the tags: its text becomes the item's comment
    (Microsoft's own PATCH example sends a test op, a field and System.History)."""
    comments = f"{wi_url(5, PROJECT)}/comments"
    doc = Document(MARKER, [Paragraph("Owner missing")])
    mock.get(wi_url(), json=work_item(rev=7, tags="Customer"))
    mock.patch(wi_url(), json=work_item(rev=8))
    newest = {"id": 91, "text": doc.to_html(), "createdBy": BOT}
    mock.get(comments, json={"totalCount": 4, "count": 1, "comments": [newest]})
    assert client.update_labels_with_comment("5", {"pmo-late"}, set(), doc, revision=7) == (8, "91")
    read, write, newest_call = (sent(c) for c in api_calls(mock))
    assert read[2] == {"fields": "System.Tags"}
    assert write == (
        "PATCH",
        "/fabrikam/_apis/wit/workItems/5",
        {},
        [
            {"op": "test", "path": "/rev", "value": 7},
            {"op": "replace", "path": "/fields/System.Tags", "value": "Customer; pmo-late"},
            {"op": "add", "path": "/fields/System.History", "value": doc.to_html()},
        ],
    )
    assert newest_call[:3] == (
        "GET",
        f"/fabrikam/{PROJECT}/_apis/wit/workItems/5/comments",
        {"$top": "1", "order": "desc"},
    )


def test_one_revision_with_the_tags_already_right_carries_the_comment_alone(mock, client):
    comments = f"{wi_url(5, PROJECT)}/comments"
    doc = Document(MARKER, [Paragraph("Owner missing")])
    mock.get(wi_url(), json=work_item(rev=7, tags="pmo-late"))
    mock.patch(wi_url(), json=work_item(rev=8))
    mine = {"id": 91, "text": doc.to_html(), "createdBy": BOT}
    mock.get(comments, json={"totalCount": 1, "count": 1, "comments": [mine]})
    assert client.update_labels_with_comment("5", {"pmo-late"}, set(), doc) == (8, "91")
    write = sent(api_calls(mock)[1])[3]
    assert [op["path"] for op in write] == ["/rev", "/fields/System.History"]


def test_newest_comment_not_the_bots_falls_back_to_the_marker_search(mock, client):
    comments = f"{wi_url(5, PROJECT)}/comments"
    doc = Document(MARKER, [Paragraph("Owner missing")])
    human = {"displayName": "Jamal", "uniqueName": "jamal@fabrikam.com", "id": "h"}
    mock.get(wi_url(), json=work_item(rev=7, tags=""))
    mock.patch(wi_url(), json=work_item(rev=8))
    theirs = {"id": 92, "text": f"<p>{MARKER} is wrong</p>", "createdBy": human}
    mine = {"id": 91, "text": doc.to_html(), "createdBy": BOT}
    mock.get(comments, json={"totalCount": 2, "count": 1, "comments": [theirs]})
    mock.get(comments, json={"totalCount": 2, "count": 2, "comments": [mine, theirs]})
    assert client.update_labels_with_comment("5", {"pmo-late"}, set(), doc)[1] == "91"
    assert sent(api_calls(mock)[3])[2] == {"$top": "200", "order": "asc"}


def test_one_revision_stale_is_a_conflict_without_writing(mock, client):
    mock.get(wi_url(), json=work_item(rev=9, tags=""))
    with pytest.raises(Conflict):
        client.update_labels_with_comment("5", {"pmo-late"}, set(), DOC, revision=7)
    assert [c.request.method for c in api_calls(mock)] == ["GET"]


def test_update_labels_stale_revision_is_a_conflict_without_writing(mock, client):
    mock.get(wi_url(), json=work_item(rev=9))
    with pytest.raises(Conflict, match="rev 9"):
        client.update_labels("5", {"pmo-x"}, set(), revision=7)
    assert [c.request.method for c in api_calls(mock)] == ["GET"]


SUPPRESS_REFUSED = {
    "$id": "1",
    "innerException": None,
    "message": "Access denied: the caller needs 'Suppress notifications for work item updates'.",
    "typeName": "Microsoft.TeamFoundation.Framework.Server.UnauthorizedRequestException",
    "typeKey": "UnauthorizedRequestException",
    "errorCode": 0,
    "eventId": 3000,
}


def test_writes_ask_for_no_suppression_by_default(mock, client):
    mock.patch(wi_url(), json=work_item())
    client.set_fields("5", {"estimate": 8})
    assert sent(api_calls(mock)[0])[2] == {}


def test_quiet_edits_refused_retry_once_without_and_remember(mock, caplog):
    """suppressNotifications=true needs the project permission SUPPRESS_NOTIFICATIONS;
    refused, the edit is sent again without it, and the answer is kept and logged once."""
    quiet = make_client(tracker(quiet_edits=True), environ=ENV)
    with_param = [responses.matchers.query_param_matcher({"suppressNotifications": "true"})]
    mock.patch(wi_url(), status=403, json=SUPPRESS_REFUSED, match=with_param)
    mock.patch(wi_url(), json=work_item(rev=8))
    with caplog.at_level("WARNING", logger="connector.azure_devops.client"):
        quiet.set_fields("5", {"estimate": 8})
        quiet.set_fields("5", {"estimate": 5})
    queries = [sent(c)[2] for c in api_calls(mock)]
    assert queries == [{"suppressNotifications": "true"}, {}, {}]
    refused = [r for r in caplog.records if r.message == "azure_devops.client.quiet_edits_refused"]
    assert len(refused) == 1


def test_quiet_edits_with_the_permission_suppress_notifications(mock):
    quiet = make_client(tracker(quiet_edits=True), environ=ENV)
    mock.patch(wi_url(), json=work_item(rev=8))
    quiet.set_fields("5", {"estimate": 8})
    assert sent(api_calls(mock)[0])[2] == {"suppressNotifications": "true"}


def test_set_fields_adds_each_mapped_field(mock, client):
    mock.patch(wi_url(), json=work_item())
    client.set_fields("5", {"estimate": 8, "Custom.Progress": 40})
    client.set_fields("5", {})
    (call,) = api_calls(mock)
    assert sent(call)[3] == [
        {"op": "add", "path": "/fields/Microsoft.VSTS.Scheduling.StoryPoints", "value": 8},
        {"op": "add", "path": "/fields/Custom.Progress", "value": 40},
    ]


def test_set_fields_sends_priority_and_assignee_to_their_work_item_fields(mock, client):
    """Microsoft.VSTS.Common.Priority is an integer field; System.AssignedTo takes the
    identity's display or unique name (Microsoft's "Update work items" examples)."""
    mock.patch(wi_url(), json=work_item())
    client.set_fields("5", {"priority": "2", "assignee": "dana.whitfield@fabrikam.com"})
    (call,) = api_calls(mock)
    assert sent(call)[3] == [
        {"op": "add", "path": "/fields/Microsoft.VSTS.Common.Priority", "value": 2},
        {"op": "add", "path": "/fields/System.AssignedTo", "value": "dana.whitfield@fabrikam.com"},
    ]


def test_get_comment_reads_one_comment_and_none_when_gone_or_deleted(mock, client):
    mock.get(wi_url(5), json=work_item())  # the project, read once
    base = f"{URL}/{PROJECT}/_apis/wit/workItems/5/comments"
    mock.get(f"{base}/42", json={"workItemId": 5, "id": 42, "version": 2,
                                 "text": DOC.to_html(), "isDeleted": False})  # fmt: skip
    mock.get(f"{base}/43", status=404, json={"message": "TF401219: not found"})
    mock.get(f"{base}/44", json={"workItemId": 5, "id": 44, "text": "", "isDeleted": True})
    comment = client.get_comment("5", "42")
    assert comment is not None and comment.id == "42"
    assert comment.body == body_text(DOC.to_html())
    assert client.get_comment("5", "43") is None
    assert client.get_comment("5", "44") is None
    paths = [sent(c)[1] for c in api_calls(mock)]
    assert paths[1:] == [f"/fabrikam/{PROJECT}/_apis/wit/workItems/5/comments/{n}"
                         for n in (42, 43, 44)]  # fmt: skip


@pytest.mark.parametrize(
    ("current", "add", "remove", "expected"),
    [
        ("", {"b", "a"}, set(), "a; b"),
        ("A; b", {"a"}, set(), "A; b"),
        ("A; b", set(), {"B"}, "A"),
        ("x;y ; z", {"w"}, {"y"}, "x; z; w"),
        (None, set(), {"gone"}, ""),
    ],
)
def test_merge_tags(current, add, remove, expected):
    assert merge_tags(current, add, remove) == expected


# -- error translation -------------------------------------------------------------------


def wrapped(message: str, type_key: str = "VssServiceException") -> dict:
    return {"$id": "1", "innerException": None, "message": message, "typeKey": type_key}


@pytest.mark.parametrize(
    ("status", "headers", "body", "error", "checks"),
    [
        (429, {"Retry-After": "12"}, {}, RateLimited, {"retry_after": 12.0, "scope": "tracker"}),
        (
            429,
            {"Retry-After": "HTTP-DATE+90"},  # made when the test runs, not at collection
            {},
            RateLimited,
            {},
        ),
        (500, {}, wrapped("TF400898: internal error"), TrackerUnavailable, {"status": 500}),
        (502, {}, {}, TrackerUnavailable, {"status": 502}),
        (503, {"Retry-After": "2"}, {}, TrackerUnavailable, {"status": 503}),
        (404, {}, wrapped("TF401232: Work item 5 does not exist"), ItemNotFound, {"status": 404}),
        (400, {}, wrapped("VS402625: bad field value"), PermanentTrackerError, {"status": 400}),
        (401, {}, {}, PermanentTrackerError, {"status": 401}),
        (409, {}, wrapped("conflict"), Conflict, {"status": 409}),
    ],
)
def test_error_translation_on_reads(mock, client, status, headers, body, error, checks):
    headers = {
        k: email.utils.formatdate(time.time() + 90, usegmt=True) if v == "HTTP-DATE+90" else v
        for k, v in headers.items()
    }
    mock.get(wi_url(), status=status, headers=headers, json=body)
    with pytest.raises(error) as caught:
        client.get_item("5")
    for name, value in checks.items():
        assert getattr(caught.value, name) == value
    if status == 429 and not checks:
        assert 80 <= caught.value.retry_after <= 91
    assert type(caught.value) is error
    assert len(api_calls(mock)) == 1  # msrest's urllib3 retries are off


def test_rate_limit_reset_when_retry_after_is_missing(mock, client):
    reset = str(int(time.time()) + 40)
    headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}
    mock.patch(wi_url(), status=429, headers=headers, json={})
    with pytest.raises(RateLimited) as caught:
        client.set_fields("5", {"Custom.X": 1})
    assert 35 <= caught.value.retry_after <= 41


@pytest.mark.parametrize(
    ("status", "body"),
    [
        # The documented answer to a failed `test /rev` op.
        (
            412,
            wrapped(
                "TF26071: This work item has been changed by someone else since you opened it."
            ),
        ),
        # The same check reported as a 400 by some deployments.
        (
            400,
            wrapped(
                "TF26071: This work item has been changed by someone else since you opened it."
            ),
        ),
        (400, wrapped("The test operation failed", "TestOperationFailedException")),
    ],
)
def test_failed_test_op_is_a_conflict(mock, client, status, body):
    mock.get(wi_url(), json=work_item(rev=3))
    mock.patch(wi_url(), status=status, json=body)
    with pytest.raises(Conflict):
        client.update_labels("5", {"pmo-x"}, set(), revision=3)
    assert [c.request.method for c in api_calls(mock)] == ["GET", "PATCH"]


@pytest.mark.parametrize(
    "failure",
    [requests.ConnectionError("refused"), requests.exceptions.ReadTimeout("read timed out")],
)
def test_no_answer_is_unavailable(mock, client, calls, failure):
    mock.get(wi_url(), body=failure)
    with pytest.raises(TrackerUnavailable, match="no answer"):
        client.get_item("5")
    assert len(api_calls(mock)) == 1
    assert calls[-1][:3] == ("azure-devops", "get_item", None)


def test_discovery_failure_is_translated_too(client):
    with responses.RequestsMock() as rsps:
        rsps.add("OPTIONS", f"{URL}/_apis", status=503)
        with pytest.raises(TrackerUnavailable):
            client.get_item("5")
        assert len(rsps.calls) == 1


def test_not_a_work_item_id_is_permanent(client):
    with pytest.raises(PermanentTrackerError, match="not a work item id"):
        client.get_item("PAY-1")


def test_errors_never_carry_the_token(mock, client):
    mock.get(wi_url(), status=403, json=wrapped("TF400813: not authorized"))
    with pytest.raises(PermanentTrackerError) as caught:
        client.get_item("5")
    assert "s3cret" not in str(caught.value)
    assert caught.value.__cause__ is None


def test_every_request_carries_the_timeout(mock):
    mock.get(wi_url(), json=work_item())
    client = make_client(tracker(), environ=ENV, timeout=2.5)
    client.get_item("5")
    assert [c.request.req_kwargs["timeout"] for c in mock.calls] == [2.5, 2.5]  # OPTIONS too


def test_ids_and_projects_are_never_more_than_one_path_segment(mock, client):
    """Ids travel as integers; the project (read from the item) is percent-encoded by the
    library's route serialiser, so neither can name another path."""
    hostile = "Fab/../Other?x=1#y"
    item = work_item()
    item["fields"]["System.TeamProject"] = hostile
    mock.get(wi_url(), json=item)
    quoted = "Fab%2F..%2FOther%3Fx%3D1%23y"
    mock.post(re.compile(re.escape(URL) + r"/.*comments"), json={"id": 1})
    client.add_comment("5", DOC)
    _, add = api_calls(mock)
    assert urlsplit(add.request.url).path == f"/fabrikam/{quoted}/_apis/wit/workItems/5/comments"
    assert "x=1" not in urlsplit(add.request.url).query
    with pytest.raises(PermanentTrackerError, match="not a work item id"):
        client.get_item("5/../6")
