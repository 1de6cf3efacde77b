"""Escalation chains over simulated days: each step fires once per failing episode, the
chain stops when the rule passes and starts again on the next failure; waived findings
never escalate; quiet hours and weekends hold steps until they end."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from pathlib import Path

import pytest

from config.notify import Channel, Contact, Notify, QuietHours
from config.retention import Retention
from connector.model import ItemType, Person, StatusCategory, WorkItem
from rules.escalate import compile_steps
from rules.ruleset import load_ruleset
from sandbox.adf import adf_problems
from webhooks.governance.comments import compliance_document
from webhooks.governance.escalation import (
    TRACKER_COMMENT,
    Chain,
    Escalator,
    chains_of,
    unknown_channels,
)
from webhooks.governance.escalation_people import Target, UserDirectory, resolve_target
from webhooks.store import Store

MON = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)  # a Monday
DAY = dt.timedelta(days=1)
RULE = "blocked-too-long"
STEPS = compile_steps(
    [
        {"after": "2d", "to": "assignee", "via": ["mention"]},
        {"after": "5d", "to": "role:programme_lead", "via": ["comment", "pmo-mail"]},
        {"after": "10d", "to": "person:Dana Cole", "via": ["pmo-mail"]},
    ]
)
CHAINS = {RULE: Chain(RULE, "Blocked items are unblocked within 5 days", "critical", STEPS)}
NOTIFY = Notify(
    channels={"pmo-mail": Channel(name="pmo-mail", kind="smtp")},
    owners={"PAY": {"programme_lead": "Priya Shah"}, "*": {"pmo": "Dana Cole"}},
    people={
        "Priya Shah": Contact("Priya Shah", "priya@example.com"),
        "Dana Cole": Contact("Dana Cole", "dana@example.com", {"jira": "557058:dana"}),
    },
)


def make_item(key: str = "jira:PAY-7") -> WorkItem:
    return WorkItem(
        key=key, tracker="jira", native_id=key.split(":")[1], project="PAY",
        type=ItemType.STORY, title="Payment retries", status="Blocked",
        status_category=StatusCategory.IN_PROGRESS,
        assignee=Person("Sam Lee", "557058:sam"), url="https://example.atlassian.net/browse/PAY-7",
    )  # fmt: skip


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    s = Store(url)
    s.migrate()
    s.upsert_item(make_item())
    yield s
    s.close()


def fail(store: Store, now: dt.datetime, status: str = "fail") -> None:
    finding = {"rule": RULE, "severity": "critical", "message": "Blocked 6 days", "status": status}
    store.save_findings("jira:PAY-7", [finding], now)


def escalator(
    store: Store, notify: Notify = NOTIFY, searches: list[str] | None = None
) -> Escalator:
    def search_for(tracker: str):
        def search(name: str) -> Person | None:
            (searches if searches is not None else []).append(name)
            return Person(name, f"acct-{name.split('@')[0]}")

        return search

    return Escalator(store, notify, UserDirectory(search_for))


def run_days(esc: Escalator, start: dt.datetime, days: int) -> list[tuple[int, int]]:
    """Run the escalation every hour for `days` days: (day, step) of each step fired."""
    fired = []
    for hour in range(days * 24):
        now = start + dt.timedelta(hours=hour)
        fired += [((now - start).days, f.step) for f in esc.run(CHAINS, now)]
    return fired


def test_chain_fires_each_step_once_on_its_day(store: Store) -> None:
    fail(store, MON)
    esc = escalator(store)
    assert run_days(esc, MON, 14) == [(2, 0), (5, 1), (10, 2)]
    reached = [(e.step, e.person, e.role) for e in store.escalations(item_key="jira:PAY-7")]
    assert reached == [
        (0, "Sam Lee", "assignee"),
        (1, "Priya Shah", "programme lead"),
        (2, "Dana Cole", None),
    ]
    # the messages queued: one tracker comment and two e-mails, never two for a step
    queued = [(n.channel, n.recipient) for n in store.notifications()]
    assert queued == [
        (TRACKER_COMMENT, "jira:PAY-7"),
        ("pmo-mail", "priya@example.com"),
        ("pmo-mail", "dana@example.com"),
    ]
    assert json.loads(store.notifications()[0].body)["name"] == "Priya Shah"


def test_chain_stops_when_fixed_and_restarts_on_the_next_failure(store: Store) -> None:
    fail(store, MON)
    esc = escalator(store)
    assert run_days(esc, MON, 3) == [(2, 0)]
    store.save_findings("jira:PAY-7", [], MON + 3 * DAY)  # the rule passes
    assert run_days(esc, MON + 3 * DAY, 7) == []
    again = MON + 10 * DAY
    fail(store, again)  # a new failing episode: its clock starts now
    assert run_days(esc, again, 6) == [(2, 0), (5, 1)]
    assert [e.step for e in store.escalations()] == [0, 0, 1]


def test_a_second_worker_running_the_same_moment_fires_nothing(store: Store) -> None:
    fail(store, MON)
    now = MON + 3 * DAY
    assert [f.step for f in escalator(store).run(CHAINS, now)] == [0]
    assert escalator(store).run(CHAINS, now) == []
    assert len(store.escalations()) == 1


def test_waived_findings_do_not_escalate(store: Store) -> None:
    fail(store, MON, status="waived")
    assert run_days(escalator(store), MON, 12) == []
    assert store.notifications() == []


def test_rule_errors_do_not_escalate(store: Store) -> None:
    fail(store, MON, status="error")
    assert run_days(escalator(store), MON, 12) == []


def test_quiet_hours_and_weekends_hold_steps_until_they_end(store: Store) -> None:
    friday_evening = dt.datetime(2026, 12, 4, 19, 0, tzinfo=dt.UTC)
    fail(store, friday_evening - 2 * DAY)  # step 0 comes due on Friday 19:00
    quiet = QuietHours(start=dt.time(18, 0), end=dt.time(8, 0), weekends=True)
    esc = escalator(store, Notify(**{**NOTIFY.__dict__, "quiet_hours": quiet}))
    fired = []
    for hour in range(72):
        now = friday_evening + dt.timedelta(hours=hour)
        fired += [(now, f.step) for f in esc.run(CHAINS, now)]
    # held through the night and the weekend: Monday 08:00
    assert fired == [(dt.datetime(2026, 12, 7, 8, 0, tzinfo=dt.UTC), 0)]


def test_quiet_hours_across_midnight_and_offset() -> None:
    quiet = QuietHours(start=dt.time(20, 0), end=dt.time(7, 0), utc_offset_minutes=60)
    assert quiet.quiet(dt.datetime(2026, 12, 1, 19, 30, tzinfo=dt.UTC))  # 20:30 local
    assert quiet.quiet(dt.datetime(2026, 12, 1, 5, 30, tzinfo=dt.UTC))  # 06:30 local
    assert not quiet.quiet(dt.datetime(2026, 12, 1, 6, 0, tzinfo=dt.UTC))  # 07:00 local


def test_targets_from_assignee_roles_and_named_people() -> None:
    item = make_item()
    assert resolve_target("assignee", item, NOTIFY) == Target(
        "Sam Lee", "assignee", None, {}, "557058:sam"
    )
    assert (
        resolve_target("role:programme_lead", item, NOTIFY).label == "Priya Shah (programme lead)"
    )
    assert resolve_target("role:pmo", item, NOTIFY).name == "Dana Cole"  # the "*" owners
    assert resolve_target("role:sponsor", item, NOTIFY) is None
    assert resolve_target("reporter", item, NOTIFY) is None
    assert resolve_target("person:Dana Cole", item, NOTIFY).email == "dana@example.com"


def test_an_unfilled_role_is_recorded_and_reaches_nobody(store: Store) -> None:
    fail(store, MON)
    steps = compile_steps([{"after": "1d", "to": "role:sponsor", "via": ["pmo-mail"]}])
    esc = escalator(store)
    fired = esc.run({RULE: Chain(RULE, "t", "high", steps)}, MON + 2 * DAY)
    assert [f.person for f in fired] == ["nobody (role:sponsor not set)"]
    assert store.notifications() == []


def test_people_are_looked_up_once_through_the_tracker_search(store: Store) -> None:
    searches: list[str] = []
    esc = escalator(store, searches=searches)
    for key in ("jira:PAY-7", "jira:PAY-8", "jira:PAY-9"):
        store.upsert_item(make_item(key))
        store.save_findings(key, [{"rule": RULE, "message": "m", "status": "fail"}], MON)
    esc.run(CHAINS, MON + 6 * DAY)
    # Priya has no configured Jira account: one search for three items
    assert searches == ["priya@example.com"]
    accounts = {e.account for e in store.escalations() if e.person == "Priya Shah"}
    assert accounts == {"acct-priya"}


def test_the_managed_comment_names_who_was_reached_and_when(store: Store) -> None:
    fail(store, MON)
    escalator(store).run(CHAINS, MON + 3 * DAY)
    findings = store.open_findings("jira:PAY-7")
    doc = compliance_document(
        make_item(), findings, escalations=store.open_escalations("jira:PAY-7")
    )
    assert "Escalated to @Sam Lee (assignee) on 3 Dec: blocked-too-long" in doc.to_text()
    assert _has_mention(doc.to_adf(), "557058:sam")
    assert adf_problems(doc.to_adf()) == []
    store.save_findings("jira:PAY-7", [], MON + 4 * DAY)  # fixed: the note goes
    assert store.open_escalations("jira:PAY-7") == []


def _has_mention(node: object, account: str) -> bool:
    if isinstance(node, dict):
        if node.get("type") == "mention" and node.get("attrs", {}).get("id") == account:
            return True
        return any(_has_mention(v, account) for v in node.values())
    if isinstance(node, list):
        return any(_has_mention(v, account) for v in node)
    return False


def test_chains_come_from_rules_and_pack_defaults(tmp_path: Path) -> None:
    pack = tmp_path / "p.yaml"
    pack.write_text(
        "version: 1\n"
        "escalate: [{after: 3d, to: assignee, via: [mention]}]\n"
        "rules:\n"
        "  - id: a\n    require: [{field: assignee, present: true}]\n"
        "  - id: b\n    require: [{field: assignee, present: true}]\n"
        "    escalate: [{after: 1d, to: 'role:pmo', via: [teams]}]\n"
    )
    chains = chains_of(load_ruleset([pack]))
    assert [(s.after, s.to) for s in chains["a"].steps] == [(3 * DAY, "assignee")]
    assert [s.via for s in chains["b"].steps] == [("teams",)]
    assert unknown_channels(chains.values(), NOTIFY) == [
        "b: escalate[0].via: unknown channel 'teams'"
    ]


def test_retention_forgets_old_escalations_and_finished_notifications(store: Store) -> None:
    fail(store, MON)
    run_days(escalator(store), MON, 14)
    [first, *_] = store.notifications()
    store.notification_outcome([first.id], status="sent", now=MON + 6 * DAY)
    store.record_report("mon 08:00 -> pmo-mail", MON, "pmo-mail", {})
    later = MON + 500 * DAY
    counts = store.apply_retention(Retention(escalations_days=400, notifications_days=90), later)
    assert (counts["escalations"], counts["notifications"]) == (3, 1)
    assert store.escalations() == [] and store.last_report("mon 08:00 -> pmo-mail") is None
    assert [n.status for n in store.notifications()] == ["pending", "pending"]  # kept: unsent


def test_a_comment_cut_to_the_limit_keeps_who_was_reached(store: Store) -> None:
    fail(store, MON)
    escalator(store).run(CHAINS, MON + 3 * DAY)
    many = [
        type("F", (), {"rule": RULE if n == 0 else f"rule-{n}", "severity": "high",
                       "enforcement": "advise", "status": "fail", "message": "x" * 900})()
        for n in range(60)
    ]  # fmt: skip
    doc = compliance_document(
        make_item(), many, escalations=store.open_escalations("jira:PAY-7"), limit=8_000
    )
    assert "more findings are not listed here" in doc.to_text()
    assert "Escalated to @Sam Lee (assignee)" in doc.to_text()


def test_azure_devops_mentions_take_an_identity_id_never_the_unique_name(store: Store) -> None:
    item = replace(
        make_item(), key="azure-devops:4711", tracker="azure-devops", native_id="4711",
        assignee=Person("Priya Shah", "priya@fabrikam.com"),
    )  # fmt: skip
    store.upsert_item(item)
    store.save_findings(item.key, [{"rule": RULE, "message": "m", "status": "fail"}], MON)
    searches: list[str] = []
    esc = escalator(store, searches=searches)
    esc.identity_trackers = frozenset({"azure-devops"})
    esc.run(CHAINS, MON + 3 * DAY)
    [fired] = store.escalations(item_key=item.key)
    # the unique name on the item is not an identity id: the identity search is asked
    # for it (it is what the organisation knows her by)
    assert searches == ["priya@fabrikam.com"] and fired.account == "acct-priya"
