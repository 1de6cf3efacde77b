"""Azure DevOps service-hook adapter: every fixture parsed, verification, bad input, maps."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config.settings import TrackerConfig
from connector import azure_devops as ado
from connector.errors import PayloadError
from connector.html_text import html_to_text
from connector.model import (
    Event,
    EventKind,
    FieldChange,
    Ignored,
    ItemType,
    Link,
    Person,
    StatusCategory,
)
from tests.support.helpers import fixture_names, load_fixture

TRACKER = TrackerConfig(
    name="azure-devops", kind="azure-devops", url="https://dev.azure.com/fabrikam"
)
FOLDER = "azure-devops"

DANA = Person("Dana Whitfield", "dana.whitfield@fabrikam.com")
LENA = Person("Lena Ortiz", "lena.ortiz@fabrikam.com")
RAVI = Person("Ravi Menon", "ravi.menon@fabrikam.com")
JAMAL = Person("Jamal Hartnett")

SAMPLE_STATE_CHANGES = [
    ("status", "New", "Approved"),
    ("System.Reason", "New defect reported", "Approved by the Product Owner"),
    ("assignee", None, Person("Jamal Hartnet")),  # sic: the sample spells it so
]

# fixture -> what parsing it must give. Changes are listed in full: anything else is a bug.
EXPECTED = {
    # Real payloads (see PROVENANCE.md).
    "workitem.created__sample": dict(
        kind=EventKind.CREATED, key="azure-devops:5", type=ItemType.BUG, status="New",
        category=StatusCategory.TODO, assignee=None, project="FabrikamCloud", changes=[],
        actor=JAMAL, revision=1, delivery="d2d46fb1-dba5-403c-9373-427583f19e8c",
    ),
    "workitem.commented__sample": dict(
        kind=EventKind.COMMENTED, key="azure-devops:5", type=ItemType.BUG, status="New",
        category=StatusCategory.TODO, assignee=None, project="FabrikamCloud", changes=[],
        actor=JAMAL, revision=4, delivery="fb2617ed-60df-4518-81fa-749faa6c5cd6",
    ),
    "workitem.deleted__sample": dict(
        kind=EventKind.DELETED, key="azure-devops:5", type=ItemType.BUG, status="New",
        category=StatusCategory.TODO, assignee=None, project="FabrikamCloud", changes=[],
        actor=JAMAL, revision=1, delivery="72da0ade-0709-40ee-beb7-104287bf7e84",
    ),
    "workitem.restored__sample": dict(
        kind=EventKind.RESTORED, key="azure-devops:5", type=ItemType.BUG, status="New",
        category=StatusCategory.TODO, assignee=None, project="FabrikamCloud", changes=[],
        actor=JAMAL, revision=1, delivery="1ca023d6-6cff-49dd-b3d1-302b69311810",
    ),
    "workitem.updated__state_sample": dict(
        kind=EventKind.UPDATED, key="azure-devops:5", type=ItemType.BUG, status="Approved",
        category=StatusCategory.TODO, assignee=Person("Jamal Hartnet"), project="FabrikamCloud",
        changes=[
            *SAMPLE_STATE_CHANGES,
            ("Microsoft.VSTS.Common.Severity", "3 - Medium", "2 - High"),
        ],
        actor=JAMAL, revision=2, delivery="27646e0e-b520-4d2b-9411-bba7524947cd",
    ),
    "workitem.updated__msdocs": dict(
        kind=EventKind.UPDATED, key="azure-devops:5", type=ItemType.BUG, status="Approved",
        category=StatusCategory.TODO, assignee=Person("Jamal Hartnet"), project="FabrikamCloud",
        changes=[
            *SAMPLE_STATE_CHANGES,
            # The docs' search-and-replace artefact survives as a raw field id.
            ("Microsoft.Azure DevOps Services.Common.Severity", "3 - Medium", "2 - High"),
        ],
        actor=JAMAL, revision=2, delivery="27646e0e-b520-4d2b-9411-bba7524947cd",
    ),
    # Written for this project.
    "workitem.created__user_story_with_parent": dict(
        kind=EventKind.CREATED, key="azure-devops:4711", type=ItemType.STORY, status="New",
        category=StatusCategory.TODO, assignee=DANA, project="Fabrikam", changes=[],
        actor=RAVI, revision=1, delivery="8b0f2d5e-3c71-4a9e-b6d2-0e5f7a1c9d43",
        labels=("checkout", "payments"), estimate=5.0, parent="azure-devops:4700",
        start_date=dt.date(2024, 6, 3), due_date=dt.date(2024, 6, 28), priority="2",
        links=(
            Link("System.LinkTypes.Related", "azure-devops:4702"),
            Link("Hyperlink", "https://wiki.fabrikam.com/payments/saved-cards"),
        ),
    ),
    "workitem.updated__tags_and_points": dict(
        kind=EventKind.UPDATED, key="azure-devops:4711", type=ItemType.STORY, status="Active",
        category=StatusCategory.IN_PROGRESS, assignee=LENA, project="Fabrikam",
        changes=[
            ("status", "New", "Active"),
            ("System.Reason", "New", "Implementation started"),
            ("assignee", DANA, LENA),
            ("System.BoardColumn", "New", "Active"),
            ("labels", ["checkout", "payments"], ["checkout", "payments", "pci"]),
            ("estimate", 5.0, 8.0),
            ("due_date", dt.date(2024, 6, 28), dt.date(2024, 7, 12)),
            (
                "Microsoft.VSTS.Common.StateChangeDate",
                "2024-05-27T09:14:03.217Z",
                "2024-06-04T13:22:47.503Z",
            ),
            ("Microsoft.VSTS.Common.ActivatedDate", None, "2024-06-04T13:22:47.503Z"),
            ("Microsoft.VSTS.Common.ActivatedBy", None, DANA),
        ],
        actor=DANA, revision=3, delivery="e3a97c1d-52b8-4f06-9d4e-7a8b6c5d4e21",
        labels=("checkout", "payments", "pci"), estimate=8.0, due_date=dt.date(2024, 7, 12),
        status_changed=dt.datetime(2024, 6, 4, 13, 22, 47, 503000, tzinfo=dt.UTC),
    ),
    "workitem.updated__reparented": dict(
        kind=EventKind.UPDATED, key="azure-devops:4720", type=ItemType.TASK, status="Active",
        category=StatusCategory.IN_PROGRESS, assignee=LENA, project="Fabrikam",
        changes=[
            ("parent", "azure-devops:4711", "azure-devops:4712"),
            ("links", (), (Link("System.LinkTypes.Related", "azure-devops:4730"),)),
        ],
        actor=DANA, revision=5, delivery="2f6d8a0b-9c4e-4d17-8a35-b1c9e0d7f652",
        parent="azure-devops:4712", estimate=None,
    ),
    "workitem.created__epic_scrum": dict(
        kind=EventKind.CREATED, key="azure-devops:4800", type=ItemType.EPIC, status="New",
        category=StatusCategory.TODO, assignee=None, project="Fabrikam Mobile", changes=[],
        actor=RAVI, revision=1, delivery="41c7e9b3-0d2a-4f8e-9b61-5a3c2e1d0f97",
        estimate=40.0, labels=("FY25", "mobile"), parent=None, priority="1",
        start_date=dt.date(2024, 7, 1), due_date=dt.date(2024, 12, 20),
    ),
    "workitem.updated__pbi_committed_scrum": dict(
        kind=EventKind.UPDATED, key="azure-devops:4810", type=ItemType.STORY, status="Committed",
        category=StatusCategory.IN_PROGRESS, assignee=RAVI, project="Fabrikam Mobile",
        changes=[
            ("status", "Approved", "Committed"),
            ("System.Reason", "Approved by the Product Owner", "Commitment made by the team"),
            ("System.IterationPath", "Fabrikam Mobile", "Fabrikam Mobile\\Sprint 7"),
            ("System.BoardColumn", "Approved", "Committed"),
            (
                "Microsoft.VSTS.Common.StateChangeDate",
                "2024-05-20T16:45:10.07Z",
                "2024-06-10T09:01:44.25Z",
            ),
        ],
        actor=RAVI, revision=4, delivery="b8e2f4a6-1c3d-4e5f-8a7b-9c0d1e2f3a4b",
        estimate=3.0, parent="azure-devops:4800",
    ),
}  # fmt: skip
IGNORED = {"git.push__ignored": "git.push"}
ITEM_ATTRIBUTES = ("labels", "estimate", "parent", "start_date", "due_date", "priority", "links")


def parse(name: str) -> Event:
    event = ado.parse_event(load_fixture(FOLDER, name), TRACKER)
    assert isinstance(event, Event)
    return event


def test_every_fixture_has_expectations() -> None:
    assert set(fixture_names(FOLDER)) == set(EXPECTED) | set(IGNORED)


@pytest.mark.parametrize("name", fixture_names(FOLDER))
def test_fixture_event_type_is_registered_and_matches_file_name(name: str) -> None:
    event_type = load_fixture(FOLDER, name)["eventType"]
    assert event_type in ado.EVENT_PARSERS or event_type in ado.IGNORED_EVENTS
    assert name.split("__", 1)[0] == event_type


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_parses_to_expected_event(name: str) -> None:
    want = EXPECTED[name]
    event = parse(name)
    item = event.item
    assert item is not None and not event.partial
    assert event.kind is want["kind"]
    assert event.tracker == "azure-devops"
    assert event.item_key == item.key == want["key"]
    assert event.native_event == name.split("__")[0]
    assert event.delivery_id == want["delivery"]
    assert event.actor == want["actor"]
    assert event.revision == item.revision == want["revision"]
    assert (item.type, item.status, item.status_category) == (
        want["type"],
        want["status"],
        want["category"],
    )
    assert item.assignee == want["assignee"]
    assert item.project == want["project"]
    assert [(c.field, c.old, c.new) for c in event.changes] == want["changes"]
    for attribute in (*ITEM_ATTRIBUTES, "status_changed"):
        if attribute in want:
            assert getattr(item, attribute) == want[attribute], attribute
    json.dumps(event.to_dict())  # the queue and store need JSON


@pytest.mark.parametrize("name", sorted(IGNORED))
def test_known_unused_fixture_is_ignored(name: str) -> None:
    result = ado.parse_event(load_fixture(FOLDER, name), TRACKER)
    assert result == Ignored(IGNORED[name], ado.IGNORED_EVENTS[IGNORED[name]])


@pytest.mark.parametrize("name", [n for n in sorted(EXPECTED) if ".updated__" in n])
def test_noise_fields_never_reported_as_changes(name: str) -> None:
    fields = {change.field for change in parse(name).changes}
    assert not fields & ado.NOISE_FIELDS


def test_commented_event_carries_the_comment() -> None:
    event = parse("workitem.commented__sample")
    assert event.comment is not None
    assert event.comment.body == "This is a great new idea"
    assert event.comment.author == JAMAL


def test_deleted_event_keeps_last_state_and_uses_delivery_time() -> None:
    event = parse("workitem.deleted__sample")
    assert event.item.title == "Some great new idea!"
    assert event.occurred == dt.datetime(2016, 5, 2, 19, 17, 28, 364456, tzinfo=dt.UTC)


def test_item_urls_from_html_link_or_built_from_tracker_url() -> None:
    restored = parse("workitem.restored__sample").item
    assert restored.url.endswith("wi.aspx?pcguid=d81542e4-cdfa-4333-b082-1ae2d6c3ad16&id=5")
    assert parse("workitem.created__sample").item.url == (
        "https://dev.azure.com/fabrikam/FabrikamCloud/_workitems/edit/5"
    )
    wi = load_fixture(FOLDER, "workitem.created__epic_scrum")["resource"]
    del wi["_links"]["html"]
    assert ado.item_from_work_item(wi, TRACKER).url == (
        "https://dev.azure.com/fabrikam/Fabrikam%20Mobile/_workitems/edit/4800"
    )
    no_url = TrackerConfig(name="azure-devops", kind="azure-devops")
    assert ado.item_from_work_item(wi, no_url).url is None


def test_descriptions_become_plain_text() -> None:
    epic = parse("workitem.created__epic_scrum").item
    assert epic.description.splitlines() == [
        "Business case",
        "Technicians lose 20 minutes a visit waiting for signal.",
        "Success criteria",
        "- Work orders open without network",
        "- Sync completes within 60 s of reconnecting",
    ]
    bug = load_fixture(FOLDER, "workitem.created__sample")["resource"]
    bug["fields"]["Microsoft.VSTS.TCM.ReproSteps"] = "<div>1. Open <b>checkout</b></div>"
    assert ado.item_from_work_item(bug, TRACKER).description == "1. Open checkout"


def test_html_to_text_tolerates_a_stray_closing_tag() -> None:
    html = load_fixture(FOLDER, "workitem.restored__sample")["detailedMessage"]["html"]
    assert html_to_text(html).splitlines()[-2:] == ["- State: New", "Severity: 3 - Medium"]
    assert html_to_text("<p>a &amp; b<br>c</p></li></ul><td>x</td><td>y</td>") == "a & b\nc\nx | y"
    assert html_to_text(None) == ""


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>before</p><![xyz[ odd ]]><p>after</p>", "before\n<![xyz[ odd ]]>\nafter"),
        ("<div>a<![foo[b</div>", "a<![foo[b"),
        ("<![if !supportLists]>- item<![endif]>", "- item"),  # Word's, known to the parser
    ],
)
def test_html_to_text_reads_declarations_the_parser_asserts_on(html, text) -> None:
    assert html_to_text(html) == text


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="<>![]-/ abc&;#x"))
def test_html_to_text_never_raises(html) -> None:
    assert isinstance(html_to_text(html), str)


def test_a_description_the_parser_asserts_on_is_accepted(tmp_path, monkeypatch) -> None:
    """Intake answered 500 for it: the parser's AssertionError was not a payload error."""
    from tests.support.service import AZURE_SECRET_ENV, azure_headers, make_settings
    from webhooks.http.app import create_app

    monkeypatch.setenv(AZURE_SECRET_ENV, "s")
    client = create_app(settings=make_settings(tmp_path)).test_client()
    payload = load_fixture("azure-devops", "workitem.created__sample")
    payload["resource"]["fields"]["System.Description"] = "<p>x</p><![xyz[ y ]]>"
    answer = client.post(
        "/webhooks/azure-devops", data=json.dumps(payload), headers=azure_headers("s")
    )
    assert answer.status_code == 202, answer.get_json()


