"""`pmo-bridge register` against mocked Jira and Azure DevOps: created on the first run,
unchanged on the second (no write at all), updated when the secret or the settings
differ, other URLs' webhooks never touched, every request checked against what the
vendor documents; exit codes 1 (tracker error) and 2 (config error).

Also the static checks of the deployment files (no container engine here): the example
config loads, compose.yaml and the Dockerfile say what docs/deploy.md promises."""

from __future__ import annotations

import base64
import json
import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import responses
import yaml

from config.settings import load_settings
from connector.azure_devops.adapter import EVENT_PARSERS as ADO_EVENTS
from connector.jira.adapter import EVENT_PARSERS as JIRA_EVENTS
from connector.subscriptions import project_filter
from tests.support import spec_check
from tests.support.helpers import ROOT, SPECS
from webhooks.commands import main as cli
from webhooks.commands.register import webhook_url

ALL_INTERFACES = "0.0.0.0"  # noqa: S104 - what the container images must listen on
JIRA_URL = "https://acme.atlassian.net"
ADO_URL = "https://dev.azure.com/fabrikam"
PUBLIC = "https://pmo.example.com"
PROJECT = "Fabrikam-Fiber"
PROJECT_ID = "eb6e4656-77fc-42a1-9181-4c6d8e9da5d1"
ENV = {
    "JIRA_EMAIL": "admin@acme.example",
    "JIRA_API_TOKEN": "jira-token",
    "JIRA_WEBHOOK_SECRET": "jira-secret-1",
    "AZURE_DEVOPS_PAT": "ado-pat",
    "AZURE_DEVOPS_WEBHOOK_SECRET": "ado-secret-1",
}
CONFIG = f"""
trackers:
  jira:
    kind: jira
    url: {JIRA_URL}
    auth: {{user_env: JIRA_EMAIL, token_env: JIRA_API_TOKEN}}
    webhook_secret_env: JIRA_WEBHOOK_SECRET
    projects: [PAY, WEB]
  azure-devops:
    kind: azure-devops
    url: {ADO_URL}
    project: {PROJECT}
    auth: {{token_env: AZURE_DEVOPS_PAT}}
    webhook_secret_env: AZURE_DEVOPS_WEBHOOK_SECRET
"""


@pytest.fixture
def config(tmp_path, monkeypatch) -> Path:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("PMO_BRIDGE_CONFIG", raising=False)
    path = tmp_path / "pmo-bridge.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def run(config: Path, tracker: str, *extra: str, url: str = PUBLIC) -> int:
    return cli.main(
        ["register", "--config", str(config), "--tracker", tracker, "--url", url, *extra]
    )


def body_of(request) -> Any:
    body = request.body
    if isinstance(body, bytes):
        body = body.decode()
    return json.loads(body) if body else None


# -- Jira ---------------------------------------------------------------------------------

JIRA_ADMIN = f"{JIRA_URL}/rest/webhooks/1.0/webhook"
# The admin webhook resource is not in the Cloud platform OpenAPI spec (that has only
# /rest/api/3/webhook, for Connect and OAuth apps; see test below), so requests are checked
# against its documented shape instead: Atlassian's "Webhooks" pages for Data Center
# (developer.atlassian.com/server/jira/platform/webhooks/: register with POST, list and
# read with GET, remove with DELETE .../webhook/{id}; body name, url, events, filters
# {"issue-related-events-section": JQL}, excludeBody) and for Cloud
# (developer.atlassian.com/cloud/jira/platform/webhooks/: admin webhooks, and the
# `secret` that makes Jira sign deliveries with X-Hub-Signature).
JIRA_ADMIN_OPERATIONS = {("GET", ""), ("POST", ""), ("GET", "{id}"), ("DELETE", "{id}")}
JIRA_ADMIN_BODY = {"name", "url", "events", "filters", "excludeBody", "secret"}
JIRA_ADMIN_FILTERS = {"issue-related-events-section"}
JIRA_DOCUMENTED_EVENTS = {
    "jira:issue_created", "jira:issue_updated", "jira:issue_deleted",
    "comment_created", "comment_updated", "comment_deleted",
    "issuelink_created", "issuelink_deleted",
}  # fmt: skip


def assert_jira_admin_documented(request) -> None:
    split = urlsplit(request.url)
    assert split.netloc == urlsplit(JIRA_URL).netloc
    match = re.fullmatch(r"/rest/webhooks/1\.0/webhook(?:/(\d+))?", split.path)
    assert match, f"{split.path}: not the admin webhook resource"
    assert (request.method, "{id}" if match.group(1) else "") in JIRA_ADMIN_OPERATIONS
    assert not split.query, "the admin webhook resource takes no query parameters"
    expected_auth = base64.b64encode(b"admin@acme.example:jira-token").decode()
    assert request.headers["Authorization"] == f"Basic {expected_auth}"
    body = body_of(request)
    if request.method != "POST":
        assert body is None
        return
    assert request.headers["Content-Type"].startswith("application/json")
    assert set(body) <= JIRA_ADMIN_BODY, set(body) - JIRA_ADMIN_BODY
    assert {"name", "url", "events"} <= set(body)
    assert set(body["filters"]) <= JIRA_ADMIN_FILTERS
    assert set(body["events"]) <= JIRA_DOCUMENTED_EVENTS


