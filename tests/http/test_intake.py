"""Webhook intake over the Flask test client: the contract's answers for good and bad input."""

from __future__ import annotations

import json

import pytest

from tests.support.helpers import fixture_bytes, load_fixture
from tests.support.service import (
    AZURE_SECRET_ENV,
    JIRA_SECRET_ENV,
    as_body,
    azure_headers,
    jira_headers,
    make_settings,
)
from webhooks.http.app import create_app

JIRA_SECRET = "jira-secret-for-tests"
AZURE_SECRET = "azure-secret-for-tests"


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setenv(JIRA_SECRET_ENV, JIRA_SECRET)
    monkeypatch.setenv(AZURE_SECRET_ENV, AZURE_SECRET)
    return create_app(settings=make_settings(tmp_path, max_body_bytes=64 * 1024))


@pytest.fixture
def client(app):
    return app.test_client()


def runtime_of(app):
    return app.extensions["pmo_bridge"]


def post_jira(client, body: bytes, *, secret=JIRA_SECRET, delivery="d-1", **kw):
    return client.post(
        "/webhooks/jira", data=body, headers=jira_headers(body, secret, delivery), **kw
    )


def post_azure(client, body: bytes, *, secret=AZURE_SECRET):
    return client.post("/webhooks/azure-devops", data=body, headers=azure_headers(secret))


def test_signed_jira_event_is_stored_for_the_queue(app, client):
    body = fixture_bytes("jira", "issue_updated__status_cloud")
    response = post_jira(client, body, delivery="abc-1")
    assert response.status_code == 202
    assert response.get_json() == {"status": "accepted", "delivery": "abc-1"}
    runtime = runtime_of(app)
    assert runtime.queue_depth() == 1
    assert runtime.store.delivery_counts()["received"] == 1  # the relay queues it


def test_intake_marks_what_the_worker_needs_to_pass_over_superseded_edits(app, client):
    post_jira(client, fixture_bytes("jira", "issue_updated__status_cloud"), delivery="e-1")
    post_azure(client, fixture_bytes("azure-devops", "workitem.commented__sample"))
    store = runtime_of(app).store
    edit, comment = store.get_deliveries([1, 2])  # the first two rows of a new store
    payload = load_fixture("jira", "issue_updated__status_cloud")
    assert (edit.item_key, edit.event_kind) == (f"jira:{payload['issue']['key']}", "updated")
    assert edit.item_revision is not None and edit.item_revision > 0  # a person's whole edit
    assert comment.item_key.startswith("azure-devops:")
    assert (comment.event_kind, comment.item_revision) == ("commented", None)


def test_repeated_delivery_is_a_duplicate(app, client):
    body = fixture_bytes("jira", "issue_updated__status_cloud")
    assert post_jira(client, body, delivery="same").status_code == 202
    again = post_jira(client, body, delivery="same")
    assert again.status_code == 200
    assert again.get_json()["status"] == "duplicate"
    assert runtime_of(app).queue_depth() == 1


def test_known_but_unused_event_is_acknowledged_as_ignored(client):
    body = fixture_bytes("jira", "worklog_created__cloud")
    response = post_jira(client, body)
    assert response.status_code == 202
    data = response.get_json()
    assert data["status"] == "ignored"
    assert data["reason"]


@pytest.mark.parametrize(
    "secret, expected",
    [(JIRA_SECRET, 202), ("wrong-secret", 401), (None, 401)],
    ids=["right", "wrong", "missing"],
)
def test_jira_signature(client, secret, expected):
    body = fixture_bytes("jira", "issue_created__server_zulip")
    response = post_jira(client, body, secret=secret)
    assert response.status_code == expected
    if expected == 401:
        assert "error" in response.get_json()


def test_signature_checked_before_json_is_parsed(client):
    response = post_jira(client, b"{not json", secret="wrong")
    assert response.status_code == 401


@pytest.mark.parametrize(
    "headers_for, expected",
    [
        (lambda: azure_headers(AZURE_SECRET), 202),
        (lambda: azure_headers(AZURE_SECRET, user="anyone"), 202),
        (lambda: {"Content-Type": "application/json", "X-PMO-Bridge-Secret": AZURE_SECRET}, 202),
        (lambda: azure_headers("nope"), 401),
        (lambda: {"Content-Type": "application/json", "Authorization": "Basic !!!"}, 401),
        (lambda: {"Content-Type": "application/json"}, 401),
    ],
    ids=["basic", "any-user", "header", "wrong", "malformed", "missing"],
)
def test_azure_devops_credentials(client, headers_for, expected):
    body = fixture_bytes("azure-devops", "workitem.updated__state_sample")
    response = client.post("/webhooks/azure-devops", data=body, headers=headers_for())
    assert response.status_code == expected


