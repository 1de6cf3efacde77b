"""Hostile input at the webhook endpoints: generated payloads, correctly signed so they reach
the parsers, must never produce a 5xx, a traceback or a stuck service, and what is accepted
must not crash the worker.

Generated from the real fixtures: a random node replaced by a random JSON value, keys
removed, huge strings, deep nesting, surrogates and NULs, truncated bodies and wrong
signatures. The number of inputs is bounded by the `pmo-bridge-ci` Hypothesis profile
(`PMO_BRIDGE_FUZZ_EXAMPLES`, default 200 per test)."""

from __future__ import annotations

import json
import os
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.helpers import fixture_bytes, fixture_names, load_fixture
from tests.support.queue_helpers import drain
from tests.support.service import (
    AZURE_SECRET_ENV,
    JIRA_SECRET_ENV,
    azure_headers,
    jira_headers,
    make_settings,
)
from webhooks.http.app import create_app
from webhooks.store.records import UNFINISHED_STATUSES

JIRA_SECRET = "jira-fuzz-secret"
AZURE_SECRET = "azure-fuzz-secret"
MAX_BODY = 256 * 1024
TRACKERS = ("jira", "azure-devops")

settings.register_profile(
    "pmo-bridge-ci",
    max_examples=int(os.environ.get("PMO_BRIDGE_FUZZ_EXAMPLES", "200")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=os.environ.get("CI", "").lower() == "true",
)
FUZZ = settings.get_profile("pmo-bridge-ci")

TRIED: Counter[str] = Counter()
STATUSES: Counter[tuple[str, int]] = Counter()


# -- the service under attack -----------------------------------------------------------


@pytest.fixture
def service(tmp_path, monkeypatch):
    monkeypatch.setenv(JIRA_SECRET_ENV, JIRA_SECRET)
    monkeypatch.setenv(AZURE_SECRET_ENV, AZURE_SECRET)
    monkeypatch.setenv("PMO_BRIDGE_ADMIN_TOKEN", "admin-fuzz-token")
    # No tracker URLs: the worker records findings and writes nothing back.
    settings_ = make_settings(
        tmp_path, max_body_bytes=MAX_BODY, max_retries=1, retry_base_seconds=0.01
    )
    app = create_app(settings=settings_)
    return app, app.test_client()


class Poster:
    """Posts to one tracker with correct credentials and counts what it sent."""

    def __init__(self, client, tracker: str, label: str) -> None:
        self.client, self.tracker, self.label = client, tracker, label
        self.sent = 0

    def post(self, body: bytes, headers: dict[str, str] | None = None):
        self.sent += 1
        TRIED[self.label] += 1
        if headers is None:
            headers = self.signed(body)
        response = self.client.post(f"/webhooks/{self.tracker}", data=body, headers=headers)
        assert_well_formed(response)
        STATUSES[self.label, response.status_code] += 1
        return response

    def signed(self, body: bytes, delivery: str | None = None) -> dict[str, str]:
        if self.tracker == "jira":
            return jira_headers(body, JIRA_SECRET, delivery or f"{self.label}-{self.sent}")
        return azure_headers(AZURE_SECRET)


def assert_well_formed(response) -> None:
    text = response.get_data(as_text=True)
    assert response.status_code < 500, text[:500]
    assert "Traceback" not in text and 'File "' not in text
    assert response.mimetype == "application/json", text[:200]
    body = response.get_json()
    assert isinstance(body, dict) and ("error" in body or "status" in body), body


def still_serving(client, tracker: str, tag: str) -> None:
    """A good delivery after the fuzzing is still accepted."""
    if tracker == "jira":
        body = fixture_bytes("jira", "issue_created__server_zulip")
        headers = jira_headers(body, JIRA_SECRET, f"after-{tag}")
    else:
        payload = load_fixture("azure-devops", "workitem.created__sample")
        payload["id"] = f"after-{tag}"
        body = json.dumps(payload).encode()
        headers = azure_headers(AZURE_SECRET)
    response = client.post(f"/webhooks/{tracker}", data=body, headers=headers)
    assert response.status_code == 202, response.get_json()
    assert client.get("/healthz").status_code == 200


def drain_worker(app, tag: str) -> dict[str, int]:
    """Run every accepted delivery through the worker: it must not crash, and each one ends
    done, ignored or dead (after its retries), never stuck."""
    runtime = app.extensions["pmo_bridge"]
    ran = drain(runtime, timeout=60)
    counts = runtime.store.delivery_counts()
    assert all(counts[status] == 0 for status in UNFINISHED_STATUSES), counts
    letters = runtime.dead_letters()
    assert len(letters) == counts.get("dead", 0)
    listed = app.test_client().get(
        "/admin/deadletters", headers={"Authorization": "Bearer admin-fuzz-token"}
    )
    assert listed.status_code == 200 and len(listed.get_json()["deadletters"]) == len(letters)
    print(f"\n[{tag}] worker ran {ran} tasks; deliveries {counts}; dead letters {len(letters)}")
    return counts


def report(tag: str) -> None:
    answers = {status: n for (label, status), n in sorted(STATUSES.items()) if label == tag}
    print(f"\n[{tag}] inputs tried: {TRIED[tag]}; answers by status: {answers}")


# -- strategies -------------------------------------------------------------------------

NASTY_STRINGS = [
    "",
    "\x00",
    "a\x00b",
    "\ud800",
    "x\udfffy",
    "\U0001f4a9",
    "\u202eevil",
    "{assignee}",
    "{0.__globals__}",
    "{{7*7}}",
    "<script>alert(1)</script>",
    "'; DROP TABLE deliveries; --",
    "../../../etc/passwd",
    "%s%s%n",
    "jira:issue_updated",
    "workitem.updated",
    "9" * 5000,
    "-1",
    "NaN",
    "Infinity",
    "-Infinity",
    "1e999",
    "ZZZ-1/../PAY-1",  # keys that would steer tracker calls to other paths
    "PAY-1?expand=changelog",
    "PAY-1#x",
    "10001/../10002",
    "A" * 256 + "-1",  # wider than the store's key columns
    "k" * 300,
    str(2**63),  # past the store's integers
]

hostile_text = st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=40),  # surrogates included
    st.sampled_from(NASTY_STRINGS),
    st.sampled_from([10_000, 100_000, 300_000]).map(lambda n: "x" * n),  # huge
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**200), max_value=2**200),
    st.floats(allow_nan=False, allow_infinity=False),
    hostile_text,
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=12) | st.sampled_from(NASTY_STRINGS), inner, max_size=4)
    ),
    max_leaves=12,
)

