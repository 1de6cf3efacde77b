"""Jira webhook adapter: payloads in, common-model events out."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json

import pytest

from config.settings import STANDARD_PACK, TrackerConfig
from connector import jira
from connector.errors import PayloadError
from connector.jira.text import adf_to_text, wiki_to_text
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
from rules import Context, evaluate, load_pack
from tests.support.helpers import fixture_names, load_fixture

TRACKER = TrackerConfig(name="jira", kind="jira")
CONFIGURED = TrackerConfig(
    name="jira",
    kind="jira",
    fields={
        "estimate": "customfield_10002",
        "epic_link": "customfield_10014",
        "team": "customfield_10050",
        "regions": "customfield_10051",
        "sponsor": "customfield_10052",
    },
    type_map={"story": "feature"},
    state_map={"In Progress": "removed"},
)


def parse(name: str, tracker: TrackerConfig = TRACKER) -> Event:
    event = jira.parse_event(load_fixture("jira", name), tracker)
    assert isinstance(event, Event)
    return event


# --- every fixture, key fields -------------------------------------------------------

ISSUE_FIXTURES = [
    # name, kind, key, type, status, category, assignee, project, changed fields, partial
    ("issue_created__server_zulip", EventKind.CREATED, "jira:BUG-15", ItemType.BUG, "Open",
     StatusCategory.TODO, None, "BUG", [], False),
    ("issue_deleted__with_comments", EventKind.DELETED, "jira:BUG-15", ItemType.BUG, "Open",
     StatusCategory.TODO, "Leo Franchi", "BUG", [], False),
    ("issue_updated__assignee_cloud", EventKind.UPDATED, "jira:BUG-15", ItemType.BUG, "Open",
     StatusCategory.TODO, "Leo Franchi", "BUG", ["assignee"], False),
    ("issue_updated__fields_server_no_type_name", EventKind.UPDATED, "jira:TEST-11", ItemType.TASK,
     "To Do", StatusCategory.TODO, "admin", "TEST",
     ["title", "description", "priority", "resolution"], False),
    ("issue_updated__status_cloud", EventKind.UPDATED, "jira:TEST-1", ItemType.TASK, "In Progress",
     StatusCategory.IN_PROGRESS, None, "ABC", ["status"], False),
    ("comment_created__cloud", EventKind.COMMENTED, "jira:ZUL-1", ItemType.STORY, "Backlog",
     StatusCategory.TODO, None, "ZUL", [], True),
    ("issue_updated__labels", EventKind.UPDATED, "jira:PAY-12", ItemType.STORY, "In Progress",
     StatusCategory.IN_PROGRESS, "Tom Becker", "PAY", ["labels"], False),
    ("issue_created__epic_with_parent", EventKind.CREATED, "jira:PAY-100", ItemType.EPIC, "To Do",
     StatusCategory.TODO, "Priya Natarajan", "PAY", [], False),
    ("issue_updated__epic_link_server", EventKind.UPDATED, "jira:PROJ-42", ItemType.STORY,
     "In Progress", StatusCategory.IN_PROGRESS, "Anna Huber", "PROJ", ["parent"], False),
    ("issue_updated__status_done_cloud", EventKind.UPDATED, "jira:PAY-12", ItemType.STORY, "Done",
     StatusCategory.DONE, "Tom Becker", "PAY", ["resolution", "status"], False),
    ("issue_updated__commented_cloud", EventKind.COMMENTED, "jira:PAY-12", ItemType.STORY, "Done",
     StatusCategory.DONE, "Tom Becker", "PAY", [], False),
    ("comment_updated__cloud", EventKind.COMMENTED, "jira:PAY-12", ItemType.STORY, "In Progress",
     StatusCategory.IN_PROGRESS, "Tom Becker", "PAY", [], True),
    ("comment_deleted__cloud", EventKind.COMMENTED, "jira:PAY-12", ItemType.STORY, "In Progress",
     StatusCategory.IN_PROGRESS, "Tom Becker", "PAY", [], True),
]  # fmt: skip


@pytest.mark.parametrize(
    (
        "name",
        "kind",
        "key",
        "type_",
        "status",
        "category",
        "assignee",
        "project",
        "changed",
        "partial",
    ),
    ISSUE_FIXTURES,
    ids=[row[0] for row in ISSUE_FIXTURES],
)
def test_issue_fixture_key_fields(
    name, kind, key, type_, status, category, assignee, project, changed, partial
):
    event = parse(name)
    item = event.item
    assert (event.kind, event.item_key, event.partial) == (kind, key, partial)
    assert event.native_event == load_fixture("jira", name)["webhookEvent"]
    assert event.delivery_id is None
    assert item is not None and item.key == key and item.native_id == key.split(":", 1)[1]
    assert (item.type, item.status, item.status_category) == (type_, status, category)
    assert (item.assignee.display_name if item.assignee else None) == assignee
    assert item.project == project
    assert [change.field for change in event.changes] == changed


LINK_FIXTURES = [
    ("issuelink_created__blocks", EventKind.LINKED),
    ("issuelink_deleted__blocks", EventKind.UNLINKED),
]


@pytest.mark.parametrize(("name", "kind"), LINK_FIXTURES)
def test_issuelink_fixtures_name_issues_by_numeric_id(name, kind):
    event = parse(name)
    assert event.kind is kind
    assert event.item is None and event.partial is True
    assert event.item_key == "jira:10042"
    assert event.link == Link("blocks", "jira:10057")
    assert event.revision is None and event.actor is None
    assert event.occurred is not None and event.occurred.tzinfo is not None


def test_worklog_fixture_is_ignored_with_reason():
    result = jira.parse_event(load_fixture("jira", "worklog_created__cloud"), TRACKER)
    assert result == Ignored("worklog_created", jira.IGNORED_EVENTS["worklog_created"])


def test_every_fixture_is_covered_by_a_test_table():
    covered = {row[0] for row in ISSUE_FIXTURES} | {name for name, _ in LINK_FIXTURES}
    assert set(fixture_names("jira")) == covered | {"worklog_created__cloud"}


@pytest.mark.parametrize("name", fixture_names("jira"))
def test_fixture_event_is_registered_and_matches_its_name(name):
    event = load_fixture("jira", name)["webhookEvent"]
    assert event in jira.EVENT_PARSERS or event in jira.IGNORED_EVENTS
    prefix = name.split("__", 1)[0]
    assert event.removeprefix("jira:") == prefix


def test_supported_and_ignored_lists_do_not_overlap():
    assert not set(jira.EVENT_PARSERS) & set(jira.IGNORED_EVENTS)
    assert all(reason for reason in jira.IGNORED_EVENTS.values())


# --- details of particular fixtures ----------------------------------------------------


def test_epic_with_parent_maps_dates_estimate_parent_and_description():
    item = parse("issue_created__epic_with_parent").item
    assert item.parent == "jira:PAY-7"
    assert item.estimate == 21.0
    assert item.start_date == dt.date(2024, 5, 13)
    assert item.due_date == dt.date(2024, 6, 28)
    assert item.labels == ("q2-commitment",)
    assert item.priority == "High"
    assert item.url == "https://acme.atlassian.net/browse/PAY-100"
    assert "Business case" in item.description and "Success criteria" in item.description
    assert "h2." not in item.description and "[the refund policy|" not in item.description
    assert item.revision == 1714989802497  # epoch ms of fields.updated
    assert item.created == dt.datetime(2024, 5, 6, 10, 3, 22, 497000, tzinfo=dt.UTC)
    assert item.status_changed == item.created  # from statuscategorychangedate


def test_labels_change_carries_old_and_new_label_sets():
    event = parse("issue_updated__labels")
    assert event.changes == (FieldChange("labels", ("backend",), ("backend", "customer-facing")),)
    assert event.actor == Person("Tom Becker", "5f8d7b2a9c4e1d0012a3b4c5")
    assert event.occurred == dt.datetime(2024, 5, 15, 8, 55, 1, 442000, tzinfo=dt.UTC)
    assert event.revision == event.item.revision == 1715763301437
    assert event.item.parent == "jira:PAY-100"


def test_epic_link_change_on_server_becomes_parent():
    event = parse("issue_updated__epic_link_server")
    assert event.changes == (FieldChange("parent", None, "jira:PROJ-7"),)
    assert event.item.assignee == Person("Anna Huber", "anna.huber")
    assert event.item.url == "https://jira.example.org/browse/PROJ-42"
    # the Epic Link field id is not configured: the changelog item names the parent
    assert event.item.parent == "jira:PROJ-7"
    assert parse("issue_updated__epic_link_server", CONFIGURED).item.parent == "jira:PROJ-7"


@pytest.mark.parametrize(("label", "field_id"), [("Epic Link", "customfield_10014"),
                                                 ("Parent Link", "customfield_10018")])  # fmt: skip
def test_cloud_epic_or_parent_link_change_gives_the_item_its_parent(label, field_id):
    """A story put into an epic: the changelog names it, the issue's fields hold it under
    a custom field id this tracker has not configured. The story has a parent."""
    payload = load_fixture("jira", "issue_updated__status_cloud")
    payload["issue"]["fields"]["issuetype"] = {"name": "Story", "subtask": False}
    payload["issue"]["fields"][field_id] = "TES-12"
    payload["changelog"]["items"] = [
        {"field": label, "fieldtype": "custom", "fieldId": field_id,
         "from": None, "fromString": None, "to": "10012", "toString": "TES-12"}
    ]  # fmt: skip
    event = jira.parse_event(payload, TRACKER)
    assert event.changes == (FieldChange("parent", None, "jira:TES-12"),)
    assert event.item.parent == "jira:TES-12"
    ruleset = load_pack(STANDARD_PACK)
    failing = {f.rule for f in evaluate(ruleset, event.item, Context(now=event.occurred))}
    assert "story-has-parent" not in failing
    payload["changelog"]["items"] = []
    unlinked = jira.parse_event(payload, TRACKER).item
    assert unlinked.parent is None
    assert "story-has-parent" in {
        f.rule for f in evaluate(ruleset, unlinked, Context(now=event.occurred))
    }


def test_transition_is_dated_by_the_later_of_category_change_and_event():
    event = parse("issue_updated__status_done_cloud")
    assert FieldChange("status", "In Progress", "Done") in event.changes
    category_changed = dt.datetime(2024, 5, 17, 13, 40, 2, 771000, tzinfo=dt.UTC)
    assert event.item.status_changed == max(category_changed, event.occurred)
    assert abs(event.item.status_changed - category_changed) < dt.timedelta(seconds=5)


def test_move_within_a_category_is_dated_by_the_event():
    """In Progress -> Blocked keeps Jira's category date; the block starts now."""
    payload = load_fixture("jira", "issue_updated__status_done_cloud")
    payload["issue"]["fields"]["statuscategorychangedate"] = "2024-04-01T09:00:00.000+0000"
    event = jira.parse_event(payload, TRACKER)
    assert event.item.status_changed == event.occurred


