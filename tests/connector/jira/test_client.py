"""The Jira write-back client against mocked Jira HTTP: every request's method, path,
query and body, the number of calls, each request checked against Atlassian's spec, and
the error translation table."""

from __future__ import annotations

import base64
import email.utils
import json
import re
import time
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import responses

from config.settings import TrackerConfig
from connector.clients import TrackerClient
from connector.document import MARKER, BulletList, Document, Paragraph, body_text
from connector.errors import (
    Conflict,
    ItemNotFound,
    PermanentTrackerError,
    RateLimited,
    TrackerUnavailable,
)
from connector.jira.item import issue_fields
from connector.trackers import make_client
from tests.support.helpers import load_fixture
from tests.support.spec_check import assert_documented

URL = "https://acme.atlassian.net"
ENV = {"JIRA_EMAIL": "bot@acme.example", "JIRA_API_TOKEN": "s3cret-token"}


def tracker(deployment: str = "cloud", **changes) -> TrackerConfig:
    base = {
        "name": "jira",
        "kind": "jira",
        "url": URL,
        "deployment": deployment,
        "user_env": "JIRA_EMAIL",
        "token_env": "JIRA_API_TOKEN",
        "bot_account": "bot-account-id",
        "fields": {"estimate": "customfield_10016"},
    }
    base.update(changes)
    return TrackerConfig(**base)


def api(version: str, path: str) -> str:
    return f"{URL}/rest/api/{version}/{path}"


@pytest.fixture
def mock():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        yield rsps


@pytest.fixture
def calls():
    return []


@pytest.fixture
def cloud(calls):
    return make_client(tracker("cloud"), environ=ENV, on_call=lambda *a: calls.append(a))


@pytest.fixture
def server():
    return make_client(tracker("server"), environ=ENV)


def sent(call) -> tuple[str, str, dict[str, str], object]:
    """(method, path, query, JSON body) of a recorded request, each checked against the
    spec on the way."""
    assert_documented(call.request, "jira", URL)
    split = urlsplit(call.request.url)
    body = call.request.body
    return (
        call.request.method,
        split.path,
        dict(parse_qsl(split.query)),
        json.loads(body) if body else None,
    )


def issue_json(key: str = "PAY-12") -> dict:
    issue = load_fixture("jira", "issue_updated__status_cloud")["issue"]
    issue["key"] = key
    return issue


DOC = Document("Compliance", [Paragraph("Estimate missing"), BulletList(["story-estimated"])])


# -- construction ----------------------------------------------------------------------


def test_construction_makes_no_call_and_turns_library_retries_off(mock):
    client = make_client(tracker(), environ=ENV, timeout=4.5)
    assert isinstance(client, TrackerClient)
    assert len(mock.calls) == 0
    session = client._jira._session
    assert session.max_retries == 0
    assert session.timeout == 4.5


def test_basic_auth_for_cloud_and_bearer_token_without_user(mock):
    mock.get(api("3", "myself"), json={"accountId": "bot-account-id", "displayName": "PMO bot"})
    mock.get(api("2", "myself"), json={"name": "pmo-bot", "displayName": "PMO bot"})
    me = make_client(tracker(), environ=ENV).whoami()
    pat = make_client(tracker("server", user_env=None), environ=ENV).whoami()

    expected = base64.b64encode(b"bot@acme.example:s3cret-token").decode()
    assert mock.calls[0].request.headers["Authorization"] == f"Basic {expected}"
    assert mock.calls[1].request.headers["Authorization"] == "Bearer s3cret-token"
    assert (me.display_name, me.account_id) == ("PMO bot", "bot-account-id")
    assert pat.account_id == "pmo-bot"
    assert [sent(c)[:2] for c in mock.calls] == [
        ("GET", "/rest/api/3/myself"),
        ("GET", "/rest/api/2/myself"),
    ]


# -- reading -----------------------------------------------------------------------------


def test_get_item_reads_the_issue_once(mock, cloud, calls):
    mock.get(api("3", "issue/PAY-12"), json=issue_json())
    item = cloud.get_item("PAY-12")
    assert item.key == "jira:PAY-12"
    assert len(mock.calls) == 1
    assert sent(mock.calls[0]) == ("GET", "/rest/api/3/issue/PAY-12", {}, None)
    assert calls[0][:3] == ("jira", "get_item", 200)
    assert calls[0][3] >= 0


