"""The Azure DevOps sandbox, driven over real HTTP by the real azure-devops client library."""

from __future__ import annotations

import base64
import json
import re

import pytest
import requests
from azure.devops import client as ado_client
from azure.devops.connection import Connection
from azure.devops.exceptions import AzureDevOpsServiceError
from azure.devops.v7_1.work_item_tracking.models import (
    CommentCreate,
    CommentUpdate,
    TeamContext,
    Wiql,
)
from azure.devops.v7_1.work_item_tracking.models import JsonPatchOperation as Op
from msrest.authentication import BasicAuthentication

from config.settings import TrackerConfig
from connector.azure_devops.item import work_item_fields
from connector.document import MARKER, Document, Paragraph, Table, body_text
from connector.trackers import make_client
from sandbox.azure_app import create_azure_app
from sandbox.azure_state import AzureState
from sandbox.receiver import Receiver
from sandbox.server import Sandbox, route_label, run_in_thread
from sandbox.webhooks import WebhookSender
from tests.support.helpers import SPECS, load_fixture
from tests.support.spec_check import assert_documented
from webhooks.governance.writeback import rendered

SECRET = "azure-hook-secret"
PARENT = "System.LinkTypes.Hierarchy-Reverse"


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture
def azure_env(receiver):
    state = AzureState()
    state.add_project("Fabrikam")
    state.add_project("Contoso")
    state.add_user("pm@fabrikam.com", "Pat Manager", pat="pm-pat")
    state.add_user("bob@fabrikam.com", "Bob Builder")
    state.add_user("pmo-bot@fabrikam.com", "PMO Bot", pat="bot-pat")
    sender = WebhookSender(retry_delays=(0.01,))
    app = create_azure_app(
        state, webhook_url=f"{receiver.url}/ado", webhook_secret=SECRET, sender=sender
    )
    base, stop = run_in_thread(app)
    yield state, f"{base}/fabrikam", sender
    sender.close()
    stop()


def wit(url: str, pat: str = "pm-pat", *, v71: bool = False):
    connection = Connection(base_url=url, creds=BasicAuthentication("", pat))
    factory = connection.clients_v7_1 if v71 else connection.clients
    return factory.get_work_item_tracking_client()


def create(client, title: str, kind: str = "User Story", project: str = "Fabrikam", *extra):
    ops = [Op(op="add", path="/fields/System.Title", value=title), *extra]
    return client.create_work_item(ops, project, kind)


def delivered(receiver: Receiver, sender: WebhookSender, count: int):
    assert sender.flush(5)
    return receiver.wait_for(count)


def test_create_get_update_tags_and_fields_with_the_real_client(azure_env, receiver):
    _state, url, sender = azure_env
    client = wit(url)
    story = create(client, "Checkout redesign")
    assert (story.id, story.rev, story.fields["System.State"]) == (1, 1, "New")
    updated = client.update_work_item(
        [
            Op(op="test", path="/rev", value=1),
            Op(op="add", path="/fields/System.Tags", value="pmo-red; Payments; pmo-red"),
            Op(op="add", path="/fields/System.AssignedTo", value="bob@fabrikam.com"),
            Op(op="add", path="/fields/Microsoft.VSTS.Scheduling.StoryPoints", value=8),
            Op(op="replace", path="/fields/System.State", value="Active"),
        ],
        story.id,
    )
    assert updated.rev == 2
    assert updated.fields["System.Tags"] == "Payments; pmo-red"
    assert updated.fields["System.AssignedTo"]["uniqueName"] == "bob@fabrikam.com"
    fetched = client.get_work_item(story.id, project="Fabrikam")
    assert fetched.fields["Microsoft.VSTS.Scheduling.StoryPoints"] == 8.0
    assert fetched.fields["System.ChangedBy"]["displayName"] == "Pat Manager"
    assert [w.id for w in client.get_work_items([story.id])] == [story.id]
    removed = client.update_work_item(
        [Op(op="remove", path="/fields/System.Tags")], story.id, project="Fabrikam"
    )
    assert "System.Tags" not in removed.fields

    hooks = delivered(receiver, sender, 3)
    assert [h.json["eventType"] for h in hooks] == [
        "workitem.created",
        "workitem.updated",
        "workitem.updated",
    ]
    resource = hooks[1].json["resource"]
    assert (resource["workItemId"], resource["rev"], resource["id"]) == (1, 2, 1)
    assert resource["fields"]["System.State"] == {"oldValue": "New", "newValue": "Active"}
    assert resource["fields"]["System.Tags"] == {"newValue": "Payments; pmo-red"}
    assert resource["revisedBy"]["uniqueName"] == "pm@fabrikam.com"
    assert resource["revision"]["fields"]["System.ChangedBy"] == "Pat Manager <pm@fabrikam.com>"
    assert hooks[2].json["resource"]["fields"]["System.Tags"] == {"oldValue": "Payments; pmo-red"}