def test_status_change_without_statuscategorychangedate_uses_event_time():
    event = parse("issue_updated__status_cloud")
    assert event.item.status_changed == event.occurred
    assert event.occurred == dt.datetime(2017, 1, 30, 17, 32, 14, 721000, tzinfo=dt.UTC)


def test_edit_without_status_change_leaves_status_changed_unknown():
    assert parse("issue_updated__fields_server_no_type_name").item.status_changed is None


def test_server_users_fall_back_to_name_and_sites_keep_context_path():
    event = parse("issue_updated__fields_server_no_type_name")
    assert event.actor == Person("admin", "admin")
    assert event.item.url == "http://localhost:2990/jira/browse/TEST-11"
    assert FieldChange("priority", "Major", "Blocker") in event.changes


def test_assignee_change_names_the_new_person():
    (change,) = parse("issue_updated__assignee_cloud").changes
    assert change == FieldChange("assignee", None, Person("Leo Franchi", "lfranchi"))


def test_tracker_url_wins_over_issue_self():
    tracker = TrackerConfig(name="jira", kind="jira", url="https://jira.acme.test")
    assert parse("issue_created__server_zulip", tracker).item.url == (
        "https://jira.acme.test/browse/BUG-15"
    )


def test_issue_commented_update_is_a_comment_event_with_the_comment():
    event = parse("issue_updated__commented_cloud")
    assert event.kind is EventKind.COMMENTED
    assert event.comment.id == "10230"
    assert event.comment.body.startswith("PMO compliance (pmo-bridge)")
    assert event.actor.display_name == "PMO Bridge"