def test_server_search_pages_with_start_at(mock, server):
    mock.post(
        api("2", "search"), json={"total": 3, "issues": [issue_json("A-1"), issue_json("A-2")]}
    )
    mock.post(api("2", "search"), json={"total": 3, "issues": [issue_json("A-3")]})
    total, items = server.search("project = A", page_size=2)
    assert total == 3
    assert [i.native_id for i in items] == ["A-1", "A-2", "A-3"]
    bodies = [sent(c)[3] for c in mock.calls]
    assert [sent(c)[:2] for c in mock.calls] == [("POST", "/rest/api/2/search")] * 2
    assert [b["startAt"] for b in bodies] == [0, 2]
    fields = issue_fields(tracker("server"))  # the mapped ones, not every field
    assert bodies[0] == {"jql": "project = A", "startAt": 0, "maxResults": 2, "fields": fields}
    assert "customfield_10016" in fields and "*all" not in fields


def test_search_error_surfaces_at_the_call(mock, cloud):
    mock.post(api("3", "search/approximate-count"), json={"count": 0})
    mock.post(
        api("3", "search/jql"), status=400, json={"errorMessages": ["Field 'x' does not exist"]}
    )
    with pytest.raises(PermanentTrackerError, match="does not exist"):
        cloud.search("x = 1")


def adf_comment(cid: str, text: str, account: str = "someone") -> dict:
    return {
        "id": cid,
        "author": {"accountId": account, "displayName": account},
        "body": {
            "type": "doc",
            "version": 1,
            "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}],
        },
    }


def test_find_managed_comment_pages_and_prefers_the_bots_comment(mock, cloud):
    quoted = f"As the {MARKER} comment said..."
    mock.get(
        api("3", "issue/PAY-12/comment"),
        json={"total": 3, "comments": [adf_comment("1", "hello"), adf_comment("2", quoted)]},
    )
    mock.get(
        api("3", "issue/PAY-12/comment"),
        json={"total": 3, "comments": [adf_comment("3", f"Ok · {MARKER}", "bot-account-id")]},
    )
    found = cloud.find_managed_comment("PAY-12")
    assert found is not None and found.id == "3"
    assert found.author.account_id == "bot-account-id"
    assert [sent(c)[2] for c in mock.calls] == [
        {"startAt": "0", "maxResults": "100"},
        {"startAt": "2", "maxResults": "100"},
    ]


def test_find_managed_comment_reads_wiki_bodies_on_server(mock, server):
    body = Document("All rules pass").to_wiki()
    mock.get(
        api("2", "issue/A-1/comment"),
        json={"total": 1, "comments": [{"id": "10", "body": body, "author": {"name": "x"}}]},
    )
    assert server.find_managed_comment("A-1").id == "10"


def test_find_managed_comment_none_when_absent(mock, cloud):
    mock.get(api("3", "issue/PAY-12/comment"), json={"total": 0, "comments": []})
    assert cloud.find_managed_comment("PAY-12") is None
    assert len(mock.calls) == 1


# -- writing -----------------------------------------------------------------------------


def test_cloud_comments_are_adf_and_edits_ask_for_no_quiet(mock, cloud):
    mock.post(api("3", "issue/PAY-12/comment"), json={"id": "10010"}, status=201)
    mock.put(api("3", "issue/PAY-12/comment/10010"), json={"id": "10010"})
    assert cloud.add_comment("PAY-12", DOC) == "10010"
    cloud.update_comment("PAY-12", "10010", DOC)
    assert len(mock.calls) == 2
    assert sent(mock.calls[0]) == (
        "POST",
        "/rest/api/3/issue/PAY-12/comment",
        {},
        {"body": DOC.to_adf()},
    )
    # notifyUsers=false needs admin rights: not sent unless the config opts in
    assert sent(mock.calls[1]) == (
        "PUT",
        "/rest/api/3/issue/PAY-12/comment/10010",
        {},
        {"body": DOC.to_adf()},
    )


def test_server_comments_are_wiki_markup(mock, server):
    mock.post(api("2", "issue/A-1/comment"), json={"id": "7"}, status=201)
    mock.put(api("2", "issue/A-1/comment/7"), json={"id": "7"})
    assert server.add_comment("A-1", DOC) == "7"
    server.update_comment("A-1", "7", DOC)
    assert sent(mock.calls[0])[3] == {"body": DOC.to_wiki()}
    assert sent(mock.calls[1]) == (
        "PUT",
        "/rest/api/2/issue/A-1/comment/7",
        {},
        {"body": DOC.to_wiki()},
    )