DEEP = "@@deep-nesting@@"


def paths_of(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every node's path in a JSON tree, the root included."""
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += paths_of(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += paths_of(child, (*prefix, index))
    return found


def replaced(tree: Any, path: tuple, new: Any) -> Any:
    if not path:
        return new
    parent = tree
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = new
    return tree


def removed(tree: Any, path: tuple) -> Any:
    if path:
        parent = tree
        for step in path[:-1]:
            parent = parent[step]
        del parent[path[-1]]
    return tree


@st.composite
def mutated_payload(draw, tracker: str) -> bytes:
    """A real fixture with one to three nodes replaced, removed or nested very deep."""
    name = draw(st.sampled_from(fixture_names(tracker)))
    payload = load_fixture(tracker, name)
    if tracker == "azure-devops":
        payload["id"] = f"fuzz-{draw(st.uuids())}"  # a fresh delivery, not a duplicate
    depth = None
    for _ in range(draw(st.integers(1, 3))):
        paths = paths_of(payload)
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["replace", "replace", "remove", "deep"]))
        if action == "remove" and path:
            payload = removed(payload, path)
        elif action == "deep" and depth is None:
            depth = draw(st.sampled_from([127, 128, 129, 1_000, 10_000, 50_000]))
            payload = replaced(payload, path, DEEP)
        else:
            payload = replaced(payload, path, draw(json_values))
    body = json.dumps(payload)  # lone surrogates become \ud800 escapes, as a sender's would
    if depth is not None:
        # Built as text: a Python structure this deep would not even serialise.
        body = body.replace(json.dumps(DEEP), "[" * depth + "]" * depth, 1)
    return body.encode()


@st.composite
def truncated_fixture(draw, tracker: str) -> bytes:
    raw = fixture_bytes(tracker, draw(st.sampled_from(fixture_names(tracker))))
    return raw[: draw(st.integers(0, len(raw.rstrip()) - 1))]


# -- tests ------------------------------------------------------------------------------


@pytest.mark.parametrize("tracker", TRACKERS)
def test_mutated_fixtures_never_cause_a_server_error(service, tracker):
    app, client = service
    tag = f"mutated {tracker}"
    poster = Poster(client, tracker, tag)
    accepted = 0

    @FUZZ
    @given(body=mutated_payload(tracker))
    def run(body):
        nonlocal accepted
        response = poster.post(body)
        if len(body) > MAX_BODY:
            assert response.status_code == 413
        if response.status_code == 202 and response.get_json()["status"] == "accepted":
            accepted += 1

    run()
    report(tag)
    still_serving(client, tracker, tag)
    counts = drain_worker(app, tag)
    assert sum(counts.values()) >= accepted


