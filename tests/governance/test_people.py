"""People: the identity map, capacity with time off, allocation spread over windows,
over/under-allocation findings and the incremental ledger (all pure)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from pathlib import Path

import pytest

from config.people import Capacity, Directory, Member
from config.people_file import PeopleError, load_directory
from connector.model import ItemType, Person, StatusCategory, WorkItem
from rules import Context
from rules.allocation import Ledger, monday, spread, week_capacity
from rules.load import over_allocated, under_allocated
from rules.pack import parse_pack
from rules.portfolio import evaluate_across, group_key

TODAY = dt.date(2026, 12, 7)  # a Monday
WEEKS = [TODAY + dt.timedelta(weeks=n) for n in range(4)]
PEOPLE_YAML = """\
units: {jira: hours, azure-devops: points}
teams:
  payments: {capacity: {hours: 40, points: 10}}
people:
  - id: ana
    name: Ana Ruiz
    team: payments
    accounts: [712020:3c1e6f0a-2b4d, ana@fabrikam.com]
    time_off: [{from: 2026-12-14, to: 2026-12-15}]
  - id: bo
    name: Bo Chen
    email: bo@example.com
    team: payments
    capacity: {hours: 20}
"""
ANA_JIRA = Person("Ana Ruiz", "712020:3c1e6f0a-2b4d")
ANA_AZURE = Person("Ana R. (Fabrikam)", "ana@fabrikam.com")  # another display name


def directory(tmp_path) -> Directory:
    path = tmp_path / "people.yaml"
    path.write_text(PEOPLE_YAML)
    return load_directory(path)


def item(key, person, *, hours=None, points=None, start=None, due=None, done=False):
    tracker, native = key.split(":", 1)
    return WorkItem(
        key=key, tracker=tracker, native_id=native, project="P", type=ItemType.STORY,
        title=key, status="Done" if done else "Active",
        status_category=StatusCategory.DONE if done else StatusCategory.IN_PROGRESS,
        assignee=person, remaining_hours=hours, estimate=points, start_date=start, due_date=due,
    )  # fmt: skip


def test_one_person_across_jira_and_azure_devops_counts_together(tmp_path):
    people = directory(tmp_path)
    jira = item("jira:PAY-1", ANA_JIRA, hours=20, due=TODAY + dt.timedelta(days=4))
    azure = item("azure-devops:7", ANA_AZURE, points=5, due=TODAY + dt.timedelta(days=4))
    ledger = Ledger.build([jira, azure], people, TODAY)
    assert set(ledger.load) == {"ana"}
    assert ledger.load["ana"][TODAY] == {"hours": 20.0, "points": 5.0}
    # 20 of 40 hours plus 5 of 10 points: a full week
    assert ledger.fraction("ana", TODAY) == pytest.approx(1.0)


def test_unmapped_accounts_fall_back_to_display_names(tmp_path):
    people = directory(tmp_path)
    one = people.resolve("557058:aaaa", "Cy  Diaz")
    other = people.resolve("cy@fabrikam.com", "cy diaz")
    assert one is not None and other is not None
    assert one.id == other.id == "name:cy diaz" and not one.mapped
    assert people.resolve("BO@example.com", "Robert").id == "bo"  # e-mail, any case
    assert len(people.resolve(None, "x" * 5000).id) <= 255  # fits the store's person column


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("people:\n  - {id: a, name: A, nickname: x}\n", ":2: unknown key 'nickname'"),
        ("people:\n  - {id: a, name: A, accounts: [x]}\n  - {id: b, name: B, accounts: [X]}\n",
         ":3: account 'X' is already mapped to entry 1"),
        ("people:\n  - id: a\n    name: A\n    time_off: [{from: 2026-12-10, to: 2026-12-01}]\n",
         ":4: to is before from"),
        ("people:\n  - {id: a, name: A, team: ghosts}\n", ":2: team 'ghosts' is not under teams:"),
        ("units: {jira: days}\n", ":1: unit must be one of hours, points"),
        ("people:\n  - {id: a, name: A, capacity: {hours: -3}}\n", ":2: hours per week"),
        ("people: &x\n  - *x\n", ":2: not valid YAML"),
    ],
)  # fmt: skip
def test_people_file_mistakes_name_the_line(tmp_path, text, where):
    path = tmp_path / "people.yaml"
    path.write_text(text)
    with pytest.raises(PeopleError) as error:
        load_directory(path)
    assert str(error.value).startswith(f"{path}{where}")


def test_capacity_shrinks_with_time_off(tmp_path):
    ana = directory(tmp_path).members["ana"]
    assert ana.capacity == Capacity(hours=40, points=10)  # the team's
    assert week_capacity(ana, TODAY, "hours") == 40
    assert week_capacity(ana, TODAY + dt.timedelta(weeks=1), "hours") == 24  # two days off
    bo = directory(tmp_path).members["bo"]  # his own hours, the team's points
    assert (week_capacity(bo, TODAY, "hours"), week_capacity(bo, TODAY, "points")) == (20, 10)
    assert week_capacity(Member("x", "X"), TODAY, "hours") is None


def test_work_spreads_over_the_working_days_of_its_window():
    work = item("jira:PAY-2", ANA_JIRA, hours=30, start=TODAY + dt.timedelta(days=3),
                due=TODAY + dt.timedelta(days=14))  # fmt: skip
    # Thu, Fri | Mon-Fri | Mon: eight working days
    weeks = spread(work, 30, TODAY)
    assert weeks == {
        TODAY: pytest.approx(7.5),
        TODAY + dt.timedelta(weeks=1): pytest.approx(18.75),
        TODAY + dt.timedelta(weeks=2): pytest.approx(3.75),
    }
    overdue = item("jira:PAY-3", ANA_JIRA, hours=8, due=TODAY - dt.timedelta(days=20))
    assert spread(overdue, 8, TODAY + dt.timedelta(days=2)) == {TODAY: 8}
    assert spread(item("jira:PAY-4", ANA_JIRA), 3, TODAY + dt.timedelta(days=5)) == {TODAY: 3}


def test_done_items_and_other_units_carry_no_load(tmp_path):
    people = directory(tmp_path)
    done = item("jira:PAY-5", ANA_JIRA, hours=50, done=True)
    points_on_hours_tracker = item("jira:PAY-6", ANA_JIRA, points=8)  # jira counts hours
    assert Ledger.build([done, points_on_hours_tracker], people, TODAY).load == {}


LOAD_RULES = """
version: 1
name: people
rules:
  - id: over-allocated
    title: Nobody over-allocated
    across: person
    require:
      - {load: {max: 110%}}
  - id: room
    across: person
    require:
      - {load: {min: 50%, for: 2w}}