# --- update specifics -----------------------------------------------------------------


def test_update_item_id_falls_back_from_zero_work_item_id() -> None:
    payload = load_fixture(FOLDER, "workitem.updated__msdocs")
    assert payload["resource"]["workItemId"] == 0 and payload["resource"]["id"] == 2
    assert ado.parse_event(payload, TRACKER).item_key == "azure-devops:5"
    del payload["resource"]["revision"]  # then only the `_links.parent` href is left
    event = ado.parse_event(payload, TRACKER)
    assert (event.item_key, event.item, event.partial, event.revision) == (
        "azure-devops:5",
        None,
        True,
        2,
    )


def test_parent_change_from_relations_alone() -> None:
    payload = load_fixture(FOLDER, "workitem.updated__reparented")
    del payload["resource"]["fields"]["System.Parent"]
    changes = ado.parse_event(payload, TRACKER).changes
    assert changes[0] == FieldChange("parent", "azure-devops:4711", "azure-devops:4712")
    payload["resource"]["relations"] = {"removed": payload["resource"]["relations"]["removed"]}
    assert ado.parse_event(payload, TRACKER).changes == (
        FieldChange("parent", "azure-devops:4711", None),
    )


def test_string_values_in_changes_are_converted() -> None:
    payload = load_fixture(FOLDER, "workitem.updated__tags_and_points")
    fields = payload["resource"]["fields"]
    fields["Microsoft.VSTS.Scheduling.StoryPoints"] = {"oldValue": "5", "newValue": "8"}
    fields["System.Tags"] = {"oldValue": "a;b", "newValue": None}
    fields["System.WorkItemType"] = {"oldValue": "Bug", "newValue": "User Story"}
    fields["System.AssignedTo"] = {"oldValue": "Dana Whitfield <dana.whitfield@fabrikam.com>"}
    changes = {c.field: (c.old, c.new) for c in ado.parse_event(payload, TRACKER).changes}
    assert changes["estimate"] == (5.0, 8.0)
    assert changes["labels"] == (["a", "b"], [])
    assert changes["type"] == (ItemType.BUG, ItemType.STORY)
    assert changes["assignee"] == (DANA, None)


