"""Portfolio rollups: figures, recursion through child rollups, forecast, RAG, write-back."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from connector.model import ItemType, StatusCategory, WorkItem
from rules.rollup import (
    METRICS,
    RAG_LABELS,
    ChildFacts,
    ChildView,
    RagThresholds,
    Rollup,
    RollupSpec,
    WriteBackSpec,
    compute_rollup,
    field_values,
    rag_label,
    rollup_document_rows,
    rollup_spec_from_dict,
)
from rules.rollup.findings import CLOSED_WITH_OPEN_CHILDREN, rollup_findings

NOW = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)
TODAY = NOW.date()
D = dt.date.fromisoformat
CATEGORY = {
    "todo": StatusCategory.TODO,
    "in_progress": StatusCategory.IN_PROGRESS,
    "done": StatusCategory.DONE,
    "removed": StatusCategory.REMOVED,
}
STATUS = {"todo": "To Do", "in_progress": "In Progress", "done": "Done", "removed": "Removed"}

# the contract's example: red {slip 10, blocked 1}, amber {slip 1, non-compliant 1}
CONTRACT_SPEC = rollup_spec_from_dict(
    {
        "id": "epic-rollup",
        "parents": {"type": ["initiative", "epic", "feature"]},
        "metrics": ["children", "done", "progress", "points_total", "points_done",
                    "forecast_end", "rag"],
        "rag": {
            "red": {"slip_days": 10, "blocked_children": 1},
            "amber": {"slip_days": 1, "noncompliant_children": 1},
        },
        "write_back": {"comment": True, "labels": True,
                       "fields": {"progress": "customfield_10100"}},
    }
)  # fmt: skip


def item(
    key: str,
    kind: str = "story",
    category: str = "todo",
    *,
    points: float | None = None,
    start: str | None = None,
    due: str | None = None,
    status: str | None = None,
    labels: tuple[str, ...] = (),
    changed: str | None = None,
    updated: str | None = None,
) -> WorkItem:
    tracker, native_id = key.split(":", 1)
    return WorkItem(
        key=key,
        tracker=tracker,
        native_id=native_id,
        project=native_id.split("-")[0] if tracker == "jira" else "Fabrikam",
        type=ItemType(kind),
        title=f"{kind} {native_id}",
        status=status or STATUS[category],
        status_category=CATEGORY[category],
        labels=labels,
        estimate=points,
        start_date=D(start) if start else None,
        due_date=D(due) if due else None,
        status_changed=dt.datetime.fromisoformat(changed) if changed else None,
        updated=dt.datetime.fromisoformat(updated) if updated else None,
    )


def leaf(work: WorkItem, noncompliant: bool = False) -> ChildView:
    return ChildView(item=work, rollup=None, noncompliant=noncompliant)


def rollup_of(
    parent: WorkItem, children: list[ChildView], spec: RollupSpec = CONTRACT_SPEC
) -> Rollup:
    return compute_rollup(spec, parent, children, NOW)


# --- a generated portfolio: a Jira initiative owning a Jira epic and an Azure DevOps feature


@pytest.fixture
def portfolio() -> dict[str, object]:
    epic = item("jira:PAY-10", "epic", "in_progress", start="2026-10-01", due="2026-11-30")
    epic_children = [
        leaf(item("jira:PAY-11", points=5, category="done", start="2026-10-05",
                  changed="2026-10-20T09:00:00+00:00")),
        leaf(item("jira:PAY-12", points=3, category="done", changed="2026-09-01T09:00:00+00:00")),
        leaf(item("jira:PAY-13", points=8, category="in_progress", status="Blocked",
                  due="2026-10-25")),
        leaf(item("jira:PAY-14", points=2, due="2026-11-20"), noncompliant=True),
        leaf(item("jira:PAY-15", points=13, category="removed", due="2027-03-01"),
             noncompliant=True),
    ]  # fmt: skip
    feature = item("azure-devops:501", "feature", "in_progress", due="2026-12-01")
    feature_children = [
        leaf(item("azure-devops:502", points=8, category="done", due="2026-11-15",
                  updated="2026-10-25T10:00:00+00:00")),
        leaf(item("azure-devops:503", points=5, category="in_progress", labels=("BLOCKED",))),
        leaf(item("azure-devops:504")),
    ]  # fmt: skip
    epic_rollup = rollup_of(epic, epic_children)
    feature_rollup = rollup_of(feature, feature_children)
    initiative = item(
        "jira:PORT-1", "initiative", "in_progress", start="2026-10-01", due="2026-12-15"
    )
    initiative_children = [
        ChildView(epic, epic_rollup, noncompliant=False),
        ChildView(feature, feature_rollup, noncompliant=False),
        leaf(item("jira:PORT-2", points=3), noncompliant=True),
        # an epic without stories yet: a leaf with its own estimate
        leaf(item("azure-devops:505", "epic", points=5, due="2026-12-10")),
    ]
    return {
        "epic": epic_rollup,
        "feature": feature_rollup,
        "initiative": rollup_of(initiative, initiative_children),
        "initiative_children": initiative_children,
        "initiative_item": initiative,
    }


def test_epic_figures_from_leaves(portfolio):
    r = portfolio["epic"]
    assert r.parent_key == "jira:PAY-10"
    assert r.children == 4  # the removed story is not a child any more
    assert dict(r.by_category) == {"todo": 1, "in_progress": 1, "done": 2, "removed": 1}
    assert r.done == 2
    assert (r.points_total, r.points_done) == (18, 8)
    assert (r.leaves_total, r.leaves_done) == (4, 2)
    assert r.progress == pytest.approx(8 / 18, abs=1e-4)
    assert (r.start, r.due) == (D("2026-10-05"), D("2026-11-20"))  # children, not the epic
    assert (r.overdue_children, r.blocked_children, r.noncompliant_children) == (1, 1, 1)
    # only PAY-11 finished within 28 days: 5 points / 28 days; 10 remain -> 56 days
    assert (r.recent_done_points, r.recent_done_leaves) == (5, 1)
    assert r.throughput_per_day == pytest.approx(5 / 28, abs=1e-4)
    assert r.forecast_end == TODAY + dt.timedelta(days=56) == D("2026-12-27")
    assert r.slip_days == 27  # against the epic's own due date 2026-11-30
    assert r.rag == "red"
    assert r.rag_reasons == (
        "forecast 27 days past due",
        "1 blocked child",
        "1 non-compliant child",
    )


def test_feature_from_another_tracker_uses_updated_when_status_change_unknown(portfolio):
    r = portfolio["feature"]
    assert (r.points_total, r.points_done, r.leaves_total, r.leaves_done) == (13, 8, 3, 1)
    assert r.recent_done_points == 8
    assert r.forecast_end == TODAY + dt.timedelta(days=18)  # ceil(5 * 28 / 8) = ceil(17.5)
    assert r.slip_days == -12  # 2026-11-19 against 2026-12-01: early
    assert r.blocked_children == 1  # the tag matches case-insensitively
    assert r.rag == "red"
    assert r.rag_reasons == ("1 blocked child",)


def test_initiative_rolls_up_through_child_rollups_across_trackers(portfolio):
    r = portfolio["initiative"]
    assert r.children == 4
    assert dict(r.by_category) == {"todo": 2, "in_progress": 2, "done": 0, "removed": 0}
    # 18 (epic) + 13 (feature) + 3 (story) + 5 (empty epic) points, 8 + 8 done
    assert (r.points_total, r.points_done) == (39, 16)
    assert (r.leaves_total, r.leaves_done) == (9, 3)
    assert r.progress == pytest.approx(16 / 39, abs=1e-4)
    assert (r.start, r.due) == (D("2026-10-01"), D("2026-12-10"))
    assert r.recent_done_points == 13
    assert r.forecast_end == TODAY + dt.timedelta(days=50)  # ceil(23 * 28 / 13) = 50
    assert r.slip_days == 6
    assert r.blocked_children == 2  # one under the epic, one under the feature
    assert r.noncompliant_children == 2  # one under the epic, plus PORT-2
    assert r.overdue_children == 0  # PAY-13 is overdue, but it is not a direct child
    assert r.progress_behind == pytest.approx(31 / 75 - 16 / 39, abs=1e-3)
    assert r.rag == "red"
    assert r.rag_reasons == (
        "forecast 6 days past due",
        "2 blocked children",
        "2 non-compliant children",
    )


def test_child_order_does_not_change_the_result(portfolio):
    parent = portfolio["initiative_item"]
    reordered = list(reversed(portfolio["initiative_children"]))
    again = rollup_of(parent, reordered)
    assert again == portfolio["initiative"]
    assert again.content_hash() == portfolio["initiative"].content_hash()


# --- progress: points or counts ---------------------------------------------------------


def as_stored_facts(view: ChildView, from_item_json: bool = False) -> ChildView:
    """The child as the store hands it to a rollup: its facts, read back from JSON."""
    work = view.item
    stored = work.to_dict() if from_item_json else ChildFacts.of(work).to_dict()
    facts = ChildFacts.from_dict(work.key, json.loads(json.dumps(stored)))
    return ChildView(facts, view.rollup, view.noncompliant)


@pytest.mark.parametrize("from_item_json", [False, True])
def test_child_facts_give_the_same_rollup_as_whole_items(portfolio, from_item_json):
    parent = item("jira:PAY-90", "epic", "in_progress", start="2026-10-01", due="2026-11-30")
    children = [
        # naive and offset timestamps, an integer estimate, a blocked label, a removed child
        leaf(item("jira:PAY-91", points=2, category="done", updated="2026-10-28T10:00:00")),
        leaf(item("jira:PAY-92", points=3, category="done",
                  changed="2026-10-30T23:30:00.250000-05:00")),
        leaf(item("jira:PAY-93", category="in_progress", labels=("Blocked",), due="2026-10-01")),
        leaf(item("jira:PAY-94", points=8, category="removed"), noncompliant=True),
        leaf(item("jira:PAY-95", points=1.5, start="2026-09-01"), noncompliant=True),
    ]  # fmt: skip
    cases = [(parent, children), (portfolio["initiative_item"], portfolio["initiative_children"])]
    for parent_item, views in cases:
        whole = rollup_of(parent_item, views)
        facts = rollup_of(parent_item, [as_stored_facts(v, from_item_json) for v in views])
        assert facts.to_dict() == whole.to_dict()
    facts = ChildFacts.of(children[1].item)
    assert ChildFacts.from_dict(facts.key, facts.to_dict()) == facts


@pytest.mark.parametrize(
    ("estimates", "done_flags", "progress", "uses_points"),
    [
        ((None, None, None, None), (True, False, False, False), 0.25, False),
        ((None, None, 3, None), (True, False, False, False), 0.0, True),
        ((1, 2, 3, 4), (True, True, False, False), 0.3, True),
        ((5, None), (False, True), 0.0, True),  # an unestimated done leaf adds no points
        ((), (), 0.0, False),
    ],
)
def test_progress_is_points_when_estimated_else_leaf_count(
    estimates, done_flags, progress, uses_points
):
    children = [
        leaf(item(f"jira:S-{i}", points=p, category="done" if done else "todo"))
        for i, (p, done) in enumerate(zip(estimates, done_flags, strict=True))
    ]
    r = rollup_of(item("jira:E-1", "epic", "in_progress"), children)
    assert r.progress == pytest.approx(progress)
    assert r.uses_points is uses_points


def test_removed_children_are_counted_by_category_only():
    children = [
        leaf(item("jira:S-1", points=3, category="done")),
        leaf(item("jira:S-2", points=40, category="removed", status="Blocked",
                  start="2020-01-01", due="2020-02-01"), noncompliant=True),
    ]  # fmt: skip
    r = rollup_of(item("jira:E-1", "epic", "in_progress"), children)
    assert r.children == 1 and r.by_category["removed"] == 1
    assert (r.points_total, r.progress) == (3, 1.0)
    assert (r.start, r.due) == (None, None)
    assert (r.blocked_children, r.noncompliant_children, r.overdue_children) == (0, 0, 0)


def test_done_children_are_not_blocked_or_overdue():
    done = item(
        "jira:S-1", category="done", status="Blocked", labels=("blocked",), due="2026-01-01"
    )
    r = rollup_of(item("jira:E-1", "epic", "in_progress"), [leaf(done)])
    assert (r.blocked_children, r.overdue_children) == (0, 0)


def test_child_rollup_replaces_the_childs_own_estimate():
    epic = item("jira:E-1", "epic", "in_progress", points=100)
    story = leaf(item("jira:S-1", points=5, category="done"))
    epic_rollup = rollup_of(epic, [story])
    r = rollup_of(item("jira:I-1", "initiative", "in_progress"), [ChildView(epic, epic_rollup)])
    assert (r.points_total, r.points_done, r.progress) == (5, 5, 1.0)


def test_three_levels_deep_count_based():
    stories = [leaf(item(f"azure-devops:{n}", category=c)) for n, c in
               ((11, "done"), (12, "todo"), (13, "todo"))]  # fmt: skip
    feature = item("azure-devops:10", "feature", "in_progress")
    epic = item("azure-devops:9", "epic", "in_progress")
    epic_rollup = rollup_of(epic, [ChildView(feature, rollup_of(feature, stories))])
    top = rollup_of(item("jira:I-1", "initiative"), [ChildView(epic, epic_rollup)])
    assert (top.leaves_total, top.leaves_done, top.progress) == (
        3,
        1,
        pytest.approx(1 / 3, abs=1e-4),
    )
    assert top.children == 1


# --- forecast ---------------------------------------------------------------------------


def test_forecast_unknown_without_recent_throughput():
    children = [leaf(item("jira:S-1", points=3, category="done", changed="2026-01-01T00:00:00+00:00")),
                leaf(item("jira:S-2", points=3))]  # fmt: skip
    future = rollup_of(item("jira:E-1", "epic", "in_progress", due="2026-12-01"), children)
    assert (future.forecast_end, future.throughput_per_day, future.slip_days) == (None, 0.0, None)
    passed = rollup_of(item("jira:E-1", "epic", "in_progress", due="2026-10-20"), children)
    assert passed.forecast_end is None
    assert passed.slip_days == 12  # overdue days stand in for the unknown forecast
    assert passed.rag == "red"
    assert passed.rag_reasons == ("12 days overdue, no recent throughput",)


def test_forecast_is_today_when_nothing_remains():
    children = [leaf(item("jira:S-1", points=3, category="done"))]
    r = rollup_of(item("jira:E-1", "epic", "in_progress", due="2026-12-01"), children)
    assert r.forecast_end == TODAY
    assert r.slip_days == -30


def test_forecast_count_based_and_exact_division():
    # 28 leaves remain, 28 done in the 28-day window: one a day -> exactly 28 days
    changed = "2026-10-30T00:00:00+00:00"
    children = [leaf(item(f"jira:S-{i}", category="done", changed=changed)) for i in range(28)]
    children += [leaf(item(f"jira:T-{i}")) for i in range(28)]
    r = rollup_of(item("jira:E-1", "epic"), children)
    assert r.throughput_per_day == 1.0
    assert r.forecast_end == TODAY + dt.timedelta(days=28)


def test_throughput_window_is_configurable():
    spec = rollup_spec_from_dict(
        {"id": "r", "parents": {"type": "epic"}, "throughput_window_days": 7}
    )
    children = [
        leaf(item("jira:S-1", points=7, category="done", changed="2026-10-30T00:00:00+00:00")),
        leaf(item("jira:S-2", points=7, category="done", changed="2026-10-20T00:00:00+00:00")),
        leaf(item("jira:S-3", points=7)),
    ]
    r = compute_rollup(spec, item("jira:E-1", "epic"), children, NOW)
    assert (r.recent_done_points, r.throughput_per_day) == (7, 1.0)
    assert r.forecast_end == TODAY + dt.timedelta(days=7)


def test_naive_now_is_treated_as_utc():
    children = [
        leaf(item("jira:S-1", points=1, category="done", changed="2026-10-30T00:00:00+00:00"))
    ]
    r = compute_rollup(CONTRACT_SPEC, item("jira:E-1", "epic"), children, NOW.replace(tzinfo=None))
    assert r.recent_done_points == 1


# --- RAG --------------------------------------------------------------------------------

TABLE_SPEC = RollupSpec(
    id="t",
    parent_types=frozenset({"epic"}),
    metrics=METRICS,
    red=RagThresholds(slip_days=10, blocked_children=2, noncompliant_children=3),
    amber=RagThresholds(slip_days=1, blocked_children=1, noncompliant_children=1),
    write_back=WriteBackSpec(comment=True, labels=True, fields={}),
)


def _epic_with(*, blocked: int = 0, noncompliant: int = 0, due: str = "2027-06-01") -> Rollup:
    # 10 points remain at 5 points per 28 days: forecast 2026-12-27
    children = [
        leaf(item("jira:S-0", points=5, category="done", changed="2026-10-20T00:00:00+00:00"))
    ]
    children += [leaf(item(f"jira:B-{i}", points=0, status="Blocked")) for i in range(blocked)]
    children += [
        leaf(item(f"jira:N-{i}", points=0), noncompliant=True) for i in range(noncompliant)
    ]
    children.append(leaf(item("jira:S-1", points=10)))
    parent = item("jira:E-1", "epic", "in_progress", due=due)
    return compute_rollup(TABLE_SPEC, parent, children, NOW)


@pytest.mark.parametrize(
    ("case", "changes", "rag", "reasons"),
    [
        ("on track", {}, "green", ()),
        ("slips a day", {"due": "2026-12-26"}, "amber", ("forecast 1 day past due",)),
        ("slips 10 days", {"due": "2026-12-17"}, "red", ("forecast 10 days past due",)),
        ("one blocked", {"blocked": 1}, "amber", ("1 blocked child",)),
        ("two blocked", {"blocked": 2}, "red", ("2 blocked children",)),
        ("one non-compliant", {"noncompliant": 1}, "amber", ("1 non-compliant child",)),
        ("three non-compliant", {"noncompliant": 3}, "red", ("3 non-compliant children",)),
        (
            "red and amber reasons together",
            {"blocked": 2, "noncompliant": 1, "due": "2026-12-20"},
            "red",
            ("forecast 7 days past due", "2 blocked children", "1 non-compliant child"),
        ),
    ],
)
def test_rag_follows_thresholds(case, changes, rag, reasons):
    r = _epic_with(**changes)
    assert (r.rag, r.rag_reasons) == (rag, reasons), case


def test_overdue_and_progress_behind_thresholds():
    spec = rollup_spec_from_dict(
        {
            "id": "r",
            "parents": {"type": ["epic"]},
            "rag": {"red": {"progress_behind": 0.5}, "amber": {"overdue_children": 1}},
        }
    )
    children = [
        leaf(item("jira:S-1", points=4, due="2026-10-31")),
        leaf(item("jira:S-2", points=4)),
    ]
    halfway = item("jira:E-1", "epic", "in_progress", start="2026-10-01", due="2026-12-01")
    r = compute_rollup(spec, halfway, children, NOW)
    assert r.progress_behind == pytest.approx(31 / 61, abs=1e-4)
    assert (r.rag, r.rag_reasons) == ("red", ("1 overdue child", "progress 51% behind plan"))
    early = halfway.with_changes(start_date=D("2026-10-25"))
    r = compute_rollup(spec, early, children, NOW)
    assert (r.rag, r.rag_reasons) == ("amber", ("1 overdue child",))


def test_done_parent_with_done_children_is_green_whatever_they_were():
    parent = item("jira:E-1", "epic", "done", due="2026-01-01")
    children = [leaf(item(f"jira:B-{i}", "story", "done"), noncompliant=True) for i in range(3)]
    r = compute_rollup(TABLE_SPEC, parent, children, NOW)
    assert (r.rag, r.rag_reasons, r.slip_days) == ("green", ("done",), None)


def test_done_parent_with_open_children_is_amber_with_the_reason():
    parent = item("jira:E-1", "epic", "done", due="2026-01-01")
    children = [leaf(item(f"jira:B-{i}", status="Blocked"), noncompliant=True) for i in range(5)]
    children.append(leaf(item("jira:B-9", "story", "done")))
    r = compute_rollup(TABLE_SPEC, parent, children, NOW)
    assert r.blocked_children == 5
    assert (r.rag, r.rag_reasons, r.slip_days) == ("amber", ("done with 5 open children",), None)
    one = compute_rollup(TABLE_SPEC, parent, children[4:], NOW)
    assert one.rag_reasons == ("done with 1 open child",)


def test_done_parent_with_open_children_is_a_finding_from_the_rollups_own_counts():
    parent = item("jira:E-1", "epic", "done")
    children = [leaf(item(f"jira:B-{i}", "story", "in_progress")) for i in range(2)]
    children += [
        leaf(item("jira:B-8", "story", "done")),
        leaf(item("jira:B-9", "story", "removed")),
    ]
    r = compute_rollup(TABLE_SPEC, parent, children, NOW)
    (finding,) = rollup_findings(TABLE_SPEC, parent, r)
    assert r.children - r.done == 2  # the removed child is not open
    assert (finding.rule, finding.severity, finding.status, finding.item_key) == (
        CLOSED_WITH_OPEN_CHILDREN, "medium", "fail", "jira:E-1",
    )  # fmt: skip
    assert finding.message == "done with 2 open children of 3; RAG amber"
    assert finding.enforcement == "advise" and finding.hint
    red = rollup_spec_from_dict(
        {"id": "strict", "parents": {"type": ["epic"]}, "closed_with_open_children": "red"}
    )
    (strict,) = rollup_findings(red, parent, compute_rollup(red, parent, children, NOW))
    assert strict.severity == "high" and strict.message.endswith("RAG red")
    # open parents, done parents whose children are done, no rollup: nothing
    assert (
        rollup_findings(
            TABLE_SPEC, parent.with_changes(status_category=StatusCategory.IN_PROGRESS), r
        )
        == []
    )
    done = [leaf(item("jira:B-1", "story", "done"))]
    assert rollup_findings(TABLE_SPEC, parent, compute_rollup(TABLE_SPEC, parent, done, NOW)) == []
    assert rollup_findings(TABLE_SPEC, parent, None) == []


def test_done_parent_with_open_children_red_when_the_spec_says_so():
    spec = rollup_spec_from_dict(
        {"id": "strict", "parents": {"type": ["epic"]}, "closed_with_open_children": "red"}
    )
    parent = item("jira:E-1", "epic", "done")
    r = compute_rollup(spec, parent, [leaf(item("jira:S-1", "story", "in_progress"))], NOW)
    assert (r.rag, r.rag_reasons) == ("red", ("done with 1 open child",))
    with pytest.raises(ValueError, match="closed_with_open_children must be one of amber, red"):
        rollup_spec_from_dict(
            {"id": "x", "parents": {"type": ["epic"]}, "closed_with_open_children": "green"}
        )


def test_removed_parent_stays_green_with_open_children():
    parent = item("jira:E-1", "epic", "removed")
    r = compute_rollup(TABLE_SPEC, parent, [leaf(item("jira:S-1"))], NOW)
    assert (r.rag, r.rag_reasons) == ("green", ("removed",))


def test_unused_thresholds_never_fire():
    spec = RollupSpec(
        id="quiet",
        parent_types=frozenset({"epic"}),
        metrics=METRICS,
        red=RagThresholds(),
        amber=RagThresholds(),
        write_back=WriteBackSpec(comment=False, labels=False, fields={}),
    )
    parent = item("jira:E-1", "epic", "in_progress", due="2025-01-01")
    children = [leaf(item("jira:B-1", status="Blocked", due="2025-01-01"), noncompliant=True)]
    r = compute_rollup(spec, parent, children, NOW)
    assert (r.blocked_children, r.overdue_children, r.noncompliant_children) == (1, 1, 1)
    assert r.slip_days is not None and r.slip_days > 600
    assert (r.rag, r.rag_reasons) == ("green", ())


def test_blocked_statuses_and_labels_are_configurable():
    spec = rollup_spec_from_dict(
        {"id": "r", "parents": {"type": "epic"}, "blocked_statuses": ["Impeded"],
         "blocked_labels": ["waiting-on-vendor"]}
    )  # fmt: skip
    children = [
        leaf(item("jira:S-1", status="Blocked")),
        leaf(item("jira:S-2", status="impeded")),
        leaf(item("jira:S-3", labels=("Waiting-On-Vendor",))),
    ]
    r = compute_rollup(spec, item("jira:E-1", "epic"), children, NOW)
    assert r.blocked_children == 2


# --- serialisation and change detection -------------------------------------------------


def test_to_dict_is_json_ready_and_round_trips(portfolio):
    r = portfolio["initiative"]
    data = json.loads(json.dumps(r.to_dict()))
    assert data["forecast_end"] == "2026-12-21"
    assert data["by_category"] == {"todo": 2, "in_progress": 2, "done": 0, "removed": 0}
    assert Rollup.from_dict(data) == r
    data["points_total"] = 39  # another writer stored a whole number
    assert Rollup.from_dict(data).content_hash() == r.content_hash()


def test_from_dict_rejects_a_record_missing_figures(portfolio):
    data = portfolio["epic"].to_dict()
    del data["points_total"]
    with pytest.raises(ValueError, match="points_total"):
        Rollup.from_dict(data)


def test_content_hash_ignores_the_timestamp_but_not_the_figures(portfolio):
    children = portfolio["initiative_children"]
    parent = portfolio["initiative_item"]
    first = compute_rollup(CONTRACT_SPEC, parent, children, NOW)
    later = compute_rollup(CONTRACT_SPEC, parent, children, NOW + dt.timedelta(minutes=5))
    assert first.computed_at != later.computed_at
    assert first.content_hash() == later.content_hash()
    assert len(first.content_hash()) == 64
    changed = list(children)
    changed[2] = leaf(item("jira:PORT-2", points=5), noncompliant=True)
    assert (
        compute_rollup(CONTRACT_SPEC, parent, changed, NOW).content_hash() != first.content_hash()
    )
    fixed = list(children)
    fixed[2] = leaf(item("jira:PORT-2", points=3), noncompliant=False)
    assert compute_rollup(CONTRACT_SPEC, parent, fixed, NOW).content_hash() != first.content_hash()


# --- spec parsing -----------------------------------------------------------------------


def test_spec_defaults():
    spec = rollup_spec_from_dict({"id": "r", "parents": {"type": ["Epic"]}})
    assert spec.parent_types == frozenset({"epic"})
    assert spec.metrics == METRICS
    assert spec.red == RagThresholds(slip_days=10, blocked_children=1)
    assert spec.amber == RagThresholds(slip_days=1, noncompliant_children=1)
    assert (spec.write_back.comment, spec.write_back.labels, dict(spec.write_back.fields)) == (
        True, True, {},
    )  # fmt: skip
    assert spec.blocked_statuses == spec.blocked_labels == frozenset({"blocked"})
    assert spec.throughput_window_days == 28
    assert spec.applies_to(item("jira:E-1", "epic"))
    assert not spec.applies_to(item("jira:S-1", "story"))


def test_spec_from_the_contract_example():
    assert CONTRACT_SPEC.red == RagThresholds(slip_days=10, blocked_children=1)
    assert CONTRACT_SPEC.amber == RagThresholds(slip_days=1, noncompliant_children=1)
    assert dict(CONTRACT_SPEC.write_back.fields) == {"progress": "customfield_10100"}
    assert "points_total" in CONTRACT_SPEC.metrics


def test_a_rag_level_left_out_is_unused():
    spec = rollup_spec_from_dict(
        {"id": "r", "parents": {"type": "epic"}, "rag": {"red": {"slip_days": 5}}}
    )
    assert spec.amber == RagThresholds()


BASE = {"id": "r", "parents": {"type": ["epic"]}}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"id": ""}, "needs an id"),
        ({"parents": ["epic"]}, "parents must be a mapping"),
        ({"parents": {"type": ["epik"]}}, "'epik' is not an item type"),
        ({"parents": {"type": []}}, "parents.type must be a non-empty list"),
        ({"parents": {"type": ["epic"], "project": ["PAY"]}}, "unknown key 'project'"),
        ({"metrics": ["progress", "velocity"]}, "unknown metric 'velocity'"),
        ({"colour": "red"}, "unknown key 'colour'"),
        ({"rag": ["red"]}, "rag must be a mapping"),
        ({"rag": {"purple": {}}}, "rag: unknown key 'purple'"),
        ({"rag": {"red": {"slip": 3}}}, "rag.red: unknown key 'slip'"),
        ({"rag": {"red": {"slip_days": "ten"}}}, "slip_days must be a number"),
        ({"rag": {"red": {"slip_days": 2.5}}}, "slip_days must be a whole number"),
        ({"rag": {"amber": {"blocked_children": True}}}, "must be a number"),
        ({"rag": {"amber": {"blocked_children": -1}}}, "must be 0 or more"),
        ({"rag": {"amber": {"progress_behind": 20}}}, "fraction from 0 to 1"),
        ({"write_back": {"comment": "yes"}}, "write_back.comment must be true or false"),
        ({"write_back": {"fields": {"velocity": "cf_1"}}}, "unknown metric 'velocity'"),
        ({"write_back": {"fields": {"progress": ""}}}, "must be a tracker field id"),
        ({"throughput_window_days": 0}, "throughput_window_days must be a whole number >= 1"),
        ({"blocked_labels": [""]}, "blocked_labels must contain only non-empty names"),
    ],
)
def test_spec_errors_name_the_key(changes, message):
    with pytest.raises(ValueError, match=message) as raised:
        rollup_spec_from_dict({**BASE, **changes})
    assert "\n" not in str(raised.value)


def test_spec_must_be_a_mapping():
    with pytest.raises(ValueError, match="a rollup must be a mapping, got list"):
        rollup_spec_from_dict([])  # type: ignore[arg-type]


# --- what a PM sees and what is written back --------------------------------------------


def test_document_rows_read_at_a_glance(portfolio):
    assert rollup_document_rows(portfolio["initiative"]) == [
        ("Progress", "41% (16/39 pts)"),
        ("Children", "4: 2 to do, 2 in progress, 0 done"),
        ("Dates", "start 2026-10-01, due 2026-12-15, forecast 2026-12-21 (6 days late)"),
        ("RAG", "RED: forecast 6 days past due; 2 blocked children; 2 non-compliant children"),
        ("Blocked", "2"),
        ("Overdue", "0"),
        ("Non-compliant", "2"),
    ]


def test_document_rows_count_based_unknown_forecast_and_removed():
    children = [
        leaf(item("jira:S-1", category="done")),
        leaf(item("jira:S-2", category="in_progress")),
        leaf(item("jira:S-3", category="removed")),
    ]
    parent = item("jira:E-1", "epic", "in_progress", due="2026-12-01")
    rows = dict(rollup_document_rows(rollup_of(parent, children)))
    assert rows["Progress"] == "50% (1/2 items)"
    assert rows["Children"] == "2: 0 to do, 1 in progress, 1 done (1 removed)"
    assert rows["Dates"] == "due 2026-12-01, forecast unknown (nothing done recently)"
    assert rows["RAG"] == "GREEN"


def test_document_rows_limited_to_metrics_and_half_points():
    children = [leaf(item("jira:S-1", points=0.5, category="done")),
                leaf(item("jira:S-2", points=199.5, due="2027-01-31"))]  # fmt: skip
    parent = item("jira:E-1", "epic", "in_progress", due="2027-01-15")
    r = rollup_of(parent, children)
    rows = rollup_document_rows(r, metrics=("progress", "due"))
    assert rows == [
        ("Progress", "0% (0.5/200 pts)"),
        ("Dates", "due 2027-01-15, forecast unknown (nothing done recently), "
                  "latest child due 2027-01-31"),
    ]  # fmt: skip


def test_progress_text_never_rounds_up_to_done():
    children = [
        leaf(item("jira:S-1", points=999, category="done")),
        leaf(item("jira:S-2", points=1)),
    ]
    rows = dict(rollup_document_rows(rollup_of(item("jira:E-1", "epic"), children)))
    assert rows["Progress"] == "99% (999/1000 pts)"


def test_field_values_for_configured_fields(portfolio):
    spec = rollup_spec_from_dict(
        {
            "id": "r",
            "parents": {"type": "initiative"},
            "write_back": {
                "fields": {
                    "progress": "customfield_10100",
                    "forecast_end": "customfield_10101",
                    "rag": "Custom.RAG",
                    "blocked": "Custom.Blocked",
                    "points_done": "Custom.PointsDone",
                    "start": "Custom.Start",
                }
            },
        }
    )
    assert field_values(spec, portfolio["initiative"]) == {
        "customfield_10100": 41.0,
        "customfield_10101": "2026-12-21",
        "Custom.RAG": "red",
        "Custom.Blocked": 2,
        "Custom.PointsDone": 16,
        "Custom.Start": "2026-10-01",
    }
    assert field_values(CONTRACT_SPEC, portfolio["epic"]) == {"customfield_10100": 44.4}


def test_rag_labels():
    assert rag_label("pmo-", "green") == "pmo-rag-green"
    assert RAG_LABELS("pmo-") == {"pmo-rag-green", "pmo-rag-amber", "pmo-rag-red"}
    with pytest.raises(ValueError, match="unknown RAG status 'blue'"):
        rag_label("pmo-", "blue")


def test_a_parent_with_many_children():
    children = [
        leaf(item(f"jira:S-{i}", points=i % 5, category=("todo", "in_progress", "done")[i % 3],
                  changed="2026-10-30T00:00:00+00:00"))
        for i in range(20_000)
    ]  # fmt: skip
    r = rollup_of(item("jira:E-1", "epic", "in_progress"), children)
    assert r.children == 20_000
    assert r.by_category["done"] == 6_666
    assert r.points_total == 40_000  # 4,000 each of 0, 1, 2, 3 and 4 points