class FakeJira:
    """Jira's admin webhook list as the resource keeps it: secrets are stored, never shown."""

    def __init__(self, rsps: responses.RequestsMock) -> None:
        self.hooks: dict[int, dict[str, Any]] = {}
        self.secrets: dict[int, str | None] = {}
        self.next_id = 100
        rsps.add_callback("GET", JIRA_ADMIN, callback=self._list, content_type="application/json")
        rsps.add_callback(
            "POST", JIRA_ADMIN, callback=self._create, content_type="application/json"
        )
        rsps.add_callback(
            "DELETE",
            re.compile(rf"{re.escape(JIRA_ADMIN)}/\d+"),
            callback=self._delete,
            content_type="application/json",
        )

    def add(
        self,
        url: str,
        *,
        name: str = "pmo-bridge jira",
        events=None,
        secret=None,
        jql="project in (PAY, WEB)",
    ) -> int:
        hook_id = self.next_id
        self.next_id += 1
        self.hooks[hook_id] = {
            "self": f"{JIRA_ADMIN}/{hook_id}",
            "name": name,
            "url": url,
            "events": list(JIRA_EVENTS if events is None else events),
            "filters": {"issue-related-events-section": jql},
            "excludeBody": False,
            "enabled": True,
            "lastUpdatedUser": "admin",
            "lastUpdated": 1718000000000,
        }
        self.secrets[hook_id] = secret
        return hook_id

    def _list(self, request):
        return 200, {}, json.dumps(list(self.hooks.values()))

    def _create(self, request):
        body = body_of(request)
        hook_id = self.add(body["url"], name=body["name"], events=body["events"],
                           secret=body.get("secret"), jql=body["filters"]["issue-related-events-section"])  # fmt: skip
        return 201, {}, json.dumps(self.hooks[hook_id])

    def _delete(self, request):
        hook_id = int(request.url.rsplit("/", 1)[1])
        self.hooks.pop(hook_id)
        self.secrets.pop(hook_id)
        return 204, {}, ""


@pytest.fixture
def jira():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake = FakeJira(rsps)
        fake.rsps = rsps
        yield fake


def jira_calls(fake: FakeJira) -> list[tuple[str, str]]:
    out = []
    for call in fake.rsps.calls:
        assert_jira_admin_documented(call.request)
        out.append((call.request.method, urlsplit(call.request.url).path))
    return out


OUR_JIRA_URL = f"{PUBLIC}/webhooks/jira"
ADMIN_PATH = "/rest/webhooks/1.0/webhook"


def test_jira_admin_webhook_path_is_not_in_the_cloud_platform_spec():
    request = requests.Request("GET", JIRA_ADMIN).prepare()
    assert spec_check.check_request(request, "jira", JIRA_URL) == [
        f"GET {ADMIN_PATH}: no such path in the jira spec"
    ]
    assert "/rest/api/3/webhook" in spec_check.load_spec("jira")["paths"]  # apps only


def test_jira_first_run_creates_one_signed_webhook(config, jira, capsys):
    assert run(config, "jira") == 0
    assert jira_calls(jira) == [("GET", ADMIN_PATH), ("POST", ADMIN_PATH)]
    body = body_of(jira.rsps.calls[1].request)
    assert body == {
        "name": "pmo-bridge jira",
        "url": OUR_JIRA_URL,
        "events": list(JIRA_EVENTS),
        "filters": {"issue-related-events-section": "project in (PAY, WEB)"},
        "excludeBody": False,
        "secret": "jira-secret-1",
    }
    out = capsys.readouterr()
    assert out.out.splitlines() == [
        f"created   jira webhook 'pmo-bridge jira' -> {OUR_JIRA_URL} (id 100)"
    ]
    assert out.err == ""


def test_jira_second_run_changes_nothing(config, jira, capsys):
    assert run(config, "jira") == 0
    first = len(jira.rsps.calls)
    capsys.readouterr()
    assert run(config, "jira") == 0
    assert jira_calls(jira)[first:] == [("GET", ADMIN_PATH)]
    assert capsys.readouterr().out.startswith("unchanged ")
    assert list(jira.hooks) == [100]


def test_jira_changed_secret_replaces_the_webhook_new_one_first(config, jira, capsys, monkeypatch):
    assert run(config, "jira") == 0
    monkeypatch.setenv("JIRA_WEBHOOK_SECRET", "jira-secret-2")
    first = len(jira.rsps.calls)
    capsys.readouterr()
    assert run(config, "jira", "--secret-changed") == 0
    assert jira_calls(jira)[first:] == [
        ("GET", ADMIN_PATH),
        ("POST", ADMIN_PATH),
        ("DELETE", f"{ADMIN_PATH}/100"),
    ]
    assert list(jira.hooks) == [101]
    assert jira.secrets[101] == "jira-secret-2"
    assert capsys.readouterr().out.startswith("updated   jira webhook")


