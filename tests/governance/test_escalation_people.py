"""Whom escalations reach, across trackers: people resolve through the people directory
(one person, one target, whatever tracker or role names them), and mentions take their
account on the item's tracker; Azure DevOps identity ids are found through the
Identities API once and kept in the store until retention forgets them."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from pathlib import Path

import pytest
import responses

from config.notify import Channel, Contact, Notify
from config.people import Directory, Member
from config.retention import Retention
from config.settings import TrackerConfig
from connector.model import ItemType, Person, StatusCategory, WorkItem
from connector.trackers import make_client
from rules.escalate import compile_steps
from tests.support.helpers import SPECS
from tests.support.spec_check import assert_documented
from webhooks.governance.comments import compliance_document
from webhooks.governance.escalation import Chain, Escalator
from webhooks.governance.escalation_people import Target, UserDirectory, resolve_target
from webhooks.store import Store

MON = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
RULE = "blocked-too-long"
ADO = "https://dev.azure.com/fabrikam"
VSSPS = "https://vssps.dev.azure.com/fabrikam"
EXAMPLE = json.loads(
    (SPECS / "azure-devops" / "examples" / "identities_GET__SearchIdentityByEmail.json").read_text()
)
JIA_ID = "81fa6389-0872-6fdd-a451-7ba7880f566a"

# Jia has a Jira Cloud account and an Azure DevOps unique name; the people file knows
# both are her, under her PMO name and work e-mail.
JIA = Member(
    id="jia", name="Jia-hao Tseng", email="jia@example.com",
    accounts=("557058:jia", "jtseng@vscsi.us"),
)  # fmt: skip
PEOPLE = Directory.of([JIA])
NOTIFY = Notify(
    channels={"pmo-slack": Channel(name="pmo-slack", kind="slack", url_env="X", digest="hour"),
              "pmo-mail": Channel(name="pmo-mail", kind="smtp")},
    owners={"PAY": {"programme_lead": "jia"}},
    people={"Dana Cole": Contact("Dana Cole", "dana@example.com")},
)  # fmt: skip


def jira_item(key: str = "jira:PAY-7") -> WorkItem:
    return WorkItem(
        key=key, tracker="jira", native_id=key.split(":")[1], project="PAY",
        type=ItemType.STORY, title="Payment retries", status="Blocked",
        status_category=StatusCategory.IN_PROGRESS,
        assignee=Person("Jia Tseng", "557058:jia"),
    )  # fmt: skip


def ado_item() -> WorkItem:
    return replace(
        jira_item(), key="azure-devops:4711", tracker="azure-devops", native_id="4711",
        assignee=Person("Jia-hao Tseng", "jtseng@vscsi.us"),
    )  # fmt: skip


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    url = (
        f"sqlite:///{tmp_path / 'store.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    s = Store(url)
    s.migrate()
    yield s
    s.close()


def failing(store: Store, *items: WorkItem) -> None:
    for item in items:
        store.upsert_item(item)
        store.save_findings(item.key, [{"rule": RULE, "message": "m", "status": "fail"}], MON)


def chains(*steps: dict) -> dict[str, Chain]:
    return {RULE: Chain(RULE, "Blocked too long", "critical", compile_steps(list(steps)))}


def ado_client():
    tracker = TrackerConfig(
        name="azure-devops", kind="azure-devops", url=ADO, token_env="AZURE_DEVOPS_PAT"
    )
    return make_client(tracker, environ={"AZURE_DEVOPS_PAT": "pat"})


def escalator(store: Store, client=None, people: Directory | None = PEOPLE) -> Escalator:
    def search_for(tracker: str):
        return client.find_user if client is not None and tracker == "azure-devops" else None

    directory = UserDirectory(search_for, store, clock=lambda: MON)
    return Escalator(
        store, NOTIFY, directory, identity_trackers=frozenset({"azure-devops"}), people=people
    )


# -- one person across trackers ----------------------------------------------------------


def test_a_person_seen_on_two_trackers_and_named_by_a_role_is_one_target() -> None:
    on_jira = resolve_target("assignee", jira_item(), NOTIFY, PEOPLE)
    on_azure = resolve_target("assignee", ado_item(), NOTIFY, PEOPLE)
    by_role = resolve_target("role:programme_lead", jira_item(), NOTIFY, PEOPLE)
    assert {t.name for t in (on_jira, on_azure, by_role)} == {"Jia-hao Tseng"}
    assert {t.email for t in (on_jira, on_azure, by_role)} == {"jia@example.com"}
    assert {t.person_id for t in (on_jira, on_azure, by_role)} == {"jia"}
    # each mention takes the account the item's own tracker knows her by
    assert (on_jira.item_account, on_azure.item_account) == ("557058:jia", "jtseng@vscsi.us")
    # without a people file, display names stay apart (two names, no e-mail)
    assert resolve_target("assignee", jira_item(), NOTIFY).name == "Jia Tseng"
    # an unmapped person keeps the config's contact
    dana = resolve_target("person:Dana Cole", jira_item(), NOTIFY, PEOPLE)
    assert dana == Target("Dana Cole", None, "dana@example.com", {}, None, None)


def test_escalations_on_both_trackers_reach_her_as_one_person_with_each_trackers_mention(
    store: Store,
) -> None:
    failing(store, jira_item(), ado_item())
    steps = chains({"after": "1d", "to": "assignee", "via": ["mention", "pmo-slack", "pmo-mail"]})
    with responses.RequestsMock() as rsps:
        rsps.add("GET", f"{VSSPS}/_apis/identities", json=EXAMPLE["responses"]["200"]["body"])
        fired = escalator(store, ado_client()).run(steps, MON + 2 * DAY)
        [call] = rsps.calls
        assert_documented(call.request, "azure-devops-identities", VSSPS)
    assert {(f.item_key, f.person, f.account) for f in fired} == {
        ("jira:PAY-7", "Jia-hao Tseng", "557058:jia"),  # the Jira accountId on the item
        ("azure-devops:4711", "Jia-hao Tseng", JIA_ID),  # the identity id, never the name
    }
    # one recipient on each channel: her digest batches both items into one message
    notes = store.notifications()
    assert {(n.channel, n.recipient) for n in notes} == {
        ("pmo-slack", "Jia-hao Tseng"), ("pmo-mail", "jia@example.com"),
    }  # fmt: skip
    assert store.claim_notifications(MON + 2 * DAY + dt.timedelta(hours=1), {"pmo-slack": "hour"}) \
        == [(1, 3), (2,), (4,)]  # fmt: skip
    azure = store.open_escalations("azure-devops:4711")
    html = compliance_document(ado_item(), store.open_findings(ado_item().key),
                               escalations=azure).to_html()  # fmt: skip
    assert f'data-vss-mention="version:2.0,{JIA_ID}">@Jia-hao Tseng</a>' in html


# -- Azure DevOps identities, looked up once, kept in the store -------------------------


def test_an_identity_is_searched_once_for_every_process_then_forgotten_by_retention(
    store: Store,
) -> None:
    failing(store, ado_item())
    steps = chains({"after": "1d", "to": "assignee", "via": ["mention"]})
    with responses.RequestsMock() as rsps:
        rsps.add("GET", f"{VSSPS}/_apis/identities", json=EXAMPLE["responses"]["200"]["body"])
        escalator(store, ado_client()).run(steps, MON + 2 * DAY)
        assert len(rsps.calls) == 1
    [(query, known)] = store.identities("azure-devops")
    assert (query, known.identity, known.display_name) == (
        "jtseng@vscsi.us", JIA_ID, "Jia-hao Tseng",
    )  # fmt: skip
    # another process (a fresh directory, no memory) finds it in the store: no call
    target = resolve_target("assignee", ado_item(), NOTIFY, PEOPLE)
    with responses.RequestsMock() as rsps:
        directory = UserDirectory(lambda t: ado_client().find_user, store, clock=lambda: MON)
        assert directory.account("azure-devops", target, item_account_mentions=False) == JIA_ID
        assert len(rsps.calls) == 0
    counts = store.apply_retention(Retention(identities_days=30), MON + 31 * DAY)
    assert counts["identities"] == 1
    assert store.identities("azure-devops") == []


def test_a_miss_is_kept_a_day_and_a_failed_search_is_not_kept(store: Store) -> None:
    target = resolve_target("assignee", ado_item(), NOTIFY, PEOPLE)
    now = [MON]
    with responses.RequestsMock() as rsps:
        rsps.add("GET", f"{VSSPS}/_apis/identities", json={"count": 0, "value": []})
        directory = UserDirectory(lambda t: ado_client().find_user, store, clock=lambda: now[0])
        assert directory.account("azure-devops", target, item_account_mentions=False) is None
        again = UserDirectory(lambda t: ado_client().find_user, store, clock=lambda: now[0])
        assert again.account("azure-devops", target, item_account_mentions=False) is None
        assert len(rsps.calls) == 1  # the miss is believed for a day
        now[0] = MON + 2 * DAY
        later = UserDirectory(lambda t: ado_client().find_user, store, clock=lambda: now[0])
        later.account("azure-devops", target, item_account_mentions=False)
        assert len(rsps.calls) == 2
    store.forget_identities(MON + 10 * DAY)
    with responses.RequestsMock() as rsps:
        rsps.add("GET", f"{VSSPS}/_apis/identities", status=503, json={})
        directory = UserDirectory(lambda t: ado_client().find_user, store, clock=lambda: MON)
        # the tracker is down: no mention this time, nothing remembered, no exception
        assert directory.account("azure-devops", target, item_account_mentions=False) is None
    assert store.identities("azure-devops") == []