def test_update_labels_uses_the_update_form(mock, cloud):
    mock.put(api("3", "issue/PAY-12"), status=204)
    cloud.update_labels("PAY-12", {"pmo-b", "pmo-a"}, {"pmo-old"})
    assert len(mock.calls) == 1
    assert sent(mock.calls[0]) == (
        "PUT",
        "/rest/api/3/issue/PAY-12",
        {},
        {"update": {"labels": [{"add": "pmo-a"}, {"add": "pmo-b"}, {"remove": "pmo-old"}]}},
    )


def test_update_labels_with_nothing_to_do_makes_no_call(mock, cloud):
    cloud.update_labels("PAY-12", set(), set())
    cloud.update_labels("PAY-12", {"x"}, {"x"})
    assert len(mock.calls) == 0


# -- labels and the first comment in one edit ------------------------------------------

MANAGED = Document(MARKER, [Paragraph("Estimate missing")])
NOT_ON_SCREEN = {
    "errorMessages": [],
    "errors": {"comment": "Field 'comment' cannot be set. It is not on the appropriate screen, "
               "or unknown."},
}  # fmt: skip


def test_labels_and_a_new_comment_go_in_one_edit_then_the_comment_id_is_read(mock, cloud):
    mock.put(api("3", "issue/PAY-12"), status=204)
    newest = adf_comment("10077", f"{MARKER} ...", "bot-account-id")
    mock.get(api("3", "issue/PAY-12/comment"), json={"total": 3, "comments": [newest]})
    before = int(time.time() * 1000)
    written, comment_id = cloud.update_labels_with_comment("PAY-12", {"pmo-a"}, {"pmo-z"}, MANAGED)
    assert comment_id == "10077" and written >= before
    assert sent(mock.calls[0]) == (
        "PUT",
        "/rest/api/3/issue/PAY-12",
        {},
        {
            "update": {
                "comment": [{"add": {"body": MANAGED.to_adf()}}],
                "labels": [{"add": "pmo-a"}, {"remove": "pmo-z"}],
            }
        },
    )
    assert sent(mock.calls[1])[:3] == (
        "GET",
        "/rest/api/3/issue/PAY-12/comment",
        {"orderBy": "-created", "maxResults": "1"},
    )
    assert len(mock.calls) == 2


def test_one_edit_on_server_carries_wiki_markup(mock, server):
    mock.put(api("2", "issue/A-1"), status=204)
    mine = {"id": "31", "body": MANAGED.to_wiki(), "author": {"name": "bot-account-id"}}
    mock.get(api("2", "issue/A-1/comment"), json={"total": 1, "comments": [mine]})
    assert server.update_labels_with_comment("A-1", {"pmo-a"}, set(), MANAGED)[1] == "31"
    body = sent(mock.calls[0])[3]
    assert body["update"]["comment"] == [{"add": {"body": MANAGED.to_wiki()}}]


def test_newest_comment_not_ours_falls_back_to_the_marker_search(mock, cloud):
    mock.put(api("3", "issue/PAY-12"), status=204)
    other = adf_comment("10078", "a person commented just after", "someone")
    mine = adf_comment("10077", f"{MARKER} ...", "bot-account-id")
    mock.get(api("3", "issue/PAY-12/comment"), json={"total": 2, "comments": [other]})
    mock.get(api("3", "issue/PAY-12/comment"), json={"total": 2, "comments": [mine, other]})
    assert cloud.update_labels_with_comment("PAY-12", {"pmo-a"}, set(), MANAGED)[1] == "10077"
    assert sent(mock.calls[2])[2] == {"startAt": "0", "maxResults": "100"}


def test_comment_id_unreadable_is_not_an_error_once_written(mock, cloud, caplog):
    """The edit went through; failing now would have the retry add the comment twice."""
    mock.put(api("3", "issue/PAY-12"), status=204)
    mock.get(api("3", "issue/PAY-12/comment"), status=503, json={})
    with caplog.at_level("WARNING"):
        written, comment_id = cloud.update_labels_with_comment("PAY-12", {"pmo-a"}, set(), MANAGED)
    assert comment_id is None and written is not None
    assert any(r.message == "jira.client.comment_id_unknown" for r in caplog.records)


