"""Security review as tests: constant-time secret comparison, no secret in any log line,
the admin API's three answers, the body size limit, safe YAML loading, and no template
injection through rule messages or item text."""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import io
import json
import logging
import re

import pytest
import responses

from config.settings import ConfigError, TrackerConfig, load_settings
from connector.document import Document
from connector.model import ItemType, Person, StatusCategory, WorkItem
from rules import Context, evaluate
from rules.errors import RulesFileError
from rules.pack import load_pack, parse_pack
from tests.support.helpers import ROOT, fixture_bytes, load_fixture
from tests.support.queue_helpers import drain
from tests.support.service import (
    AZURE_SECRET_ENV,
    JIRA_SECRET_ENV,
    azure_headers,
    jira_headers,
    make_settings,
)
from webhooks.commands.main import main as cli
from webhooks.governance.comments import compliance_document
from webhooks.http.app import create_app

ADMIN_ENV = "PMO_BRIDGE_ADMIN_TOKEN"
SECRETS = {
    JIRA_SECRET_ENV: "jira-hook-Secret-7f3a9c",
    AZURE_SECRET_ENV: "azure-hook-Secret-51be02",
    "TEST_JIRA_EMAIL": "pmo-bot@example.com",
    "TEST_JIRA_TOKEN": "jira-api-Token-c0ffee42",
    ADMIN_ENV: "admin-Token-9d8e7f6a",
}
JIRA_SECRET = SECRETS[JIRA_SECRET_ENV]
AZURE_SECRET = SECRETS[AZURE_SECRET_ENV]
ADMIN_TOKEN = SECRETS[ADMIN_ENV]
SITE = "https://acme-security.atlassian.net"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def secrets_env(monkeypatch):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def app(tmp_path, secrets_env):
    return create_app(settings=make_settings(tmp_path, max_body_bytes=16 * 1024))


@pytest.fixture
def client(app):
    return app.test_client()


# -- constant-time comparison -----------------------------------------------------------


@pytest.fixture
def compare_digest_spy(monkeypatch):
    """Replaces `hmac.compare_digest` (the adapters and the admin check call it through the
    `hmac` module) with a recorder whose answer a test may force."""
    real = hmac.compare_digest
    spy = {"calls": 0, "force": None}

    def recording(a, b):
        spy["calls"] += 1
        return real(a, b) if spy["force"] is None else spy["force"]

    monkeypatch.setattr(hmac, "compare_digest", recording)
    return spy


def test_jira_signature_is_compared_in_constant_time(client, compare_digest_spy):
    body = fixture_bytes("jira", "issue_created__server_zulip")
    assert (
        client.post(
            "/webhooks/jira", data=body, headers=jira_headers(body, JIRA_SECRET, "a")
        ).status_code
        == 202
    )
    assert compare_digest_spy["calls"] == 1
    # The verdict is compare_digest's: forced True, a wrong signature passes.
    compare_digest_spy["force"] = True
    other = body.replace(b'"timestamp": 1364403238369', b'"timestamp": 1364403238370')
    wrong = jira_headers(other, "not-the-secret", "b")
    assert client.post("/webhooks/jira", data=other, headers=wrong).status_code == 202


@pytest.mark.parametrize("via", ["basic", "header"])
def test_azure_devops_secret_is_compared_in_constant_time(client, compare_digest_spy, via):
    payload = load_fixture("azure-devops", "workitem.updated__state_sample")
    body = json.dumps(payload).encode()

    def headers(secret):
        if via == "basic":
            return azure_headers(secret)
        return {"Content-Type": "application/json", "X-PMO-Bridge-Secret": secret}

    compare_digest_spy["force"] = False
    assert (
        client.post("/webhooks/azure-devops", data=body, headers=headers(AZURE_SECRET)).status_code
        == 401
    )
    assert compare_digest_spy["calls"] == 1
    compare_digest_spy["force"] = True
    assert (
        client.post("/webhooks/azure-devops", data=body, headers=headers("wrong")).status_code
        == 202
    )


def test_admin_token_is_compared_in_constant_time(client, compare_digest_spy):
    assert client.get("/admin/deadletters", headers=bearer(ADMIN_TOKEN)).status_code == 200
    assert compare_digest_spy["calls"] == 1
    compare_digest_spy["force"] = True
    assert client.get("/admin/deadletters", headers=bearer("guess")).status_code == 200
    compare_digest_spy["force"] = False
    assert client.get("/admin/deadletters", headers=bearer(ADMIN_TOKEN)).status_code == 401


