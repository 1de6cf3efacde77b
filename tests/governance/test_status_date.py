"""A status date learnt from an event survives later events that do not move the status."""

from __future__ import annotations

import datetime as dt

from connector.model import ItemType, StatusCategory, WorkItem
from webhooks.governance.process import keep_status_date

BLOCKED_AT = dt.datetime(2026, 11, 17, 9, 0, tzinfo=dt.UTC)
CATEGORY_AT = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


def story(status: str, status_changed: dt.datetime | None) -> WorkItem:
    return WorkItem(
        key="jira:WEB-8", tracker="jira", native_id="WEB-8", project="WEB",
        type=ItemType.STORY, title="Guest checkout", status=status,
        status_category=StatusCategory.IN_PROGRESS, status_changed=status_changed,
    )  # fmt: skip


def test_unchanged_status_keeps_the_later_stored_date():
    stored = story("Blocked", BLOCKED_AT)
    edited = story("Blocked", CATEGORY_AT)  # a later edit carries Jira's category date
    assert keep_status_date(edited, stored).status_changed == BLOCKED_AT


def test_a_new_status_takes_its_own_date():
    stored = story("Blocked", BLOCKED_AT)
    moved = story("In Progress", BLOCKED_AT + dt.timedelta(days=6))
    assert keep_status_date(moved, stored) is moved


def test_nothing_stored_changes_nothing():
    item = story("Blocked", None)
    assert keep_status_date(item, None) is item
