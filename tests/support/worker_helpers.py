"""Helpers for the worker end-to-end tests: Azure DevOps service-hook payloads built from
the real fixtures, the library's location discovery mocked, and call recording."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from connector import trackers
from tests.support.azure_devops import OPTIONS_BODY
from tests.support.helpers import load_fixture
from webhooks.store.supersession import DeliveryMarks

ADO_URL = "https://dev.azure.com/fabrikam"
ADO_BOT = "pmo-bot@fabrikam.com"
ADO_PROJECT = "Fabrikam"


def reset_azure_location_caches(monkeypatch: pytest.MonkeyPatch) -> None:
    """The `azure-devops` library caches resource locations per process and on disk (12 h,
    under the home folder): each test starts cold and writes nothing to disk."""
    from azure.devops import _file_cache
    from azure.devops import client as ado_client

    monkeypatch.setattr(ado_client.Client, "_locations_cache", {})
    for cache in (_file_cache.OPTIONS_CACHE, _file_cache.RESOURCE_CACHE):
        monkeypatch.setattr(cache, "file_name", "")
        monkeypatch.setattr(cache, "data", {})
        monkeypatch.setattr(cache, "initial_load_occurred", True)


def mock_azure_discovery(rsps: Any) -> None:
    """`OPTIONS {org}/_apis`: the resource locations the library asks for once a process."""
    rsps.add("OPTIONS", f"{ADO_URL}/_apis", json=OPTIONS_BODY)


def identity(name: str, unique: str) -> dict[str, Any]:
    return {"displayName": name, "uniqueName": unique, "id": f"id-{unique}"}


DANA = identity("Dana Whitfield", "dana.whitfield@fabrikam.com")
LENA = identity("Lena Ortiz", "lena.ortiz@fabrikam.com")
BOT = identity("PMO bot", ADO_BOT)


def story_update(
    *,
    rev: int,
    tags: str,
    assignee: dict[str, Any] | None,
    old_tags: str | None = None,
    by: dict[str, Any] = DANA,
    delivery: str | None = None,
    only_tags: bool = False,
) -> dict[str, Any]:
    """The real `workitem.updated__tags_and_points` delivery for User Story 4711 (Active,
    8 points) at revision `rev`, with the given tags and assignee, changed by `by`.
    `only_tags` makes the update touch nothing but System.Tags (as the service's own tag
    write does)."""
    payload = load_fixture("azure-devops", "workitem.updated__tags_and_points")
    payload["id"] = delivery or f"delivery-rev-{rev}"
    resource = payload["resource"]
    resource["rev"] = rev
    resource["revisedBy"] = by
    changes = resource["fields"]
    changes["System.Rev"] = {"oldValue": rev - 1, "newValue": rev}
    changes["System.Tags"] = {"oldValue": old_tags or "checkout; payments", "newValue": tags}
    changes["System.AssignedTo"] = {"oldValue": DANA, "newValue": assignee}
    if assignee is None:
        changes["System.AssignedTo"] = {"oldValue": DANA}  # the field was cleared
    if only_tags:
        for name in list(changes):
            if name not in ("System.Rev", "System.Tags", "System.ChangedDate"):
                del changes[name]
    revision = resource["revision"]
    revision["rev"] = rev
    fields = revision["fields"]
    fields["System.Rev"] = rev
    fields["System.Tags"] = tags
    fields["System.ChangedBy"] = by
    if assignee is None:
        fields.pop("System.AssignedTo", None)
    else:
        fields["System.AssignedTo"] = assignee
    return payload


def work_item(*, rev: int, tags: str, assignee: dict[str, Any] | None = None) -> dict[str, Any]:
    """The REST shape of work item 4711 (GET workItems/4711) at `rev`."""
    wi = story_update(rev=rev, tags=tags, assignee=assignee)["resource"]["revision"]
    wi = json.loads(json.dumps(wi))
    wi["id"] = 4711
    return wi


def recording(status: int, body: Any = None, headers: dict[str, str] | None = None):
    """A `responses` callback answering `status` and noting the time of each call."""
    times: list[float] = []

    def callback(request: Any) -> tuple[int, dict[str, str], str]:
        times.append(time.monotonic())
        return status, dict(headers or {}), json.dumps(body if body is not None else {})

    return callback, times


def sequence(*answers: tuple[int, Any]) -> tuple[Callable[..., Any], list[float]]:
    """A callback answering each call with the next (status, body); the last one repeats."""
    times: list[float] = []

    def callback(request: Any) -> tuple[int, dict[str, str], str]:
        status, body = answers[min(len(times), len(answers) - 1)]
        times.append(time.monotonic())
        return status, {"Content-Type": "application/json"}, json.dumps(body or {})

    return callback, times


# -- Jira Cloud -------------------------------------------------------------------------

JIRA_SITE = "https://zulipp.atlassian.net"
JIRA_API = f"{JIRA_SITE}/rest/api/3"
JIRA_BOT = "5b10ac8d82e05b22cc7d4ef5"


def jira_tracker(url: str = JIRA_SITE, **changes: Any) -> Any:
    from config.settings import TrackerConfig

    values: dict[str, Any] = {
        "name": "jira",
        "kind": "jira",
        "url": url,
        "deployment": "cloud",
        "user_env": "TEST_JIRA_EMAIL",
        "token_env": "TEST_JIRA_TOKEN",
        "webhook_secret_env": "TEST_JIRA_WEBHOOK_SECRET",
        "bot_account": JIRA_BOT,
    }
    values.update(changes)
    return TrackerConfig(**values)


def jira_unowned(key: str = "TEST-1", *, minute: int = 32) -> dict[str, Any]:
    """The real Cloud transition To Do -> In Progress (no assignee: owner-in-progress
    fails), re-keyed to `key`; `minute` sets `updated`, i.e. the revision."""
    payload = load_fixture("jira", "issue_updated__status_cloud")
    issue = payload["issue"]
    number = int(key.rsplit("-", 1)[1])
    issue["key"] = key
    issue["id"] = str(10000 + number - 1)
    issue["self"] = f"{JIRA_SITE}/rest/api/2/issue/{issue['id']}"
    issue["fields"]["updated"] = f"2017-01-30T18:{minute:02d}:14.716+0100"
    return payload


def store_as_intake(
    runtime: Any, payload: dict, delivery: str, *, tracker: str = "jira", status: str = "queued"
) -> int:
    """Store a delivery as intake does: the body, and what intake read of its event
    (`DeliveryMarks`), so the worker can tell which deliveries a later one supersedes."""
    config = runtime.settings.tracker(tracker)
    event = trackers.adapter(config).parse_event(payload, config)
    native = payload.get("webhookEvent") or payload.get("eventType") or "jira:issue_updated"
    marks = DeliveryMarks.of(event, config.bot_account)
    body = json.dumps(payload).encode()
    row = runtime.store.record_delivery(tracker, delivery, native, body, status=status, marks=marks)
    assert row is not None
    return row