def test_azure_devops_redelivery_of_same_event_id_is_duplicate(client):
    body = fixture_bytes("azure-devops", "workitem.created__sample")
    assert post_azure(client, body).status_code == 202
    assert post_azure(client, body).get_json()["status"] == "duplicate"


@pytest.mark.parametrize(
    "body, content_type, status, fragment",
    [
        (b"{not json", "application/json", 400, "not valid JSON"),
        (b"[1, 2, 3]", "application/json", 400, ""),
        (b'"text"', "application/json", 400, ""),
        (b"\xff\xfe", "application/json", 400, "not valid JSON"),
        (b"webhookEvent=x", "application/x-www-form-urlencoded", 415, "JSON"),
        (b"{}", "text/plain", 415, "JSON"),
        (
            as_body({"webhookEvent": "jira:issue_updated", "issue": "PAY-1"}),
            "application/json",
            400,
            "",
        ),
        (
            as_body({"webhookEvent": "jira:issue_updated", "issue": {"fields": []}}),
            "application/json",
            400,
            "",
        ),
        (as_body({"no": "event"}), "application/json", 400, ""),
    ],
    ids=[
        "malformed",
        "array",
        "string",
        "bad-utf8",
        "form",
        "text",
        "issue-string",
        "fields-list",
        "no-event",
    ],
)
def test_bad_input_gets_a_json_4xx(client, body, content_type, status, fragment):
    headers = jira_headers(body, JIRA_SECRET)
    headers["Content-Type"] = content_type
    response = client.post("/webhooks/jira", data=body, headers=headers)
    assert response.status_code == status
    error = response.get_json()["error"]
    assert fragment in error
    assert "Traceback" not in error


def test_oversize_body_is_413(client):
    body = as_body({"webhookEvent": "jira:issue_updated", "padding": "x" * 70_000})
    response = post_jira(client, body)
    assert response.status_code == 413
    assert response.get_json() == {"error": "request body too large"}


def test_unknown_event_is_ignored_not_rejected(client):
    body = as_body({"webhookEvent": "jira:something_new", "timestamp": 1})
    response = post_jira(client, body)
    assert response.status_code == 202
    assert response.get_json()["status"] == "ignored"


def test_unknown_tracker_and_wrong_method_answer_json(client):
    missing = client.post(
        "/webhooks/gitlab", data=b"{}", headers={"Content-Type": "application/json"}
    )
    assert missing.status_code == 404 and "error" in missing.get_json()
    wrong = client.get("/webhooks/jira")
    assert wrong.status_code == 405 and "error" in wrong.get_json()