def test_cleared_field_is_cleared_on_the_item() -> None:
    payload = load_fixture(FOLDER, "workitem.updated__tags_and_points")
    payload["resource"]["fields"]["System.AssignedTo"] = {
        "oldValue": payload["resource"]["fields"]["System.AssignedTo"]["oldValue"]
    }
    assert ado.parse_event(payload, TRACKER).item.assignee is None


@pytest.mark.parametrize("event_type", sorted(ado.EVENT_PARSERS.keys() - {"workitem.updated"}))
def test_minimal_resource_gives_partial_event(event_type: str) -> None:
    payload = {"eventType": event_type, "id": "e1", "resource": {"id": 42, "url": "x"}}
    event = ado.parse_event(payload, TRACKER)
    assert (event.item_key, event.item, event.partial) == ("azure-devops:42", None, True)


# --- ignored and bad input ------------------------------------------------------------


def test_unknown_event_is_ignored() -> None:
    result = ado.parse_event({"eventType": "workitem.exploded", "resource": {}}, TRACKER)
    assert isinstance(result, Ignored) and result.native_event == "workitem.exploded"
    assert "unsupported" in result.reason


def test_ignored_events_are_not_parsed() -> None:
    assert not ado.IGNORED_EVENTS.keys() & ado.EVENT_PARSERS.keys()
    for name in ("git.pullrequest.created", "build.complete", "tfvc.checkin"):
        assert isinstance(ado.parse_event({"eventType": name, "resource": 1}, TRACKER), Ignored)


