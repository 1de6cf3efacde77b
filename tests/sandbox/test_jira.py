"""The Jira sandbox, driven over real HTTP by the real `jira` client library."""

from __future__ import annotations

import hashlib
import hmac
import json
import re

import jira
import pytest
import requests

from config.settings import TrackerConfig
from connector.document import MARKER, Document, Paragraph, Table, body_text
from connector.jira.item import issue_fields
from connector.trackers import make_client
from sandbox.jira_app import create_jira_app
from sandbox.jira_state import JiraState
from sandbox.receiver import Receiver
from sandbox.server import route_label, run_in_thread
from sandbox.webhooks import Delivery, WebhookSender
from tests.support.helpers import SPECS, load_fixture
from tests.support.spec_check import SUPPLEMENT, assert_documented
from webhooks.governance.writeback import rendered

SECRET = "jira-hook-secret"
ADF = {
    "type": "doc",
    "version": 1,
    "content": [{"type": "paragraph", "content": [{"type": "text", "text": "hello"}]}],
}


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture
def jira_env(receiver):
    state = JiraState()
    state.add_project("PAY", "Payments")
    state.add_project("WEB", "Website")
    state.add_user("pm", "Pat Manager", admin=True)
    state.add_user("bob", "Bob Builder")
    state.add_user("pmo-bot", "PMO Bot")
    sender = WebhookSender(retry_delays=(0.01, 0.02))
    app = create_jira_app(
        state, webhook_url=f"{receiver.url}/jira", webhook_secret=SECRET, sender=sender
    )
    url, stop = run_in_thread(app)
    yield state, app, url, sender
    sender.close()
    stop()


def client(url: str, user: str = "pm", version: str = "3") -> jira.JIRA:
    return jira.JIRA(
        server=url,
        basic_auth=(user, "token"),
        options={"rest_api_version": version},
        get_server_info=False,
        max_retries=0,
    )


def new_issue(
    j: jira.JIRA, summary: str = "Checkout epic", kind: str = "Epic", project: str = "PAY"
):
    return j.create_issue(
        fields={"project": {"key": project}, "issuetype": {"name": kind}, "summary": summary}
    )


def delivered(receiver: Receiver, sender: WebhookSender, count: int):
    assert sender.flush(5)
    return receiver.wait_for(count)


def test_get_and_update_fields_and_labels_with_the_real_client(jira_env, receiver):
    state, _, url, sender = jira_env
    j = client(url)
    issue = new_issue(j)
    assert (issue.key, issue.fields.status.statusCategory.key) == ("PAY-1", "new")
    bob = state.users["bob"]["accountId"]
    issue.update(
        fields={
            "labels": ["pmo-red", "payments"],
            "customfield_10016": 8,
            "duedate": "2030-05-01",
            "assignee": {"accountId": bob},
        },
        notify=False,
    )
    issue.update(update={"labels": [{"add": "escalated"}, {"remove": "payments"}]})
    fresh = j.issue("PAY-1")
    assert fresh.fields.labels == ["pmo-red", "escalated"]
    assert fresh.fields.customfield_10016 == 8
    assert fresh.fields.assignee.displayName == "Bob Builder"
    assert j.issue(str(fresh.id)).key == "PAY-1"  # by numeric id too

    hooks = delivered(receiver, sender, 3)
    assert [h.json["webhookEvent"] for h in hooks] == [
        "jira:issue_created",
        "jira:issue_updated",
        "jira:issue_updated",
    ]
    update = hooks[1].json
    assert update["issue_event_type_name"] == "issue_assigned"
    assert update["user"]["name"] == "pm"
    items = {i["fieldId"]: i for i in update["changelog"]["items"]}
    assert items["assignee"]["to"] == bob and items["assignee"]["toString"] == "Bob Builder"
    assert items["customfield_10016"]["fieldtype"] == "custom"
    assert items["labels"]["toString"] == "pmo-red payments"
    assert hooks[2].json["changelog"]["items"][0]["toString"] == "pmo-red escalated"