@pytest.mark.parametrize(
    "changes",
    [
        {"events": ["jira:issue_created", "jira:issue_updated"]},
        {"jql": "project = PAY"},
        {"jql": ""},  # registered before the filter named the projects: every project
        {"name": "pmo-bridge jira [1a2b3c4d5e6f]"},  # an older release's fingerprinted name
    ],
)
def test_jira_webhook_with_other_settings_is_updated(config, jira, capsys, changes):
    old = jira.add(OUR_JIRA_URL, **{"name": "pmo-bridge jira", **changes})
    assert run(config, "jira") == 0
    assert old not in jira.hooks
    (new,) = jira.hooks.values()
    assert set(new["events"]) == set(JIRA_EVENTS)
    assert new["filters"] == {"issue-related-events-section": "project in (PAY, WEB)"}
    assert capsys.readouterr().out.startswith("updated ")
    jira_calls(jira)


def test_jira_all_projects_widens_the_filter(config, jira, capsys):
    assert run(config, "jira", "--all-projects") == 0
    (hook,) = jira.hooks.values()
    assert hook["filters"] == {"issue-related-events-section": ""}
    capsys.readouterr()
    assert run(config, "jira") == 0  # back to the configured projects: replaced
    (hook,) = jira.hooks.values()
    assert hook["filters"] == {"issue-related-events-section": "project in (PAY, WEB)"}


def test_jira_without_projects_is_exit_2_before_any_call(config, capsys):
    config.write_text(CONFIG.replace("    projects: [PAY, WEB]\n", ""), encoding="utf-8")
    with responses.RequestsMock():
        assert run(config, "jira") == 2
    assert "set `projects`" in capsys.readouterr().err


def test_project_filter_quotes_what_is_not_a_plain_key():
    assert project_filter(["PAY"]) == "project in (PAY)"
    assert project_filter(["PAY", 'A "B"']) == 'project in (PAY, "A \\"B\\"")'
    assert project_filter([]) == ""


def test_jira_other_urls_are_never_touched_and_duplicates_at_ours_go(config, jira, capsys):
    name = "pmo-bridge jira"
    other = jira.add("https://other.example.com/hook", name=name)
    staging = jira.add(f"{PUBLIC}/staging/webhooks/jira", name=name)
    ours = jira.add(OUR_JIRA_URL, name=name)
    copy = jira.add(OUR_JIRA_URL + "/", name="pmo-bridge jira (old)")
    before = {k: dict(v) for k, v in jira.hooks.items() if k in (other, staging)}
    assert run(config, "jira") == 0
    assert {k: v for k, v in jira.hooks.items() if k in (other, staging)} == before
    assert set(jira.hooks) == {other, staging, ours}
    deleted = [c.request.url for c in jira.rsps.calls if c.request.method == "DELETE"]
    assert deleted == [f"{JIRA_ADMIN}/{copy}"]
    assert capsys.readouterr().out.splitlines() == [
        f"unchanged jira webhook {name!r} -> {OUR_JIRA_URL} (id {ours})",
        f"removed   duplicate 'pmo-bridge jira (old)' -> {OUR_JIRA_URL} (id {copy})",
    ]
    jira_calls(jira)


def test_jira_without_secret_warns_and_registers_unsigned(config, jira, capsys, monkeypatch):
    monkeypatch.delenv("JIRA_WEBHOOK_SECRET")
    assert run(config, "jira") == 0
    body = body_of(jira.rsps.calls[1].request)
    assert "secret" not in body
    assert body["name"] == "pmo-bridge jira"
    out = capsys.readouterr()
    assert "no webhook secret for tracker 'jira' (JIRA_WEBHOOK_SECRET is not set)" in out.err
    assert "jira-secret" not in out.out + out.err


def test_jira_down_is_exit_1_with_one_line(config, capsys):
    with responses.RequestsMock() as rsps:
        rsps.get(JIRA_ADMIN, status=503, json={"errorMessages": ["Service Unavailable"]})
        assert run(config, "jira") == 1
        assert len(rsps.calls) == 1  # no retries inside the client
    out = capsys.readouterr()
    assert out.out == ""
    (line,) = out.err.splitlines()
    assert line.startswith("pmo-bridge: register jira: jira list_webhooks: HTTP 503")


def test_jira_unreachable_is_exit_1(config, capsys):
    with responses.RequestsMock() as rsps:
        rsps.get(JIRA_ADMIN, body=requests.ConnectionError("connection refused"))
        assert run(config, "jira") == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert "no answer" in line


def test_jira_refusal_is_exit_1_and_names_the_status(config, capsys):
    with responses.RequestsMock() as rsps:
        rsps.get(JIRA_ADMIN, json=[])
        rsps.post(JIRA_ADMIN, status=403, json={"errorMessages": ["You must be an administrator"]})
        assert run(config, "jira") == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert "HTTP 403" in line and "administrator" in line


# -- Azure DevOps -------------------------------------------------------------------------