def test_service_hook_headers_and_top_level_keys_match_real_payloads(azure_env, receiver):
    _, url, sender = azure_env
    client = wit(url)
    story = create(client, "Story")
    client.update_work_item([Op(op="add", path="/fields/System.State", value="Active")], story.id)
    wit(url, v71=True).add_comment(CommentCreate(text="Looks good"), "Fabrikam", story.id)
    client.delete_work_item(story.id, project="Fabrikam")
    hooks = delivered(receiver, sender, 5)
    expected_auth = "Basic " + base64.b64encode(f"sandbox:{SECRET}".encode()).decode()
    assert {h.headers["Authorization"] for h in hooks} == {expected_auth}
    by_event = {h.json["eventType"]: h.json for h in hooks}
    pairs = {
        "workitem.created": "workitem.created__sample",
        "workitem.updated": "workitem.updated__state_sample",
        "workitem.commented": "workitem.commented__sample",
        "workitem.deleted": "workitem.deleted__sample",
    }
    for event, name in pairs.items():
        real = load_fixture("azure-devops", name)
        assert set(real) <= set(by_event[event]), event
        assert set(real["resource"]) - {"revisedBy", "revisedDate"} <= set(
            by_event[event]["resource"]
        ), event
        assert by_event[event]["publisherId"] == "tfs"
        assert by_event[event]["resourceVersion"] == "1.0"
    assert by_event["workitem.commented"]["resource"]["fields"]["System.History"] == "Looks good"
    assert "/recyclebin/" in by_event["workitem.deleted"]["resource"]["url"]


def test_stale_rev_test_is_refused_like_azure_devops(azure_env):
    _, url, _ = azure_env
    client = wit(url)
    story = create(client, "Story")
    client.update_work_item([Op(op="add", path="/fields/System.Title", value="B")], story.id)
    with pytest.raises(AzureDevOpsServiceError, match="VS403351"):
        client.update_work_item(
            [
                Op(op="test", path="/rev", value=1),
                Op(op="add", path="/fields/System.Title", value="C"),
            ],
            story.id,
        )
    assert client.get_work_item(story.id).fields["System.Title"] == "B"  # nothing applied
    raw = requests.patch(
        f"{url}/_apis/wit/workitems/{story.id}?api-version=7.1",
        auth=("", "pm-pat"),
        timeout=5,
        headers={"Content-Type": "application/json-patch+json"},
        data=json.dumps([{"op": "test", "path": "/rev", "value": 1}]),
    )
    assert raw.status_code == 412
    assert raw.json()["typeKey"] == "TestPatchOperationFailedException"
    assert {"$id", "message", "typeName", "typeKey", "errorCode", "eventId"} <= set(raw.json())


