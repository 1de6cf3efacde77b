"""Who may see what: the PMO's views behind a viewer token, a trusted proxy header or
loopback; unsigned deliveries refused unless the config allows them."""

from __future__ import annotations

import base64
import hmac

import pytest

from config.settings import TrackerConfig, load_settings
from tests.support.helpers import fixture_bytes
from tests.support.service import AZURE_SECRET_ENV, JIRA_SECRET_ENV, jira_headers, make_settings
from webhooks.http.app import create_app

VIEWER_ENV = "PMO_BRIDGE_VIEWER_TOKEN"
TOKEN = "viewer-Token-4c1d9e"
REMOTE = {"REMOTE_ADDR": "203.0.113.7"}
LOCAL = {"REMOTE_ADDR": "127.0.0.1"}
VIEWS = ("/portfolio", "/api/portfolio", "/metrics", "/portfolio?project=PAY", "/api/portfolio.csv",
         "/api/portfolio.json?rag=red")  # fmt: skip


def basic(password: str, user: str = "pmo") -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture
def secrets(monkeypatch):
    monkeypatch.setenv(JIRA_SECRET_ENV, "jira-secret")
    monkeypatch.setenv(AZURE_SECRET_ENV, "azure-secret")
    monkeypatch.delenv(VIEWER_ENV, raising=False)


def client_for(tmp_path, **overrides):
    return create_app(settings=make_settings(tmp_path, **overrides)).test_client()


# -- no viewer token: loopback only ------------------------------------------------------


@pytest.mark.parametrize("path", VIEWS)
def test_without_a_token_views_answer_loopback_only(tmp_path, secrets, path):
    client = client_for(tmp_path)
    assert client.get(path, environ_base=LOCAL).status_code == 200
    refused = client.get(path, environ_base=REMOTE)
    assert refused.status_code == 403
    assert "loopback" in refused.get_json()["error"]


def test_refused_dashboard_explains_itself_in_html_to_a_browser(tmp_path, secrets):
    client = client_for(tmp_path)
    page = client.get("/portfolio", environ_base=REMOTE, headers={"Accept": "text/html"})
    assert page.status_code == 403
    assert page.content_type.startswith("text/html")
    assert "PMO_BRIDGE_VIEWER_TOKEN" in page.get_data(as_text=True)


@pytest.mark.parametrize(
    "forwarded", [{"X-Forwarded-For": "198.51.100.3"}, {"Forwarded": "for=198.51.100.3"}]
)
def test_a_local_proxy_forwarding_strangers_is_not_loopback(tmp_path, secrets, forwarded):
    client = client_for(tmp_path)
    response = client.get("/api/portfolio", environ_base=LOCAL, headers=forwarded)
    assert response.status_code == 403


# -- a viewer token ------------------------------------------------------------------------


@pytest.mark.parametrize("path", VIEWS)
def test_token_opens_views_by_bearer_or_basic_password(tmp_path, secrets, monkeypatch, path):
    monkeypatch.setenv(VIEWER_ENV, TOKEN)
    client = client_for(tmp_path)
    assert (
        client.get(
            path, environ_base=REMOTE, headers={"Authorization": f"Bearer {TOKEN}"}
        ).status_code
        == 200
    )
    assert client.get(path, environ_base=REMOTE, headers=basic(TOKEN)).status_code == 200
    for wrong in (
        {},
        {"Authorization": "Bearer nope"},
        basic("nope"),
        {"Authorization": "Basic !!"},
    ):
        refused = client.get(path, environ_base=REMOTE, headers=wrong)
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"].startswith('Basic realm="pmo-bridge"')
        assert refused.get_json() == {"error": "viewer token missing or wrong"}


def test_with_a_token_loopback_needs_it_too(tmp_path, secrets, monkeypatch):
    monkeypatch.setenv(VIEWER_ENV, TOKEN)
    client = client_for(tmp_path)
    assert client.get("/api/portfolio", environ_base=LOCAL).status_code == 401


def test_viewer_token_env_is_configurable(tmp_path, secrets, monkeypatch):
    config = tmp_path / "c.yaml"
    config.write_text(
        "viewer_token_env: OUR_VIEWER_TOKEN\ntrusted_proxy_header: X-Auth-Request-Email\n"
    )
    settings = load_settings(config, environ={})
    assert settings.viewer_token_env == "OUR_VIEWER_TOKEN"
    assert settings.trusted_proxy_header == "X-Auth-Request-Email"
    monkeypatch.setenv("OUR_VIEWER_TOKEN", TOKEN)
    client = client_for(tmp_path, viewer_token_env="OUR_VIEWER_TOKEN")
    assert (
        client.get("/api/portfolio", environ_base=REMOTE, headers=basic(TOKEN)).status_code == 200
    )


