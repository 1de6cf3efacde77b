"""End to end over real HTTP, nothing mocked: the sandbox trackers, the service under a
threaded WSGI server and its Huey worker on loopback. Project managers edit items with
the real `jira` and `azure-devops` client libraries; the trackers send real webhooks;
the service writes back through its real clients; the tests read the trackers' state."""

from __future__ import annotations

import datetime as dt
import time

import jira
import pytest
import requests
from azure.devops.connection import Connection
from azure.devops.v7_1.work_item_tracking.models import JsonPatchOperation as Op
from msrest.authentication import BasicAuthentication

from demo.run import DemoClock, LiveStack
from demo.seed import AZURE_BOT, JIRA_BOT, add_people

PACK = """\
version: 1
name: End-to-end pack
enforcement: advise
rules:
  - id: story-estimated
    title: Stories in flight are estimated
    severity: medium
    enforcement: enforce
    when: {type: [story], status_category: [in_progress, done]}
    require:
      - {field: estimate, present: true}
    labels: [unestimated]
    message: "{key}: estimate the story before work starts."
rollups:
  - id: epic-rollup
    parents: {type: [initiative, epic]}
    metrics: [children, done, progress, points_total, points_done, forecast_end, rag]
    rag:
      red: {blocked_children: 1}
      amber: {noncompliant_children: 1}
    write_back: {comment: true, labels: true}
"""
MARKER = "PMO compliance (pmo-bridge)"
SEARCHES = ("search", "wiql", "workitemsbatch", "approximate-count")


@pytest.fixture
def live(tmp_path):
    pack = tmp_path / "pack.yaml"
    pack.write_text(PACK)
    stack = LiveStack(DemoClock(dt.datetime.now(dt.UTC)), rules=(str(pack),)).start()
    try:
        add_people(
            stack.sandbox,
            stack.values["PMO_BRIDGE_DEMO_JIRA_TOKEN"],
            stack.values["PMO_BRIDGE_DEMO_AZURE_DEVOPS_PAT"],
        )
        stack.sandbox.azure_state.add_user("raj@fabrikam.com", "Raj Patel", pat="raj-pat")
        assert len(stack.connect()) == 6  # 1 Jira webhook, 5 service hook subscriptions
        yield stack
        assert stack.problems() == []
    finally:
        stack.stop()


def jira_as(stack: LiveStack, user: str) -> jira.JIRA:
    return jira.JIRA(
        server=stack.sandbox.jira_url,
        basic_auth=(user, "api-token"),
        options={"rest_api_version": "2"},
        get_server_info=False,
        max_retries=0,
    )


def boards_as(stack: LiveStack, pat: str):
    connection = Connection(base_url=stack.sandbox.azure_url, creds=BasicAuthentication("", pat))
    return connection.clients_v7_1.get_work_item_tracking_client()


def drained(stack: LiveStack) -> None:
    assert stack.drain(30), "the pipeline did not drain"


def jira_comments(stack: LiveStack, key: str) -> list[dict]:
    issue = stack.sandbox.jira_state.get(key)
    return [c for c in issue.comments if c["author"] == JIRA_BOT]


def jira_labels(stack: LiveStack, key: str) -> list[str]:
    return list(stack.sandbox.jira_state.get(key).fields["labels"])


def azure_comments(stack: LiveStack, item_id: int) -> list[dict]:
    item = stack.sandbox.azure_state.get(item_id)
    return [c for c in item.comments if c["createdBy"] == AZURE_BOT and not c["isDeleted"]]


def azure_tags(stack: LiveStack, item_id: int) -> set[str]:
    raw = stack.sandbox.azure_state.get(item_id).fields.get("System.Tags") or ""
    return {t.strip() for t in raw.split(";") if t.strip()}


def text_of(comment: dict) -> str:
    body = comment.get("body", comment.get("text"))
    return str(body)


def write_calls(stack: LiveStack) -> int:
    return sum(
        n
        for (_, method, route), n in stack.sandbox.api_calls().items()
        if method in ("POST", "PUT", "PATCH", "DELETE")
        and not any(s in route.lower() for s in SEARCHES)
    )


