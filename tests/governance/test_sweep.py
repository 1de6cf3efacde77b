"""The periodic sweep: a rule that breaks on time alone (status_age past `max: 5d`) is
found by the sweep after the clock moves, written once, and not written again."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import responses

from connector.model import ItemType, Person, StatusCategory, WorkItem
from tests.support.helpers import PACKS
from tests.support.portfolio_gen import TRACKER_ENV, FakeTrackers, Spec, event_for, tracker_configs
from tests.support.queue_helpers import drain
from tests.support.service import make_settings
from webhooks.governance.sweep import sweep
from webhooks.http.app import create_app
from webhooks.worker.runtime import Runtime

PACK = PACKS / "sweep.yaml"
STARTED = dt.datetime(2024, 6, 3, 9, 0, tzinfo=dt.UTC)


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def env(tmp_path, monkeypatch):
    for name, value in TRACKER_ENV.items():
        monkeypatch.setenv(name, value)
    clock = Clock(STARTED + dt.timedelta(days=1))
    settings = make_settings(
        tmp_path, trackers=tracker_configs(), rules=(str(PACK),), rollup_delay_seconds=0.05
    )
    runtime = Runtime.from_settings(settings, clock=clock)
    app = create_app(settings=settings, runtime=runtime)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake = FakeTrackers()
        fake.install(rsps)
        yield app, runtime, clock, fake, rsps


def writes(rsps) -> list[tuple[str, str]]:
    return [
        (c.request.method, c.request.url.split("?")[0])
        for c in rsps.calls
        if c.request.method in ("PUT", "POST", "PATCH")
    ]


def test_sweep_flips_a_rule_on_time_alone_and_writes_once(env):
    app, runtime, clock, fake, rsps = env
    story = fake.know(
        Spec("jira", "PAY-7", "story", "Refund export", "In Progress", 3,
             assignee="dana@fabrikam.com", status_changed=STARTED)
    )  # fmt: skip
    body = json.dumps(event_for(story)).encode()
    answer = app.test_client().post(
        "/webhooks/jira", data=body, content_type="application/json",
        headers={"X-Atlassian-Webhook-Identifier": "sweep-1"},
    )  # fmt: skip
    assert answer.status_code == 202
    drain(runtime)
    assert runtime.store.open_findings("jira:PAY-7") == []
    assert writes(rsps) == []  # one day in progress: nothing to say

    # nothing happens in Jira; six days pass (seven since the status changed)
    clock.now += dt.timedelta(days=6)
    assert sweep(runtime, runtime.tasks) == {"checked": 1, "changed": 1, "parents": 0}
    drain(runtime)
    api = "https://acme.atlassian.net/rest/api/3/issue/PAY-7"
    assert writes(rsps) == [("PUT", api)]  # the label and the first comment in one edit
    label_call = next(c for c in rsps.calls if c.request.method == "PUT")
    edit = json.loads(label_call.request.body)
    assert set(edit) == {"update"} and edit["update"]["labels"] == [{"add": "pmo-stuck"}]
    assert [list(op) for op in edit["update"]["comment"]] == [["add"]]
    assert fake.labels["jira:PAY-7"] == {"pmo-stuck"}
    (comment,) = fake.comments["jira:PAY-7"].values()
    assert "stuck-in-progress" in comment and "more than five days" in comment
    assert [f.rule for f in runtime.store.open_findings("jira:PAY-7")] == ["stuck-in-progress"]

    # the next sweep finds the same: nothing queued, nothing written
    rsps.calls.reset()
    clock.now += dt.timedelta(hours=1)
    assert sweep(runtime, runtime.tasks) == {"checked": 1, "changed": 0, "parents": 0}
    drain(runtime)
    assert list(rsps.calls) == []


def test_sweep_skips_items_that_are_done(env):
    app, runtime, clock, fake, rsps = env
    done = fake.know(
        Spec("jira", "PAY-8", "story", "Refund import", "Done", 2, status_changed=STARTED)
    )
    body = json.dumps(event_for(done)).encode()
    app.test_client().post("/webhooks/jira", data=body, content_type="application/json")
    drain(runtime)
    clock.now += dt.timedelta(days=30)
    assert sweep(runtime, runtime.tasks) == {"checked": 0, "changed": 0, "parents": 0}
    drain(runtime)
    assert writes(rsps) == []


def test_sweep_moves_a_rollup_with_the_calendar(env):
    """An epic due 2024-06-06 with work left and nothing done lately has no forecast; once
    the due date passes, its slip is the days overdue (amber from 1 day)."""
    app, runtime, clock, fake, rsps = env
    epic = fake.know(Spec("jira", "PAY-20", "epic", "Card vault", "To Do", due=dt.date(2024, 6, 6)))
    story = fake.know(Spec("jira", "PAY-21", "story", "Vault API", "To Do", 3, "PAY-20"))
    client = app.test_client()
    for n, spec in enumerate((epic, story)):
        body = json.dumps(event_for(spec, created=True)).encode()
        client.post("/webhooks/jira", data=body, content_type="application/json",
                    headers={"X-Atlassian-Webhook-Identifier": f"cal-{n}"})  # fmt: skip
    drain(runtime)
    assert runtime.store.get_rollup("jira:PAY-20").rag == "green"
    assert fake.labels["jira:PAY-20"] == {"pmo-rag-green"}
    rsps.calls.reset()

    clock.now = dt.datetime(2024, 6, 10, 9, 0, tzinfo=dt.UTC)  # four days past due
    assert sweep(runtime, runtime.tasks) == {"checked": 2, "changed": 0, "parents": 1}
    drain(runtime)
    rollup = runtime.store.get_rollup("jira:PAY-20")
    assert (rollup.slip_days, rollup.rag, rollup.rag_reasons) == (
        4, "amber", ("4 days overdue, no recent throughput",),
    )  # fmt: skip
    assert fake.labels["jira:PAY-20"] == {"pmo-rag-amber"}
    assert sorted(m for m, _ in writes(rsps)) == ["PUT", "PUT"]  # labels, comment edit

    rsps.calls.reset()
    sweep(runtime, runtime.tasks)
    drain(runtime)
    assert writes(rsps) == []


def test_sweep_reads_each_portfolio_group_once_and_queues_only_changed_items(tmp_path):
    """Thirty items in progress for three people: the sweep reads each person's group once
    (not once per member), finds every one over the WIP limit, and queues a re-govern
    only for the items whose stored findings say otherwise."""
    across = PACKS / "portfolio-across.yaml"
    runtime = Runtime.from_settings(make_settings(tmp_path, rules=(str(across),)))
    people = [Person(name, f"acct-{name}") for name in ("ana", "ben", "cy")]
    for n in range(30):
        runtime.store.upsert_item(
            WorkItem(
                key=f"jira:PAY-{n}", tracker="jira", native_id=f"PAY-{n}", project="PAY",
                type=ItemType.STORY, title=f"Story {n}", status="In Progress",
                status_category=StatusCategory.IN_PROGRESS, assignee=people[n % 3], revision=1,
            )
        )  # fmt: skip
    for n in range(25):  # the first 25 already carry the finding the sweep will find
        runtime.store.save_findings(
            f"jira:PAY-{n}",
            [{"rule": "wip-limit", "severity": "medium", "enforcement": "advise",
              "message": "over the limit", "status": "fail"}],
            STARTED,
        )  # fmt: skip
    reads: list[tuple[str, str]] = []
    members = runtime.store.group_members

    def counting(field: str, key: str):
        reads.append((field, key))
        return members(field, key)

    runtime.store.group_members = counting
    queued: list[str] = []
    runtime.tasks.regovern = lambda key, delay=0.5: queued.append(key) or True

    result = sweep(runtime, runtime.tasks)

    assert result["checked"] == 30
    assert sorted(reads) == sorted(set(reads)) and len(reads) == 3  # one read per person
    assert sorted(queued) == sorted(f"jira:PAY-{n}" for n in range(25, 30))