def test_viewer_token_is_compared_in_constant_time(tmp_path, secrets, monkeypatch):
    monkeypatch.setenv(VIEWER_ENV, TOKEN)
    calls = []
    real = hmac.compare_digest

    def recording(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", recording)
    client = client_for(tmp_path)
    client.get("/api/portfolio", environ_base=REMOTE, headers=basic("guess"))
    assert calls == [(b"guess", TOKEN.encode())]


def test_trusted_proxy_header_lets_the_proxy_vouch(tmp_path, secrets, monkeypatch):
    monkeypatch.setenv(VIEWER_ENV, TOKEN)
    client = client_for(tmp_path, trusted_proxy_header="X-Auth-Request-Email")
    vouched = {"X-Auth-Request-Email": "pmo@example.com"}
    assert client.get("/api/portfolio", environ_base=REMOTE, headers=vouched).status_code == 200
    assert client.get("/api/portfolio", environ_base=REMOTE).status_code == 401
    # Not configured: the same header from anyone means nothing.
    plain = client_for(tmp_path)
    assert plain.get("/api/portfolio", environ_base=REMOTE, headers=vouched).status_code == 401


# -- /readyz, /healthz and the webhooks ----------------------------------------------------


def test_readyz_status_is_public_its_detail_is_for_viewers(tmp_path, secrets, monkeypatch):
    client = client_for(tmp_path)
    public = client.get("/readyz", environ_base=REMOTE)
    assert public.status_code == 200 and public.get_json() == {"status": "ready"}
    local = client.get("/readyz", environ_base=LOCAL).get_json()
    assert str(tmp_path) not in str(public.get_json()) and "checks" in local
    monkeypatch.setenv(VIEWER_ENV, TOKEN)
    viewer = client_for(tmp_path).get("/readyz", environ_base=REMOTE, headers=basic(TOKEN))
    assert "rules" in viewer.get_json()["checks"]


def test_healthz_and_webhooks_stay_open(tmp_path, secrets, monkeypatch):
    monkeypatch.setenv(VIEWER_ENV, TOKEN)
    client = client_for(tmp_path)
    assert client.get("/healthz", environ_base=REMOTE).status_code == 200
    body = fixture_bytes("jira", "issue_created__server_zulip")
    posted = client.post("/webhooks/jira", data=body, environ_base=REMOTE,
                         headers=jira_headers(body, "jira-secret", "v-1"))  # fmt: skip
    assert posted.status_code == 202


# -- unsigned deliveries fail closed ------------------------------------------------------


def test_a_tracker_without_its_secret_refuses_deliveries(tmp_path, monkeypatch):
    monkeypatch.delenv(JIRA_SECRET_ENV, raising=False)  # e.g. a misspelt variable
    client = client_for(tmp_path)
    body = fixture_bytes("jira", "issue_created__server_zulip")
    response = client.post(
        "/webhooks/jira", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 401
    assert response.get_json() == {"error": "missing or invalid signature or credentials"}
    assert client.get("/readyz").get_json()["checks"]["webhooks"]["no_secret_refusing"] == [
        "jira", "azure-devops"]  # fmt: skip


def test_allow_unsigned_accepts_and_readyz_reports_it(tmp_path, monkeypatch):
    monkeypatch.delenv(JIRA_SECRET_ENV, raising=False)
    monkeypatch.setenv(AZURE_SECRET_ENV, "azure-secret")
    trackers = {
        "jira": TrackerConfig(name="jira", kind="jira", webhook_secret_env=JIRA_SECRET_ENV,
                              allow_unsigned=True),
        "azure-devops": TrackerConfig(name="azure-devops", kind="azure-devops",
                                      webhook_secret_env=AZURE_SECRET_ENV),
    }  # fmt: skip
    client = client_for(tmp_path, trackers=trackers)
    body = fixture_bytes("jira", "issue_created__server_zulip")
    response = client.post(
        "/webhooks/jira", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 202
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["checks"]["webhooks"] == {
        "ok": True, "unsigned": ["jira"], "no_secret_refusing": []}  # fmt: skip


def test_allow_unsigned_is_read_from_the_config_file_strictly(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("trackers:\n  jira: {kind: jira, allow_unsigned: true}\n")
    assert load_settings(config, environ={}).trackers["jira"].allow_unsigned is True
    config.write_text("trackers:\n  jira: {kind: jira}\n")
    assert load_settings(config, environ={}).trackers["jira"].allow_unsigned is False
    config.write_text("trackers:\n  jira: {kind: jira, allow_unsigned: 'yes'}\n")
    with pytest.raises(Exception, match="allow_unsigned"):
        load_settings(config, environ={})