def test_edit_screen_without_comment_refuses_once_and_is_remembered(mock, cloud, caplog):
    """Jira refuses the whole edit (nothing written): None tells the caller to write the
    labels and the comment apart, and later calls do not try again."""
    mock.put(api("3", "issue/PAY-12"), status=400, json=NOT_ON_SCREEN)
    with caplog.at_level("WARNING"):
        assert cloud.update_labels_with_comment("PAY-12", {"pmo-a"}, set(), MANAGED) is None
        assert cloud.update_labels_with_comment("PAY-13", {"pmo-a"}, set(), MANAGED) is None
    assert len(mock.calls) == 1
    assert [r.message for r in caplog.records] == ["jira.client.comment_on_edit_refused"]


def test_other_refusals_of_the_one_edit_are_errors_and_not_remembered(mock, cloud):
    too_long = {"errors": {"comment": "The entered text is too long."}, "errorMessages": []}
    mock.put(api("3", "issue/PAY-12"), status=400, json=too_long)
    mock.put(api("3", "issue/PAY-12"), status=204)
    mock.get(api("3", "issue/PAY-12/comment"), json={"total": 0, "comments": []})
    mock.get(api("3", "issue/PAY-12/comment"), json={"total": 0, "comments": []})
    with pytest.raises(PermanentTrackerError, match="too long"):
        cloud.update_labels_with_comment("PAY-12", {"pmo-a"}, set(), MANAGED)
    assert cloud.update_labels_with_comment("PAY-12", {"pmo-a"}, set(), MANAGED)[1] is None


def test_set_fields_maps_configured_names(mock, cloud):
    mock.put(api("3", "issue/PAY-12"), status=204)
    cloud.set_fields("PAY-12", {"estimate": 5, "customfield_10100": 40})
    cloud.set_fields("PAY-12", {})
    assert len(mock.calls) == 1
    assert sent(mock.calls[0]) == (
        "PUT",
        "/rest/api/3/issue/PAY-12",
        {},
        {"fields": {"customfield_10016": 5, "customfield_10100": 40}},
    )


def test_set_fields_sends_priority_and_assignee_as_the_site_objects(mock, cloud, server):
    """createIssue's examples in the spec send `"priority": {"id": ...}` and a user by its
    id; Cloud names users by accountId, Data Center by user name. The priorities are
    asked once per client, a user once per value."""
    mock.get(
        api("3", "priority"), json=[{"id": "1", "name": "Highest"}, {"id": "3", "name": "Medium"}]
    )
    mock.get(
        api("3", "user/search"),
        json=[{"accountId": "5b10a2844c20165700ede21g", "displayName": "Dana Lead"}],
    )
    mock.put(api("3", "issue/PAY-12"), status=204)
    cloud.set_fields("PAY-12", {"priority": "highest", "assignee": "dana@acme.example"})
    cloud.set_fields("PAY-12", {"priority": "Medium", "assignee": "dana@acme.example"})
    assert [sent(c)[:2] for c in mock.calls] == [
        ("GET", "/rest/api/3/priority"), ("GET", "/rest/api/3/user/search"),
        ("PUT", "/rest/api/3/issue/PAY-12"), ("PUT", "/rest/api/3/issue/PAY-12"),
    ]  # fmt: skip
    assert sent(mock.calls[2])[3] == {
        "fields": {"priority": {"id": "1"}, "assignee": {"accountId": "5b10a2844c20165700ede21g"}}
    }
    assert sent(mock.calls[3])[3]["fields"]["priority"] == {"id": "3"}

    mock.get(api("2", "priority"), json=[{"id": "2", "name": "High"}])
    mock.get(api("2", "user/search"), json=[{"name": "dlead", "displayName": "Dana Lead"}])
    mock.put(api("2", "issue/PAY-13"), status=204)
    server.set_fields("PAY-13", {"priority": "High", "assignee": "dlead"})
    assert sent(mock.calls[-1])[3] == {
        "fields": {"priority": {"id": "2"}, "assignee": {"name": "dlead"}}
    }


def test_set_fields_refuses_a_priority_or_user_the_site_lacks_before_writing(mock, cloud):
    mock.get(api("3", "priority"), json=[{"id": "1", "name": "Highest"}])
    mock.get(api("3", "user/search"), json=[])
    with pytest.raises(PermanentTrackerError, match="the site has no priority 'Urgent'"):
        cloud.set_fields("PAY-12", {"priority": "Urgent"})
    with pytest.raises(PermanentTrackerError, match="no active user matches 'Nobody'"):
        cloud.set_fields("PAY-12", {"assignee": "Nobody"})
    assert [c.request.method for c in mock.calls] == ["GET", "GET"]  # no PUT went out