def test_parent_links_update_both_ends(azure_env, receiver):
    _state, url, sender = azure_env
    client = wit(url)
    epic = create(client, "Epic", "Epic")
    story = create(client, "Story")
    client.update_work_item(
        [
            Op(
                op="add",
                path="/relations/-",
                value={"rel": PARENT, "url": epic.url, "attributes": {"comment": "roll up"}},
            )
        ],
        story.id,
    )
    child = client.get_work_item(story.id, expand="relations")
    assert [(r.rel, r.url) for r in child.relations] == [(PARENT, epic.url)]
    parent = client.get_work_item(epic.id, expand="all")
    assert [r.rel for r in parent.relations] == ["System.LinkTypes.Hierarchy-Forward"]
    with pytest.raises(AzureDevOpsServiceError, match="only one Parent"):
        client.update_work_item(
            [Op(op="add", path="/relations/-", value={"rel": PARENT, "url": epic.url})], story.id
        )
    hooks = delivered(receiver, sender, 4)
    link_update = hooks[2].json["resource"]
    assert link_update["workItemId"] == story.id
    assert link_update["relations"]["added"][0]["rel"] == PARENT
    assert hooks[3].json["resource"]["workItemId"] == epic.id


def test_wiql_subset(azure_env):
    _state, url, _ = azure_env
    client = wit(url)
    epic = create(client, "Epic", "Epic")
    create(client, "Story")
    other = create(client, "Other epic", "Epic", "Contoso")
    query = (
        "SELECT [System.Id] FROM WorkItems WHERE [System.TeamProject] = 'Fabrikam' "
        "AND [System.WorkItemType] = 'Epic' ORDER BY [System.ChangedDate] DESC"
    )
    assert [w.id for w in client.query_by_wiql(Wiql(query=query)).work_items] == [epic.id]
    everything = client.query_by_wiql(Wiql(query="SELECT [System.Id] FROM WorkItems"))
    assert len(everything.work_items) == 3
    scoped = client.query_by_wiql(
        Wiql(query="Select [System.Id] From WorkItems Where [System.TeamProject] = @project"),
        team_context=TeamContext(project="Contoso"),
    )
    assert [w.id for w in scoped.work_items] == [other.id]
    raw = requests.post(
        f"{url}/Contoso/_apis/wit/wiql?api-version=7.1",
        auth=("", "pm-pat"),
        timeout=5,
        json={"query": "SELECT [System.Id] FROM WorkItems WHERE [System.TeamProject] = @project"},
    )
    assert [w["id"] for w in raw.json()["workItems"]] == [other.id]
    batch = requests.post(
        f"{url}/_apis/wit/workitemsbatch?api-version=7.1",
        auth=("", "pm-pat"),
        timeout=5,
        json={"ids": [epic.id, 999], "errorPolicy": "omit"},
    ).json()
    assert batch["count"] == 2 and batch["value"][1] is None


def test_comments_api_7_1_preview_4(azure_env):
    _, url, _ = azure_env
    client = wit(url, v71=True)
    story = create(client, "Story")
    added = client.add_comment(CommentCreate(text="<p>PMO compliance</p>"), "Fabrikam", story.id)
    assert (added.work_item_id, added.version, added.created_by.unique_name) == (
        story.id,
        1,
        "pm@fabrikam.com",
    )
    edited = client.update_comment(
        CommentUpdate(text="<p>all good</p>"), "Fabrikam", story.id, added.id
    )
    assert (edited.version, edited.text) == (2, "<p>all good</p>")
    listed = client.get_comments("Fabrikam", story.id)
    assert listed.total_count == 1 and listed.comments[0].id == added.id
    assert client.get_work_item(story.id).fields["System.CommentCount"] == 1
    spec_example = json.loads(
        (
            SPECS
            / "azure-devops"
            / "examples"
            / "comments_POST__wit_workitems__taskId__comments_create.json"
        ).read_text("utf-8")
    )["responses"]["200"]["body"]
    raw = requests.get(
        f"{url}/Fabrikam/_apis/wit/workItems/{story.id}/comments/{added.id}",
        auth=("", "pm-pat"),
        timeout=5,
    ).json()
    assert set(spec_example) - {"commentId"} <= set(raw)


def test_bot_pat_identity_marks_its_own_edits(azure_env, receiver):
    _, url, sender = azure_env
    story = create(wit(url), "Story")
    wit(url, "bot-pat").update_work_item(
        [Op(op="add", path="/fields/System.Tags", value="pmo-amber")], story.id
    )
    update = delivered(receiver, sender, 2)[1].json["resource"]
    assert update["revisedBy"]["uniqueName"] == "pmo-bot@fabrikam.com"
    assert update["fields"]["System.ChangedBy"]["newValue"] == "PMO Bot <pmo-bot@fabrikam.com>"


