"""Labels and tags the trackers would refuse are refused before any HTTP call, by the
real clients: Jira labels take no whitespace and at most 255 characters; Azure DevOps tags
no `,` or `;`, no control or format characters, at most 400 characters."""

from __future__ import annotations

import pytest
import responses

from config.settings import TrackerConfig
from connector.errors import PermanentTrackerError
from connector.labels import label_problem
from connector.trackers import make_client

JIRA = "https://acme.atlassian.net"
ADO = "https://dev.azure.com/fabrikam"


@pytest.fixture
def mock():
    # no route is registered: any request the client sent would fail the test
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        yield rsps


def jira_client():
    tracker = TrackerConfig(name="jira", kind="jira", url=JIRA, token_env="T")
    return make_client(tracker, environ={"T": "token"})


def azure_client():
    tracker = TrackerConfig(name="ado", kind="azure-devops", url=ADO, token_env="T")
    return make_client(tracker, environ={"T": "token"})


@pytest.mark.parametrize(
    ("label", "why"),
    [
        ("pmo-needs review", "contains whitespace"),
        ("pmo-tab\there", "contains whitespace"),
        ("pmo-" + "x" * 252, "is 256 characters long, over 255"),
    ],
)
def test_jira_client_refuses_labels_jira_would_refuse_without_calling(mock, label, why):
    with pytest.raises(PermanentTrackerError, match=why):
        jira_client().update_labels("PAY-1", {label, "pmo-fine"}, set())
    assert len(mock.calls) == 0


@pytest.mark.parametrize(
    ("tag", "why"),
    [
        ("pmo-a;b", "contains ',' or ';'"),
        ("pmo-a,b", "contains ',' or ';'"),
        ("pmo-\u200bhidden", "control or format characters"),
        ("pmo-" + "x" * 397, "is 401 characters long, over 400"),
    ],
)
def test_azure_client_refuses_tags_azure_devops_would_refuse_without_calling(mock, tag, why):
    with pytest.raises(PermanentTrackerError, match=why):
        azure_client().update_labels("5", {tag}, set(), revision=3)
    assert len(mock.calls) == 0


def test_limits_differ_per_tracker_and_both_hold_for_managed_labels():
    assert label_problem("a b", "azure-devops") is None  # tags may have spaces
    assert label_problem("a;b", "jira") is None
    assert label_problem("x" * 300, "azure-devops") is None
    assert label_problem("x" * 300, "jira") is not None
    assert label_problem("x" * 256) == "is 256 characters long, over 255"  # both trackers
    assert label_problem("") == "is empty"
    assert label_problem("pmo-rag-amber") is None
