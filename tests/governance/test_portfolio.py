"""Portfolio rollups end to end: a generated portfolio spanning Jira and Azure DevOps is
delivered as webhooks, the real queue drains (coalesced rollup tasks included), and both
trackers' write APIs are mocked. Every expected figure is worked out by hand below."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.support.helpers import PACKS
from tests.support.portfolio_gen import (
    Spec,
)
from tests.support.portfolio_service import Service, at, portfolio
from webhooks.dashboard.page import render_dashboard
from webhooks.dashboard.snapshot import build_portfolio


@pytest.fixture
def service(tmp_path, mocked):
    return Service(tmp_path, (str(PACKS / "portfolio.yaml"),), mocked)


@pytest.fixture
def loaded(service):
    service.deliver(*portfolio().values(), created=True)
    service.drain()
    return service


def figures(rollup: dict, *names: str) -> dict:
    return {name: rollup[name] for name in names}


FIGURES = ("children", "by_category", "points_total", "points_done", "leaves_total",
           "leaves_done", "progress", "forecast_end", "slip_days", "blocked_children", "rag",
           "rag_reasons")  # fmt: skip


def cats(todo=0, in_progress=0, done=0, removed=0) -> dict:
    return {"todo": todo, "in_progress": in_progress, "done": done, "removed": removed}


# PAY-10: 5 + 3 + 8 + 2 = 18 points, 5 + 2 = 7 done, both within 28 days: 7/28 a day;
# 11 remaining -> ceil(11 * 28 / 7) = 44 days -> 2024-07-24, 7 days before 2024-07-31.
PAY_10 = dict(children=4, by_category=cats(1, 1, 2), points_total=18.0, points_done=7.0,
              leaves_total=4, leaves_done=2, progress=0.3889, forecast_end="2024-07-24",
              slip_days=-7, blocked_children=0, rag="green", rag_reasons=[])  # fmt: skip
# PAY-20: 8 points, nothing done recently: no forecast, due date not passed: no slip.
PAY_20 = dict(children=2, by_category=cats(2), points_total=8.0, points_done=0.0,
              leaves_total=2, leaves_done=0, progress=0.0, forecast_end=None, slip_days=None,
              blocked_children=0, rag="green", rag_reasons=[])  # fmt: skip
# 501: 13 points, 5 done on 2024-06-05; 8 remaining -> ceil(8 * 28 / 5) = ceil(44.8) = 45
# days -> 2024-07-25, 5 days past its due date 2024-07-20: amber.
F_501 = dict(children=2, by_category=cats(0, 1, 1), points_total=13.0, points_done=5.0,
             leaves_total=2, leaves_done=1, progress=0.3846, forecast_end="2024-07-25",
             slip_days=5, blocked_children=0, rag="amber",
             rag_reasons=["forecast 5 days past due"])  # fmt: skip
F_502 = dict(children=1, by_category=cats(1), points_total=3.0, points_done=0.0,
             leaves_total=1, leaves_done=0, progress=0.0, forecast_end=None, slip_days=None,
             blocked_children=0, rag="green", rag_reasons=[])  # fmt: skip
# PAY-1, from its four children's rollups, across both trackers: 18 + 8 + 13 + 3 = 42
# points, 7 + 5 = 12 done (all recent); 30 remaining -> 30 * 28 / 12 = 70 days ->
# 2024-08-19, 42 days before 2024-09-30.
PAY_1 = dict(children=4, by_category=cats(2, 2, 0), points_total=42.0, points_done=12.0,
             leaves_total=9, leaves_done=3, progress=0.2857, forecast_end="2024-08-19",
             slip_days=-42, blocked_children=0, rag="green", rag_reasons=[])  # fmt: skip


def test_rollups_across_both_trackers_equal_the_hand_computed_figures(loaded):
    assert figures(loaded.rollup("jira:PAY-10"), *FIGURES) == PAY_10
    assert figures(loaded.rollup("jira:PAY-20"), *FIGURES) == PAY_20
    assert figures(loaded.rollup("azure-devops:501"), *FIGURES) == F_501
    assert figures(loaded.rollup("azure-devops:502"), *FIGURES) == F_502
    assert figures(loaded.rollup("jira:PAY-1"), *FIGURES) == PAY_1
    rollup = loaded.rollup("jira:PAY-10")
    assert rollup["throughput_per_day"] == 0.25 and rollup["recent_done_points"] == 7.0
    assert rollup["target_due"] == "2024-07-31"


def test_cross_tracker_features_are_children_of_the_jira_initiative(loaded):
    store = loaded.store
    assert store.get_item("azure-devops:501").parent == "jira:PAY-1"  # `portfolio:PAY-1` tag
    assert store.get_item("azure-devops:502").parent == "jira:PAY-1"  # portfolio_link field
    assert [c.key for c in store.children("jira:PAY-1")] == [
        "azure-devops:501", "azure-devops:502", "jira:PAY-10", "jira:PAY-20",
    ]  # fmt: skip
    # the Azure DevOps points (13 + 3) are in the Jira initiative's 42
    assert loaded.rollup("jira:PAY-1")["points_total"] == 18 + 8 + 13 + 3


def test_rollup_comment_and_rag_label_on_each_parent(loaded):
    fake = loaded.trackers
    epic = loaded.comment("jira:PAY-10")
    assert "PMO compliance (pmo-bridge)" in epic and "Portfolio rollup: GREEN" in epic
    for text in ("39% (7/18 pts)", "4: 1 to do, 1 in progress, 2 done",
                 "due 2024-07-31, forecast 2024-07-24"):  # fmt: skip
        assert text in epic
    assert json.loads(epic)["type"] == "doc"  # ADF on Jira Cloud
    assert '"type": "table"' in epic
    initiative = loaded.comment("jira:PAY-1")
    assert "29% (12/42 pts)" in initiative and "4: 2 to do, 2 in progress, 0 done" in initiative
    feature = loaded.comment("azure-devops:501")  # HTML on Azure DevOps
    assert "<table" in feature and "38% (5/13 pts)" in feature
    assert "AMBER: forecast 5 days past due" in feature

    assert fake.labels["jira:PAY-10"] == {"pmo-rag-green"}
    assert fake.labels["jira:PAY-1"] == {"pmo-rag-green"}
    assert fake.labels["azure-devops:501"] == {"portfolio:PAY-1", "pmo-rag-amber"}
    assert fake.labels["azure-devops:502"] == {"pmo-rag-green"}
    # leaves get nothing: the pack's only rule is audit-only
    assert not [w for w in fake.writes if w.key.endswith(("PAY-11", "PAY-12", ":511"))]


def test_reparenting_a_story_moves_its_points(loaded):
    fake = loaded.trackers
    fake.writes.clear()
    loaded.deliver(portfolio()["PAY-13"].bump(parent="PAY-20"))
    loaded.drain()
    # PAY-10 loses 8 points: 10, 7 done; 3 remaining at 7/28 a day = 12 days -> 2024-06-22
    assert figures(loaded.rollup("jira:PAY-10"), *FIGURES) == {
        **PAY_10, "children": 3, "by_category": cats(0, 1, 2), "points_total": 10.0,
        "leaves_total": 3, "progress": 0.7, "forecast_end": "2024-06-22", "slip_days": -39,
    }  # fmt: skip
    assert figures(loaded.rollup("jira:PAY-20"), *FIGURES) == {
        **PAY_20, "children": 3, "by_category": cats(3), "points_total": 16.0, "leaves_total": 3,
    }  # fmt: skip
    # the initiative's totals are the same whichever epic holds the story: nothing written
    assert figures(loaded.rollup("jira:PAY-1"), *FIGURES) == PAY_1
    assert sorted((w.key, w.kind) for w in fake.writes) == [
        ("jira:PAY-10", "comment_update"), ("jira:PAY-20", "comment_update"),
    ]  # fmt: skip
    assert "70% (7/10 pts)" in loaded.comment("jira:PAY-10")
    assert "0% (0/16 pts)" in loaded.comment("jira:PAY-20")


def test_deleting_a_story_updates_the_rollup(loaded):
    fake = loaded.trackers
    fake.writes.clear()
    loaded.deliver(portfolio()["PAY-14"].bump(), deleted=True)
    loaded.drain()
    # PAY-10 without its 2 done points: 16, 5 done; 11 remaining at 5/28 a day ->
    # ceil(61.6) = 62 days -> 2024-08-11, 11 days past due: red
    assert figures(loaded.rollup("jira:PAY-10"), *FIGURES) == {
        **PAY_10, "children": 3, "by_category": cats(1, 1, 1), "points_total": 16.0,
        "points_done": 5.0, "leaves_total": 3, "leaves_done": 1, "progress": 0.3125,
        "forecast_end": "2024-08-11", "slip_days": 11, "rag": "red",
        "rag_reasons": ["forecast 11 days past due"],
    }  # fmt: skip
    # PAY-1: 40 points, 10 done; 30 remaining at 10/28 a day = 84 days -> 2024-09-02
    assert figures(loaded.rollup("jira:PAY-1"), *FIGURES) == {
        **PAY_1, "points_total": 40.0, "points_done": 10.0, "leaves_total": 8,
        "leaves_done": 2, "progress": 0.25, "forecast_end": "2024-09-02", "slip_days": -28,
    }  # fmt: skip
    assert fake.labels["jira:PAY-10"] == {"pmo-rag-red"}
    (labels,) = [w.body for w in fake.writes_to("jira:PAY-10") if w.kind == "labels"]
    assert labels == {"update": {"labels": [{"add": "pmo-rag-red"}, {"remove": "pmo-rag-green"}]}}


def test_rag_goes_green_amber_red_as_children_block_and_slip(loaded):
    fake = loaded.trackers
    specs = portfolio()

    def label_write(key: str) -> dict:
        (body,) = [w.body for w in fake.writes_to(key) if w.kind == "labels"]
        return body["update"]["labels"]

    # a story is blocked: one blocked child -> amber, on the epic and (through the
    # epic's rollup) on the initiative
    fake.writes.clear()
    blocked = specs["PAY-12"].bump(status="Blocked")
    loaded.deliver(blocked)
    loaded.drain()
    epic = loaded.rollup("jira:PAY-10")
    assert (epic["rag"], epic["rag_reasons"], epic["blocked_children"]) == (
        "amber", ["1 blocked child"], 1,
    )  # fmt: skip
    assert loaded.rollup("jira:PAY-1")["rag"] == "amber"
    assert label_write("jira:PAY-10") == [{"add": "pmo-rag-amber"}, {"remove": "pmo-rag-green"}]
    assert label_write("jira:PAY-1") == [{"add": "pmo-rag-amber"}, {"remove": "pmo-rag-green"}]
    assert "AMBER: 1 blocked child" in loaded.comment("jira:PAY-10")

    # scope grows: PAY-13 from 8 to 21 points -> 24 remaining at 7/28 a day = 96 days ->
    # 2024-09-14, 45 days past due -> red. The initiative absorbs it (55 points, 12 done:
    # ceil(43 * 28 / 12) = 101 days -> 2024-09-19, before its 2024-09-30) and stays amber.
    fake.writes.clear()
    loaded.deliver(specs["PAY-13"].bump(estimate=21.0))
    loaded.drain()
    epic = loaded.rollup("jira:PAY-10")
    assert figures(epic, "points_total", "forecast_end", "slip_days", "rag", "rag_reasons") == {
        "points_total": 31.0, "forecast_end": "2024-09-14", "slip_days": 45, "rag": "red",
        "rag_reasons": ["forecast 45 days past due", "1 blocked child"],
    }  # fmt: skip
    initiative = loaded.rollup("jira:PAY-1")
    assert (initiative["forecast_end"], initiative["slip_days"], initiative["rag"]) == (
        "2024-09-19", -11, "amber",
    )  # fmt: skip
    assert label_write("jira:PAY-10") == [{"add": "pmo-rag-red"}, {"remove": "pmo-rag-amber"}]
    assert fake.labels["jira:PAY-10"] == {"pmo-rag-red"}
    assert not [w for w in fake.writes_to("jira:PAY-1") if w.kind == "labels"]

    # a second blocked story: red for the initiative too (2 blocked children below it)
    fake.writes.clear()
    loaded.deliver(specs["PAY-21"].bump(status="Blocked"))
    loaded.drain()
    assert loaded.rollup("jira:PAY-1")["blocked_children"] == 2
    assert loaded.rollup("jira:PAY-1")["rag"] == "red"
    assert label_write("jira:PAY-1") == [{"add": "pmo-rag-red"}, {"remove": "pmo-rag-amber"}]
    assert fake.labels["jira:PAY-1"] == {"pmo-rag-red"}


def test_a_child_done_in_azure_devops_moves_the_jira_initiative(loaded):
    fake = loaded.trackers
    fake.writes.clear()
    loaded.deliver(portfolio()["512"].bump(status="Closed", status_changed=at("2024-06-09")))
    loaded.drain()
    # 501 is finished: forecast today, 40 days early -> green, tag swapped
    assert figures(loaded.rollup("azure-devops:501"), "progress", "forecast_end", "rag") == {
        "progress": 1.0, "forecast_end": "2024-06-10", "rag": "green",
    }  # fmt: skip
    assert fake.labels["azure-devops:501"] == {"portfolio:PAY-1", "pmo-rag-green"}
    # PAY-1: 20 of 42 done, all recent; 22 remaining -> ceil(22 * 28 / 20) = 31 days
    assert figures(loaded.rollup("jira:PAY-1"), "points_done", "progress", "forecast_end") == {
        "points_done": 20.0, "progress": 0.4762, "forecast_end": "2024-07-11",
    }  # fmt: skip
    assert "48% (20/42 pts)" in loaded.comment("jira:PAY-1")


def test_bulk_edit_of_200_stories_writes_the_epic_once(service, monkeypatch):
    epic = Spec("jira", "PAY-30", "epic", "Bulk epic", "In Progress", parent="PAY-1")
    stories = [
        Spec("jira", f"PAY-{n}", "story", f"Bulk story {n}", "To Do", 1.0, "PAY-30")
        for n in range(101, 301)
    ]
    service.deliver(epic, *stories, created=True)
    service.drain()
    assert service.rollup("jira:PAY-30")["points_total"] == 200.0
    assert service.trackers.labels["jira:PAY-30"] == {"pmo-rag-green"}

    from webhooks.governance.rollups import Rollups

    refreshed: list[str] = []
    original = Rollups.refresh

    def counting(self, parent, spec):
        refreshed.append(parent.key)
        return original(self, parent, spec)

    monkeypatch.setattr(Rollups, "refresh", counting)
    service.trackers.writes.clear()
    mark = len(list(service.mock.calls))
    # the team blocks all 200 at once: 200 blocked children -> red
    service.deliver(*(s.bump(status="Blocked", estimate=2.0) for s in stories))
    service.drain()

    assert refreshed.count("jira:PAY-30") == 1
    writes = service.trackers.writes_to("jira:PAY-30")
    assert sorted(w.kind for w in writes) == ["comment_update", "labels"]
    epic_calls = [
        (c.request.method, c.request.url.split("?")[0].rsplit("/rest/api/3/", 1)[1])
        for c in list(service.mock.calls)[mark:]
        if "/issue/PAY-30" in c.request.url
    ]
    assert sorted(epic_calls) == [("PUT", "issue/PAY-30"), ("PUT", "issue/PAY-30/comment/10500")]
    rollup = service.rollup("jira:PAY-30")
    assert (rollup["points_total"], rollup["blocked_children"], rollup["rag"]) == (
        400.0,
        200,
        "red",
    )

    # the same edit delivered again, and a change no rollup shows: nothing is written
    service.trackers.writes.clear()
    service.deliver(*(s.bump(status="Blocked", estimate=2.0) for s in stories[:20]))
    service.deliver(stories[0].bump(status="Blocked", estimate=2.0).bump(title="Renamed story"))
    service.drain()
    assert service.trackers.writes == []


def test_nothing_is_written_when_nothing_changed(loaded):
    loaded.trackers.writes.clear()
    specs = portfolio()
    loaded.deliver(specs["PAY-12"].bump(), specs["512"].bump(), specs["PAY-1"].bump())
    loaded.drain()
    assert loaded.trackers.writes == []


# -- portfolio (`across:`) rules over both trackers ------------------------------------


@pytest.fixture
def across(tmp_path, mocked):
    return Service(tmp_path, (str(PACKS / "portfolio-across.yaml"),), mocked)


def open_rules(svc: Service, key: str) -> set[str]:
    return {f.rule for f in svc.store.open_findings(key)}


def test_wip_and_project_limits_across_trackers_land_on_every_item_and_resolve(across):
    dana = "dana.whitfield@fabrikam.com"
    jira_a = Spec("jira", "PAY-41", "story", "Refund audit", "In Progress", 3, assignee=dana)
    jira_b = Spec("jira", "WEB-42", "story", "Landing page", "In Progress", 2, assignee=dana)
    ado = Spec("azure-devops", "541", "story", "Checkout API", "Active", 5, assignee=dana)
    # two in progress in one project: within both limits
    bob = [
        Spec("jira", f"PAY-{n}", "story", f"Bob story {n}", "In Progress", 1, assignee="bob@x.io")
        for n in (51, 52)
    ]
    across.deliver(jira_a, jira_b, ado, *bob, created=True)
    across.drain()

    items = ("jira:PAY-41", "jira:WEB-42", "azure-devops:541")
    for key in items:  # 3 in progress > 2, in 3 projects > 1
        assert open_rules(across, key) == {"wip-limit", "one-project"}, key
        text = across.comment(key)
        assert "wip-limit" in text and "one-project" in text
        assert "Dana Whitfield has 3 items (at most 2 allowed)" in text
    assert open_rules(across, "jira:PAY-51") == open_rules(across, "jira:PAY-52") == set()
    assert not across.trackers.writes_to("jira:PAY-51")

    # one item done: the WIP finding resolves on all three, the project one stays
    across.deliver(jira_a.bump(status="Done"))
    across.drain()
    assert open_rules(across, "jira:PAY-41") == set()
    assert "All PMO rules pass" in across.comment("jira:PAY-41")
    for key in items[1:]:
        assert open_rules(across, key) == {"one-project"}, key
        assert "wip-limit" not in across.comment(key)

    # a second one done: one project left, that finding resolves too
    across.deliver(jira_b.bump(status="Done"))
    across.drain()
    for key in items:
        assert open_rules(across, key) == set(), key
        assert "All PMO rules pass" in across.comment(key)


# -- a waiver of a portfolio rule ---------------------------------------------------------

ACROSS_WAIVER = """version: 1
waivers:
  - rule: wip-limit
    items: [jira:PAY-41]
    reason: Release manager during the cut-over
    approver: Sam Ortiz
    expires: 2024-06-20