"""


def load_rules():
    pack, _positions, errors = parse_pack(LOAD_RULES, "people.yaml")
    assert not errors, errors
    return {rule.id: rule for rule in pack.rules}


def test_over_allocation_lands_on_the_items_driving_it(tmp_path):
    people = directory(tmp_path)
    friday = TODAY + dt.timedelta(days=4)
    items = [
        item("jira:PAY-1", ANA_JIRA, hours=30, due=friday),
        item("azure-devops:7", ANA_AZURE, points=4, due=friday),
        item("azure-devops:8", ANA_AZURE, points=1, start=TODAY + dt.timedelta(weeks=3)),
        item("jira:PAY-9", Person("Bo Chen", "bo@example.com"), hours=10, due=friday),
    ]
    ledger = Ledger.build(items, people, TODAY)
    found = over_allocated(load_rules()["over-allocated"], ledger, ["ana", "bo"], WEEKS)
    assert set(found) == {"jira:PAY-1", "azure-devops:7"}  # not the later item, not Bo's
    message = found["jira:PAY-1"].message
    assert "Ana Ruiz" in message and "2026-12-07 (115%)" in message
    assert found["jira:PAY-1"].rule == "over-allocated"


def test_under_allocation_needs_the_weeks_in_a_row(tmp_path):
    people = directory(tmp_path)
    bo = Person("Bo Chen", "bo@example.com")
    busy_week_two = item("jira:PAY-9", bo, hours=15, start=WEEKS[1], due=WEEKS[1])
    rule = load_rules()["room"]
    ledger = Ledger.build([busy_week_two], people, TODAY)
    assert under_allocated(rule, ledger, ["bo"], WEEKS[:3]) == []  # 0%, 75%, 0%
    report = under_allocated(rule, ledger, ["bo"], WEEKS)  # ... then 0%, 0%
    assert [r["weeks"] for r in report] == [["2026-12-21", "2026-12-28"]]
    assert report[0]["name"] == "Bo Chen"


def test_one_event_changes_only_its_persons_weeks_and_matches_a_full_rebuild(tmp_path):
    people = Directory.of(
        [Member(f"p{n}", f"P {n}", accounts=(f"acc{n}",), capacity=Capacity(hours=40))
         for n in range(30)],
        {"jira": "hours"},
    )  # fmt: skip
    rng = random.Random(7)

    def random_item(n: int) -> WorkItem:
        start = TODAY + dt.timedelta(days=rng.randrange(0, 60))
        return item(f"jira:X-{n}", Person(f"P {n % 30}", f"acc{rng.randrange(30)}"),
                    hours=rng.randrange(1, 40), start=start,
                    due=start + dt.timedelta(days=rng.randrange(0, 30)))  # fmt: skip

    items = {n: random_item(n) for n in range(300)}
    ledger = Ledger.build(items.values(), people, TODAY)
    before = {p: dict(weeks) for p, weeks in ledger.load.items()}
    moved = items[5].with_changes(assignee=Person("P 3", "acc3"), remaining_hours=2.0)
    old_person = ledger.by_item["jira:X-5"][0].person
    touched = ledger.apply(moved)
    assert touched == {old_person, "p3"}
    for person, weeks in ledger.load.items():
        if person not in touched:
            assert weeks == before[person]
    items[5] = moved
    rebuilt = Ledger.build(items.values(), people, TODAY)
    for person in rebuilt.load:
        for week, units in rebuilt.load[person].items():
            assert ledger.load[person][week]["hours"] == pytest.approx(units["hours"])
    assert monday(TODAY + dt.timedelta(days=6)) == TODAY


WIP = """
version: 1
name: wip
rules:
  - id: wip
    across: assignee
    require:
      - {count: {max: 1}}