@pytest.mark.parametrize("tracker", TRACKERS)
def test_truncated_bodies_are_400(service, tracker):
    _app, client = service
    tag = f"truncated {tracker}"
    poster = Poster(client, tracker, tag)

    @FUZZ
    @given(body=truncated_fixture(tracker))
    def run(body):
        response = poster.post(body)
        assert response.status_code == 400, response.get_json()

    run()
    report(tag)
    still_serving(client, tracker, tag)


@pytest.mark.parametrize("tracker", TRACKERS)
def test_arbitrary_json_and_bytes_are_answered_in_json(service, tracker):
    _app, client = service
    tag = f"arbitrary {tracker}"
    poster = Poster(client, tracker, tag)

    @FUZZ
    @given(body=json_values.map(lambda v: json.dumps(v).encode()) | st.binary(max_size=2000))
    def run(body):
        assert poster.post(body).status_code in (200, 202, 400, 413)

    run()
    report(tag)
    still_serving(client, tracker, tag)


@pytest.mark.parametrize("tracker", TRACKERS)
def test_wrong_credentials_are_401_before_parsing(service, tracker):
    _app, client = service
    tag = f"credentials {tracker}"
    poster = Poster(client, tracker, tag)
    header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=200)

    @FUZZ
    @given(
        body=mutated_payload(tracker) | st.binary(max_size=500),
        secret=st.text(min_size=1, max_size=40).filter(
            lambda s: s not in (JIRA_SECRET, AZURE_SECRET)
        ),
        extra=st.dictionaries(
            st.sampled_from(
                [
                    "X-Hub-Signature",
                    "Authorization",
                    "X-PMO-Bridge-Secret",
                    "X-Atlassian-Webhook-Identifier",
                ]
            ),
            header_text,
        ),
        tamper=st.booleans(),
    )
    def run(body, secret, extra, tamper):
        if tracker == "jira":
            # Signed with a wrong secret, or correctly signed and the body changed after.
            headers = jira_headers(body, JIRA_SECRET if tamper else secret, "cred")
            sent = body + b" " if tamper else body
            extra.pop("X-Hub-Signature", None)
        else:
            headers = azure_headers(secret)
            sent = body
            extra.pop("Authorization", None)
            if extra.get("X-PMO-Bridge-Secret") == AZURE_SECRET:
                extra.pop("X-PMO-Bridge-Secret")
        headers.update(extra)
        response = poster.post(sent, headers)
        assert response.status_code in (401, 413), response.get_json()

    run()
    report(tag)
    still_serving(client, tracker, tag)


@pytest.mark.parametrize("tracker", TRACKERS)
@pytest.mark.parametrize(
    "body",
    [
        b"[" * 10_000 + b"]" * 10_000,
        b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
        b"[" * 10_000,
        b'{"webhookEvent": "jira:issue_updated", "issue": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
    ],
    ids=["arrays", "objects", "unclosed", "inside-an-event"],
)
def test_ten_thousand_levels_of_nesting_are_rejected(service, tracker, body):
    _app, client = service
    poster = Poster(client, tracker, f"deep {tracker}")
    response = poster.post(body)
    assert response.status_code in (400, 413)
    assert "error" in response.get_json()
    still_serving(client, tracker, f"deep-{len(body)}")


@pytest.mark.parametrize("tracker", TRACKERS)
@pytest.mark.parametrize(
    "body, status",
    [
        (b'{"webhookEvent": "\\ud800", "eventType": "\\udc00"}', 400),
        (b'{"id": "a\\u0000b", "webhookEvent": "jira:x\\u0000", "eventType": "x\\u0000"}', 202),
        (b'{"webhookEvent": NaN, "eventType": Infinity}', 400),
        (b"\xef\xbb\xbf{}", 400),  # a byte-order mark is not JSON
        (b"\xed\xa0\x80", 400),  # a surrogate encoded as UTF-8 bytes is invalid UTF-8
        (b"", 400),
        (b"null", 400),
    ],
    ids=["lone-surrogates", "nul", "nan", "bom", "utf8-surrogate", "empty", "null"],
)
def test_unicode_and_non_json_constants(service, tracker, body, status):
    _app, client = service
    response = Poster(client, tracker, f"unicode {tracker}").post(body)
    assert response.status_code == status, response.get_json()