@pytest.mark.parametrize("version", ["2", "3"])
def test_notify_users_false_is_refused_for_a_non_admin_and_writes_nothing(jira_env, version):
    state, _, url, _ = jira_env
    issue = new_issue(client(url))
    bot = client(url, "pmo-bot", version)
    with pytest.raises(jira.JIRAError) as refused:
        bot.issue(issue.key).update(fields={"labels": ["pmo-red"]}, notify=False)
    assert refused.value.status_code == 403
    assert refused.value.response.json() == {
        "errorMessages": [
            "To discard the user notification either admin or project admin "
            "permissions are required."
        ],
        "errors": {},
    }
    assert state.get(issue.key).fields["labels"] == []
    comment = bot.add_comment(issue.key, "hello" if version == "2" else ADF)
    body = ADF if version == "3" else "hello again"
    with pytest.raises(jira.JIRAError):
        bot._session.put(
            f"{url}/rest/api/{version}/issue/{issue.key}/comment/{comment.id}",
            params={"notifyUsers": "false"},
            data=json.dumps({"body": body}),
        )
    # without the parameter the same edit goes through; an admin may pass it
    bot.issue(issue.key).update(fields={"labels": ["pmo-red"]})
    client(url, "pm", version).issue(issue.key).update(fields={"labels": ["x"]}, notify=False)
    assert state.get(issue.key).fields["labels"] == ["x"]


def test_the_service_client_with_quiet_edits_and_a_non_admin_bot_still_writes(jira_env):
    state, app, url, _ = jira_env
    issue = new_issue(client(url))
    tracker = TrackerConfig(name="jira", kind="jira", url=url, user_env="U", token_env="T",
                            quiet_edits=True)  # fmt: skip
    service = make_client(tracker, environ={"U": "pmo-bot", "T": "token"})
    service.update_labels(issue.key, {"pmo-red"}, set())
    service.update_labels(issue.key, {"pmo-late"}, set())
    assert state.get(issue.key).fields["labels"] == ["pmo-red", "pmo-late"]
    calls = app.extensions["sandbox"]["calls"]
    assert calls[("PUT", '/rest/api/<any("2", "3"):version>/issue/<id_or_key>')] == 3


def test_webhooks_are_signed_and_carry_jira_headers(jira_env, receiver):
    _, _, url, sender = jira_env
    new_issue(client(url))
    (hook,) = delivered(receiver, sender, 1)
    assert hook.headers["Content-Type"].startswith("application/json")
    expected = hmac.new(SECRET.encode(), hook.body, hashlib.sha256).hexdigest()
    assert hook.headers["X-Hub-Signature"] == f"sha256={expected}"
    assert re.fullmatch(r"[0-9a-f-]{36}", hook.headers["X-Atlassian-Webhook-Identifier"])


def test_payloads_have_the_top_level_keys_of_real_jira_payloads(jira_env, receiver):
    _, _, url, sender = jira_env
    j = client(url)
    issue = new_issue(j)
    j.transition_issue(issue.key, "In Progress")
    comment = j.add_comment(issue.key, ADF)
    j.issue(issue.key).delete()
    hooks = {h.json["webhookEvent"]: h.json for h in delivered(receiver, sender, 4)}
    pairs = {
        "jira:issue_created": "issue_created__server_zulip",
        "jira:issue_updated": "issue_updated__status_cloud",
        "comment_created": "comment_created__cloud",
        "jira:issue_deleted": "issue_deleted__with_comments",
    }
    for event, fixture_name in pairs.items():
        real = load_fixture("jira", fixture_name)
        assert set(real) <= set(hooks[event]), event
        assert set(real["issue"]["fields"]) & {"summary", "status", "issuetype"} <= set(
            hooks[event]["issue"]["fields"]
        )
    status_item = load_fixture("jira", "issue_updated__status_cloud")["changelog"]["items"][0]
    ours = hooks["jira:issue_updated"]["changelog"]["items"][0]
    assert set(status_item) <= set(ours)
    assert (ours["fromString"], ours["toString"]) == ("To Do", "In Progress")
    assert hooks["comment_created"]["comment"]["id"] == comment.id
    assert hooks["comment_created"]["comment"]["body"] == "hello"  # webhooks use v2 text
    assert set(load_fixture("jira", "comment_created__cloud")["issue"]["fields"]) == set(
        hooks["comment_created"]["issue"]["fields"]
    )