"""


def test_portfolio_rules_group_by_the_mapped_person(tmp_path):
    people = directory(tmp_path)
    pack, _positions, errors = parse_pack(WIP, "wip.yaml")
    assert not errors
    jira, azure = item("jira:PAY-1", ANA_JIRA), item("azure-devops:7", ANA_AZURE)
    assert group_key("assignee", jira, people) == group_key("assignee", azure, people) == "@ana"
    # without the people file the two display names are two people
    assert group_key("assignee", jira) != group_key("assignee", azure)
    context = Context(now=dt.datetime(2026, 12, 7, tzinfo=dt.UTC))
    (finding,) = evaluate_across(pack, jira, {"wip": [azure]}, context, people)
    assert "Ana Ruiz has 2 items" in finding.message


def test_items_without_dates_take_their_trackers_current_sprint(tmp_path):
    sprint = (TODAY - dt.timedelta(days=3), TODAY + dt.timedelta(days=8))  # Fri .. Tue
    people = Directory.of(list(directory(tmp_path).members.values()), {"jira": "hours"},
                          sprints={"azure-devops": sprint})  # fmt: skip
    undated = item("azure-devops:9", ANA_AZURE, points=7)
    ledger = Ledger.build([undated], people, TODAY)
    # from today (Mon) to the sprint's last day (next Tue): 5 + 2 working days
    assert ledger.load["ana"][TODAY]["points"] == pytest.approx(5.0)
    assert ledger.load["ana"][TODAY + dt.timedelta(weeks=1)]["points"] == pytest.approx(2.0)
    on_jira = item("jira:PAY-9", ANA_JIRA, hours=4)  # no sprint read for Jira: this week
    assert Ledger.build([on_jira], people, TODAY).load["ana"] == {TODAY: {"hours": 4.0}}


def test_unmapped_people_are_named_by_display_name_in_portfolio_findings():
    pack, _positions, errors = parse_pack(WIP, "wip.yaml")
    assert not errors
    one, two = item("jira:PAY-1", ANA_JIRA), item("jira:PAY-2", ANA_JIRA)
    context = Context(now=dt.datetime(2026, 12, 7, tzinfo=dt.UTC))
    (finding,) = evaluate_across(pack, one, {"wip": [two]}, context, Directory())
    assert "Ana Ruiz has 2 items" in finding.message


def test_the_example_people_file_loads():
    example = Path(__file__).resolve().parents[2] / "config" / "people.example.yaml"
    people = load_directory(example)
    dana = people.members["dana"]
    assert dana.capacity == Capacity(hours=24, points=10) and dana.team == "payments"
    assert people.resolve("DANA@fabrikam.com").id == "dana"
    assert people.unit("jira") == "hours" and people.sources[0][2] == "Fabrikam Team"


def test_everything_that_groups_by_person_names_the_same_mapped_person(tmp_path):
    """Portfolio groups (assignee, reporter), the allocation ledger and the people an
    event touches all resolve accounts through `config.people.resolve_person`: a Jira
    and an Azure DevOps item of one mapped person land on that person everywhere."""
    from types import SimpleNamespace

    from config.people import resolve_person
    from rules.allocation import shares
    from rules.portfolio import person_key
    from webhooks.governance.people import people_of

    people = directory(tmp_path)
    jira = item("jira:PAY-1", ANA_JIRA, hours=4, due=TODAY + dt.timedelta(days=2))
    azure = item("azure-devops:7", ANA_AZURE, points=2, due=TODAY + dt.timedelta(days=2))
    jira = dataclasses.replace(jira, reporter=ANA_JIRA)
    for it in (jira, azure):
        assert resolve_person(people, it.tracker, it.assignee).id == "ana"
        assert group_key("assignee", it, people) == "@ana"
        assert group_key("reporter", it, people) in ("@ana", None)
        assert person_key(it.assignee, people, it.tracker) == "@ana"
        assert {s.person for s in shares(it, people, TODAY)} == {"ana"}
    assert group_key("reporter", jira, people) == "@ana"
    assert people_of(SimpleNamespace(people=people), [jira, azure]) == {"ana"}
    # an account nobody maps stays apart, by display name, in every grouping
    stranger = item("azure-devops:8", Person("Zoe Park", "zoe@fabrikam.com"), points=1)
    assert group_key("assignee", stranger, people) == "zoe park"
    assert people_of(SimpleNamespace(people=people), [stranger]) == {"name:zoe park"}
