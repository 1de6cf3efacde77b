"""Hostile values at intake, on SQLite and on the real PostgreSQL: keys that would steer
tracker calls to other paths, strings wider than the store's columns, numbers past its
integers or past arithmetic, identity fields of the wrong type. Each is a 400 at intake or
is read as missing; never a 5xx, never a dead letter."""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest

from connector.model import ItemType, StatusCategory, WorkItem
from rules.forecast import forecast_end
from tests.support.helpers import load_fixture
from tests.support.queue_helpers import drain
from tests.support.service import (
    AZURE_SECRET_ENV,
    JIRA_SECRET_ENV,
    azure_headers,
    jira_headers,
    make_settings,
)
from webhooks.governance.hierarchy import with_portfolio_parent
from webhooks.http.app import create_app

JIRA_SECRET = "jira-values-secret"
AZURE_SECRET = "azure-values-secret"
LONG = "x" * 300
JIRA_ISSUE = ("jira", "issue_updated__status_cloud")
JIRA_COMMENT = ("jira", "comment_created__cloud")
AZURE_CREATED = ("azure-devops", "workitem.created__sample")
AZURE_UPDATED = ("azure-devops", "workitem.updated__tags_and_points")


@pytest.fixture(params=["sqlite", "postgres"])
def service(request, tmp_path, monkeypatch):
    monkeypatch.setenv(JIRA_SECRET_ENV, JIRA_SECRET)
    monkeypatch.setenv(AZURE_SECRET_ENV, AZURE_SECRET)
    overrides: dict[str, Any] = {"max_retries": 1, "retry_base_seconds": 0.01}
    if request.param == "postgres":
        overrides["database_url"] = request.getfixturevalue("postgres_url")
    app = create_app(settings=make_settings(tmp_path, **overrides))
    yield app
    app.extensions["pmo_bridge"].store.close()


def post(app, source: tuple[str, str], change: Callable[[dict], None], delivery: str):
    tracker, name = source
    payload = copy.deepcopy(load_fixture(tracker, name))
    if tracker == "azure-devops":
        payload["id"] = delivery
    change(payload)
    body = json.dumps(payload).encode()
    headers = (
        jira_headers(body, JIRA_SECRET, delivery)
        if tracker == "jira"
        else azure_headers(AZURE_SECRET)
    )
    return app.test_client().post(f"/webhooks/{tracker}", data=body, headers=headers)


def setter(*path: Any, value: Any) -> Callable[[dict], None]:
    def change(payload: dict) -> None:
        node = payload
        for step in path[:-1]:
            node = node.setdefault(step, {}) if isinstance(step, str) else node[step]
        node[path[-1]] = value

    return change


REFUSED = [
    # keys and ids that are not the tracker's format, so never reach a tracker's path
    ("jira key with a path", JIRA_ISSUE, setter("issue", "key", value="ZZZ-1/../PAY-1")),
    ("jira key with a query", JIRA_ISSUE, setter("issue", "key", value="PAY-1?expand=x")),
    ("jira key with a fragment", JIRA_ISSUE, setter("issue", "key", value="PAY-1#x")),
    ("jira key too long", JIRA_ISSUE, setter("issue", "key", value="A" * 300 + "-1")),
    ("jira parent key", JIRA_ISSUE, setter("issue", "fields", "parent", value={"key": "../1"})),
    ("jira comment issue id", JIRA_COMMENT, setter("issue", "id", value="1/../2")),
    ("azure id past int32", AZURE_CREATED, setter("resource", "id", value=2**31)),
    ("azure id with a path", AZURE_CREATED, setter("resource", "id", value="5/../6")),
    # values the store's columns and integers cannot hold
    ("jira project too long", JIRA_ISSUE, setter("issue", "fields", "project", "key", value=LONG)),
    (
        "jira assignee too long",
        JIRA_ISSUE,
        setter("issue", "fields", "assignee", value={"displayName": LONG, "accountId": "a"}),
    ),
    ("azure rev of 2^63", AZURE_CREATED, setter("resource", "rev", value=2**63)),
    ("azure rev past int32", AZURE_CREATED, setter("resource", "rev", value=2**31)),
    ("azure update rev of 2^63", AZURE_UPDATED, setter("resource", "rev", value=2**63)),
    (
        "azure project too long",
        AZURE_CREATED,
        setter("resource", "fields", "System.TeamProject", value=LONG),
    ),
    (
        "azure assignee too long",
        AZURE_CREATED,
        setter("resource", "fields", "System.AssignedTo", value={"displayName": LONG}),
    ),
]


