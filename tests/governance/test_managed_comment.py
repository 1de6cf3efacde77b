"""What the managed comment says and how big it may grow, end to end: a real payload
posted to the service, the real worker and `jira` client, Jira's HTTP mocked and every
request checked against the spec (comments: Atlassian's ADF schema and the 32,767
character limit)."""

from __future__ import annotations

import html
import json

import pytest
import responses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.settings import TrackerConfig
from connector.model import ItemType, StatusCategory, WorkItem
from rules.engine import Finding
from sandbox.adf import adf_problems
from tests.support.helpers import load_fixture
from tests.support.queue_helpers import drain
from tests.support.service import JIRA_SECRET_ENV, jira_headers, make_settings
from tests.support.spec_check import assert_documented
from webhooks.governance.comments import MARKER, compliance_document, rendered_size
from webhooks.http.app import create_app

SECRET = "comment-limits-secret"
PUBLIC = "https://pmo.acme.example"
SITES = {"cloud": "https://zulipp.atlassian.net", "server": "http://jira.acme.example"}


def rules_file(tmp_path, rules: list[dict]) -> str:
    path = tmp_path / "rules.yaml"
    path.write_text(json.dumps({"version": 1, "rules": rules}), encoding="utf-8")
    return str(path)


def service(tmp_path, monkeypatch, rules: list[dict], deployment: str = "cloud"):
    monkeypatch.setenv(JIRA_SECRET_ENV, SECRET)
    monkeypatch.setenv("TEST_JIRA_EMAIL", "pmo-bot@example.com")
    monkeypatch.setenv("TEST_JIRA_TOKEN", "api-token")
    tracker = TrackerConfig(
        name="jira",
        kind="jira",
        url=SITES[deployment],
        deployment=deployment,
        user_env="TEST_JIRA_EMAIL",
        token_env="TEST_JIRA_TOKEN",
        webhook_secret_env=JIRA_SECRET_ENV,
        bot_account="5b10ac8d82e05b22cc7d4ef5",
    )
    settings = make_settings(
        tmp_path,
        trackers={"jira": tracker},
        rules=(rules_file(tmp_path, rules),),
        public_url=PUBLIC,
    )
    app = create_app(settings=settings)
    return app, app.extensions["pmo_bridge"]


def written_comment(app, runtime, deployment: str = "cloud"):
    """Deliver the real Cloud transition of TEST-1 (in progress, nobody assigned) and
    return the body of the comment the worker posts."""
    api = f"{SITES[deployment]}/rest/api/{'3' if deployment == 'cloud' else '2'}"
    responses.get(f"{api}/issue/TEST-1/comment", json={"comments": [], "total": 0})
    responses.put(f"{api}/issue/TEST-1", status=204)
    responses.post(f"{api}/issue/TEST-1/comment", status=201, json={"id": "10500"})
    body = json.dumps(load_fixture("jira", "issue_updated__status_cloud")).encode()
    headers = jira_headers(body, SECRET, "d1")
    assert app.test_client().post("/webhooks/jira", data=body, headers=headers).status_code == 202
    drain(runtime)
    posts = [c for c in responses.calls if c.request.method == "POST"]
    assert len(posts) == 1, [c.request.url for c in responses.calls]
    for call in responses.calls:
        assert_documented(call.request, "jira", SITES[deployment])
    return json.loads(posts[0].request.body)["body"]


def item() -> WorkItem:
    return WorkItem(
        key="jira:PAY-1",
        tracker="jira",
        native_id="PAY-1",
        project="PAY",
        type=ItemType.STORY,
        title="Refund export",
        status="In Progress",
        status_category=StatusCategory.IN_PROGRESS,
    )


def in_progress_rule(rule_id: str, enforcement: str, **extra) -> dict:
    return {
        "id": rule_id,
        "enforcement": enforcement,
        "when": {"status_category": ["in_progress"]},
        "require": [{"field": "assignee", "present": True}],
        **extra,
    }