@pytest.mark.parametrize(
    ("type_name", "kind"),
    [
        ("issue_commented", EventKind.COMMENTED),
        ("issue_comment_edited", EventKind.COMMENTED),
        ("issue_comment_deleted", EventKind.COMMENTED),
        ("issue_assigned", EventKind.UPDATED),
        ("issue_generic", EventKind.UPDATED),
        ("issue_updated", EventKind.UPDATED),
        (None, EventKind.UPDATED),
    ],
)
def test_issue_event_type_name_tells_comments_from_edits(type_name, kind):
    payload = load_fixture("jira", "issue_updated__status_cloud")
    payload["issue_event_type_name"] = type_name
    assert jira.parse_event(payload, TRACKER).kind is kind


def test_comment_events_carry_comment_and_actor_but_deletes_have_no_actor():
    updated = parse("comment_updated__cloud")
    assert updated.comment.id == "10215"
    assert "@5f8d7b2a9c4e1d0012a3b4c5" in updated.comment.body
    assert updated.actor.display_name == "Priya Natarajan"
    assert updated.revision is None  # slim issue has no `updated`
    assert parse("comment_deleted__cloud").actor is None


def test_comment_event_without_issue_key_uses_id_from_comment_url():
    payload = load_fixture("jira", "comment_created__cloud")
    del payload["issue"]
    event = jira.parse_event(payload, TRACKER)
    assert (event.item, event.item_key, event.partial) == (None, "jira:10000", True)


