"""Intake skips rich-text conversion; that must change nothing but the texts: every
payload is accepted, ignored or refused exactly as with conversion."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config.settings import TrackerConfig
from connector import azure_devops, jira
from connector.errors import PayloadError
from connector.jira.text import adf_to_text
from connector.model import Ignored
from connector.texts import converting_rich_text, rich_text_skipped
from tests.support.helpers import fixture_names, load_fixture

TRACKERS = {
    "jira": (jira, TrackerConfig(name="jira", kind="jira")),
    "azure-devops": (azure_devops, TrackerConfig(name="azure-devops", kind="azure-devops")),
}
FIXTURES = [(kind, name) for kind in TRACKERS for name in fixture_names(kind)]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet="<>![]&;/ab pdiv"),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["type", "content", "text", "attrs"]), inner, max_size=3)
    ),
    max_leaves=12,
)


def outcome(kind: str, payload: Any) -> Any:
    adapter, tracker = TRACKERS[kind]
    try:
        return adapter.parse_event(payload, tracker)
    except PayloadError:
        return PayloadError


@pytest.mark.parametrize(("kind", "name"), FIXTURES)
def test_every_fixture_parses_alike_without_rich_text(kind: str, name: str) -> None:
    payload = load_fixture(kind, name)
    full = outcome(kind, payload)
    with rich_text_skipped():
        skipped = outcome(kind, payload)
    if full is PayloadError or isinstance(full, Ignored):
        assert skipped == full
        return
    assert (skipped.kind, skipped.item_key, skipped.native_event, skipped.revision) == (
        full.kind,
        full.item_key,
        full.native_event,
        full.revision,
    )
    if skipped.item is not None:
        assert skipped.item.description == ""
        assert skipped.item.with_changes(description=full.item.description) == full.item


def _rich_text_slots(kind: str, payload: dict) -> list[tuple[dict, str]]:
    """Where a payload keeps rich text: (the object, its key)."""
    if kind == "jira":
        slots = []
        if isinstance(payload.get("issue"), dict) and isinstance(
            payload["issue"].get("fields"), dict
        ):
            slots.append((payload["issue"]["fields"], "description"))
        if isinstance(payload.get("comment"), dict):
            slots.append((payload["comment"], "body"))
        return slots
    resource = payload.get("resource") or {}
    fields = resource.get("fields") if isinstance(resource, dict) else None
    revision = resource.get("revision") if isinstance(resource, dict) else None
    slots = []
    for holder in (fields, (revision or {}).get("fields") if isinstance(revision, dict) else None):
        if isinstance(holder, dict):
            slots += [(holder, "System.Description"), (holder, "System.History")]
    return slots


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(FIXTURES), json_values)
def test_no_rich_text_value_changes_what_intake_accepts(fixture, value) -> None:
    kind, name = fixture
    payload = copy.deepcopy(load_fixture(kind, name))
    for holder, key in _rich_text_slots(kind, payload):
        holder[key] = value
    full = outcome(kind, payload)
    with rich_text_skipped():
        skipped = outcome(kind, payload)
    assert (full is PayloadError) == (skipped is PayloadError)


def test_the_skip_ends_with_its_block_even_on_error() -> None:
    assert converting_rich_text()
    with pytest.raises(RuntimeError), rich_text_skipped():
        assert not converting_rich_text()
        raise RuntimeError
    assert converting_rich_text()


def test_adf_with_a_list_or_object_for_a_node_type_still_reads() -> None:
    document = {
        "type": "doc",
        "content": [{"type": ["x"], "content": [{"type": "text", "text": "hi"}]}],
    }
    assert adf_to_text(document) == "hi"