HOOKS = f"{ADO_URL}/_apis/hooks/subscriptions"
OUR_ADO_URL = f"{PUBLIC}/webhooks/azure-devops"
SUBSCRIPTIONS_ID = "fc50d02a-849f-41fb-8af1-0a5216103269"
PROJECTS_ID = "603fe2ac-9723-48b9-88ad-09305aa6c6e1"
OPTIONS_BODY = {
    "count": 2,
    "value": [
        {"id": SUBSCRIPTIONS_ID, "area": "hooks", "resourceName": "Subscriptions",
         "routeTemplate": "_apis/{area}/{resource}/{subscriptionId}", "resourceVersion": 1,
         "minVersion": "1.0", "maxVersion": "7.1", "releasedVersion": "7.1"},
        {"id": PROJECTS_ID, "area": "core", "resourceName": "projects",
         "routeTemplate": "_apis/{resource}/{*projectId}", "resourceVersion": 4,
         "minVersion": "1.0", "maxVersion": "7.1", "releasedVersion": "7.1"},
    ],
}  # fmt: skip

# Core's "Projects - Get" is not among the stored specs (tests/specs has work item
# tracking and service hooks); transcribed from
# https://learn.microsoft.com/rest/api/azure/devops/core/projects/get?view=azure-devops-rest-7.1
PROJECTS_GET = {
    "/{organization}/_apis/projects/{projectId}": {
        "get": {
            "x-ms-docs-override-version": "7.1",
            "parameters": [
                {"in": "path", "name": "organization", "required": True},
                {"in": "path", "name": "projectId", "required": True},
                {"in": "query", "name": "includeCapabilities", "required": False},
                {"in": "query", "name": "includeHistory", "required": False},
                {"$ref": "#/parameters/api-Version"},
            ],
        }
    }
}


@pytest.fixture
def hooks_spec(monkeypatch):
    """spec_check reads the work item tracking spec for "azure-devops"; here the requests
    are service hooks (and one Core call), so it reads serviceHooks-7.1.json instead."""
    spec = json.loads((SPECS / "azure-devops" / "serviceHooks-7.1.json").read_text("utf-8-sig"))
    spec["paths"] = {**spec["paths"], **PROJECTS_GET}
    spec.setdefault("x-ms-paths", {})
    original = spec_check.load_spec
    monkeypatch.setattr(
        spec_check,
        "load_spec",
        lambda t, i=0: spec if (t, i) == ("azure-devops", 0) else original(t, i),
    )
    spec_check._templates.cache_clear()
    yield
    spec_check._templates.cache_clear()


@pytest.fixture(autouse=True)
def fresh_location_caches(monkeypatch):
    """The azure-devops library caches resource locations per process and on disk."""
    from azure.devops import _file_cache
    from azure.devops import client as ado_client

    monkeypatch.setattr(ado_client.Client, "_locations_cache", {})
    for cache in (_file_cache.OPTIONS_CACHE, _file_cache.RESOURCE_CACHE):
        monkeypatch.setattr(cache, "file_name", "")
        monkeypatch.setattr(cache, "data", {})
        monkeypatch.setattr(cache, "initial_load_occurred", True)


class FakeAzure:
    """Service hook subscriptions as Azure DevOps keeps them: the Basic password masked."""

    def __init__(self, rsps: responses.RequestsMock) -> None:
        self.rsps = rsps
        self.subs: dict[str, dict[str, Any]] = {}
        self.passwords: dict[str, str] = {}
        self.count = 0
        self.refuse_after: int | None = None
        rsps.add("OPTIONS", f"{ADO_URL}/_apis", json=OPTIONS_BODY)
        rsps.get(f"{ADO_URL}/_apis/projects/{PROJECT}", json={"id": PROJECT_ID, "name": PROJECT})
        # Azure DevOps names the resource "Subscriptions"; its routes ignore case.
        many = re.compile(rf"{re.escape(HOOKS)}(\?.*)?$", re.I)
        rsps.add_callback("GET", many, callback=self._list, content_type="application/json")
        rsps.add_callback("POST", many, callback=self._create, content_type="application/json")
        one = re.compile(rf"{re.escape(HOOKS)}/[\w-]+(\?.*)?$", re.I)
        rsps.add_callback("PUT", one, callback=self._replace, content_type="application/json")
        rsps.add_callback("DELETE", one, callback=self._delete, content_type="application/json")

    def add(self, event_type: str, url: str, **changes: Any) -> str:
        self.count += 1
        sub_id = f"00000000-0000-0000-0000-{self.count:012d}"
        consumer = {"url": url, "resourceDetailsToSend": "all", "messagesToSend": "none",
                    "detailedMessagesToSend": "none"}  # fmt: skip
        consumer.update(changes.pop("consumer", {}))
        self.subs[sub_id] = {
            "id": sub_id,
            "status": "enabled",
            "publisherId": "tfs",
            "eventType": event_type,
            "resourceVersion": "1.0",
            "consumerId": "webHooks",
            "consumerActionId": "httpRequest",
            # Azure DevOps adds tfsSubscriptionId to the publisher inputs itself.
            "publisherInputs": {"projectId": PROJECT_ID, "tfsSubscriptionId": f"tfs-{self.count}"},
            "consumerInputs": consumer,
            **changes,
        }
        self.passwords[sub_id] = consumer.get("basicAuthPassword", "")
        return sub_id

    def _shown(self, sub: dict[str, Any]) -> dict[str, Any]:
        shown = json.loads(json.dumps(sub))
        if shown["consumerInputs"].get("basicAuthPassword"):
            shown["consumerInputs"]["basicAuthPassword"] = "********"
        return shown

    def _list(self, request):
        query = dict(parse_qsl(urlsplit(request.url).query))
        subs = [self._shown(s) for s in self.subs.values()
                if all(s.get(k) == query[k] for k in ("publisherId", "consumerId", "consumerActionId") if k in query)]  # fmt: skip
        return 200, {}, json.dumps({"count": len(subs), "value": subs})

    def _create(self, request):
        if self.refuse_after is not None and len(self.subs) >= self.refuse_after:
            return 400, {}, json.dumps({"message": "VS1640009: subscription limit", "typeKey": "X"})
        body = body_of(request)
        sub_id = self.add(
            body["eventType"], body["consumerInputs"]["url"], consumer=body["consumerInputs"]
        )
        self.subs[sub_id]["publisherInputs"] = {
            **body["publisherInputs"],
            "tfsSubscriptionId": "new",
        }
        return 200, {}, json.dumps(self._shown(self.subs[sub_id]))

    def _replace(self, request):
        sub_id = urlsplit(request.url).path.rsplit("/", 1)[1]
        body = body_of(request)
        self.subs[sub_id].update(body, id=sub_id)
        self.passwords[sub_id] = body["consumerInputs"].get("basicAuthPassword", "")
        return 200, {}, json.dumps(self._shown(self.subs[sub_id]))

    def _delete(self, request):
        sub_id = urlsplit(request.url).path.rsplit("/", 1)[1]
        del self.subs[sub_id]
        return 204, {}, ""