# --- verify_request ----------------------------------------------------------------------

BODY = b'{"webhookEvent":"jira:issue_updated"}'
SECRET = "s3cret-value"
DIGEST = hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()


@pytest.mark.parametrize(
    ("headers", "secret", "expected"),
    [
        ({"X-Hub-Signature": f"sha256={DIGEST}"}, SECRET, True),
        ({"x-hub-signature": f"sha256={DIGEST}"}, SECRET, True),
        ({"X-Hub-Signature": f"sha256={DIGEST.upper()}"}, SECRET, True),
        ({"X-Hub-Signature": f"sha256={DIGEST}"}, "another-secret", False),
        ({"X-Hub-Signature": f"sha256={'0' * 64}"}, SECRET, False),
        ({}, SECRET, False),
        ({"X-Hub-Signature": DIGEST}, SECRET, False),
        ({"X-Hub-Signature": f"sha1={DIGEST[:40]}"}, SECRET, False),
        ({"X-Hub-Signature": f"sha256={DIGEST[:-1]}"}, SECRET, False),
        ({"X-Hub-Signature": "sha256=" + "zz" * 32}, SECRET, False),
        ({"X-Hub-Signature": ""}, SECRET, False),
        ({}, None, True),
        ({"X-Hub-Signature": "sha256=garbage"}, None, True),
    ],
    ids=[
        "right",
        "lower-case-header",
        "upper-case-hex",
        "wrong-secret",
        "wrong-digest",
        "missing",
        "no-prefix",
        "sha1",
        "short",
        "not-hex",
        "empty",
        "no-secret",
        "no-secret-any-header",
    ],
)
def test_verify_request(headers, secret, expected):
    assert jira.verify_request(headers, BODY, secret) is expected


def test_verify_request_signs_the_raw_body_not_a_reserialisation():
    headers = {"X-Hub-Signature": f"sha256={DIGEST}"}
    assert jira.verify_request(headers, BODY + b" ", SECRET) is False


# --- delivery_id -------------------------------------------------------------------------


def test_delivery_id_prefers_the_atlassian_header():
    payload = load_fixture("jira", "issue_updated__labels")
    headers = {"x-atlassian-webhook-identifier": "e9f3b2c4-0a1d-4c8e-9b7f-3d2a1c0b9e8f"}
    assert jira.delivery_id(headers, payload) == "e9f3b2c4-0a1d-4c8e-9b7f-3d2a1c0b9e8f"