@responses.activate
def test_audit_findings_are_recorded_but_not_written_into_the_comment(tmp_path, monkeypatch):
    app, runtime = service(
        tmp_path,
        monkeypatch,
        [
            in_progress_rule("quietly-audited", "audit", message="AUDIT ONLY"),
            in_progress_rule("owner-advised", "advise", message="Assign an owner."),
        ],
    )
    comment = json.dumps(written_comment(app, runtime))
    assert "owner-advised" in comment and "Assign an owner." in comment
    assert "quietly-audited" not in comment and "AUDIT ONLY" not in comment
    assert "1 PMO rule needs attention" in comment
    recorded = {f.rule for f in runtime.store.open_findings("jira:TEST-1")}
    assert recorded == {"quietly-audited", "owner-advised"}


# Messages that grow in every format: wiki markup writes ":" as "&#58;", HTML "&" as "&amp;".
LONG_MESSAGE = "Fix it: " + ":&" * 450


@pytest.mark.parametrize("deployment", ["cloud", "server"])
@responses.activate
def test_a_comment_too_long_for_jira_lists_the_worst_and_counts_the_rest(
    tmp_path, monkeypatch, deployment
):
    severities = ["critical", "high", "medium", "low", "info"]
    rules = [
        in_progress_rule(f"rule-{n:03}", "advise", severity=severities[n % 5], message=LONG_MESSAGE)
        for n in range(120)
    ]
    app, runtime = service(tmp_path, monkeypatch, rules, deployment)
    body = written_comment(app, runtime, deployment)  # the spec check measured it
    text = json.dumps(body, ensure_ascii=False) if deployment == "cloud" else html.unescape(body)
    size = (
        len(json.dumps(body, separators=(",", ":"), ensure_ascii=False))
        if deployment == "cloud"
        else len(body)
    )
    assert 20_000 < size <= 32_767
    assert MARKER in text and "120 PMO rules need attention" in text
    listed = sorted(n for n in range(120) if f"rule-{n:03}" in text)
    assert 0 < len(listed) < 120
    # the most severe are listed: every critical one before any info one
    assert all(n % 5 == 0 for n in listed[: len(listed) // 5])
    assert f"{120 - len(listed)} more findings are not listed here" in text
    assert f"{PUBLIC}/portfolio" in text


@responses.activate
def test_a_comment_that_fits_lists_every_finding(tmp_path, monkeypatch):
    rules = [in_progress_rule(f"rule-{n}", "advise", message="short") for n in range(12)]
    app, runtime = service(tmp_path, monkeypatch, rules)
    text = json.dumps(written_comment(app, runtime))
    assert all(f"rule-{n}" in text for n in range(12))
    assert "not listed here" not in text


# -- properties: any findings make a valid comment within the limit, in every form ---------

finding_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=1_500)
findings = st.lists(
    st.builds(
        Finding,
        rule=st.from_regex(r"[a-z][a-z0-9-]{0,40}", fullmatch=True),
        severity=st.sampled_from(["critical", "high", "medium", "low", "info"]),
        enforcement=st.sampled_from(["audit", "advise", "enforce"]),
        message=finding_text,
        status=st.sampled_from(["fail", "error"]),
        hint=st.one_of(st.just(""), finding_text),
    ),
    max_size=60,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(findings, st.sampled_from(["adf", "wiki", "html"]))
def test_any_findings_make_a_valid_comment_within_the_limit(found, form):
    doc = compliance_document(item(), found, dashboard_url=PUBLIC, form=form)
    assert rendered_size(doc, form) <= 32_767 - 767
    assert adf_problems(doc.to_adf()) == []
    shown = {f.rule for f in found if f.enforcement != "audit"}
    text = doc.to_text()
    listed = {line.split(" | ")[0] for line in text.splitlines() if " | " in line}
    assert not ({f.rule for f in found} - shown) & listed  # audit only: never in the comment
    if not shown:
        assert "All PMO rules pass" in text
