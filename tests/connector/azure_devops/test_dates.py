"""Azure DevOps date-only fields: stored as the UTC instant of the setter's local midnight,
read back as the calendar day that person picked."""

from __future__ import annotations

import datetime as dt

import pytest

from config.settings import TrackerConfig
from connector import azure_devops as ado
from connector.errors import PayloadError
from connector.model import parse_date
from tests.support.helpers import load_fixture

TRACKER = TrackerConfig(
    name="azure-devops", kind="azure-devops", url="https://dev.azure.com/fabrikam"
)
FOLDER = "azure-devops"
D = dt.date


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        # (value as Azure DevOps sends it, the day the user picked)  # where they are
        ("2024-06-28T00:00:00Z", D(2024, 6, 28)),  # UTC
        ("2024-06-27T23:00:00Z", D(2024, 6, 28)),  # UTC+1, London in summer
        ("2024-06-27T22:00:00Z", D(2024, 6, 28)),  # UTC+2, Berlin in summer
        ("2024-06-27T18:30:00Z", D(2024, 6, 28)),  # UTC+5:30, India
        ("2024-06-27T15:00:00Z", D(2024, 6, 28)),  # UTC+9, Tokyo
        ("2024-06-27T14:00:00Z", D(2024, 6, 28)),  # UTC+10, Sydney in winter
        ("2024-06-27T12:00:00Z", D(2024, 6, 28)),  # UTC+12, Auckland in winter
        ("2024-06-27T11:00:00Z", D(2024, 6, 28)),  # UTC+13, Auckland in summer: the cut
        ("2024-06-27T10:59:59Z", D(2024, 6, 27)),  # just before the cut
        ("2024-06-28T04:00:00Z", D(2024, 6, 28)),  # UTC-4, New York in summer
        ("2024-06-28T07:00:00Z", D(2024, 6, 28)),  # UTC-7, San Francisco in summer
        ("2024-06-28T09:30:00Z", D(2024, 6, 28)),  # UTC-9:30, Marquesas
        ("2024-06-28T10:00:00Z", D(2024, 6, 28)),  # UTC-10, Hawaii
        # UTC+13 (Tonga, New Zealand in summer) on the 29th; the same instant is midnight
        # of the 28th in UTC-11 (American Samoa), which the instant alone cannot tell apart.
        ("2024-06-28T11:00:00Z", D(2024, 6, 29)),
        # the shapes the service sends or a client may write
        ("2024-06-27T22:00:00.0000000Z", D(2024, 6, 28)),  # seven fractional digits
        ("2024-06-27T22:00:00.123Z", D(2024, 6, 28)),
        ("2024-06-27T22:00:00", D(2024, 6, 28)),  # no zone: taken as UTC
        ("2024-06-28T00:00:00+02:00", D(2024, 6, 28)),  # an offset: its UTC instant counts
        ("2024-06-28", D(2024, 6, 28)),  # a bare date stays as it is
        ("  2024-06-27T22:00:00Z  ", D(2024, 6, 28)),
        # the next day across month, leap-day and year ends
        ("2024-06-30T22:00:00Z", D(2024, 7, 1)),
        ("2024-02-28T23:00:00Z", D(2024, 2, 29)),
        ("2024-12-31T23:00:00Z", D(2025, 1, 1)),
        ("9999-12-31T23:00:00Z", D(9999, 12, 31)),  # no day after the last one
        # already parsed values
        (dt.datetime(2024, 6, 27, 22, tzinfo=dt.UTC), D(2024, 6, 28)),
        (dt.datetime(2024, 6, 28, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))), D(2024, 6, 28)),
        (dt.datetime(2024, 6, 27, 22), D(2024, 6, 28)),  # naive: UTC
        (D(2024, 6, 28), D(2024, 6, 28)),
        (None, None),
        ("", None),
    ],
)
def test_work_item_date(stored, expected) -> None:
    assert ado.work_item_date(stored) == expected


@pytest.mark.parametrize(
    "bad", ["end of year", "2024-13-01T00:00:00Z", "2024-06-31", "28/06/2024", 7]
)
def test_work_item_date_refuses_what_is_not_a_date(bad) -> None:
    with pytest.raises(ValueError):
        ado.work_item_date(bad)


def test_the_shared_model_still_cuts_the_time() -> None:
    # The rounding is Azure DevOps' storage convention, not a rule for every tracker.
    assert parse_date("2024-06-27T22:00:00Z") == D(2024, 6, 27)


@pytest.mark.parametrize(
    ("field", "attribute"),
    [
        ("Microsoft.VSTS.Scheduling.StartDate", "start_date"),
        ("Microsoft.VSTS.Scheduling.TargetDate", "due_date"),
    ],
)
@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ("2024-06-27T22:00:00Z", D(2024, 6, 28)),
        ("2024-06-28T07:00:00Z", D(2024, 6, 28)),
        ("2024-06-28T00:00:00Z", D(2024, 6, 28)),
    ],
)
def test_work_item_dates(field, attribute, stored, expected) -> None:
    wi = load_fixture(FOLDER, "workitem.created__user_story_with_parent")["resource"]
    wi["fields"][field] = stored
    assert getattr(ado.item_from_work_item(wi, TRACKER), attribute) == expected


def test_due_date_fallback_field_is_rounded_too() -> None:
    wi = load_fixture(FOLDER, "workitem.created__user_story_with_parent")["resource"]
    del wi["fields"]["Microsoft.VSTS.Scheduling.TargetDate"]
    wi["fields"]["Microsoft.VSTS.Scheduling.DueDate"] = "2024-06-30T22:00:00Z"
    assert ado.item_from_work_item(wi, TRACKER).due_date == D(2024, 7, 1)


def test_configured_date_field_is_rounded_too() -> None:
    tracker = TrackerConfig(name="ado", kind="azure-devops", fields={"due_date": "Custom.Deadline"})
    wi = load_fixture(FOLDER, "workitem.created__user_story_with_parent")["resource"]
    wi["fields"]["Custom.Deadline"] = "2024-09-29T22:00:00Z"
    assert ado.item_from_work_item(wi, tracker).due_date == D(2024, 9, 30)


def test_bad_date_is_still_a_payload_error() -> None:
    wi = load_fixture(FOLDER, "workitem.created__user_story_with_parent")["resource"]
    wi["fields"]["Microsoft.VSTS.Scheduling.TargetDate"] = "end of year"
    with pytest.raises(PayloadError):
        ado.item_from_work_item(wi, TRACKER)


def test_updated_event_changes_and_item_use_the_picked_day() -> None:
    payload = load_fixture(FOLDER, "workitem.updated__tags_and_points")
    resource = payload["resource"]
    resource["fields"]["Microsoft.VSTS.Scheduling.TargetDate"] = {
        "oldValue": "2024-06-27T22:00:00Z",
        "newValue": "2024-07-11T22:00:00Z",
    }
    resource["fields"]["Microsoft.VSTS.Scheduling.StartDate"] = {
        "oldValue": None,
        "newValue": "2024-06-02T22:00:00Z",
    }
    resource["revision"]["fields"]["Microsoft.VSTS.Scheduling.TargetDate"] = "2024-07-11T22:00:00Z"
    event = ado.parse_event(payload, TRACKER)
    changes = {c.field: (c.old, c.new) for c in event.changes}
    assert changes["due_date"] == (D(2024, 6, 28), D(2024, 7, 12))
    assert changes["start_date"] == (None, D(2024, 6, 3))
    assert (event.item.start_date, event.item.due_date) == (D(2024, 6, 3), D(2024, 7, 12))
