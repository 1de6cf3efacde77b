"""Remaining work in the common model: Jira time tracking (seconds) and Azure DevOps
RemainingWork (hours), both as hours; unusable values read as none."""

from __future__ import annotations

import pytest

from config.settings import TrackerConfig
from connector.azure_devops import item as ado
from connector.jira.item import item_from_issue
from connector.model import WorkItem
from tests.support.helpers import load_fixture

JIRA = TrackerConfig(name="jira", kind="jira")
AZURE = TrackerConfig(name="azure-devops", kind="azure-devops")


def jira_issue(**fields) -> dict:
    issue = load_fixture("jira", "issue_updated__status_cloud")["issue"]
    issue["fields"].pop("timetracking", None)
    issue["fields"].pop("timeestimate", None)
    issue["fields"].update(fields)
    return issue


@pytest.mark.parametrize(
    ("fields", "hours"),
    [
        ({"timetracking": {"remainingEstimate": "1d 2h", "remainingEstimateSeconds": 36000}}, 10.0),
        ({"timeestimate": 5400}, 1.5),  # what webhooks carry
        ({"timetracking": {}, "timeestimate": 7200}, 2.0),
        ({"timeestimate": None}, None),
        ({"timeestimate": "NaN"}, None),
        ({"timeestimate": -60}, None),
        ({}, None),
    ],
)
def test_jira_remaining_estimate_in_hours(fields, hours) -> None:
    item = item_from_issue(jira_issue(**fields), JIRA)
    assert item.remaining_hours == hours
    assert WorkItem.from_dict(item.to_dict()) == item


@pytest.mark.parametrize(("stored", "hours"), [(4, 4.0), ("2.5", 2.5), ("", None), (None, None)])
def test_azure_devops_remaining_work(stored, hours) -> None:
    wi = load_fixture("azure-devops", "workitem.created__user_story_with_parent")["resource"]
    wi["fields"]["Microsoft.VSTS.Scheduling.RemainingWork"] = stored
    assert ado.item_from_work_item(wi, AZURE).remaining_hours == hours