@pytest.mark.parametrize("name", fixture_names("jira"))
def test_delivery_id_without_header_is_stable_per_body(name):
    first = jira.delivery_id({}, load_fixture("jira", name))
    assert first and first == jira.delivery_id({}, load_fixture("jira", name))


def test_delivery_id_without_header_tells_changes_apart():
    payload = load_fixture("jira", "issue_updated__labels")
    other = load_fixture("jira", "issue_updated__labels")
    other["changelog"]["id"] = "10874"
    assert jira.delivery_id({}, payload) != jira.delivery_id({}, other)
    assert jira.delivery_id({}, ["not", "a", "dict"]) is None
    assert jira.delivery_id({}, {"issue": {"id": "1"}}) is None


# --- bad input ---------------------------------------------------------------------------


def _with(name: str, path: tuple[str, ...], value: object) -> dict:
    payload = load_fixture("jira", name)
    target = payload
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return payload


BAD_PAYLOADS = {
    "not-a-dict": "jira:issue_updated",
    "list": [{"webhookEvent": "jira:issue_updated"}],
    "none": None,
    "missing-webhookEvent": {"issue": {"key": "PAY-1"}},
    "webhookEvent-not-a-string": {"webhookEvent": 7},
    "issue-missing": {"webhookEvent": "jira:issue_created", "timestamp": 1},
    "issue-not-a-dict": _with("issue_updated__labels", ("issue",), "PAY-12"),
    "issue-without-key": _with("issue_updated__labels", ("issue", "key"), None),
    "fields-a-list": _with("issue_updated__labels", ("issue", "fields"), []),
    "status-a-string": _with("issue_updated__labels", ("issue", "fields", "status"), "Done"),
    "labels-a-string": _with("issue_updated__labels", ("issue", "fields", "labels"), "backend"),
    "labels-an-object": _with("issue_updated__labels", ("issue", "fields", "labels"), {}),
    "issuelinks-a-dict": _with("issue_updated__labels", ("issue", "fields", "issuelinks"), {}),
    "summary-a-dict": _with("issue_updated__labels", ("issue", "fields", "summary"), {"a": 1}),
    "assignee-a-list": _with("issue_updated__labels", ("issue", "fields", "assignee"), []),
    "changelog-a-list": _with("issue_updated__labels", ("changelog",), []),
    "changelog-items-not-a-list": _with("issue_updated__labels", ("changelog", "items"), {}),
    "changelog-item-a-string": _with("issue_updated__labels", ("changelog", "items"), ["x"]),
    "changelog-item-no-field": _with("issue_updated__labels", ("changelog", "items"), [{}]),
    "user-a-list": _with("issue_updated__labels", ("user",), ["Tom"]),
    "comment-a-string": _with("comment_updated__cloud", ("comment",), "hello"),
    "comment-no-issue": {"webhookEvent": "comment_created", "comment": {"id": "1"}},
    "issueLink-missing": {"webhookEvent": "issuelink_created"},
    "issueLink-id-not-numeric": _with(
        "issuelink_created__blocks", ("issueLink", "sourceIssueId"), "PAY-12"
    ),
    "issueLink-type-a-list": _with(
        "issuelink_created__blocks", ("issueLink", "issueLinkType"), ["Blocks"]
    ),
}


@pytest.mark.parametrize("payload", list(BAD_PAYLOADS.values()), ids=list(BAD_PAYLOADS))
def test_bad_payloads_raise_one_line_payload_error(payload):
    with pytest.raises(PayloadError) as caught:
        jira.parse_event(payload, TRACKER)
    message = str(caught.value)
    assert message and "\n" not in message


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ("jira:something_new", "unknown event 'jira:something_new'"),
        ("sprint_started", "sprints are not work items"),
        ("jira:version_released", "versions are not work items"),
        ("attachment_created", "attachments are not read by rules"),
    ],
)
def test_unknown_and_known_unused_events_are_ignored(event, reason):
    result = jira.parse_event({"webhookEvent": event}, TRACKER)
    assert result == Ignored(event, reason)