def test_tags_add_merges_and_only_replace_or_remove_take_tags_away(azure_env):
    _, url, _ = azure_env
    client = wit(url)
    story = create(client, "Story", "User Story", "Fabrikam")
    tags = "/fields/System.Tags"
    step = client.update_work_item([Op(op="add", path=tags, value="pmo-amber; Customer")], 1)
    assert step.fields["System.Tags"] == "Customer; pmo-amber"
    step = client.update_work_item([Op(op="add", path=tags, value="Customer; pmo-red")], 1)
    assert step.fields["System.Tags"] == "Customer; pmo-amber; pmo-red"  # merged
    step = client.update_work_item([Op(op="replace", path=tags, value="Customer; pmo-red")], 1)
    assert step.fields["System.Tags"] == "Customer; pmo-red"
    step = client.update_work_item([Op(op="remove", path=tags)], story.id)
    assert "System.Tags" not in step.fields


def product_client(url: str, **changes):
    tracker = TrackerConfig(
        name="azure-devops", kind="azure-devops", url=url, token_env="ADO_PAT",
        project="Fabrikam", bot_account="pmo-bot@fabrikam.com", **changes,
    )  # fmt: skip
    return make_client(tracker, environ={"ADO_PAT": "bot-pat"})


def test_the_service_client_takes_managed_tags_away(azure_env, monkeypatch):
    """Against the sandbox's `add` merge, a tag goes away only because the client writes
    System.Tags with `replace`: an amber epic turned red loses pmo-rag-amber."""
    monkeypatch.setattr(ado_client.Client, "_locations_cache", {})
    state, url, _ = azure_env
    story = create(wit(url), "Epic", "Epic", "Fabrikam",
                   Op(op="add", path="/fields/System.Tags", value="Customer; pmo-rag-amber"))  # fmt: skip
    client = product_client(url)
    client.update_labels(str(story.id), {"pmo-rag-red"}, {"pmo-rag-amber"})
    assert state.items[story.id].fields["System.Tags"] == "Customer; pmo-rag-red"
    rev = state.items[story.id].rev
    client.update_labels(str(story.id), {"pmo-rag-red"}, {"pmo-rag-amber"})
    assert state.items[story.id].rev == rev  # nothing left to write: no new revision


def test_the_service_client_quiet_edits_without_the_permission(azure_env, monkeypatch):
    monkeypatch.setattr(ado_client.Client, "_locations_cache", {})
    state, url, _ = azure_env
    story = create(wit(url), "Story")
    client = product_client(url, quiet_edits=True)
    client.set_fields(str(story.id), {"Microsoft.VSTS.Scheduling.StoryPoints": 5})
    client.set_fields(str(story.id), {"Microsoft.VSTS.Scheduling.StoryPoints": 8})
    assert state.items[story.id].fields["Microsoft.VSTS.Scheduling.StoryPoints"] == 8


def test_suppress_notifications_needs_the_project_permission(azure_env):
    state, url, _ = azure_env
    story = create(wit(url), "Story")
    ops = [Op(op="add", path="/fields/Microsoft.VSTS.Scheduling.StoryPoints", value=3)]
    with pytest.raises(AzureDevOpsServiceError, match="Suppress notifications"):
        wit(url, "bot-pat").update_work_item(ops, story.id, suppress_notifications=True)
    assert "Microsoft.VSTS.Scheduling.StoryPoints" not in state.items[story.id].fields
    state.add_user("pmo-bot@fabrikam.com", suppress_notifications=True)
    done = wit(url, "bot-pat").update_work_item(ops, story.id, suppress_notifications=True)
    assert done.fields["Microsoft.VSTS.Scheduling.StoryPoints"] == 3


