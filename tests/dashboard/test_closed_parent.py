"""A parent closed while its children are open: amber (or red, as its rollup spec says)
with the reason, and a finding of its own, from the rollup engine's counts, listed in its
managed comment, on its drill-down page and on the dashboard; resolved once the children
are done. The escalations fired on a parent and its children show on its page."""

from __future__ import annotations

import datetime as dt
import html

from config.notify import Channel, Contact, Notify
from connector.model import Person
from rules.escalate import compile_steps
from rules.rollup.findings import CLOSED_TITLE, CLOSED_WITH_OPEN_CHILDREN
from tests.support.helpers import PACKS
from tests.support.portfolio_service import NOW, Service, portfolio
from webhooks.dashboard.filter import walk
from webhooks.governance.escalation import Chain, Escalator
from webhooks.governance.escalation_people import UserDirectory


def closed_with_open_children(tmp_path, mocked, rag: str = "amber") -> Service:
    pack = (PACKS / "portfolio.yaml").read_text()
    if rag != "amber":
        pack = pack.replace(
            "    write_back: {comment: true, labels: true}",
            f"    write_back: {{comment: true, labels: true}}\n    closed_with_open_children: {rag}",
        )
        assert f"closed_with_open_children: {rag}" in pack
    (tmp_path / "portfolio.yaml").write_text(pack)
    service = Service(tmp_path, (str(tmp_path / "portfolio.yaml"),), mocked)
    specs = portfolio()
    specs["PAY-20"] = specs["PAY-20"].bump(status="Done")
    service.deliver(*specs.values(), created=True)
    service.drain()
    return service


def findings_of(service: Service, key: str) -> dict[str, object]:
    return {f.rule: f for f in service.store.open_findings(key)}


def test_a_done_parent_with_open_children_is_a_finding_with_the_rollups_counts(tmp_path, mocked):
    service = closed_with_open_children(tmp_path, mocked)
    rollup = service.store.get_rollup("jira:PAY-20")
    assert (rollup.rag, rollup.rag_reasons) == ("amber", ("done with 2 open children",))
    finding = findings_of(service, "jira:PAY-20")[CLOSED_WITH_OPEN_CHILDREN]
    still_open = rollup.children - rollup.done
    assert still_open == 2
    assert finding.severity == "medium"
    assert (
        finding.message == f"done with {still_open} open children of {rollup.children}; RAG amber"
    )

    # the managed comment lists it beside the rollup
    comment = service.comment("jira:PAY-20")
    assert CLOSED_WITH_OPEN_CHILDREN in comment and finding.message in comment
    assert "reopen the item, or finish or remove its open children" in comment

    # the dashboard counts it, names it, and the parent's page gives the reason
    data = service.client.get("/api/portfolio").get_json()
    node = next(n for n in walk(data["tree"]) if n["key"] == "jira:PAY-20")
    assert [(f["rule"], f["message"]) for f in node["findings"]] == [
        (CLOSED_WITH_OPEN_CHILDREN, finding.message)
    ]
    by_rule = {r["rule"]: r for r in data["compliance_by_rule"]}
    assert by_rule[CLOSED_WITH_OPEN_CHILDREN] == {
        "rule": CLOSED_WITH_OPEN_CHILDREN, "title": CLOSED_TITLE, "severity": "medium",
        "open_findings": 1,
    }  # fmt: skip
    page = html.unescape(service.client.get("/portfolio/item/jira:PAY-20").get_data(as_text=True))
    own = page.split('class="own-findings"')[1].split("</ul>")[0]
    assert f'data-rule="{CLOSED_WITH_OPEN_CHILDREN}"' in own and finding.message in own
    assert "done with 2 open children" in page.split('id="rollup"')[1].split("</dl>")[0]
    rule_page = service.client.get(f"/portfolio/rule/{CLOSED_WITH_OPEN_CHILDREN}")
    assert rule_page.status_code == 200
    assert 'data-key="jira:PAY-20"' in rule_page.get_data(as_text=True)

    # the children are done: the parent is green and the finding resolved
    specs = portfolio()
    for native in ("PAY-21", "PAY-22"):
        service.deliver(specs[native].bump(status="Done", status_changed=NOW))
    service.drain()
    assert service.store.get_rollup("jira:PAY-20").rag == "green"
    assert CLOSED_WITH_OPEN_CHILDREN not in findings_of(service, "jira:PAY-20")
    assert CLOSED_WITH_OPEN_CHILDREN not in service.comment("jira:PAY-20")


def test_red_when_the_rollup_spec_says_so(tmp_path, mocked):
    service = closed_with_open_children(tmp_path, mocked, rag="red")
    rollup = service.store.get_rollup("jira:PAY-20")
    assert (rollup.rag, rollup.rag_reasons) == ("red", ("done with 2 open children",))
    finding = findings_of(service, "jira:PAY-20")[CLOSED_WITH_OPEN_CHILDREN]
    assert (finding.severity, finding.message) == (
        "high", "done with 2 open children of 2; RAG red",
    )  # fmt: skip


def test_the_parents_page_lists_the_escalations_fired_and_links_the_people_view(tmp_path, mocked):
    service = closed_with_open_children(tmp_path, mocked)
    steps = compile_steps(
        [
            {"after": "1d", "to": "person:Dana Cole", "via": ["pmo-mail"]},
            {"after": "3d", "to": "role:programme_lead", "via": ["comment", "pmo-mail"]},
        ]
    )
    chains = {
        CLOSED_WITH_OPEN_CHILDREN: Chain(CLOSED_WITH_OPEN_CHILDREN, CLOSED_TITLE, "medium", steps)
    }
    notify = Notify(
        channels={"pmo-mail": Channel(name="pmo-mail", kind="smtp")},
        owners={"PAY": {"programme_lead": "Priya Shah"}},
        people={
            "Priya Shah": Contact("Priya Shah", "priya@example.com"),
            "Dana Cole": Contact("Dana Cole", "dana@example.com"),
        },
    )
    escalator = Escalator(
        service.store,
        notify,
        UserDirectory(lambda tracker: lambda name: Person(name, f"acct-{name}")),
    )
    fired = []
    for day in range(5):
        fired += escalator.run(chains, NOW + dt.timedelta(days=day, hours=1))
    assert [(f.item_key, f.step, f.person) for f in fired] == [
        ("jira:PAY-20", 0, "Dana Cole"), ("jira:PAY-20", 1, "Priya Shah"),
    ]  # fmt: skip

    page = html.unescape(service.client.get("/portfolio/item/jira:PAY-20").get_data(as_text=True))
    section = page.split('id="escalations"')[1].split("</section>")[0]
    rows = section.split("<tr data-escalation=")[1:]
    assert len(rows) == 2
    newest, oldest = rows  # newest first
    assert 'data-step="1"' in newest and "Priya Shah" in newest and "(programme lead)" in newest
    assert "comment, pmo-mail" in newest and "still open" in newest
    assert 'data-step="0"' in oldest and "Dana Cole" in oldest and "pmo-mail" in oldest
    when = fired[0].fired_at
    assert f'data-fired-at="{when.isoformat()}"' in oldest
    assert f"{when.day} {when:%b %Y} {when:%H:%M} UTC" in oldest
    assert 'href="/people"' in section
    dashboard = service.client.get("/portfolio").get_data(as_text=True)
    assert 'href="/people" data-people-link' in dashboard

    # a parent nobody escalated says so
    other = service.client.get("/portfolio/item/jira:PAY-10").get_data(as_text=True)
    assert "No escalation fired on this item or its children." in other