@pytest.fixture
def ado(hooks_spec):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield FakeAzure(rsps)


def ado_calls(fake: FakeAzure, start: int = 0) -> list[tuple[str, str]]:
    """(method, path) of the API calls from `start`, each checked against the spec;
    the library's discovery call (OPTIONS) is not an API operation and is left out."""
    out = []
    for call in fake.rsps.calls[start:]:
        if call.request.method == "OPTIONS":
            continue
        spec_check.assert_documented(call.request, "azure-devops", ADO_URL)
        expected = base64.b64encode(b":ado-pat").decode()
        assert call.request.headers["Authorization"] == f"Basic {expected}"
        out.append((call.request.method, urlsplit(call.request.url).path))
    return out


def wanted_consumer(secret: str = ENV["AZURE_DEVOPS_WEBHOOK_SECRET"]) -> dict[str, str]:
    return {
        "url": OUR_ADO_URL,
        "resourceDetailsToSend": "all",
        "messagesToSend": "none",
        "detailedMessagesToSend": "none",
        "basicAuthUsername": "pmo-bridge",
        "basicAuthPassword": secret,
    }


def test_azure_first_run_creates_one_subscription_per_event(config, ado, capsys):
    assert run(config, "azure-devops") == 0
    calls = ado_calls(ado)
    assert calls[:2] == [
        ("GET", f"/fabrikam/_apis/projects/{PROJECT}"),
        ("GET", "/fabrikam/_apis/hooks/Subscriptions"),
    ]
    assert calls[2:] == [("POST", "/fabrikam/_apis/hooks/Subscriptions")] * len(ADO_EVENTS)
    listing = ado.rsps.calls[2].request
    assert dict(parse_qsl(urlsplit(listing.url).query)) == {
        "publisherId": "tfs", "consumerId": "webHooks", "consumerActionId": "httpRequest"
    }  # fmt: skip
    posted = [body_of(c.request) for c in ado.rsps.calls if c.request.method == "POST"]
    assert [b["eventType"] for b in posted] == list(ADO_EVENTS)
    for body in posted:
        assert body == {
            "publisherId": "tfs",
            "eventType": body["eventType"],
            "resourceVersion": "1.0",
            "consumerId": "webHooks",
            "consumerActionId": "httpRequest",
            "publisherInputs": {"projectId": PROJECT_ID},
            "consumerInputs": wanted_consumer(),
        }
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in lines] == [["created", e] for e in ADO_EVENTS]
    assert all(f"-> {OUR_ADO_URL} (id " in line for line in lines)


def test_azure_second_run_changes_nothing(config, ado, capsys):
    assert run(config, "azure-devops") == 0
    start = len(ado.rsps.calls)
    capsys.readouterr()
    assert run(config, "azure-devops") == 0
    assert [m for m, _ in ado_calls(ado, start)] == ["GET", "GET"]
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["unchanged"] * len(ADO_EVENTS)
    assert len(ado.subs) == len(ADO_EVENTS)


def test_azure_changed_secret_updates_every_subscription_in_place(config, ado, capsys, monkeypatch):
    assert run(config, "azure-devops") == 0
    ids = set(ado.subs)
    monkeypatch.setenv("AZURE_DEVOPS_WEBHOOK_SECRET", "ado-secret-2")
    start = len(ado.rsps.calls)
    capsys.readouterr()
    assert run(config, "azure-devops", "--secret-changed") == 0
    calls = ado_calls(ado, start)
    assert [m for m, _ in calls] == ["GET", "GET"] + ["PUT"] * len(ADO_EVENTS)
    assert set(ado.subs) == ids
    assert set(ado.passwords.values()) == {"ado-secret-2"}
    put = body_of(next(c.request for c in ado.rsps.calls if c.request.method == "PUT"))
    assert put["consumerInputs"] == wanted_consumer("ado-secret-2")
    assert put["status"] == "enabled"
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["updated"] * len(ADO_EVENTS)