def test_comments_are_adf_on_v3_and_strings_on_v2(jira_env, receiver):
    _, _, url, sender = jira_env
    j3, j2 = client(url), client(url, version="2")
    issue = new_issue(j3)
    added = j3.add_comment(issue.key, ADF)
    assert added.raw["body"] == ADF
    added.update(
        body={
            **ADF,
            "content": [{"type": "paragraph", "content": [{"type": "text", "text": "edited"}]}],
        }
    )
    via_v2 = j2.comments(issue.key)
    assert [c.body for c in via_v2] == ["edited"]
    j2.add_comment(issue.key, "plain text on v2")
    assert len(j3.comments(issue.key)) == 2
    via_v2[0].delete()
    events = [h.json["webhookEvent"] for h in delivered(receiver, sender, 5)]
    assert events[1:] == [
        "comment_created",
        "comment_updated",
        "comment_created",
        "comment_deleted",
    ]


def test_search_subset_and_paging(jira_env):
    _, _, url, _ = jira_env
    j = client(url)
    epic = new_issue(j, "Epic", "Epic")
    for n in range(3):
        new_issue(j, f"Story {n}", "Story")
    new_issue(j, "Web epic", "Epic", "WEB")
    j.transition_issue(epic.key, "Done")
    assert [i.key for i in j.search_issues("project = PAY AND issuetype = Epic")] == ["PAY-1"]
    assert j.search_issues("project = PAY AND statusCategory != Done", maxResults=2).total == 3
    assert {
        i.key
        for i in j.search_issues("project in (PAY, WEB) AND issuetype = Epic ORDER BY created DESC")
    } == {"PAY-1", "WEB-1"}
    assert [i.key for i in j.search_issues("key = PAY-3")] == ["PAY-3"]
    auth = ("pm", "token")
    page = requests.get(
        f"{url}/rest/api/3/search/jql",
        auth=auth,
        timeout=5,
        params={"jql": "project = PAY", "maxResults": 3},
    ).json()
    assert [set(i) for i in page["issues"]] == [{"id"}] * 3 and page["isLast"] is False
    rest = requests.post(
        f"{url}/rest/api/3/search/jql",
        auth=auth,
        timeout=5,
        json={
            "jql": "project = PAY",
            "nextPageToken": page["nextPageToken"],
            "fields": ["summary"],
        },
    ).json()
    assert rest["isLast"] is True and rest["issues"][0]["fields"] == {"summary": "Epic"}
    v2 = requests.get(
        f"{url}/rest/api/2/search",
        auth=auth,
        timeout=5,
        params={"jql": "project = PAY", "startAt": 2, "maxResults": 1},
    ).json()
    assert (v2["total"], v2["startAt"], len(v2["issues"])) == (4, 2, 1)


def test_status_changes_through_transitions(jira_env):
    _, _, url, _ = jira_env
    j = client(url)
    issue = new_issue(j)
    before = j.issue(issue.key).fields.statuscategorychangedate
    assert {t["name"] for t in j.transitions(issue.key)} == {
        "In Progress",
        "In Review",
        "Blocked",
        "Done",
    }
    j.transition_issue(issue.key, "21")
    fresh = j.issue(issue.key)
    assert fresh.fields.status.name == "In Progress"
    assert fresh.fields.status.statusCategory.key == "indeterminate"
    assert fresh.fields.statuscategorychangedate > before


def test_the_callers_identity_marks_its_own_edits(jira_env, receiver):
    state, _, url, sender = jira_env
    issue = new_issue(client(url))
    client(url, user="pmo-bot").issue(issue.key).update(fields={"labels": ["pmo-amber"]})
    hooks = delivered(receiver, sender, 2)
    assert hooks[1].json["user"]["accountId"] == state.users["pmo-bot"]["accountId"]
    assert hooks[1].json["user"]["displayName"] == "PMO Bot"