def _update(**resource_changes):
    payload = load_fixture(FOLDER, "workitem.updated__tags_and_points")
    payload["resource"].update(resource_changes)
    return payload


def _created(**field_changes):
    payload = load_fixture(FOLDER, "workitem.created__user_story_with_parent")
    payload["resource"]["fields"].update(field_changes)
    return payload


def _revision(**changes):
    payload = load_fixture(FOLDER, "workitem.updated__tags_and_points")
    payload["resource"]["revision"].update(changes)
    return payload


BAD_PAYLOADS = {
    "null": None,
    "list": [],
    "string": "workitem.created",
    "no eventType": {"resource": {}},
    "eventType not a string": {"eventType": 5},
    "empty eventType": {"eventType": " "},
    "resource missing": {"eventType": "workitem.created"},
    "resource a string": {"eventType": "workitem.created", "resource": "5"},
    "resource a list": {"eventType": "workitem.updated", "resource": []},
    "id missing": {"eventType": "workitem.created", "resource": {"fields": {}}},
    "id not a number": {"eventType": "workitem.deleted", "resource": {"id": "abc"}},
    "id a bool": {"eventType": "workitem.restored", "resource": {"id": True}},
    "id a superscript digit": {"eventType": "workitem.restored", "resource": {"id": "\u00b2"}},
    "id negative": {"eventType": "workitem.commented", "resource": {"id": -5}},
    "fields a list (created)": {"eventType": "workitem.created", "resource": {"id": 5, "fields": []}},
    "fields a list (updated)": _update(fields=[]),
    "field change not an object": _update(fields={"System.State": "Active"}),
    "relations a list": _update(relations=[]),
    "relations.added not a list": _update(relations={"added": {"rel": "x"}}),
    "relation not an object": _update(relations={"added": ["x"]}),
    "revision a list": _update(revision=[]),
    "revision.fields not an object": _revision(fields="x"),
    "revision.relations not a list": _revision(relations={"rel": "x"}),
    "no work item id anywhere": _update(workItemId=0, revision=None, _links={}),
    "created date not a date": _created(**{"System.CreatedDate": "yesterday"}),
    "parent not an id": _created(**{"System.Parent": "epic"}),
    "rev not a number": _revision(rev="three"),
}  # fmt: skip