@pytest.mark.parametrize(
    "changes",
    [
        {"consumer": {"resourceDetailsToSend": "minimal"}},
        {"consumer": {"httpHeaders": "X-Extra:1"}},
        {"publisherInputs": {"projectId": PROJECT_ID, "areaPath": "Fabrikam-Fiber\\Web"}},
        {"status": "disabledBySystem"},
        {"resourceVersion": "5.1-preview.3"},
        {"consumer": {"basicAuthUsername": "pmo-bridge-1a2b3c4d5e6f"}},  # an older release
    ],
)
def test_azure_subscription_with_other_settings_is_updated(config, ado, capsys, changes):
    consumer = {**wanted_consumer(), **changes.pop("consumer", {})}
    stale = ado.add("workitem.updated", OUR_ADO_URL, consumer=consumer, **changes)
    for event_type in ADO_EVENTS:
        if event_type != "workitem.updated":
            ado.add(event_type, OUR_ADO_URL, consumer=wanted_consumer())
    assert run(config, "azure-devops") == 0
    puts = [c.request for c in ado.rsps.calls if c.request.method == "PUT"]
    assert [urlsplit(r.url).path.rsplit("/", 1)[1] for r in puts] == [stale]
    assert not [c for c in ado.rsps.calls if c.request.method in ("POST", "DELETE")]
    assert ado.subs[stale]["consumerInputs"]["resourceDetailsToSend"] == "all"
    assert ado.subs[stale]["status"] == "enabled"
    lines = capsys.readouterr().out.splitlines()
    assert f"updated   workitem.updated -> {OUR_ADO_URL} (id {stale})" in lines
    ado_calls(ado)


def test_azure_other_urls_are_never_touched(config, ado, capsys):
    other = ado.add("workitem.created", "https://other.example.com/hook",
                    consumer={"resourceDetailsToSend": "minimal"})  # fmt: skip
    foreign_event = ado.add("git.push", OUR_ADO_URL)
    duplicate_a = ado.add("workitem.created", OUR_ADO_URL, consumer=wanted_consumer())
    duplicate_b = ado.add("workitem.created", OUR_ADO_URL, consumer=wanted_consumer())
    before = json.dumps([ado.subs[other], ado.subs[foreign_event]], sort_keys=True)
    assert run(config, "azure-devops") == 0
    assert json.dumps([ado.subs[other], ado.subs[foreign_event]], sort_keys=True) == before
    touched = {urlsplit(c.request.url).path.rsplit("/", 1)[1]
               for c in ado.rsps.calls if c.request.method in ("PUT", "DELETE")}  # fmt: skip
    assert touched == {duplicate_b}
    assert duplicate_a in ado.subs and duplicate_b not in ado.subs
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"unchanged workitem.created -> {OUR_ADO_URL} (id {duplicate_a})"
    assert lines[1] == f"removed   duplicate workitem.created -> {OUR_ADO_URL} (id {duplicate_b})"
    ado_calls(ado)


def test_azure_failure_part_way_shows_what_was_done_then_exit_1(config, ado, capsys):
    ado.refuse_after = 2
    assert run(config, "azure-devops") == 1
    out = capsys.readouterr()
    assert [line.split()[:2] for line in out.out.splitlines()] == [
        ["created", e] for e in list(ADO_EVENTS)[:2]
    ]
    (line,) = out.err.splitlines()
    assert "create_subscription: HTTP 400" in line and "VS1640009" in line
    # the next run picks up where this one stopped
    ado.refuse_after = None
    capsys.readouterr()
    assert run(config, "azure-devops") == 0
    actions = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert actions == ["unchanged"] * 2 + ["created"] * (len(ADO_EVENTS) - 2)


def test_azure_without_secret_registers_without_basic_auth(config, ado, capsys, monkeypatch):
    monkeypatch.delenv("AZURE_DEVOPS_WEBHOOK_SECRET")
    assert run(config, "azure-devops") == 0
    posted = [body_of(c.request) for c in ado.rsps.calls if c.request.method == "POST"]
    assert all("basicAuthPassword" not in b["consumerInputs"] for b in posted)
    assert all("basicAuthUsername" not in b["consumerInputs"] for b in posted)
    assert "no webhook secret for tracker 'azure-devops'" in capsys.readouterr().err


def test_azure_down_is_exit_1_with_one_line(config, capsys, hooks_spec):
    with responses.RequestsMock() as rsps:
        rsps.add("OPTIONS", f"{ADO_URL}/_apis", json=OPTIONS_BODY)
        rsps.get(f"{ADO_URL}/_apis/projects/{PROJECT}", status=503, json={"message": "down"})
        assert run(config, "azure-devops") == 1
    out = capsys.readouterr()
    assert out.out == ""
    (line,) = out.err.splitlines()
    assert line.startswith(
        f"pmo-bridge: register azure-devops: azure-devops get_project {PROJECT}: HTTP 503"
    )