def test_updated_is_a_strictly_increasing_revision(jira_env):
    state, _, _, _ = jira_env
    issue = state.create_issue("PAY", "Story", "Fast edits", actor="pm")
    stamps = []
    for n in range(5):
        state.update_issue(issue.key, actor="pm", fields={"labels": [f"l{n}"]})
        stamps.append(state.get(issue.key).fields["updated"])
    assert stamps == sorted(set(stamps))


def api_error(response: requests.Response) -> dict:
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"errorMessages", "errors"}
    return body


def test_rejections_look_like_jira(jira_env):
    _, _, url, _ = jira_env
    issue = new_issue(client(url))
    auth = ("pm", "token")
    put = f"{url}/rest/api/3/issue/{issue.key}"
    spaces = requests.put(put, auth=auth, json={"fields": {"labels": ["not ok"]}}, timeout=5)
    assert spaces.status_code == 400
    assert "contains spaces" in api_error(spaces)["errors"]["labels"]
    spaces_verb = requests.put(
        put, auth=auth, timeout=5, json={"update": {"labels": [{"add": "a b"}]}}
    )
    assert spaces_verb.status_code == 400
    unknown = requests.put(put, auth=auth, json={"fields": {"customfield_99999": 1}}, timeout=5)
    assert unknown.status_code == 400 and "customfield_99999" in api_error(unknown)["errors"]
    text_description = requests.put(
        put, auth=auth, json={"fields": {"description": "plain"}}, timeout=5
    )
    assert "Atlassian Document" in api_error(text_description)["errors"]["description"]
    plain = requests.post(f"{put}/comment", auth=auth, json={"body": "plain"}, timeout=5)
    assert plain.status_code == 400
    assert api_error(plain)["errors"] == {"comment": "Comment body is not valid!"}
    missing = requests.get(f"{url}/rest/api/3/issue/PAY-999", auth=auth, timeout=5)
    assert missing.status_code == 404
    assert api_error(missing)["errorMessages"] == [
        "Issue does not exist or you do not have permission to see it."
    ]
    anonymous = requests.get(put, timeout=5)
    assert anonymous.status_code == 401 and api_error(anonymous)["errorMessages"]
    wrong = requests.patch(put, auth=auth, json={}, timeout=5)
    assert wrong.status_code == 405 and api_error(wrong)
    no_summary = requests.post(
        f"{url}/rest/api/3/issue",
        auth=auth,
        timeout=5,
        json={"fields": {"project": {"key": "PAY"}, "issuetype": {"name": "Story"}}},
    )
    assert no_summary.status_code == 400 and "summary" in api_error(no_summary)["errors"]
    bad_jql = requests.get(
        f"{url}/rest/api/2/search", auth=auth, timeout=5, params={"jql": "sprint = 5"}
    )
    assert bad_jql.status_code == 400 and api_error(bad_jql)["errorMessages"]
    bearer = requests.get(put, headers={"Authorization": "Bearer pat"}, timeout=5)
    assert bearer.status_code == 200


def test_labels_over_255_characters_are_refused(jira_env):
    _, _, url, _ = jira_env
    issue = new_issue(client(url))
    put = f"{url}/rest/api/3/issue/{issue.key}"
    long = requests.put(
        put, auth=("pm", "token"), timeout=5, json={"update": {"labels": [{"add": "x" * 256}]}}
    )
    assert long.status_code == 400
    assert "maximum length for a single label of 255" in api_error(long)["errors"]["labels"]
    fits = requests.put(
        put, auth=("pm", "token"), timeout=5, json={"update": {"labels": [{"add": "x" * 255}]}}
    )
    assert fits.status_code == 204


def adf_doc(*blocks):
    return {"type": "doc", "version": 1, "content": list(blocks)}