def test_unparseable_dates_and_numbers_are_dropped_not_fatal():
    payload = load_fixture("jira", "issue_created__epic_with_parent")
    fields = payload["issue"]["fields"]
    fields.update(duedate="someday", customfield_10016="a lot", updated="not a time")
    payload["timestamp"] = "yesterday"
    event = jira.parse_event(payload, TRACKER)
    assert (event.item.due_date, event.item.estimate, event.item.updated) == (None, None, None)
    assert (event.item.revision, event.occurred) == (0, None)


# --- field-map configuration --------------------------------------------------------------


def test_configured_fields_estimate_epic_link_and_custom_values():
    item = parse("issue_updated__epic_link_server", CONFIGURED).item
    assert item.estimate == 8.0  # customfield_10002, not the Cloud default
    assert item.parent == "jira:PROJ-7"
    epic = parse("issue_created__epic_with_parent", CONFIGURED).item
    assert dict(epic.custom) == {
        "team": "Checkout",
        "regions": ["EU", "UK"],
        "sponsor": "Tom Becker",
    }
    assert epic.estimate is None  # the configured estimate field is absent on this issue


@pytest.mark.parametrize(
    ("value", "expected"),
    [(3, 3.0), (2.5, 2.5), ("5", 5.0), ("", None), (None, None), (True, None)],
)
def test_estimate_tolerates_strings(value, expected):
    payload = _with("issue_updated__labels", ("issue", "fields", "customfield_10016"), value)
    assert jira.item_from_issue(payload["issue"], TRACKER).estimate == expected


def test_type_map_and_state_map_override_defaults():
    item = parse("issue_updated__labels", CONFIGURED).item
    assert item.type is ItemType.FEATURE  # type_map: Story -> feature
    assert item.status_category is StatusCategory.REMOVED  # state_map: In Progress -> removed
    done = parse("issue_updated__status_done_cloud", CONFIGURED).item
    assert done.status_category is StatusCategory.DONE  # not in state_map: statusCategory.key


@pytest.mark.parametrize(
    ("name", "subtask", "expected"),
    [
        ("Initiative", False, ItemType.INITIATIVE),
        ("Feature", False, ItemType.FEATURE),
        ("Sub-task", True, ItemType.SUBTASK),
        ("Subtask", True, ItemType.SUBTASK),
        ("Teilaufgabe", True, ItemType.SUBTASK),
        ("Risk", False, ItemType.RISK),
        ("Improvement", False, ItemType.OTHER),
    ],
)
def test_issue_type_normalisation(name, subtask, expected):
    issue = load_fixture("jira", "issue_updated__labels")["issue"]
    issue["fields"]["issuetype"].update(name=name, subtask=subtask)
    assert jira.item_from_issue(issue, TRACKER).type is expected


def test_status_category_is_never_guessed_from_the_name():
    issue = load_fixture("jira", "issue_updated__labels")["issue"]
    issue["fields"]["status"] = {"name": "Done"}  # no statusCategory
    assert jira.item_from_issue(issue, TRACKER).status_category is StatusCategory.TODO


def test_configured_changelog_fields_get_common_names():
    payload = load_fixture("jira", "issue_updated__labels")
    payload["changelog"]["items"] = [
        {"field": "Story point estimate", "fieldtype": "custom", "fieldId": "customfield_10016",
         "from": None, "fromString": "3", "to": None, "toString": "5"},
        {"field": "Team", "fieldtype": "custom", "fieldId": "customfield_10050",
         "from": "10020", "fromString": "Ledger", "to": "10021", "toString": "Checkout"},
        {"field": "duedate", "fieldtype": "jira", "fieldId": "duedate",
         "from": None, "fromString": None, "to": "2024-06-28", "toString": "2024-06-28 00:00:00.0"},
        {"field": "IssueParentAssociation", "fieldtype": "jira",
         "from": "10040", "fromString": "PAY-100", "to": "10041", "toString": "PAY-101"},
        {"field": "summary", "fieldtype": "jira", "fieldId": "summary",
         "from": None, "fromString": "Old", "to": None, "toString": "New"},
        {"field": "Sprint", "fieldtype": "custom", "fieldId": "customfield_10020",
         "from": "", "fromString": "", "to": "37", "toString": "PAY Sprint 12"},
    ]  # fmt: skip
    tracker = TrackerConfig(name="jira", kind="jira", fields={"team": "customfield_10050"})
    changes = jira.parse_event(payload, tracker).changes
    assert changes == (
        FieldChange("estimate", 3.0, 5.0),
        FieldChange("team", "Ledger", "Checkout"),
        FieldChange("due_date", None, dt.date(2024, 6, 28)),
        FieldChange("parent", "jira:PAY-100", "jira:PAY-101"),
        FieldChange("title", "Old", "New"),
        FieldChange("customfield_10020", "", "PAY Sprint 12"),
    )


