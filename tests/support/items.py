"""A stored work item with everything set, for store tests to vary."""

from __future__ import annotations

import datetime as dt

from connector.model import ItemType, Person, StatusCategory, WorkItem

T0 = dt.datetime(2024, 6, 3, 9, 30, tzinfo=dt.UTC)


def item(key: str = "jira:PAY-1", revision: int = 1, **changes) -> WorkItem:
    tracker, native = key.split(":", 1)
    base = WorkItem(
        key=key,
        tracker=tracker,
        native_id=native,
        project=native.split("-")[0],
        type=ItemType.STORY,
        title=f"{key} at rev {revision}",
        status="In Progress",
        status_category=StatusCategory.IN_PROGRESS,
        assignee=Person("Ann Lee", "acc-ann"),
        labels=("backend",),
        estimate=3.0,
        due_date=dt.date(2024, 7, 1),
        updated=T0 + dt.timedelta(seconds=revision % 1_000_000),
        revision=revision,
        custom={"team": "Payments"},
    )
    return base.with_changes(**changes)
