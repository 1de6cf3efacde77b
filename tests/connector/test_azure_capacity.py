"""Sprint capacity from Azure DevOps (Work API) through the real `azure-devops` client
against the sandbox, merged into the people directory."""

from __future__ import annotations

import datetime as dt

import pytest

from config.people import Capacity, Directory, Member
from config.people_file import PeopleError, load_directory
from config.settings import TrackerConfig
from connector.azure_devops.capacity import CapacityReader
from connector.errors import TrackerError
from rules.allocation import week_capacity
from sandbox.azure_app import create_azure_app
from sandbox.azure_state import AzureState
from sandbox.server import run_in_thread
from tests.support.worker_helpers import reset_azure_location_caches
from webhooks.governance.people import with_sprint_capacity

MONDAY = dt.date(2026, 12, 7)


@pytest.fixture
def sandbox(monkeypatch):
    reset_azure_location_caches(monkeypatch)
    state = AzureState(clock=lambda: dt.datetime(2026, 12, 9, 12, tzinfo=dt.UTC))
    state.add_project("Fabrikam")
    state.add_user("pmo-bot@fabrikam.com", "PMO Bot", pat="bot-pat")
    state.capacities.add_iteration("Fabrikam", "Fabrikam Team", "Sprint 23", MONDAY - dt.timedelta(days=14), MONDAY - dt.timedelta(days=3))  # fmt: skip
    sprint = state.capacities.add_iteration("Fabrikam", "Fabrikam Team", "Sprint 24", MONDAY, MONDAY + dt.timedelta(days=11))  # fmt: skip
    dana = {"displayName": "Dana Whitfield", "uniqueName": "dana@fabrikam.com", "id": "d-1"}
    raj = {"displayName": "Raj Patel", "uniqueName": "raj@fabrikam.com", "id": "r-1"}
    state.capacities.plan(sprint, dana, 6, [(MONDAY + dt.timedelta(days=3), MONDAY + dt.timedelta(days=4))])  # fmt: skip
    state.capacities.plan(sprint, raj, 4)
    base, stop = run_in_thread(create_azure_app(state))
    tracker = TrackerConfig(name="azure-devops", kind="azure-devops", url=f"{base}/fabrikam",
                            token_env="ADO_PAT", project="Fabrikam")  # fmt: skip
    yield tracker
    stop()


def test_current_sprint_capacity_through_the_real_client(sandbox):
    sprint = CapacityReader(sandbox, environ={"ADO_PAT": "bot-pat"}).current(
        "Fabrikam", "Fabrikam Team"
    )
    assert sprint is not None
    assert sprint.iteration == "Fabrikam\\Sprint 24"
    assert (sprint.start, sprint.finish) == (MONDAY, MONDAY + dt.timedelta(days=11))
    by_name = {m.unique_name: m for m in sprint.members}
    assert by_name["dana@fabrikam.com"].hours_per_day == 6
    assert by_name["dana@fabrikam.com"].days_off == (
        (MONDAY + dt.timedelta(days=3), MONDAY + dt.timedelta(days=4)),
    )
    assert by_name["raj@fabrikam.com"].days_off == ()


def test_sprint_capacity_fills_hours_and_days_off(sandbox):
    sprint = CapacityReader(sandbox, environ={"ADO_PAT": "bot-pat"}).current(
        "Fabrikam", "Fabrikam Team"
    )
    people = Directory.of(
        [Member("dana", "Dana Whitfield", accounts=("dana@fabrikam.com",)),
         Member("raj", "Raj Patel", accounts=("raj@fabrikam.com",), capacity=Capacity(hours=16))]
    )  # fmt: skip
    merged = with_sprint_capacity(people, sprint)
    dana, raj = merged.members["dana"], merged.members["raj"]
    assert dana.capacity.hours == 30  # 6 h a day from the sprint
    assert week_capacity(dana, MONDAY, "hours") == 18  # Thursday and Friday off
    assert raj.capacity.hours == 16  # the people file wins where it says


def test_unknown_project_is_a_tracker_error_and_a_team_without_sprint_none(sandbox):
    with pytest.raises(TrackerError):
        CapacityReader(sandbox, environ={"ADO_PAT": "bot-pat"}).current("Nowhere", "Team")
    none = CapacityReader(sandbox, environ={"ADO_PAT": "bot-pat"}).current("Fabrikam", "Other")
    assert none is None


def test_capacity_sources_in_the_people_file(tmp_path):
    path = tmp_path / "people.yaml"
    path.write_text(
        "iteration_capacity:\n  - {tracker: azure-devops, project: Fabrikam, team: T}\n"
    )
    assert load_directory(path).sources == (("azure-devops", "Fabrikam", "T"),)
    path.write_text("iteration_capacity:\n  - {tracker: azure-devops, project: Fabrikam}\n")
    with pytest.raises(PeopleError, match=r":2: name the tracker, project and team"):
        load_directory(path)


def test_the_two_work_api_calls_are_the_documented_ones(monkeypatch):
    """The iteration and capacity requests, checked against the Work API spec (7.1)."""
    import responses
    from azure.devops import _file_cache
    from azure.devops import client as ado_client

    monkeypatch.setattr(ado_client.Client, "_locations_cache", {})  # start cold
    for cache in (_file_cache.OPTIONS_CACHE, _file_cache.RESOURCE_CACHE):
        monkeypatch.setattr(cache, "file_name", "")
        monkeypatch.setattr(cache, "data", {})
        monkeypatch.setattr(cache, "initial_load_occurred", True)

    from sandbox.azure_locations import resource_locations
    from tests.support.spec_check import assert_documented

    org = "https://dev.azure.com/fabrikam"
    tracker = TrackerConfig(name="azure-devops", kind="azure-devops", url=org,
                            token_env="ADO_PAT", project="Fabrikam")  # fmt: skip
    sprint = "8c2d5f4e-1b7a-4c1e-9b8e-3f3f0a1d2c4b"
    iterations = {"count": 1, "value": [{
        "id": sprint, "name": "Sprint 24", "path": "Fabrikam\\Sprint 24",
        "attributes": {"startDate": "2026-12-07T00:00:00Z", "finishDate": "2026-12-18T00:00:00Z",
                       "timeFrame": "current"}}]}  # fmt: skip
    capacity = {"teamMembers": [{
        "teamMember": {"displayName": "Dana Whitfield", "uniqueName": "dana@fabrikam.com"},
        "activities": [{"capacityPerDay": 6, "name": "Development"}],
        "daysOff": [{"start": "2026-12-10T00:00:00Z", "end": "2026-12-11T00:00:00Z"}]}],
        "totalCapacityPerDay": 6, "totalDaysOff": 2}  # fmt: skip
    base = f"{org}/Fabrikam/Fabrikam%20Team/_apis/work/teamsettings/iterations"
    with responses.RequestsMock() as mock:
        mock.add("OPTIONS", f"{org}/_apis", json=resource_locations())
        mock.get(base, json=iterations)
        mock.get(f"{base}/{sprint}/capacities", json=capacity)
        found = CapacityReader(tracker, environ={"ADO_PAT": "p"}).current(
            "Fabrikam", "Fabrikam Team"
        )
        work = [c.request for c in mock.calls if c.request.method == "GET"]
        for request in work:
            assert_documented(request, "azure-devops", org)
        assert len(work) == 2 and "$timeframe=current" in work[0].url
    assert found is not None and found.members[0].hours_per_day == 6
    assert found.members[0].days_off == ((dt.date(2026, 12, 10), dt.date(2026, 12, 11)),)