"""


@pytest.fixture
def waived_across(tmp_path, mocked):
    folder = tmp_path / "packs"
    folder.mkdir()
    shutil.copy(PACKS / "portfolio-across.yaml", folder / "across.yaml")
    (folder / "across.waivers.yaml").write_text(ACROSS_WAIVER)
    return Service(tmp_path, (str(folder),), mocked)


def test_a_waived_member_of_a_breaking_group_is_waived_in_comment_and_dashboard(waived_across):
    svc = waived_across
    dana = "dana.whitfield@fabrikam.com"
    specs = [
        Spec("jira", "PAY-41", "story", "Refund audit", "In Progress", 3, assignee=dana),
        Spec("jira", "PAY-42", "story", "Refund report", "In Progress", 2, assignee=dana),
        Spec("jira", "PAY-43", "story", "Refund export", "In Progress", 5, assignee=dana),
    ]
    svc.deliver(*specs, created=True)
    svc.drain()

    # the group is counted whole (3 > 2): the waived item's finding is `waived`
    (waived,) = [f for f in svc.store.open_findings("jira:PAY-41") if f.rule == "wip-limit"]
    assert waived.status == "waived"
    text = svc.comment("jira:PAY-41")
    assert "waived until 2024-06-20 (approved by Sam Ortiz: Release manager during the" in text
    for key in ("jira:PAY-42", "jira:PAY-43"):
        (failed,) = [f for f in svc.store.open_findings(key) if f.rule == "wip-limit"]
        assert failed.status == "fail"
        assert "waived until" not in svc.comment(key)
        assert "Dana Whitfield has 3 items (at most 2 allowed)" in svc.comment(key)

    data = build_portfolio(svc.runtime)
    section = data["waivers"]
    assert section["waived_findings"] == 1
    assert [(w["key"], w["rule"], w["expires"], w["approver"]) for w in section["waived"]] == [
        ("jira:PAY-41", "wip-limit", "2024-06-20", "Sam Ortiz")
    ]
    assert [(w["rule"], w["expires"], w["items"]) for w in section["expiring"]] == [
        ("wip-limit", "2024-06-20", "jira:PAY-41")
    ]
    # a waived finding is not an open one: PAY-41 is not out of line
    assert "jira:PAY-41" not in {w["key"] for w in data["worst_items"]}
    page = render_dashboard(data)
    assert 'data-key="jira:PAY-41" data-rule="wip-limit" data-expires="2024-06-20"' in page
    assert "approved by Sam Ortiz: Release manager during the cut-over" in page
    assert '<li data-rule="wip-limit" data-expires="2024-06-20">' in page
