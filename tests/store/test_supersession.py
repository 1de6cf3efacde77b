"""Which waiting deliveries make an earlier one of the same item moot
(webhooks/store/supersession.py): the rule on rows, then the store's one read of them,
on SQLite and PostgreSQL."""

from __future__ import annotations

from connector.model import Event, EventKind, FieldChange, Person, WorkItem
from webhooks.store.supersession import DeliveryMarks, MarkedRow, superseded_ids


def edit(row_id: int, revision: int | None, *, key: str = "jira:A-1", waiting: bool = True):
    return MarkedRow(row_id, key, "updated", revision, waiting)


def test_a_later_waiting_edit_at_a_higher_revision_supersedes():
    rows = [edit(1, 10), edit(2, 12), edit(3, 11), edit(4, 13)]
    # 3 came after 2 at a lower revision: only 4, later and higher, supersedes it
    assert superseded_ids([1, 2, 3, 4], rows) == {1, 2, 3}
    assert superseded_ids([1, 2, 3], rows[:3]) == {1}


def test_equal_revisions_lower_ones_later_and_other_items_do_not_supersede():
    rows = [edit(1, 10), edit(2, 10), edit(3, 9), edit(4, 50, key="jira:B-2")]
    assert superseded_ids([1, 2, 3], rows) == set()


def test_finished_edits_and_unmarked_events_do_not_supersede():
    rows = [
        edit(1, 10),
        edit(2, 12, waiting=False),
        MarkedRow(3, "jira:A-1", "commented", None, True),
    ]
    assert superseded_ids([1], rows) == set()


def test_nothing_is_superseded_across_a_deletion_or_restore():
    for boundary in ("deleted", "restored"):
        rows = [
            edit(1, 10),
            MarkedRow(2, "jira:A-1", boundary, None, False),
            edit(3, 11),
            edit(4, 12),
        ]
        assert superseded_ids([1, 3], rows) == {3}  # 1 is before the boundary


def item(revision: int) -> WorkItem:
    return WorkItem(
        key="azure-devops:7",
        tracker="azure-devops",
        native_id="7",
        project="Fabrikam",
        type="story",
        title="Checkout",
        status="Active",
        status_category="in_progress",
        revision=revision,
    )


def event(kind=EventKind.UPDATED, *, actor="dana@fabrikam.com", changes=(), partial=False):
    return Event(
        kind=kind,
        tracker="azure-devops",
        item_key="azure-devops:7",
        native_event="workitem.updated",
        item=item(9),
        changes=changes,
        actor=Person(display_name="someone", account_id=actor),
        partial=partial,
    )


def test_marks_keep_a_revision_only_for_whole_edits_by_people_that_touch_no_comment():
    bot = "pmo-bot@fabrikam.com"
    assert DeliveryMarks.of(event(), bot) == DeliveryMarks("azure-devops:7", "updated", 9)
    assert DeliveryMarks.of(event(EventKind.CREATED), bot).item_revision == 9
    assert DeliveryMarks.of(event(actor=bot), bot).item_revision is None
    assert DeliveryMarks.of(event(partial=True), bot).item_revision is None
    counted = (FieldChange("System.CommentCount", 1, 2),)
    assert DeliveryMarks.of(event(changes=counted), bot).item_revision is None
    for kind in (EventKind.COMMENTED, EventKind.DELETED, EventKind.LINKED):
        marks = DeliveryMarks.of(event(kind), bot)
        assert (marks.event_kind, marks.item_revision) == (kind.value, None)


def test_the_store_reads_the_backlog_of_the_items_once(store):
    def add(n: int, marks: DeliveryMarks | None, status: str = "queued") -> int:
        row = store.record_delivery(
            "azure-devops", f"d-{n}", "workitem.updated", b"{}", status=status, marks=marks
        )
        assert row is not None
        return row

    older = add(1, DeliveryMarks("azure-devops:7", "updated", 9))
    unmarked = add(2, None)  # stored before intake marked deliveries: processed as before
    other = add(3, DeliveryMarks("azure-devops:8", "updated", 4))
    add(4, DeliveryMarks("azure-devops:7", "commented", None))
    newer = add(5, DeliveryMarks("azure-devops:7", "updated", 12), status="received")
    records = store.get_deliveries([older, unmarked, other])

    assert store.superseded_deliveries(records) == [older]
    assert records[0].item_revision == 9 and records[1].item_key is None
    store.finish_deliveries([newer])  # finished: it supersedes nothing any more
    assert store.superseded_deliveries(records) == []
    assert store.superseded_deliveries([]) == []