@pytest.mark.parametrize(
    "body",
    [
        adf_doc({"type": "bulletList", "content": []}),  # minItems 1
        adf_doc({"type": "paragraph", "content": [{"type": "text", "text": ""}]}),
        adf_doc({"type": "heading", "content": [{"type": "text", "text": "x"}]}),  # no level
        adf_doc({"type": "paragraph", "content": [{"type": "listItem", "content": []}]}),
        adf_doc({"type": "paragraph", "attrs": {"colour": "red"}, "content": []}),
    ],
)
def test_comments_that_are_not_valid_adf_are_refused_as_cloud_does(jira_env, body):
    state, _, url, _ = jira_env
    issue = new_issue(client(url))
    post = requests.post(
        f"{url}/rest/api/3/issue/{issue.key}/comment",
        auth=("pm", "token"),
        json={"body": body},
        timeout=5,
    )
    assert post.status_code == 400
    assert post.json() == {"errorMessages": ["INVALID_INPUT"], "errors": {}}
    assert state.issues[issue.key].comments == []
    with pytest.raises(jira.JIRAError) as refused:  # the real client, PUT of a valid one
        j = client(url)
        comment = j.add_comment(issue.key, ADF)
        j._session.put(
            f"{url}/rest/api/3/issue/{issue.key}/comment/{comment.id}",
            data=json.dumps({"body": body}),
        )
    assert refused.value.status_code == 400


@pytest.mark.parametrize(("deployment", "number"), [("cloud", "32,767"), ("server", "32767")])
def test_comments_over_32767_characters_are_refused(deployment, number):
    state = JiraState()
    state.add_project("PAY")
    url, stop = run_in_thread(create_jira_app(state, deployment=deployment))
    try:
        j = client(url, version="2")
        issue = new_issue(j, kind="Story")
        with pytest.raises(jira.JIRAError) as refused:
            j.add_comment(issue.key, "x" * 32_768)
        assert refused.value.status_code == 400
        assert refused.value.response.json()["errors"] == {
            "comment": "The entered text is too long. It exceeds the allowed limit of "
            f"{number} characters."
        }
        j.add_comment(issue.key, "x" * 32_767)
        if deployment == "cloud":
            # v3: the compact JSON of the document counts (the stricter reading)
            text = {"type": "text", "text": "x" * 32_700}
            big = adf_doc({"type": "paragraph", "content": [text]})
            with pytest.raises(jira.JIRAError):
                client(url).add_comment(issue.key, big)
        assert len(state.issues[issue.key].comments) == 1
    finally:
        stop()


def test_registered_webhooks_receive_matching_events(jira_env, receiver):
    state, _, url, sender = jira_env
    auth = ("admin", "token")
    admin = requests.post(
        f"{url}/rest/webhooks/1.0/webhook",
        auth=auth,
        timeout=5,
        json={
            "name": "pmo",
            "url": f"{receiver.url}/admin",
            "events": ["jira:issue_created"],
            "filters": {"issue-related-events-section": "project = WEB"},
            "secret": "other",
        },
    )
    assert admin.status_code == 201
    dynamic = requests.post(
        f"{url}/rest/api/3/webhook",
        auth=auth,
        timeout=5,
        json={
            "url": f"{receiver.url}/dynamic",
            "webhooks": [{"events": ["comment_created"], "jqlFilter": "project = PAY"}],
        },
    ).json()
    hook_id = dynamic["webhookRegistrationResult"][0]["createdWebhookId"]
    listed = requests.get(f"{url}/rest/api/3/webhook", auth=auth, timeout=5).json()
    assert [v["id"] for v in listed["values"]] == [hook_id]
    j = client(url)
    new_issue(j, project="PAY")
    web = new_issue(j, project="WEB")
    j.add_comment("PAY-1", ADF)
    hooks = delivered(receiver, sender, 5)
    by_path = {}
    for h in hooks:
        by_path.setdefault(h.path, []).append(h)
    assert [h.json["issue"]["key"] for h in by_path["admin"]] == [web.key]
    signed = by_path["admin"][0]
    assert (
        signed.headers["X-Hub-Signature"]
        == "sha256=" + hmac.new(b"other", signed.body, hashlib.sha256).hexdigest()
    )
    assert by_path["dynamic"][0].json["matchedWebhookIds"] == [hook_id]
    gone = requests.delete(
        f"{url}/rest/api/3/webhook", auth=auth, timeout=5, json={"webhookIds": [hook_id]}
    )
    assert gone.status_code == 202 and len(state.webhooks) == 1
    admin_id = admin.json()["self"].rsplit("/", 1)[-1]
    assert (
        requests.delete(
            f"{url}/rest/webhooks/1.0/webhook/{admin_id}", auth=auth, timeout=5
        ).status_code
        == 204
    )