@pytest.mark.parametrize("payload", BAD_PAYLOADS.values(), ids=BAD_PAYLOADS.keys())
def test_bad_payload_raises_payload_error(payload) -> None:
    with pytest.raises(PayloadError) as caught:
        ado.parse_event(payload, TRACKER)
    assert "\n" not in str(caught.value)


# --- delivery id and verification -----------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"id": "abc", "notificationId": 4, "subscriptionId": "s"}, "abc"),
        ({"notificationId": 4, "subscriptionId": "s"}, "s:4"),
        ({"id": "", "notificationId": 0, "subscriptionId": "s"}, "s:0"),
        ({"notificationId": 4}, None),
        ({}, None),
        ([], None),
    ],
)
def test_delivery_id(payload, expected) -> None:
    assert ado.delivery_id({}, payload) == expected


def test_retried_delivery_keeps_its_id() -> None:
    first = load_fixture(FOLDER, "workitem.updated__state_sample")
    retry = load_fixture(FOLDER, "workitem.updated__state_sample")
    retry["notificationId"] = 9  # a redelivery gets a new notification, same event id
    assert ado.delivery_id({}, first) == ado.delivery_id({}, retry)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


SECRET = "s3cret-Ünïcode"


@pytest.mark.parametrize(
    ("headers", "secret", "ok"),
    [
        ({"Authorization": basic("pmo", SECRET)}, SECRET, True),
        ({"authorization": basic("anyone-at-all", SECRET)}, SECRET, True),
        ({"Authorization": basic("", SECRET)}, SECRET, True),
        ({"Authorization": basic("pmo", SECRET + "x")}, SECRET, False),
        ({"Authorization": basic("pmo", "")}, SECRET, False),
        ({"Authorization": basic(SECRET, "pmo")}, SECRET, False),
        ({"X-PMO-Bridge-Secret": SECRET}, SECRET, True),
        ({"x-pmo-bridge-secret": SECRET}, SECRET, True),
        ({"X-PMO-Bridge-Secret": "wrong"}, SECRET, False),
        ({"X-PMO-Bridge-Secret": "wrong", "Authorization": basic("u", SECRET)}, SECRET, True),
        ({"Authorization": "Basic !!!not-base64!!!"}, SECRET, False),
        ({"Authorization": "Basic " + base64.b64encode(SECRET.encode()).decode()}, SECRET, False),
        ({"Authorization": "Basic "}, SECRET, False),
        ({"Authorization": "Bearer " + SECRET}, SECRET, False),
        ({}, SECRET, False),
        ({}, None, True),
        ({"Authorization": basic("u", "whatever")}, None, True),
    ],
    ids=[
        "basic right", "basic any user lower-case header", "basic empty user",
        "basic wrong", "basic empty password", "secret as user name",
        "header right", "header lower-case", "header wrong", "wrong header, right basic",
        "malformed base64", "no colon", "empty basic", "bearer scheme", "missing",
        "no secret configured", "no secret, any credentials",
    ],
)  # fmt: skip
def test_verify_request(headers, secret, ok) -> None:
    assert ado.verify_request(headers, b"{}", secret) is ok