def test_service_hook_subscriptions(azure_env, receiver):
    state, url, sender = azure_env
    auth = ("", "pm-pat")
    base = f"{url}/_apis/hooks/subscriptions?api-version=7.1"
    created = requests.post(
        base,
        auth=auth,
        timeout=5,
        json={
            "publisherId": "tfs",
            "eventType": "workitem.updated",
            "resourceVersion": "1.0",
            "consumerId": "webHooks",
            "consumerActionId": "httpRequest",
            "publisherInputs": {"projectId": state.projects["Contoso"]["id"]},
            "consumerInputs": {
                "url": f"{receiver.url}/sub",
                "basicAuthUsername": "pmo",
                "basicAuthPassword": "sub-secret",
            },
        },
    )
    assert created.status_code == 200
    sub = created.json()
    assert sub["consumerInputs"]["basicAuthPassword"] == "********"
    listed = requests.get(base, auth=auth, timeout=5).json()
    assert [s["id"] for s in listed["value"]] == [sub["id"]]
    client = wit(url)
    for project in ("Fabrikam", "Contoso"):
        item = create(client, "Story", "User Story", project)
        client.update_work_item(
            [Op(op="add", path="/fields/System.State", value="Active")], item.id
        )
    hooks = [h for h in delivered(receiver, sender, 5) if h.path == "sub"]
    assert len(hooks) == 1 and hooks[0].json["subscriptionId"] == sub["id"]
    assert (
        hooks[0].headers["Authorization"] == "Basic " + base64.b64encode(b"pmo:sub-secret").decode()
    )
    gone = requests.delete(
        f"{url}/_apis/hooks/subscriptions/{sub['id']}?api-version=7.1", auth=auth, timeout=5
    )
    assert gone.status_code == 204 and not state.subscriptions


def wrapped(response: requests.Response, status: int) -> dict:
    assert response.status_code == status
    body = response.json()
    assert {"message", "typeKey"} <= set(body)
    return body


def test_rejections_look_like_azure_devops(azure_env):
    _, url, _ = azure_env
    auth = ("", "pm-pat")
    story = create(wit(url), "Story")
    item = f"{url}/Fabrikam/_apis/wit/workitems/{story.id}"
    patch_headers = {"Content-Type": "application/json-patch+json"}
    ops = json.dumps([{"op": "add", "path": "/fields/System.Title", "value": "x"}])
    no_version = requests.patch(item, auth=auth, headers=patch_headers, data=ops, timeout=5)
    assert wrapped(no_version, 400)["typeKey"] == "VssVersionNotSpecifiedException"
    assert requests.get(item, auth=auth, timeout=5).status_code == 200  # GET needs none
    versioned = f"{item}?api-version=7.1"
    wrong_type = requests.patch(versioned, auth=auth, json=[], timeout=5)
    assert wrapped(wrong_type, 415)["typeKey"] == "VssRequestContentTypeNotSupportedException"
    unknown = requests.patch(
        versioned,
        auth=auth,
        headers=patch_headers,
        timeout=5,
        data=json.dumps([{"op": "add", "path": "/fields/Custom.Nope", "value": 1}]),
    )
    assert "TF51535" in wrapped(unknown, 400)["message"]
    missing = requests.get(f"{url}/_apis/wit/workitems/999", auth=auth, timeout=5)
    assert "TF401232" in wrapped(missing, 404)["message"]
    bad_project = requests.get(f"{url}/Nope/_apis/wit/workitems/{story.id}", auth=auth, timeout=5)
    assert "TF200016" in wrapped(bad_project, 404)["message"]
    wrong_method = requests.put(versioned, auth=auth, json={}, timeout=5)
    assert "does not support http method 'PUT'" in wrapped(wrong_method, 405)["message"]
    no_title = requests.post(
        f"{url}/Fabrikam/_apis/wit/workitems/$Task?api-version=7.1",
        auth=auth,
        headers=patch_headers,
        data="[]",
        timeout=5,
    )
    assert "Title" in wrapped(no_title, 400)["message"]
    unauthenticated = wrapped(requests.get(item, timeout=5), 401)
    assert unauthenticated["typeKey"] == "UnauthorizedRequestException"
    with pytest.raises(AzureDevOpsServiceError, match="TF400813"):
        Connection(
            base_url=url, creds=BasicAuthentication("", "")
        ).clients.get_work_item_tracking_client().get_work_item(story.id)