def test_failed_deliveries_are_retried_with_the_same_identifier(jira_env, receiver):
    _, _, url, sender = jira_env
    receiver.fail_next(2, 503)
    new_issue(client(url))
    hooks = delivered(receiver, sender, 3)
    assert len({h.headers["X-Atlassian-Webhook-Identifier"] for h in hooks}) == 1
    assert [h.headers.get("X-Atlassian-Webhook-Retry") for h in hooks] == [None, "1", "2"]
    (record,) = sender.deliveries
    assert record.status_codes == [503, 503, 204] and record.delivered


def test_sender_gives_up_after_three_tries_on_connection_errors():
    calls = []

    def refuse(*_args, **_kwargs):
        calls.append(1)
        raise requests.ConnectionError("refused")

    sender = WebhookSender(retry_delays=(0.0,), post=refuse)
    record = sender.enqueue(Delivery("http://127.0.0.1:9/x", b"{}", {}, "jira:issue_created"))
    assert sender.flush(5)
    assert (len(calls), record.attempts, record.delivered) == (3, 3, False)
    assert record.status_codes == [None, None, None] and record.error == "ConnectionError"


def test_server_deployment_serves_v2_only():
    state = JiraState()
    state.add_project("PAY")
    url, stop = run_in_thread(create_jira_app(state, deployment="server"))
    try:
        auth = ("admin", "pw")
        info = requests.get(f"{url}/rest/api/2/serverInfo", auth=auth, timeout=5).json()
        assert info["deploymentType"] == "Server"
        assert requests.get(f"{url}/rest/api/3/serverInfo", auth=auth, timeout=5).status_code == 404
        j = client(url, version="2")
        issue = new_issue(j, kind="Story")
        j.add_comment(issue.key, "wiki *markup*")
        assert j.comments(issue.key)[0].body == "wiki *markup*"
    finally:
        stop()


def _spec_paths() -> dict[str, set[str]]:
    spec = json.loads((SPECS / "jira" / "platform-swagger.v3.json").read_text("utf-8"))
    return {
        re.sub(r"\{[^}]+\}", "{}", p): {m.upper() for m in ops} for p, ops in spec["paths"].items()
    }


# Routes the copied spec cannot confirm: the admin webhook API belongs to Jira Server/Data
# Center (and Cloud's legacy admin webhooks), and /search/jql is newer than the spec copy.
NOT_IN_SPEC = {
    "/rest/webhooks/1.0/webhook",
    "/rest/webhooks/1.0/webhook/{}",
}


def test_every_route_is_a_documented_jira_path_and_method():
    app = create_jira_app(JiraState())
    spec = _spec_paths()
    for path, operations in SUPPLEMENT.items():  # newer than the stored spec
        spec.setdefault(re.sub(r"\{[^}]+\}", "{}", path), set()).update(
            method.upper() for method in operations
        )
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        template = re.sub(
            r"\{[^}]+\}", "{}", route_label(rule.rule).replace("/rest/api/{version}", "/rest/api/3")
        )
        if template in NOT_IN_SPEC:
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert method in spec.get(template, set()), f"{method} {rule.rule}"
            checked += 1
    assert checked >= 15