# --- maps -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "category"),
    [
        # Agile
        ("New", "todo"), ("Active", "in_progress"), ("Resolved", "in_progress"),
        ("Closed", "done"), ("Removed", "removed"),
        # Scrum
        ("Approved", "todo"), ("Committed", "in_progress"), ("Done", "done"),
        # CMMI
        ("Proposed", "todo"), ("Design", "todo"), ("Completed", "done"),
        # Basic
        ("To Do", "todo"), ("Doing", "in_progress"),
        # others
        ("In Progress", "in_progress"), ("Cut", "removed"), ("  closed ", "done"),
        ("Blocked", "in_progress"), ("", "in_progress"),
    ],
)  # fmt: skip
def test_default_state_map(state: str, category: str) -> None:
    assert ado.status_category(state, TRACKER) is StatusCategory(category)


def test_state_map_overrides_case_insensitively() -> None:
    tracker = TrackerConfig(
        name="ado", kind="azure-devops", state_map={"Blocked": "todo", "resolved": "done"}
    )
    assert ado.status_category("blocked", tracker) is StatusCategory.TODO
    assert ado.status_category("Resolved", tracker) is StatusCategory.DONE
    assert ado.status_category("Active", tracker) is StatusCategory.IN_PROGRESS


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Epic", "epic"), ("Feature", "feature"), ("User Story", "story"),
        ("Product Backlog Item", "story"), ("Requirement", "story"), ("Issue", "story"),
        ("Task", "task"), ("Bug", "bug"), ("Risk", "risk"), ("Impediment", "risk"),
        ("Initiative", "initiative"), ("test case", "other"), ("Change Request", "other"),
        (None, "other"),
    ],
)  # fmt: skip
def test_default_type_map(name, expected: str) -> None:
    assert ado.item_type(name, TRACKER) is ItemType(expected)


def test_type_map_overrides() -> None:
    # Settings casefold type_map keys; an unknown target falls back to the default.
    tracker = TrackerConfig(
        name="ado",
        kind="azure-devops",
        type_map={"issue": "risk", "objective": "initiative", "bug": "bogus"},
    )
    assert ado.item_type("Issue", tracker) is ItemType.RISK
    assert ado.item_type("Objective", tracker) is ItemType.INITIATIVE
    assert ado.item_type("Bug", tracker) is ItemType.BUG
    assert ado.item_type("Epic", tracker) is ItemType.EPIC