def test_sandbox_helper_runs_both_trackers_and_counts_calls():
    with Sandbox() as sb:
        sb.jira_state.add_project("PAY")
        sb.azure_state.add_project("Fabrikam")
        sb.azure_state.add_user("pm@fabrikam.com", pat="p")
        requests.get(f"{sb.jira_url}/rest/api/3/myself", auth=("pm", "t"), timeout=5)
        create(wit(sb.azure_url, "p"), "Story")
        assert sb.flush(2)
        calls = sb.api_calls()
        assert calls[("jira", "GET", "/rest/api/{version}/myself")] == 1
        assert (
            calls[
                ("azure-devops", "POST", "/{org}/{project}/_apis/wit/workitems/${work_item_type}")
            ]
            == 1
        )


def _spec_paths() -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    names = ("workItemTracking-7.1.json", "serviceHooks-7.1.json", "security-7.1.excerpt.json",
             "work-7.1.excerpt.json", "identities-7.1.json")  # fmt: skip
    for name in names:
        spec = json.loads((SPECS / "azure-devops" / name).read_text("utf-8-sig"))
        for path, ops in spec["paths"].items():
            key = re.sub(r"\{[^}]+\}", "{}", path).lower()
            out.setdefault(key, set()).update(m.upper() for m in ops if m != "parameters")
    # Core's "Projects - Get" (what `pmo-bridge register` looks the project up with) is not
    # among the stored specs: learn.microsoft.com/rest/api/azure/devops/core/projects/get
    out.setdefault("/{}/_apis/projects/{}", set()).add("GET")
    return out


# The location service (OPTIONS /_apis and ResourceAreas) is what the client library calls
# for discovery, and ConnectionData (who am I) belongs to the same location service; they
# are not part of the work item tracking or service hooks specs.
DISCOVERY = {"/{}/_apis", "/{}/_apis/", "/{}/_apis/resourceareas", "/{}/_apis/resourceareas/{}",
             "/{}/_apis/connectiondata"}  # fmt: skip


def test_every_route_is_a_documented_azure_devops_path_and_method():
    app = create_azure_app(AzureState())
    spec = _spec_paths()
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        template = re.sub(r"\{[^}]+\}", "{}", route_label(rule.rule)).lower()
        if template in DISCOVERY:
            continue
        # {project} and {team} are optional route segments in the service
        candidates = [
            template,
            template.replace("/{}/_apis", "/{}/{}/_apis", 1),
            template.replace("/{}/_apis", "/{}/{}/{}/_apis", 1),
        ]
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert any(method in spec.get(c, set()) for c in candidates), f"{method} {rule.rule}"
            checked += 1
    assert checked >= 15


def test_permissions_of_the_caller_by_token_and_in_a_batch(azure_env):
    """Security API 7.1 as doctor reads it: namespace actions, the caller's permission
    per token (`{count, value: [bool]}`), an evaluation batch, and the root area node."""
    from sandbox.azure_security import CSS, TAGGING, area_token

    state, org, _ = azure_env
    state.permissions.deny("pmo-bot@fabrikam.com", "CSS", "WORK_ITEM_WRITE")
    bot, pm = ("", "bot-pat"), ("", "pm-pat")
    version = {"api-version": "7.1-preview.1"}

    css = requests.get(f"{org}/_apis/securitynamespaces/{CSS}", params=version, auth=bot).json()
    actions = {a["name"]: a["bit"] for a in css["value"][0]["actions"]}
    assert actions["WORK_ITEM_WRITE"] == 32 and actions["WORK_ITEM_SAVE_COMMENT"] == 512
    unknown = requests.get(f"{org}/_apis/securitynamespaces/{TAGGING[:-1]}0", auth=bot).json()
    assert unknown == {"count": 0, "value": []}

    nodes = requests.get(f"{org}/Fabrikam/_apis/wit/classificationnodes",
                         params={"$depth": 0}, auth=bot).json()  # fmt: skip
    area = next(n for n in nodes["value"] if n["structureType"] == "area")
    token = f"vstfs:///Classification/Node/{area['identifier']}"
    assert token == area_token(state, "Fabrikam")

    def has(auth, namespace, bits, tokens):
        url = f"{org}/_apis/permissions/{namespace}/{bits}"
        params = {"tokens": tokens, "api-version": "7.1-preview.2"}
        return requests.get(url, params=params, auth=auth).json()

    assert has(bot, CSS, 32, f"{token},{token}") == {"count": 2, "value": [False, False]}
    assert has(bot, CSS, 16, token)["value"] == [True]  # reading is still allowed
    assert has(bot, CSS, 48, token)["value"] == [False]  # every bit asked must be held
    assert has(pm, CSS, 32, token)["value"] == [True]  # others keep it

    batch = {"alwaysAllowAdministrators": False, "evaluations": [
        {"securityNamespaceId": CSS, "token": token, "permissions": 512},
        {"securityNamespaceId": TAGGING, "token": "/x", "permissions": 2},
        {"securityNamespaceId": CSS, "token": token, "permissions": 32},
    ]}  # fmt: skip
    answer = requests.post(f"{org}/_apis/security/permissionevaluationbatch", json=batch,
                           params=version, auth=bot).json()  # fmt: skip
    assert [e["value"] for e in answer["evaluations"]] == [True, True, False]
    refused = requests.get(f"{org}/_apis/permissions/{CSS[:-1]}0/32", params={"tokens": token},
                           auth=bot)  # fmt: skip
    assert refused.status_code == 404 and "VS403507" in refused.json()["message"]