def test_audit_reads_ids_then_bulk_fetches_with_the_mapped_fields(jira_env):
    """The service's client against the sandbox: one id-only search page for 250 issues
    (larger than a page with fields may be), then issue/bulkfetch in 100s, a 429 on the
    way honoured; every request as Atlassian documents it."""
    state, app, url, _ = jira_env
    for n in range(250):
        state.create_issue("PAY", "Story", f"Story {n}", actor="pm")
    tracker = TrackerConfig(
        name="jira", kind="jira", url=url, user_env="U", token_env="T", read_concurrency=3
    )
    client = make_client(tracker, environ={"U": "pm", "T": "token"})
    sent: list[requests.PreparedRequest] = []
    answers: list[int] = []
    client._jira._session.hooks["response"].append(
        lambda r, *a, **k: sent.append(r.request) or answers.append(r.status_code)
    )
    total, items = client.search("project = PAY")  # the count and the id page, now
    app.extensions["sandbox"]["faults"].throttle(1, retry_after=0.5)  # a bulk fetch's
    keys = sorted(item.native_id for item in items)

    assert total == 0  # the sandbox has no approximate-count: the total is unknown
    assert keys == sorted(f"PAY-{n}" for n in range(1, 251))
    for request in sent:
        assert_documented(request, "jira", url)
    paths = [r.path_url.split("?")[0] for r in sent]
    assert paths.count("/rest/api/3/search/jql") == 1  # one page of ids for all 250
    fetches = [
        json.loads(r.body)
        for r, status in zip(sent, answers, strict=True)
        if r.path_url.endswith("/issue/bulkfetch") and status == 200
    ]
    assert sorted(len(f["issueIdsOrKeys"]) for f in fetches) == [50, 100, 100]
    assert answers.count(429) == 1  # the throttled fetch, tried again after Retry-After
    assert {tuple(f["fields"]) for f in fetches} == {tuple(issue_fields(tracker))}
    too_many = requests.post(
        f"{url}/rest/api/3/issue/bulkfetch",
        auth=("pm", "token"),
        timeout=5,
        json={"issueIdsOrKeys": [str(n) for n in range(101)]},
    )
    assert too_many.status_code == 400


def test_the_managed_comment_reads_back_as_written_and_none_once_deleted(jira_env):
    """What the write-back compares when it reads the managed comment by id: the text of
    the body it sent. A comment left alone reads the same (nothing restored); an edited
    one differs; a deleted one is gone."""
    _state, _app, url, _ = jira_env
    issue = new_issue(client(url))
    tracker = TrackerConfig(name="jira", kind="jira", url=url, user_env="U", token_env="T")
    service = make_client(tracker, environ={"U": "pmo-bot", "T": "token"})
    doc = Document("PMO compliance (pmo-bridge)",
                   [Paragraph("Estimate missing & <late>"), Table(["Rule"], [["story-estimated"]])])  # fmt: skip
    cid = service.add_comment(issue.key, doc)
    read = service.get_comment(issue.key, cid)
    assert read is not None
    assert " ".join(read.body.split()) == " ".join(body_text(rendered(doc, "adf")).split())
    edited = {"type": "paragraph", "content": [{"type": "text", "text": "I removed this"}]}
    client(url).comment(issue.key, cid).update(body=adf_doc(edited))
    assert "I removed this" in service.get_comment(issue.key, cid).body
    client(url).comment(issue.key, cid).delete()
    assert service.get_comment(issue.key, cid) is None


# -- labels and the first comment in one edit ------------------------------------------


def service_client(url: str, deployment: str = "cloud"):
    tracker = TrackerConfig(name="jira", kind="jira", url=url, deployment=deployment,
                            user_env="U", token_env="T", bot_account="pmo-bot")  # fmt: skip
    return make_client(tracker, environ={"U": "pmo-bot", "T": "token"})