def test_no_plain_equality_on_secrets_in_the_verifying_modules():
    """Belt and braces for the spy tests: no `==`/`!=` next to a secret or token name."""
    files = [
        ROOT / "connector" / "jira" / "adapter.py",
        ROOT / "connector" / "azure_devops" / "adapter.py",
        ROOT / "connector" / "headers.py",
        ROOT / "webhooks" / "http" / "admin.py",
    ]
    pattern = re.compile(
        r"(secret|token|expected|signature|password)\w*\s*[!=]=|[!=]=\s*\w*(secret|token|expected|signature|password)",
        re.I,
    )
    for path in files:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            assert not pattern.search(line), f"{path.name}:{number}: {line.strip()}"


# -- admin API --------------------------------------------------------------------------


ADMIN_CALLS = [
    ("get", "/admin/deadletters"),
    ("post", "/admin/deadletters/replay"),
    ("post", "/admin/reload"),
]


@pytest.mark.parametrize("method, path", ADMIN_CALLS)
def test_admin_api_is_closed_without_a_configured_token(tmp_path, monkeypatch, method, path):
    monkeypatch.delenv(ADMIN_ENV, raising=False)
    client = create_app(settings=make_settings(tmp_path)).test_client()
    for headers in ({}, bearer(""), bearer("anything")):
        response = getattr(client, method)(path, headers=headers)
        assert response.status_code == 403
        assert "error" in response.get_json()


@pytest.mark.parametrize("method, path", ADMIN_CALLS)
@pytest.mark.parametrize(
    "headers",
    [
        {},
        bearer(""),
        bearer("wrong"),
        bearer(ADMIN_TOKEN + "x"),
        bearer(ADMIN_TOKEN[:-1]),
        {"Authorization": f"Basic {ADMIN_TOKEN}"},
        {"Authorization": ADMIN_TOKEN},
        {"Authorization": "Bearer é-not-ascii"},
        {"X-Admin-Token": ADMIN_TOKEN},
    ],
    ids=[
        "none",
        "empty",
        "wrong",
        "longer",
        "shorter",
        "basic",
        "no-scheme",
        "latin1",
        "other-header",
    ],
)
def test_admin_api_refuses_wrong_or_missing_tokens(client, method, path, headers):
    response = getattr(client, method)(path, headers=headers)
    assert response.status_code == 401
    assert response.get_json() == {"error": "admin token missing or wrong"}


@pytest.mark.parametrize("method, path", ADMIN_CALLS)
def test_admin_api_answers_the_right_token(client, method, path):
    response = getattr(client, method)(path, headers=bearer(ADMIN_TOKEN))
    assert response.status_code == 200
    lower = getattr(client, method)(path, headers={"Authorization": f"bearer {ADMIN_TOKEN}"})
    assert lower.status_code == 200  # the scheme is case-insensitive (RFC 9110)


def test_replay_rejects_bad_ids_with_400(client):
    for body in ({"ids": "1"}, {"ids": [1, "2"]}, {"ids": [None]}):
        response = client.post("/admin/deadletters/replay", json=body, headers=bearer(ADMIN_TOKEN))
        assert response.status_code == 400 and "error" in response.get_json()


# -- size limit -------------------------------------------------------------------------


@pytest.mark.parametrize("tracker", ["jira", "azure-devops"])
def test_oversize_bodies_are_413_json_even_when_signed(client, tracker):
    body = json.dumps({"webhookEvent": "jira:issue_updated", "pad": "x" * 20_000}).encode()
    headers = (
        jira_headers(body, JIRA_SECRET, "big") if tracker == "jira" else azure_headers(AZURE_SECRET)
    )
    response = client.post(f"/webhooks/{tracker}", data=body, headers=headers)
    assert response.status_code == 413
    assert response.get_json() == {"error": "request body too large"}


def post_chunked(client, tracker: str, body: bytes, headers: dict[str, str]):
    """As a server that de-chunks delivers it: no Content-Length, a terminated stream."""
    return client.post(
        f"/webhooks/{tracker}",
        input_stream=io.BytesIO(body),
        headers={**headers, "Transfer-Encoding": "chunked"},
        environ_base={"wsgi.input_terminated": True},
    )


@pytest.mark.parametrize("tracker", ["jira", "azure-devops"])
def test_chunked_bodies_over_the_limit_are_413_not_truncated(client, tracker):
    payload = load_fixture(tracker, "issue_created__server_zulip" if tracker == "jira"
                           else "workitem.created__sample")  # fmt: skip
    small = json.dumps(payload).encode()
    big = small + b" " * 20_000  # valid JSON padded past the 16 KiB limit
    for body, expected in ((small, 202), (big, 413)):
        headers = (
            jira_headers(body, JIRA_SECRET, f"chunk-{len(body)}")
            if tracker == "jira"
            else azure_headers(AZURE_SECRET)
        )
        response = post_chunked(client, tracker, body, headers)
        assert response.status_code == expected, response.get_json()
    assert response.get_json() == {"error": "request body too large"}