def test_the_managed_comment_reads_back_as_written_and_none_once_deleted(azure_env, monkeypatch):
    """As for Jira: the HTML the client sent reads back to the same text; a deleted
    comment is gone (404)."""
    monkeypatch.setattr(ado_client.Client, "_locations_cache", {})
    _state, url, _ = azure_env
    story = create(wit(url), "Story")
    service = product_client(url)
    doc = Document("PMO compliance (pmo-bridge)",
                   [Paragraph("Estimate missing & <late>"), Table(["Rule"], [["story-estimated"]])])  # fmt: skip
    cid = service.add_comment(str(story.id), doc)
    read = service.get_comment(str(story.id), cid)
    assert read is not None
    assert " ".join(read.body.split()) == " ".join(body_text(rendered(doc, "html")).split())
    wit(url).delete_comment("Fabrikam", story.id, int(cid))
    assert service.get_comment(str(story.id), cid) is None


def test_the_service_client_writes_tags_and_the_first_comment_in_one_revision(
    azure_env, monkeypatch
):
    """System.History in the tags PATCH: one revision, the text a comment of the comments
    API, whose id the client reads next and edits in place later."""
    monkeypatch.setattr(ado_client.Client, "_locations_cache", {})
    state, url, _ = azure_env
    story = create(wit(url), "Story")
    rev = state.items[story.id].rev
    client = product_client(url)
    doc = Document(MARKER, [Paragraph("Owner missing")])
    new_rev, comment_id = client.update_labels_with_comment(str(story.id), {"pmo-x"}, set(), doc)
    item = state.items[story.id]
    assert (item.rev, new_rev) == (rev + 1, rev + 1)
    assert item.fields["System.Tags"] == "pmo-x"
    comments = wit(url, v71=True).get_comments("Fabrikam", story.id).comments
    assert [str(c.id) for c in comments] == [comment_id]
    client.update_comment(str(story.id), comment_id, Document(MARKER, [Paragraph("All pass")]))
    comments = wit(url, v71=True).get_comments("Fabrikam", story.id).comments
    assert len(comments) == 1 and "All pass" in comments[0].text


def test_a_batch_with_fields_renders_only_those_fields(azure_env):
    url = azure_env[1]
    story = create(wit(url), "Story")
    answer = requests.post(
        f"{url}/Fabrikam/_apis/wit/workitemsbatch?api-version=7.1", auth=("", "pm-pat"),
        timeout=5, json={"ids": [story.id], "fields": ["System.Title", "System.CreatedBy"]},
    )  # fmt: skip
    (item,) = answer.json()["value"]
    assert set(item["fields"]) == {"System.Title", "System.CreatedBy"}
    assert item["fields"]["System.CreatedBy"]["uniqueName"] == "pm@fabrikam.com"