@pytest.mark.parametrize(
    ("source", "change"), [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED]
)
def test_values_that_do_not_fit_are_a_400_at_intake(service, source, change):
    response = post(service, source, change, "refused-1")
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["error"]
    runtime = service.extensions["pmo_bridge"]
    assert sum(runtime.store.delivery_counts().values()) == 0


def estimate(value: Any) -> Callable[[dict], None]:
    return setter("issue", "fields", "customfield_10016", value=value)


READ_AS_MISSING = [
    # (id, source, change, what the stored item shows)
    ("azure event id of 300 characters", AZURE_CREATED, setter("id", value="e" * 300), {}),
    ("jira NaN estimate", JIRA_ISSUE, estimate("NaN"), {"estimate": None}),
    ("jira Infinity estimate", JIRA_ISSUE, estimate("-Infinity"), {"estimate": None}),
    ("jira estimate past arithmetic", JIRA_ISSUE, estimate(1e300), {"estimate": None}),
    (
        "jira account id of the wrong type",
        JIRA_ISSUE,
        setter("issue", "fields", "assignee", value={"accountId": {"a": 1}, "displayName": "Al"}),
        {"assignee": {"display_name": "Al", "account_id": None}},
    ),
    (
        "azure identity of the wrong type",
        AZURE_CREATED,
        setter("resource", "fields", "System.AssignedTo", value={"displayName": 5, "id": [1]}),
        {"assignee": None},
    ),
    (
        "azure NaN story points",
        AZURE_CREATED,
        setter("resource", "fields", "Microsoft.VSTS.Scheduling.StoryPoints", value="NaN"),
        {"estimate": None},
    ),
]


@pytest.mark.parametrize(
    ("source", "change", "expected"),
    [c[1:] for c in READ_AS_MISSING],
    ids=[c[0] for c in READ_AS_MISSING],
)
def test_values_read_as_missing_are_processed_without_dead_letters(
    service, source, change, expected
):
    response = post(service, source, change, "missing-1")
    assert response.status_code == 202, response.get_json()
    runtime = service.extensions["pmo_bridge"]
    drain(runtime, timeout=30)
    counts = runtime.store.delivery_counts()
    assert counts["done"] == 1 and runtime.dead_letters() == [], counts
    (item,) = list(runtime.store.iter_items())
    stored = item.to_dict()
    for name, value in expected.items():
        assert stored[name] == value
    portfolio = service.test_client().get("/api/portfolio")
    assert portfolio.status_code == 200

    def refuse(name: str):
        raise AssertionError(f"{name} in /api/portfolio is not JSON")

    json.loads(portfolio.get_data(as_text=True), parse_constant=refuse)


def test_a_forecast_past_any_calendar_is_unknown_not_an_overflow():
    today = dt.date(2026, 11, 1)
    assert forecast_end(today, remaining=1e12 * 10_000, recent_done=1e-9, window_days=28) is None
    assert forecast_end(today, remaining=float("inf"), recent_done=1.0, window_days=28) is None
    assert forecast_end(today, remaining=1, recent_done=28, window_days=28) == dt.date(2026, 11, 2)


def test_items_stored_before_the_bounds_read_a_nan_estimate_as_missing():
    data = {
        "key": "jira:PAY-1", "tracker": "jira", "native_id": "PAY-1", "project": "PAY",
        "type": "story", "title": "t", "status": "To Do", "status_category": "todo",
    }  # fmt: skip
    assert WorkItem.from_dict({**data, "estimate": float("nan")}).estimate is None
    assert WorkItem.from_dict({**data, "estimate": "Infinity"}).estimate is None
    assert WorkItem.from_dict({**data, "estimate": 5}).estimate == 5.0


def test_a_portfolio_tag_too_long_for_a_key_names_no_owner(tmp_path):
    settings = make_settings(tmp_path)
    item = WorkItem(
        key="azure-devops:7", tracker="azure-devops", native_id="7", project="Fabrikam",
        type=ItemType.FEATURE, title="t", status="Active",
        status_category=StatusCategory.IN_PROGRESS, labels=("portfolio:" + "P" * 300 + "-1",),
    )  # fmt: skip
    assert with_portfolio_parent(item, settings).parent is None
    tagged = item.with_changes(labels=("portfolio:PAY-1",))
    assert with_portfolio_parent(tagged, settings).parent == "jira:PAY-1"