def test_get_comment_reads_one_comment_and_none_when_gone(mock, cloud):
    mock.get(
        api("3", "issue/PAY-12/comment/10500"),
        json={"id": "10500", "body": DOC.to_adf(), "author": {"accountId": "bot-1"}},
    )
    mock.get(
        api("3", "issue/PAY-12/comment/10501"),
        status=404,
        json={"errorMessages": ["Can not find a comment for the id: 10501."], "errors": {}},
    )
    comment = cloud.get_comment("PAY-12", "10500")
    assert comment is not None and comment.id == "10500"
    assert " ".join(comment.body.split()) == " ".join(body_text(DOC.to_adf()).split())
    assert cloud.get_comment("PAY-12", "10501") is None
    assert [sent(c)[:2] for c in mock.calls] == [
        ("GET", "/rest/api/3/issue/PAY-12/comment/10500"),
        ("GET", "/rest/api/3/issue/PAY-12/comment/10501"),
    ]


NOTIFY_REFUSED = {
    "errorMessages": [
        "To discard the user notification either admin or project admin permissions are required."
    ],
    "errors": {},
}


@pytest.mark.parametrize("deployment", ["cloud", "server"])
def test_quiet_edits_refused_retry_once_without_and_remember(mock, deployment, caplog):
    """A bot that is no (project) admin: Jira refuses the whole edit with a 403. The edit
    is sent again without notifyUsers, and the refusal is remembered and logged once."""
    version = "3" if deployment == "cloud" else "2"
    client = make_client(tracker(deployment, quiet_edits=True), environ=ENV)
    url = api(version, "issue/PAY-12")
    mock.put(
        url,
        status=403,
        json=NOTIFY_REFUSED,
        match=[responses.matchers.query_param_matcher({"notifyUsers": "false"})],
    )
    mock.put(url, status=204, match=[responses.matchers.query_param_matcher({})])
    with caplog.at_level("WARNING", logger="connector.jira.client"):
        client.update_labels("PAY-12", {"pmo-a"}, set())
        client.set_fields("PAY-12", {"estimate": 3})
    queries = [sent(call)[2] for call in mock.calls]
    assert queries == [{"notifyUsers": "false"}, {}, {}]
    refusals = [r for r in caplog.records if r.message == "jira.client.quiet_edits_refused"]
    assert len(refusals) == 1


def test_quiet_edits_for_an_admin_bot_ask_for_no_notification(mock):
    client = make_client(tracker("cloud", quiet_edits=True), environ=ENV)
    mock.put(api("3", "issue/PAY-12/comment/7"), json={"id": "7"})
    client.update_comment("PAY-12", "7", DOC)
    assert sent(mock.calls[0])[2] == {"notifyUsers": "false"}


def test_quiet_edits_other_403_is_not_retried_twice(mock):
    """A 403 that stays a 403 without notifyUsers is the bot's real permission problem."""
    client = make_client(tracker("cloud", quiet_edits=True), environ=ENV)
    mock.put(api("3", "issue/PAY-12"), status=403, json={"errorMessages": ["No edit permission"]})
    mock.put(api("3", "issue/PAY-12"), status=403, json={"errorMessages": ["No edit permission"]})
    with pytest.raises(PermanentTrackerError, match="No edit permission"):
        client.update_labels("PAY-12", {"pmo-a"}, set())
    assert len(mock.calls) == 2


# -- error translation -------------------------------------------------------------------


def http_date(seconds_from_now: int) -> str:
    return email.utils.formatdate(time.time() + seconds_from_now, usegmt=True)


