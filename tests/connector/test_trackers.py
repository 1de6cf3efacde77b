"""The one table of tracker kinds: a row for every kind a config may name, and each row
hands out that kind's adapter, client and subscription admin."""

from __future__ import annotations

import pytest

from config.settings import TRACKER_KINDS, TrackerConfig
from connector import azure_devops, jira, trackers
from connector.azure_devops.client import AzureDevOpsClient
from connector.headers import header_value
from connector.jira.client import JiraClient
from connector.subscriptions import AzureHooksAdmin, JiraWebhookAdmin

ENV = {"TOKEN": "t0ken", "USER": "bot@acme.io"}


def tracker(kind: str) -> TrackerConfig:
    return TrackerConfig(
        name=f"my-{kind}",
        kind=kind,
        url="https://tracker.example",
        project="Fabrikam",
        token_env="TOKEN",
        user_env="USER" if kind == "jira" else None,
    )


def test_every_configurable_kind_has_a_row():
    assert set(trackers.KINDS) == set(TRACKER_KINDS)


@pytest.mark.parametrize(
    ("kind", "adapter", "client", "admin"),
    [
        ("jira", jira, JiraClient, JiraWebhookAdmin),
        ("azure-devops", azure_devops, AzureDevOpsClient, AzureHooksAdmin),
    ],
)
def test_each_kind_hands_out_its_own_parts(kind, adapter, client, admin):
    configured = tracker(kind)
    assert trackers.adapter(configured) is adapter
    assert type(trackers.make_client(configured, environ=ENV)) is client
    assert type(trackers.subscription_admin(configured, environ=ENV)) is admin


def test_a_tracker_without_url_gets_no_client():
    without_url = TrackerConfig(name="j", kind="jira")
    with pytest.raises(ValueError, match="no url"):
        trackers.make_client(without_url)


def test_the_other_kind_names_the_cross_tracker_owner():
    assert trackers.other_kind("jira") == "azure-devops"
    assert trackers.other_kind("azure-devops") == "jira"
    assert trackers.other_kind("gitlab") is None


def test_header_lookup_ignores_case_and_non_text():
    headers = {"X-Hub-Signature": "sha256=ab", "x-other": 5, 7: "seven"}
    assert header_value(headers, "x-hub-signature") == "sha256=ab"
    assert header_value(headers, "X-Other") is None
    assert header_value(None, "X-Hub-Signature") is None
