"""An item's area: the Azure DevOps area path (`System.AreaPath`), the Jira components
(`fields.components`, ProjectComponent objects with a `name`), or the field a tracker's
field map names `area`; bounded, and carried through the stored form."""

from __future__ import annotations

import copy

from config.settings import TrackerConfig
from connector import azure_devops as ado
from connector.azure_devops.item import work_item_fields
from connector.bounds import MAX_STORED_TEXT, area_text
from connector.jira.item import issue_fields, item_from_issue
from connector.model import WorkItem
from tests.support.helpers import load_fixture

JIRA = TrackerConfig(name="jira", kind="jira")
ADO = TrackerConfig(name="azure-devops", kind="azure-devops", url="https://dev.azure.com/fabrikam")


def jira_issue(**fields):
    issue = copy.deepcopy(load_fixture("jira", "issue_created__epic_with_parent")["issue"])
    issue["fields"].update(fields)
    return issue


def work_item(**fields):
    wi = copy.deepcopy(load_fixture("azure-devops", "workitem.created__epic_scrum")["resource"])
    wi["fields"].update(fields)
    return wi


def test_azure_devops_area_is_the_area_path_of_the_real_payload():
    item = ado.item_from_work_item(work_item(), ADO)
    assert item.area == "Fabrikam Mobile"  # the fixture's System.AreaPath
    deeper = ado.item_from_work_item(work_item(**{"System.AreaPath": "Fabrikam\\Payments"}), ADO)
    assert deeper.area == "Fabrikam\\Payments"
    assert "System.AreaPath" in work_item_fields(ADO)  # audits ask for it


def test_jira_area_is_the_components_in_the_issues_order():
    assert item_from_issue(jira_issue(), JIRA).area is None  # the fixture's components: []
    two = jira_issue(components=[{"id": "10", "name": "Refunds", "self": "x"}, {"name": "Ledger"}])
    assert item_from_issue(two, JIRA).area == "Refunds, Ledger"
    assert "components" in issue_fields(JIRA)


def test_a_field_named_area_in_the_field_map_wins_for_either_tracker():
    jira = TrackerConfig(name="jira", kind="jira", fields={"area": "customfield_10042"})
    issue = jira_issue(customfield_10042={"id": "3", "value": "Payments squad"},
                       components=[{"name": "Refunds"}])  # fmt: skip
    item = item_from_issue(issue, jira)
    assert item.area == "Payments squad" and "area" not in item.custom
    assert "customfield_10042" in issue_fields(jira)
    azure = TrackerConfig(name="azure-devops", kind="azure-devops", fields={"area": "Custom.Team"})
    wi = work_item(**{"Custom.Team": "Checkout"})
    assert ado.item_from_work_item(wi, azure).area == "Checkout"


def test_area_text_is_bounded_and_blank_is_none():
    assert area_text("x" * 1000) == "x" * MAX_STORED_TEXT
    assert area_text([{"name": f"c{n}"} for n in range(100)]).count(", ") == 19
    assert area_text("  ") is None and area_text([]) is None and area_text(42) is None
    assert area_text(["  Refunds  team ", {"name": None}]) == "Refunds team"


def test_the_area_survives_the_stored_form():
    item = ado.item_from_work_item(work_item(), ADO)
    assert WorkItem.from_dict(item.to_dict()) == item
    assert WorkItem.from_dict({**item.to_dict(), "area": None}).area is None
    old = item.to_dict()
    del old["area"]  # stored before items had an area
    assert WorkItem.from_dict(old).area is None