def test_service_keeps_serving_after_bad_input(client):
    for body in (b"{", b"[]", b"\x00" * 10):
        post_jira(client, body)
    good = fixture_bytes("jira", "issue_created__server_zulip")
    assert post_jira(client, good, delivery="after-bad").status_code == 202
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_unsigned_deliveries_refused_when_no_secret_is_configured(tmp_path, monkeypatch):
    monkeypatch.delenv(JIRA_SECRET_ENV, raising=False)
    app = create_app(settings=make_settings(tmp_path))
    body = fixture_bytes("jira", "issue_created__server_zulip")
    response = app.test_client().post(
        "/webhooks/jira", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 401


def test_readiness_and_metrics(client):
    ready = client.get("/readyz")
    assert ready.status_code == 200
    checks = ready.get_json()["checks"]
    assert checks["store"]["ok"] and checks["queue"]["ok"] and checks["rules"]["ok"]

    post_jira(client, fixture_bytes("jira", "issue_created__server_zulip"), delivery="m-1")
    post_jira(client, b"{", delivery="m-2")
    text = client.get("/metrics").get_data(as_text=True)
    assert (
        'pmo_bridge_events_total{event="jira:issue_created",outcome="accepted",tracker="jira"}'
        in text
    )
    assert "pmo_bridge_queue_depth" in text
    assert "# TYPE pmo_bridge_processing_seconds histogram" in text


def test_every_fixture_is_accepted_or_ignored(client):
    """Every real and hand-written payload gets a 2xx: parsed, or ignored with a reason."""
    from tests.support.helpers import fixture_names

    for tracker in ("jira", "azure-devops"):
        for index, name in enumerate(fixture_names(tracker)):
            body = fixture_bytes(tracker, name)
            if tracker == "jira":
                response = post_jira(client, body, delivery=f"{name}-{index}")
            else:
                payload = load_fixture(tracker, name)
                payload["id"] = f"{name}-{index}"
                response = post_azure(client, json.dumps(payload).encode())
            assert response.status_code in (200, 202), (name, response.get_json())
            assert response.get_json()["status"] in ("accepted", "ignored"), name


def _counted(client, labels: str) -> float:
    prefix = "pmo_bridge_events_total{" + labels + "} "
    for line in client.get("/metrics").get_data(as_text=True).splitlines():
        if line.startswith(prefix):
            return float(line[len(prefix) :])
    return 0.0


def test_invented_event_names_are_counted_as_unknown(client):
    """One time series per known event, never one per name a sender invents."""
    unknown = 'event="unknown",outcome="ignored",tracker="jira"'
    sprint = 'event="sprint_started",outcome="ignored",tracker="jira"'
    before = _counted(client, unknown), _counted(client, sprint)
    for n in range(5):
        body = json.dumps({"webhookEvent": f"invented_{n}_event"}).encode()
        assert post_jira(client, body, delivery=f"inv-{n}").status_code == 202
    body = json.dumps({"webhookEvent": "sprint_started"}).encode()
    assert post_jira(client, body, delivery="known-ignored").status_code == 202
    assert "invented_" not in client.get("/metrics").get_data(as_text=True)
    assert (_counted(client, unknown), _counted(client, sprint)) == (before[0] + 5, before[1] + 1)


def test_the_same_signed_body_under_new_delivery_ids_is_a_duplicate(app, client):
    body = fixture_bytes("jira", "issue_updated__status_cloud")
    assert post_jira(client, body, delivery="first").status_code == 202
    for replay in ("second", "third", None):
        again = post_jira(client, body, delivery=replay)
        assert again.status_code == 200 and again.get_json()["status"] == "duplicate"
    other = fixture_bytes("jira", "issue_updated__assignee_cloud")
    assert post_jira(client, other, delivery="fourth").status_code == 202
    azure = fixture_bytes("azure-devops", "workitem.updated__msdocs")
    assert post_azure(client, azure).status_code == 202
    replayed = json.loads(azure)
    replayed["id"] = "a-new-event-id"  # a new id means a new body: not a replay
    assert post_azure(client, json.dumps(replayed).encode()).status_code == 202
    assert post_azure(client, azure).get_json()["status"] == "duplicate"
    assert runtime_of(app).store.delivery_counts()["received"] == 4


def test_the_replay_window_can_be_closed_and_ages_out(tmp_path, monkeypatch):
    import datetime as dt

    from webhooks.store import Store

    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    store.migrate()
    clock = {"now": dt.datetime(2026, 12, 1, tzinfo=dt.UTC)}
    store._clock = lambda: clock["now"]
    day = 24 * 3600
    assert store.record_delivery("jira", "a", "e", b"{}", replay_window=day) is not None
    assert store.record_delivery("jira", "b", "e", b"{}", replay_window=day) is None
    assert store.record_delivery("other", "b", "e", b"{}", replay_window=day) is not None
    assert store.record_delivery("jira", "c", "e", b"{}") is not None  # no window: no check
    clock["now"] += dt.timedelta(days=1, seconds=1)
    assert store.record_delivery("jira", "d", "e", b"{}", replay_window=day) is not None
    store.close()


@pytest.mark.postgres
def test_body_replays_are_duplicates_on_postgresql_too(postgres_url):
    import threading

    from webhooks.store import Store

    store = Store(postgres_url)
    store.migrate()
    results: list = []
    barrier = threading.Barrier(6)

    def deliver(n: int) -> None:
        barrier.wait()
        results.append(store.record_delivery("jira", f"d{n}", "e", b'{"x": 1}', replay_window=60))

    threads = [threading.Thread(target=deliver, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sum(r is not None for r in results) == 1 and len(results) == 6
    store.close()