def test_chunked_body_of_exactly_the_limit_is_read_whole(client):
    body = json.dumps(load_fixture("jira", "issue_created__server_zulip")).encode()
    body += b" " * (16 * 1024 - len(body))
    response = post_chunked(client, "jira", body, jira_headers(body, JIRA_SECRET, "exact"))
    assert response.status_code == 202


def test_oversize_admin_body_is_413_json(client):
    body = json.dumps({"ids": [1] * 10_000}).encode()
    response = client.post(
        "/admin/deadletters/replay",
        data=body,
        headers={**bearer(ADMIN_TOKEN), "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.get_json() == {"error": "request body too large"}


# -- no secret in any log line ----------------------------------------------------------


def forbidden_strings() -> list[str]:
    """Every secret, and the encodings a careless log line would carry them in."""
    email, token = SECRETS["TEST_JIRA_EMAIL"], SECRETS["TEST_JIRA_TOKEN"]
    encoded = [
        base64.b64encode(f"{email}:{token}".encode()).decode(),
        base64.b64encode(f"pmo:{AZURE_SECRET}".encode()).decode(),
    ]
    return [JIRA_SECRET, AZURE_SECRET, token, ADMIN_TOKEN, *encoded]


def record_text(record: logging.LogRecord) -> str:
    parts = [record.getMessage(), repr(vars(record))]
    if record.exc_info:
        parts.append(logging.Formatter().formatException(record.exc_info))
    return "\n".join(parts)


@responses.activate
def test_no_secret_reaches_a_log_line(tmp_path, secrets_env, caplog, capfd):
    jira = TrackerConfig(
        name="jira",
        kind="jira",
        url=SITE,
        deployment="cloud",
        user_env="TEST_JIRA_EMAIL",
        token_env="TEST_JIRA_TOKEN",
        webhook_secret_env=JIRA_SECRET_ENV,
        bot_account="pmo-bot",
    )
    azure = TrackerConfig(
        name="azure-devops", kind="azure-devops", webhook_secret_env=AZURE_SECRET_ENV
    )
    app = create_app(
        settings=make_settings(
            tmp_path,
            trackers={"jira": jira, "azure-devops": azure},
            max_retries=1,
            retry_base_seconds=0.01,
        )
    )
    caplog.set_level(logging.DEBUG)
    client = app.test_client()
    # Jira answers 500 first (a retry), then 401 (bad credentials: a dead letter).
    anything = re.compile(re.escape(SITE) + r"/.*")
    for method in (responses.GET, responses.POST, responses.PUT):
        responses.add(method, anything, status=500, json={"errorMessages": ["boom"]})
        responses.add(method, anything, status=401, body="Unauthorized")

    session = []
    good = fixture_bytes("jira", "issue_updated__status_cloud")
    session.append(
        client.post("/webhooks/jira", data=good, headers=jira_headers(good, JIRA_SECRET, "s-1"))
    )
    session.append(
        client.post(
            "/webhooks/jira", data=b"{bad", headers=jira_headers(b"{bad", JIRA_SECRET, "s-2")
        )
    )
    session.append(
        client.post("/webhooks/jira", data=good, headers=jira_headers(good, "wrong", "s-3"))
    )
    azure_body = fixture_bytes("azure-devops", "workitem.updated__state_sample")
    session.append(
        client.post("/webhooks/azure-devops", data=azure_body, headers=azure_headers(AZURE_SECRET))
    )
    session.append(
        client.post(
            "/webhooks/azure-devops", data=azure_body, headers=azure_headers(AZURE_SECRET + "!")
        )
    )
    session.append(client.get("/admin/deadletters", headers=bearer("wrong")))
    session.append(client.post("/admin/reload", headers=bearer(ADMIN_TOKEN)))
    assert [r.status_code for r in session] == [202, 400, 401, 202, 401, 401, 200]

    drain(app.extensions["pmo_bridge"], timeout=30)
    assert len(responses.calls) >= 2  # the worker did talk to (mocked) Jira, and failed
    letters = client.get("/admin/deadletters", headers=bearer(ADMIN_TOKEN))
    assert letters.status_code == 200 and len(letters.get_json()["deadletters"]) == 1
    answers = [r.get_data(as_text=True) for r in session] + [
        letters.get_data(as_text=True),
        client.get("/metrics").get_data(as_text=True),
        client.get("/readyz").get_data(as_text=True),
    ]

    out, err = capfd.readouterr()
    logged = [record_text(r) for r in caplog.records]
    assert len(logged) > 10 and "worker.dead_letter" in "\n".join(logged)
    assert "webhook.unauthorized" in err  # the JSON handler on stderr saw the session
    for secret in forbidden_strings():
        for text in logged:
            assert secret not in text, f"secret in a log record: {text[:300]}"
        assert secret not in out and secret not in err, "secret on stdout/stderr"
        for text in answers:
            assert secret not in text, "secret in an HTTP answer"


# -- safe YAML --------------------------------------------------------------------------

EVIL_TAGS = [
    "!!python/object/apply:os.system ['touch {marker}']",
    "!!python/object/apply:builtins.exec [\"open('{marker}', 'w').close()\"]",
    "!!python/object/new:subprocess.Popen [['touch', '{marker}']]",
    "!!python/name:os.system",
]


@pytest.mark.parametrize("tag", EVIL_TAGS, ids=["apply", "exec", "new", "name"])
def test_rules_loader_refuses_python_tags(tmp_path, capsys, tag):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.yaml"
    path.write_text(
        "version: 1\nname: evil\nrules:\n  - id: x\n    message: "
        + tag.format(marker=marker)
        + "\n    require: [{field: title, present: true}]\n"
    )
    with pytest.raises(RulesFileError) as caught:
        load_pack(path)
    assert "python/" in str(caught.value.errors[0]) or "constructor" in str(caught.value.errors[0])
    assert cli(["rules", "validate", str(path)]) == 1
    printed = capsys.readouterr().out
    assert printed.startswith(f"{path}:5:")
    assert "tag" in printed
    assert not marker.exists()


@pytest.mark.parametrize("tag", EVIL_TAGS, ids=["apply", "exec", "new", "name"])
def test_config_loader_refuses_python_tags(tmp_path, tag):
    marker = tmp_path / "pwned"
    path = tmp_path / "pmo-bridge.yaml"
    path.write_text("database_url: " + tag.format(marker=marker) + "\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={})
    assert "not valid YAML" in str(caught.value) and "python/" in str(caught.value)
    assert not marker.exists()


# -- no template injection --------------------------------------------------------------

PACK = """version: 1
name: injection
rules:
  - id: probe
    require: [{{field: estimate, present: true}}]
    message: {message}
"""


def pack_file(tmp_path, message: str):
    path = tmp_path / "pack.yaml"
    path.write_text(PACK.format(message=json.dumps(message)))
    return path


@pytest.mark.parametrize(
    "message",
    [
        "{key.__class__.__mro__}",
        "{0.__globals__}",
        "{key.__init__.__globals__[os]}",
        "{title!r}",
        "{title:>99999999}",
        "{labels[0]}",
        "{",
    ],
)
def test_rules_validate_refuses_format_tricks(tmp_path, capsys, message):
    path = pack_file(tmp_path, message)
    assert cli(["rules", "validate", str(path)]) == 1
    printed = capsys.readouterr().out.splitlines()
    assert printed and all(line.startswith(f"{path}:6:") for line in printed), printed
    _pack, _pos, errors = parse_pack(path.read_text(), str(path))
    assert errors and all(e.line == 6 for e in errors)


def item(**changes) -> WorkItem:
    base = WorkItem(
        key="jira:PAY-1",
        tracker="jira",
        native_id="PAY-1",
        project="PAY",
        type=ItemType.STORY,
        title="A story",
        status="In Progress",
        status_category=StatusCategory.IN_PROGRESS,
        assignee=Person("Ann Example", "acc-1"),
    )
    return base.with_changes(**changes)


def test_braces_render_literally(tmp_path):
    pack = load_pack(pack_file(tmp_path, "{{7*7}} {{key}} {{team}} {{{key}}}"))
    [finding] = evaluate(pack, item(), Context.at(dt.datetime(2026, 1, 1, tzinfo=dt.UTC)))
    assert finding.message == "{7*7} {key} {team} {jira:PAY-1}"


def test_item_text_is_not_expanded_or_unescaped(tmp_path):
    title = "{assignee} <script>alert(1)</script> [x|javascript:a] *b*"  # <= 60: not shortened
    pack = load_pack(pack_file(tmp_path, "{key}: {title} (owner {assignee})"))
    hostile = item(title=title, assignee=Person("<img src=x onerror=alert(1)>{title}", "acc-2"))
    findings = evaluate(pack, hostile, Context.at(dt.datetime(2026, 1, 1, tzinfo=dt.UTC)))
    [finding] = findings
    # One pass of substitution: the values' own braces stay text.
    assert finding.message == f"jira:PAY-1: {title} (owner <img src=x onerror=alert(1)>{{title}})"

    document: Document = compliance_document(hostile, findings)
    html = document.to_html()
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "{assignee}" in html and "{title}" in html

    wiki = document.to_wiki()
    assert "&#123;assignee&#125;" in wiki and "&#42;b&#42;" in wiki
    assert "&#91;x&#124;javascript&#58;a&#93;" in wiki

    adf = json.dumps(document.to_adf())
    assert "{assignee}" in adf and "<script>alert(1)</script>" in adf  # ADF text is not markup
    assert '"marks"' not in adf  # no link was made from text

    text = document.to_text()
    assert title in text