def test_issue_links_use_the_description_from_this_issues_side():
    issue = load_fixture("jira", "issue_updated__labels")["issue"]
    link_type = {"id": "10000", "name": "Blocks", "inward": "is blocked by", "outward": "blocks"}
    issue["fields"]["issuelinks"] = [
        {"id": "1", "type": link_type, "outwardIssue": {"id": "10057", "key": "PAY-20"}},
        {"id": "2", "type": link_type, "inwardIssue": {"id": "10058", "key": "WEB-3"}},
    ]
    assert jira.item_from_issue(issue, TRACKER).links == (
        Link("blocks", "jira:PAY-20"),
        Link("is blocked by", "jira:WEB-3"),
    )


# --- rich text -----------------------------------------------------------------------------


def test_adf_description_is_flattened_to_text():
    issue = load_fixture("jira", "issue_updated__labels")["issue"]
    issue["fields"]["description"] = {
        "type": "doc",
        "version": 1,
        "content": [
            {"type": "heading", "attrs": {"level": 2},
             "content": [{"type": "text", "text": "Business case"}]},
            {"type": "paragraph", "content": [
                {"type": "text", "text": "Ask "},
                {"type": "mention", "attrs": {"id": "abc", "text": "@Tom Becker"}},
                {"type": "hardBreak"},
                {"type": "text", "text": "second line", "marks": [{"type": "strong"}]},
            ]},
            {"type": "bulletList", "content": [
                {"type": "listItem", "content": [
                    {"type": "paragraph", "content": [{"type": "text", "text": "one"}]}]},
                {"type": "listItem", "content": [
                    {"type": "paragraph", "content": [{"type": "text", "text": "two"}]}]},
            ]},
        ],
    }  # fmt: skip
    assert jira.item_from_issue(issue, TRACKER).description == (
        "Business case\nAsk @Tom Becker\nsecond line\n- one\n- two"
    )


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("h1. Title\nbody", "Title\nbody"),
        ("* one\n** two\n# three", "- one\n- two\n- three"),
        ("see [docs|https://x.test] now", "see docs now"),
        ("{code:java}int x;{code}", "int x;"),
        ("||a||b||\n|1|2|", "a | b\n1 | 2"),
        ("ask [~accountid:abc123]", "ask @abc123"),
        ("keep *bold* and snake_case", "keep *bold* and snake_case"),
    ],
)
def test_wiki_markup_light_clean_up(markup, text):
    assert wiki_to_text(markup) == text


def test_adf_tolerates_junk_nodes():
    assert adf_to_text({"type": "doc", "content": [None, "x", {"type": "paragraph"}]}) == ""


def test_absurdly_nested_values_do_not_exhaust_recursion():
    depth = 450  # deep, but still within what json.loads accepts
    nested = json.loads(
        '{"type":"paragraph","content":[' * depth + '{"type":"text","text":"x"}' + "]}" * depth
    )
    payload = load_fixture("jira", "issue_updated__labels")
    payload["issue"]["fields"]["description"] = {"type": "doc", "content": [nested]}
    payload["issue"]["fields"]["customfield_10016"] = json.loads("[" * 900 + "]" * 900)
    event = jira.parse_event(payload, TRACKER)
    assert event.item.description == "" and event.item.estimate is None