def test_one_edit_writes_labels_and_the_first_comment_and_learns_its_id(jira_env, receiver):
    """The service's client against the sandbox: `update.comment` beside `update.labels`
    in one PUT, as Jira takes it; the id read afterwards is the comment's, edited in
    place later."""
    state, app, url, sender = jira_env
    issue = new_issue(client(url))
    service = service_client(url)
    doc = Document(MARKER, [Paragraph("Owner missing")])
    _, comment_id = service.update_labels_with_comment(issue.key, {"pmo-unowned"}, set(), doc)
    stored = state.get(issue.key)
    assert stored.fields["labels"] == ["pmo-unowned"]
    assert [c["id"] for c in stored.comments] == [comment_id]
    assert stored.comments[0]["body"] == doc.to_adf()
    service.update_comment(issue.key, comment_id, Document(MARKER, [Paragraph("All pass")]))
    assert len(state.get(issue.key).comments) == 1
    calls = app.extensions["sandbox"]["calls"]
    assert calls[("PUT", '/rest/api/<any("2", "3"):version>/issue/<id_or_key>')] == 1
    assert calls[("POST", '/rest/api/<any("2", "3"):version>/issue/<id_or_key>/comment')] == 0
    events = [h.json["webhookEvent"] for h in delivered(receiver, sender, 4)]
    assert "comment_created" in events and "jira:issue_updated" in events


def test_one_edit_on_the_server_deployment_takes_wiki_markup():
    state = JiraState()
    state.add_project("PAY", "Payments")
    state.add_user("pmo-bot", "PMO Bot")
    issue = state.create_issue("PAY", "Story", "Refunds", actor="pmo-bot")
    url, stop = run_in_thread(create_jira_app(state, deployment="server"))
    try:
        service = service_client(url, "server")
        doc = Document(MARKER, [Paragraph("Owner missing")])
        _, comment_id = service.update_labels_with_comment(issue.key, {"pmo-x"}, set(), doc)
    finally:
        stop()
    assert [c["id"] for c in state.get(issue.key).comments] == [comment_id]
    assert state.get(issue.key).fields["labels"] == ["pmo-x"]


def test_edit_screen_without_the_comment_field_refuses_the_whole_edit(jira_env):
    state, _, url, _ = jira_env
    state.comment_on_edit = False
    issue = new_issue(client(url))
    answer = requests.put(
        f"{url}/rest/api/3/issue/{issue.key}", auth=("pm", "token"), timeout=5,
        json={"update": {"labels": [{"add": "x"}], "comment": [{"add": {"body": ADF}}]}},
    )  # fmt: skip
    assert answer.status_code == 400
    assert "cannot be set" in api_error(answer)["errors"]["comment"]
    assert state.get(issue.key).fields["labels"] == [] and state.get(issue.key).comments == []
    service = service_client(url)
    doc = Document(MARKER, [Paragraph("Owner missing")])
    assert service.update_labels_with_comment(issue.key, {"pmo-x"}, set(), doc) is None


@pytest.mark.parametrize(
    ("comment", "problem"),
    [
        ([{"add": {"body": "not adf"}}], "not valid"),
        ([{"set": {"body": ADF}}], "does not support operation 'set'"),
        ({"add": {"body": ADF}}, "Operations must be a list"),
    ],
)
def test_an_edits_comment_is_checked_as_the_comment_resource_checks_it(jira_env, comment, problem):
    state, _, url, _ = jira_env
    issue = new_issue(client(url))
    answer = requests.put(
        f"{url}/rest/api/3/issue/{issue.key}", auth=("pm", "token"), timeout=5,
        json={"update": {"labels": [{"add": "x"}], "comment": comment}},
    )  # fmt: skip
    assert answer.status_code == 400 and problem in answer.text
    assert state.get(issue.key).fields["labels"] == [] and state.get(issue.key).comments == []


def test_a_paged_search_reads_one_result_until_something_is_written(jira_env):
    """Later pages reuse the first page's result (100,000 issues are not re-matched per
    page), and a write in between makes the next page run the query again."""
    state = jira_env[0]
    for n in range(5):
        state.create_issue("PAY", "Story", f"Story {n}", actor="pm")
    first = state.search("project = PAY")
    assert state.search("project = PAY", next_page=True) is first
    assert state.search("project = WEB", next_page=True) is not first
    state.create_issue("PAY", "Story", "Story 5", actor="pm")
    again = state.search("project = PAY", next_page=True)
    assert len(again) == 6 and again is not first