def with_items(sandbox: Sandbox, count: int, work_item_type: str) -> None:
    """Project Fabrikam with `count` work items, made by a PM whose PAT is `pm-pat`."""
    state = sandbox.azure_state
    state.add_project("Fabrikam")
    state.add_user("pm@fabrikam.com", "Pat Manager", pat="pm-pat")
    for n in range(count):
        state.create_work_item("Fabrikam", work_item_type, f"Item {n}", actor="pm@fabrikam.com")


def test_audit_reads_wiql_ids_then_batches_of_200_with_the_mapped_fields(monkeypatch):
    """The service's client against the sandbox: one WIQL for the ids, then
    workitemsbatch of up to 200 with only the mapped fields, several in flight, a 429 on
    the way honoured; every request as Microsoft documents it."""
    monkeypatch.setattr(ado_client.Client, "_locations_cache", {})
    with Sandbox() as sandbox:
        with_items(sandbox, 450, "User Story")
        tracker = TrackerConfig(
            name="azure-devops", kind="azure-devops", url=sandbox.azure_url, token_env="P",
            project="Fabrikam", read_concurrency=3,
        )  # fmt: skip
        client = make_client(tracker, environ={"P": "pm-pat"})
        sent: list[requests.PreparedRequest] = []
        answers: list[int] = []
        client._wit.config.hooks.append(
            lambda r, *a, **k: sent.append(r.request) or answers.append(r.status_code)
        )
        wiql = "SELECT [System.Id] FROM WorkItems WHERE [System.TeamProject] = 'Fabrikam'"
        total, items = client.search(wiql, page_size=200, links=False)
        sandbox.throttle(1, retry_after=0.5, tracker="azure-devops")  # a batch's
        ids = sorted(int(item.native_id) for item in items)
    assert total == 450 and len(ids) == 450
    for request in sent:
        if request.method != "OPTIONS":  # the library's resource-location discovery
            assert_documented(request, "azure-devops", tracker.url)
    batches = [
        json.loads(r.body)
        for r, status in zip(sent, answers, strict=True)
        if r.path_url.lower().split("?")[0].endswith("/workitemsbatch") and status == 200
    ]
    assert sorted(len(b["ids"]) for b in batches) == [50, 200, 200]
    assert answers.count(429) == 1
    assert {tuple(b["fields"]) for b in batches} == {tuple(work_item_fields(tracker))}
    assert all("$expand" not in b for b in batches)


def test_wiql_answers_of_over_20000_are_refused_and_the_client_pages_them(monkeypatch):
    """As the service: a WIQL answer of over 20,000 work items is a 400 VS402337 unless
    `$top` asks for at most 20,000; the service's client reads such a query in pages of
    19,999 ids ordered by id, through the sandbox over HTTP."""
    monkeypatch.setattr(ado_client.Client, "_locations_cache", {})
    with Sandbox() as sandbox:
        with_items(sandbox, 20_003, "Task")
        query = "SELECT [System.Id] FROM WorkItems WHERE [System.TeamProject] = 'Fabrikam'"
        url = f"{sandbox.azure_url}/Fabrikam/_apis/wit/wiql?api-version=7.1"
        whole = requests.post(url, auth=("", "pm-pat"), timeout=30, json={"query": query})
        topped = requests.post(
            f"{url}&$top=19999", auth=("", "pm-pat"), timeout=30, json={"query": query}
        )
        tracker = TrackerConfig(
            name="azure-devops", kind="azure-devops", url=sandbox.azure_url, token_env="P",
            project="Fabrikam",
        )  # fmt: skip
        total, _ = make_client(tracker, environ={"P": "pm-pat"}).search(query, links=False)
    assert whole.status_code == 400
    assert whole.json()["typeKey"] == "WorkItemTrackingQueryResultSizeLimitExceededException"
    assert whole.json()["message"].startswith("VS402337: The number of work items returned")
    ids = [w["id"] for w in topped.json()["workItems"]]
    assert len(ids) == 19_999 and ids == sorted(ids)
    assert total == 20_003