def test_azure_unknown_project_is_exit_1(config, capsys, hooks_spec):
    with responses.RequestsMock() as rsps:
        rsps.add("OPTIONS", f"{ADO_URL}/_apis", json=OPTIONS_BODY)
        rsps.get(
            f"{ADO_URL}/_apis/projects/{PROJECT}",
            status=404,
            json={"message": f"TF200016: The following project does not exist: {PROJECT}."},
        )
        assert run(config, "azure-devops") == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert "HTTP 404" in line and "TF200016" in line


@pytest.mark.parametrize(
    ("secret", "message"),
    [("ado secret", "contains whitespace"), ("x" * 257, "at most 256")],
)
def test_azure_secret_it_would_refuse_is_exit_2_before_any_call(
    config, capsys, monkeypatch, secret, message
):
    monkeypatch.setenv("AZURE_DEVOPS_WEBHOOK_SECRET", secret)
    with responses.RequestsMock():
        assert run(config, "azure-devops") == 2
    err = capsys.readouterr().err
    assert message in err and secret not in err


# -- configuration errors: exit 2, nothing sent ----------------------------------------


def test_unknown_tracker_is_exit_2(config, capsys):
    with responses.RequestsMock():
        assert run(config, "github") == 2
    err = capsys.readouterr().err
    assert err.strip() == "pmo-bridge: unknown tracker 'github' (configured: azure-devops, jira)"


@pytest.mark.parametrize(
    ("edit", "tracker", "message"),
    [
        (lambda c: c.replace(f"    url: {JIRA_URL}\n", ""), "jira", "tracker 'jira' has no url"),
        (lambda c: c.replace(f"    project: {PROJECT}\n", ""), "azure-devops", "set `project`"),
    ],
)
def test_config_gaps_are_exit_2(config, capsys, edit, tracker, message):
    config.write_text(edit(CONFIG), encoding="utf-8")
    with responses.RequestsMock():
        assert run(config, tracker) == 2
    assert message in capsys.readouterr().err


def test_missing_token_is_exit_2(config, capsys, monkeypatch):
    monkeypatch.delenv("JIRA_API_TOKEN")
    with responses.RequestsMock():
        assert run(config, "jira") == 2
    assert "no API token (JIRA_API_TOKEN is not set)" in capsys.readouterr().err


@pytest.mark.parametrize(
    "url", ["pmo.example.com", "ftp://pmo.example.com", "https://", "https://x/?a=1"]
)
def test_bad_public_url_is_exit_2(config, capsys, url):
    with responses.RequestsMock():
        assert run(config, "jira", url=url) == 2
    assert "give the service's public http(s) address" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("public", "expected"),
    [
        ("https://pmo.example.com", "https://pmo.example.com/webhooks/jira"),
        ("https://pmo.example.com/", "https://pmo.example.com/webhooks/jira"),
        ("https://example.com/pmo", "https://example.com/pmo/webhooks/jira"),
        ("https://pmo.example.com/webhooks/jira", "https://pmo.example.com/webhooks/jira"),
    ],
)
def test_webhook_url(public, expected):
    assert webhook_url(public, "jira") == expected


def test_plain_http_warns(config, jira, capsys):
    assert run(config, "jira", url="http://pmo.internal:8080") == 0
    assert "plain http" in capsys.readouterr().err
    assert jira.hooks[100]["url"] == "http://pmo.internal:8080/webhooks/jira"


def test_nothing_derived_from_the_secret_reaches_jira(config, jira, monkeypatch):
    """A fingerprint of the secret in a name would let whoever reads it test guesses
    offline: the webhook's name is the same whatever the secret."""
    names = []
    for secret in ("jira-secret-1", "another-secret"):
        monkeypatch.setenv("JIRA_WEBHOOK_SECRET", secret)
        assert run(config, "jira", "--secret-changed") == 0
        (hook,) = jira.hooks.values()
        names.append(hook["name"])
    assert names == ["pmo-bridge jira", "pmo-bridge jira"]


def test_nothing_derived_from_the_secret_reaches_azure_devops(config, ado, monkeypatch):
    users = []
    for secret in ("ado-secret-1", "another-secret"):
        monkeypatch.setenv("AZURE_DEVOPS_WEBHOOK_SECRET", secret)
        assert run(config, "azure-devops", "--secret-changed") == 0
        users.append({s["consumerInputs"]["basicAuthUsername"] for s in ado.subs.values()})
    assert users == [{"pmo-bridge"}, {"pmo-bridge"}]
    assert set(ado.passwords.values()) == {"another-secret"}


def test_a_changed_secret_without_the_flag_changes_nothing(config, jira, capsys, monkeypatch):
    assert run(config, "jira") == 0
    monkeypatch.setenv("JIRA_WEBHOOK_SECRET", "jira-secret-2")
    capsys.readouterr()
    assert run(config, "jira") == 0
    assert capsys.readouterr().out.startswith("unchanged ")
    assert jira.secrets[100] == "jira-secret-1"


# -- deployment files -----------------------------------------------------------------------

EXAMPLE = ROOT / "config" / "pmo-bridge.example.yaml"