def test_field_map_estimate_dates_and_custom() -> None:
    tracker = TrackerConfig(
        name="ado",
        kind="azure-devops",
        fields={
            "estimate": "Custom.Size",
            "due_date": "Custom.Deadline",
            "value_area": "Microsoft.VSTS.Common.ValueArea",
            "sponsor": "Custom.Sponsor",
            "missing": "Custom.Nowhere",
        },
    )
    payload = _created(
        **{
            "Custom.Size": "13",
            "Custom.Deadline": "2024-09-30T00:00:00Z",
            "Custom.Sponsor": {
                "displayName": "Lena Ortiz",
                "uniqueName": "lena.ortiz@fabrikam.com",
            },
        }
    )
    item = ado.parse_event(payload, tracker).item
    assert item.key == "ado:4711" and item.parent == "ado:4700"
    assert (item.estimate, item.due_date) == (13.0, dt.date(2024, 9, 30))
    assert item.start_date == dt.date(2024, 6, 3)  # not configured: the default field
    assert dict(item.custom) == {"value_area": "Business", "sponsor": "Lena Ortiz", "missing": None}

    update = load_fixture(FOLDER, "workitem.updated__tags_and_points")
    update["resource"]["fields"]["Custom.Size"] = {"oldValue": 3, "newValue": 5}
    changes = {c.field: (c.old, c.new) for c in ado.parse_event(update, tracker).changes}
    assert changes["estimate"] == (3.0, 5.0)
    # Story points are not the configured estimate here, so they stay a raw field.
    assert changes["Microsoft.VSTS.Scheduling.StoryPoints"] == (5.0, 8.0)


def test_default_field_fallbacks() -> None:
    wi = load_fixture(FOLDER, "workitem.created__user_story_with_parent")["resource"]
    fields = wi["fields"]
    del (
        fields["Microsoft.VSTS.Scheduling.StoryPoints"],
        fields["Microsoft.VSTS.Scheduling.TargetDate"],
    )
    fields["Microsoft.VSTS.Scheduling.Effort"] = 2
    fields["Microsoft.VSTS.Scheduling.DueDate"] = "2024-07-01T00:00:00Z"
    item = ado.item_from_work_item(wi, TRACKER)
    assert (item.estimate, item.due_date) == (2.0, dt.date(2024, 7, 1))
    fields["Microsoft.VSTS.Scheduling.Effort"] = "lots"
    assert ado.item_from_work_item(wi, TRACKER).estimate is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"displayName": "Dana Whitfield", "uniqueName": "dana.whitfield@fabrikam.com", "id": "g"}, DANA),
        ({"displayName": "Build Service", "id": "g-1"}, Person("Build Service", "g-1")),
        ({"uniqueName": "x@fabrikam.com"}, Person("x@fabrikam.com", "x@fabrikam.com")),
        ("Dana Whitfield <dana.whitfield@fabrikam.com>", DANA),
        ("<dana.whitfield@fabrikam.com>", Person("dana.whitfield@fabrikam.com", "dana.whitfield@fabrikam.com")),
        ("Jamal Hartnett", JAMAL),
        ("", None), (None, None), ({}, None), (7, None),
    ],
)  # fmt: skip
def test_identities(value, expected) -> None:
    assert ado.person(value) == expected


def test_parent_from_relation_and_links_keep_non_work_item_urls() -> None:
    wi = load_fixture(FOLDER, "workitem.created__user_story_with_parent")["resource"]
    del wi["fields"]["System.Parent"]
    wi["relations"].append(
        {
            "rel": "ArtifactLink",
            "url": "vstfs:///Git/Commit/abc",
            "attributes": {"name": "Fixed in Commit"},
        }
    )
    item = ado.item_from_work_item(wi, TRACKER)
    assert item.parent == "azure-devops:4700"
    assert item.links[-1] == Link("ArtifactLink", "vstfs:///Git/Commit/abc")


def test_item_from_work_item_raises_payload_error_for_bad_values() -> None:
    wi = load_fixture(FOLDER, "workitem.created__epic_scrum")["resource"]
    wi["fields"]["Microsoft.VSTS.Scheduling.TargetDate"] = "end of year"
    with pytest.raises(PayloadError):
        ado.item_from_work_item(wi, TRACKER)
    with pytest.raises(PayloadError):
        ado.item_from_work_item(["not", "an", "item"], TRACKER)