def test_jira_finding_comment_and_label_then_fixed_in_place(live):
    pm = jira_as(live, "marco")
    epic = pm.create_issue(
        fields={"project": {"key": "WEB"}, "issuetype": {"name": "Epic"}, "summary": "Checkout"}
    )
    story = pm.create_issue(
        fields={
            "project": {"key": "WEB"},
            "issuetype": {"name": "Story"},
            "summary": "Guest checkout",
            "parent": {"key": epic.key},
        }
    )
    drained(live)
    assert jira_comments(live, story.key) == []  # compliant so far: nothing written

    pm.transition_issue(story.key, "21")  # In Progress, without an estimate
    drained(live)
    (comment,) = jira_comments(live, story.key)
    assert MARKER in text_of(comment) and "story-estimated" in text_of(comment)
    assert "pmo-unestimated" in jira_labels(live, story.key)
    assert "pmo-rag-amber" in jira_labels(live, epic.key)  # one non-compliant child

    pm.issue(story.key).update(fields={"customfield_10016": 3})
    drained(live)
    (fixed,) = jira_comments(live, story.key)  # still exactly one comment
    assert fixed["id"] == comment["id"]
    assert "All PMO rules pass" in text_of(fixed) and "story-estimated" not in text_of(fixed)
    assert not [lb for lb in jira_labels(live, story.key) if lb.startswith("pmo-")]
    assert "pmo-rag-green" in jira_labels(live, epic.key)
    assert "pmo-rag-amber" not in jira_labels(live, epic.key)

    pm.transition_issue(story.key, "41")  # Blocked: the epic's rollup goes red
    drained(live)
    labels = jira_labels(live, epic.key)
    assert "pmo-rag-red" in labels and "pmo-rag-green" not in labels
    (rollup_comment,) = jira_comments(live, epic.key)
    assert "Portfolio rollup: RED" in text_of(rollup_comment)

    assert live.runtime.store.delivery_counts()["ignored"] > 0  # its own edits came back...
    before = write_calls(live)
    time.sleep(1.5)  # longer than a rollup's coalescing window and the scheduler's tick
    drained(live)
    assert write_calls(live) == before  # ...and caused no further writes


def test_azure_devops_finding_comment_and_tag_then_fixed_in_place(live):
    pm = boards_as(live, "raj-pat")
    story = pm.create_work_item(
        [Op(op="add", path="/fields/System.Title", value="Sync queue for offline edits")],
        "Fabrikam",
        "User Story",
    )
    drained(live)
    pm.update_work_item([Op(op="add", path="/fields/System.State", value="Active")], story.id)
    drained(live)
    (comment,) = [dict(c) for c in azure_comments(live, story.id)]
    assert MARKER in comment["text"] and "story-estimated" in comment["text"]
    assert "pmo-unestimated" in azure_tags(live, story.id)

    pm.update_work_item(
        [Op(op="add", path="/fields/Microsoft.VSTS.Scheduling.StoryPoints", value=3)], story.id
    )
    drained(live)
    (fixed,) = azure_comments(live, story.id)
    assert fixed["id"] == comment["id"] and fixed["version"] > comment["version"]
    assert "All PMO rules pass" in fixed["text"]
    assert not [t for t in azure_tags(live, story.id) if t.startswith("pmo-")]

    before = write_calls(live)
    time.sleep(1.5)
    drained(live)
    assert write_calls(live) == before


def test_jira_initiative_rolls_up_the_azure_devops_feature_it_owns(live):
    initiative = jira_as(live, "priya").create_issue(
        fields={
            "project": {"key": "PAY"},
            "issuetype": {"name": "Initiative"},
            "summary": "Payments platform",
        }
    )
    feature = boards_as(live, "raj-pat").create_work_item(
        [
            Op(op="add", path="/fields/System.Title", value="Wallet payments in the app"),
            Op(op="add", path="/fields/Custom.PortfolioParent", value=initiative.key),
            Op(op="add", path="/fields/Microsoft.VSTS.Scheduling.StoryPoints", value=8),
        ],
        "Fabrikam",
        "Feature",
    )
    drained(live)
    rollup = live.runtime.store.get_rollup(f"jira:{initiative.key}")
    assert rollup is not None and rollup.children == 1 and rollup.points_total == 8

    boards_as(live, "raj-pat").update_work_item(
        [Op(op="add", path="/fields/System.State", value="Closed")], feature.id
    )
    drained(live)
    assert live.runtime.store.get_rollup(f"jira:{initiative.key}").progress == 1.0
    (comment,) = jira_comments(live, initiative.key)
    assert "Portfolio rollup: GREEN" in text_of(comment)

    portfolio = requests.get(f"{live.url}/api/portfolio", timeout=10).json()
    node = next(n for n in portfolio["tree"] if n["key"] == f"jira:{initiative.key}")
    assert [c["key"] for c in node["children"]] == [f"azure-devops:{feature.id}"]
    assert node["rollup"]["progress"] == 1.0
    page = requests.get(f"{live.url}/portfolio", timeout=10)
    assert page.ok and "Wallet payments in the app" in page.text