@pytest.mark.parametrize(
    ("status", "headers", "error", "checks"),
    [
        (429, {"Retry-After": "17"}, RateLimited, {"retry_after": 17.0, "scope": "tracker"}),
        (429, {"Retry-After": "HTTP-DATE+120"}, RateLimited, {"scope": "tracker"}),
        (
            429,
            {"Retry-After": "5", "RateLimit-Reason": "jira-per-issue-on-write"},
            RateLimited,
            {"retry_after": 5.0, "scope": "item"},
        ),
        (429, {}, RateLimited, {"retry_after": 30.0}),
        (500, {}, TrackerUnavailable, {"status": 500}),
        (502, {}, TrackerUnavailable, {"status": 502}),
        (503, {"Retry-After": "3"}, TrackerUnavailable, {"status": 503}),
        (404, {}, ItemNotFound, {"status": 404}),
        (400, {}, PermanentTrackerError, {"status": 400}),
        (401, {}, PermanentTrackerError, {"status": 401}),
        (409, {}, Conflict, {"status": 409}),
    ],
)
def test_error_translation(mock, cloud, status, headers, error, checks):
    # An HTTP date is made now, not at collection: a long suite run would age it.
    headers = {k: http_date(120) if v == "HTTP-DATE+120" else v for k, v in headers.items()}
    mock.put(
        api("3", "issue/PAY-12"),
        status=status,
        headers=headers,
        json={"errorMessages": [f"failed with {status}"]},
    )
    with pytest.raises(error) as caught:
        cloud.update_labels("PAY-12", {"pmo-x"}, set())
    assert not isinstance(caught.value, RateLimited) or status == 429
    for name, value in checks.items():
        assert getattr(caught.value, name) == value
    if headers.get("Retry-After", "").endswith("GMT"):
        assert 100 <= caught.value.retry_after <= 121
    assert f"HTTP {status}" in str(caught.value)
    assert len(mock.calls) == 1  # the library's own retry loop is off


def test_rate_limit_reset_header_when_retry_after_is_missing(mock, cloud):
    reset = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 60))
    mock.get(api("3", "issue/PAY-12"), status=429, headers={"X-RateLimit-Reset": reset})
    with pytest.raises(RateLimited) as caught:
        cloud.get_item("PAY-12")
    assert 55 <= caught.value.retry_after <= 61


@pytest.mark.parametrize(
    "failure",
    [requests.ConnectionError("refused"), requests.exceptions.ReadTimeout("read timed out")],
)
def test_no_answer_is_unavailable_and_reported_without_status(mock, cloud, calls, failure):
    mock.get(api("3", "issue/PAY-12"), body=failure)
    with pytest.raises(TrackerUnavailable, match="no answer"):
        cloud.get_item("PAY-12")
    assert len(mock.calls) == 1
    assert calls[-1][:3] == ("jira", "get_item", None)


def test_errors_never_carry_the_token(mock, cloud):
    mock.get(api("3", "issue/PAY-12"), status=403, json={"errorMessages": ["forbidden"]})
    with pytest.raises(PermanentTrackerError) as caught:
        cloud.get_item("PAY-12")
    assert "s3cret" not in str(caught.value)
    assert caught.value.__cause__ is None


def test_every_request_carries_the_timeout(mock):
    mock.get(api("3", "issue/PAY-12"), json=issue_json())
    mock.put(api("3", "issue/PAY-12"), status=204)
    client = make_client(tracker(), environ=ENV, timeout=2.5)
    client.get_item("PAY-12")
    client.set_fields("PAY-12", {"summary": "x"})
    assert [c.request.req_kwargs["timeout"] for c in mock.calls] == [2.5, 2.5]


HOSTILE_KEY = "ZZZ-1/../PAY-1?expand=x#frag"
QUOTED_KEY = "ZZZ-1%2F..%2FPAY-1%3Fexpand%3Dx%23frag"


def test_keys_and_ids_are_one_quoted_path_segment_in_every_call(mock, cloud):
    """Intake refuses such keys; the client still never lets one name another path."""
    any_url = re.compile(re.escape(URL) + r"/.*")
    mock.get(any_url, json={**issue_json(), "comments": [], "total": 0})
    mock.post(any_url, json={"id": "1"}, status=201)
    mock.put(any_url, status=204)
    mock.assert_all_requests_are_fired = False
    cloud.get_item(HOSTILE_KEY)
    cloud.find_managed_comment(HOSTILE_KEY)
    cloud.add_comment(HOSTILE_KEY, DOC)
    cloud.update_comment(HOSTILE_KEY, "10/../1", DOC)
    cloud.update_labels(HOSTILE_KEY, {"pmo-a"}, set())
    cloud.set_fields(HOSTILE_KEY, {"estimate": 3})
    paths = [urlsplit(call.request.url).path for call in mock.calls]
    base = f"/rest/api/3/issue/{QUOTED_KEY}"
    assert paths == [
        base,
        f"{base}/comment",
        f"{base}/comment",
        f"{base}/comment/10%2F..%2F1",
        base,
        base,
    ]
    assert all("PAY-1" not in urlsplit(call.request.url).query for call in mock.calls)