def test_example_config_loads_and_names_every_key():
    from config.settings import _ConfigSchema, _TrackerSchema

    settings = load_settings(EXAMPLE, environ={})
    assert {t.kind for t in settings.trackers.values()} == {"jira", "azure-devops"}
    assert all(Path(p).exists() for p in settings.rules)
    raw = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    # Keys left commented out on purpose: setting them switches engines, or trusts a header.
    assert set(raw) | {"redis_url", "trusted_proxy_header"} == {
        f.data_key or n for n, f in _ConfigSchema().fields.items()
    }
    tracker_keys = {f.data_key or n for n, f in _TrackerSchema().fields.items()}
    assert set().union(*(set(t) for t in raw["trackers"].values())) == tracker_keys
    assert "redis_url:" in EXAMPLE.read_text(encoding="utf-8")


def test_example_config_holds_no_secret_values():
    text = EXAMPLE.read_text(encoding="utf-8")
    for word in ("token:", "password:", "secret:"):
        assert word not in text.lower()


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))


def test_compose_services_and_health_checks(compose):
    services = compose["services"]
    assert set(services) == {"web", "worker", "redis", "postgres"}
    for name, service in services.items():
        assert service["healthcheck"]["test"], name
    assert services["postgres"]["healthcheck"]["test"][1].startswith("pg_isready")
    assert services["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    web_check = services["web"]["healthcheck"]["test"]
    assert web_check[:3] == ["CMD", "python", "-c"] and "/readyz" in web_check[3]
    for name in ("web", "worker"):
        snippet = services[name]["healthcheck"]["test"][3]
        compile(snippet, f"{name} healthcheck", "exec")


def test_compose_commands_are_valid_cli_invocations(compose):
    parser = cli.build_parser()
    web = parser.parse_args(compose["services"]["web"]["command"][1:])
    assert (web.command, web.host, web.no_worker) == ("serve", ALL_INTERFACES, True)
    worker = parser.parse_args(compose["services"]["worker"]["command"][1:])
    assert worker.command == "worker"
    assert compose["services"]["web"]["command"][0] == "pmo-bridge"


def test_compose_app_services_share_env_config_and_wait_for_backends(compose):
    for name in ("web", "worker"):
        service = compose["services"][name]
        env = service["environment"]
        assert env["PMO_BRIDGE_DATABASE_URL"].startswith("postgresql+psycopg://pmo:")
        assert env["PMO_BRIDGE_DATABASE_URL"].endswith("@postgres:5432/pmo")
        assert env["PMO_BRIDGE_REDIS_URL"] == "redis://redis:6379/0"
        # secrets are interpolated from the environment or .env, never written here
        for secret in ("JIRA_API_TOKEN", "JIRA_WEBHOOK_SECRET", "AZURE_DEVOPS_PAT",
                       "AZURE_DEVOPS_WEBHOOK_SECRET", "PMO_BRIDGE_ADMIN_TOKEN"):  # fmt: skip
            assert re.fullmatch(r"\$\{" + secret + r":-\}", env[secret]), secret
        assert service["depends_on"] == {
            "postgres": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
        }
        mounts = {v.split(":")[-2]: v for v in service["volumes"]}
        config_dir = str(Path(env["PMO_BRIDGE_CONFIG"]).parent)
        assert env["PMO_BRIDGE_CONFIG"] in mounts
        # the example's `rules: [packs/...]` is relative to the config file's folder
        assert f"{config_dir}/packs" in mounts
        assert all(v.endswith(":ro") for v in mounts.values())
    password = compose["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"]
    assert password.startswith("${POSTGRES_PASSWORD:?")


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    text = re.sub(r"\\\n\s*", " ", text)
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_dockerfile_runs_as_non_root_with_health_check_and_serve_cmd():
    steps = dockerfile()
    instructions = [word for word, _ in steps]
    assert steps[0] == ("FROM", "python:3.11-slim")
    user = [rest for word, rest in steps if word == "USER"][-1]
    assert user.split(":")[0] not in ("root", "0")
    assert any(word == "RUN" and "pip install ." in rest for word, rest in steps)
    assert instructions.index("USER") > max(
        i for i, (w, r) in enumerate(steps) if w == "RUN" and "pip install" in r
    )
    (health,) = [rest for word, rest in steps if word == "HEALTHCHECK"]
    assert "/healthz" in health and "CMD" in health
    snippet = json.loads(health.split("CMD", 1)[1].strip())
    compile(snippet[-1], "healthcheck", "exec")
    (cmd,) = [rest for word, rest in steps if word == "CMD"]
    command = json.loads(cmd)
    assert command == ["pmo-bridge", "serve", "--host", ALL_INTERFACES]
    assert cli.build_parser().parse_args(command[1:]).command == "serve"


def test_dockerignore_keeps_secrets_and_local_state_out():
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    for pattern in (".env", ".git", "*.db", "tests"):
        assert pattern in ignored
    for needed in ("pyproject.toml", "README.md", "config", "webhooks"):
        assert needed not in ignored


def test_deploy_doc_commands_parse():
    """Every `pmo-bridge ...` line in the doc's shell blocks is a valid invocation."""
    text = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```sh\n(.*?)```", text, flags=re.S)
    commands = [
        shlex.split(line.strip())[1:]
        for block in blocks
        for line in block.splitlines()
        if line.strip().startswith("pmo-bridge ")
    ]
    assert {c[0] for c in commands} >= {"serve", "register"}
    for args in commands:
        cli.build_parser().parse_args(args)
