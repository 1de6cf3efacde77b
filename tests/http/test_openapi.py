"""The OpenAPI description: valid OpenAPI 3.0, served from the package file, in step with
the Flask routes, and honoured by the service when Schemathesis generates requests from it."""

from __future__ import annotations

import atexit
import json
import re
import shutil
import tempfile
from importlib import resources
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from tests.support.service import AZURE_SECRET_ENV, JIRA_SECRET_ENV, make_settings
from webhooks.http.app import create_app

# Flask's built-in static-file route: no static folder ships, so it only ever answers 404.
NOT_API_ENDPOINTS = {"static"}
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
EXAMPLES_PER_OPERATION = 30
TRIED: dict[str, int] = {}
# Non-2xx answers that carry a status document rather than an error: readiness (503) and
# a refused rules reload (422).
STATUS_DOCUMENTS = {"422", "503"}


def package_spec() -> dict:
    text = resources.files("webhooks.http").joinpath("openapi.json").read_text(encoding="utf-8")
    return json.loads(text)


def _shape(path: str) -> str:
    """`/webhooks/<name>` and `/webhooks/{tracker}` both become `/webhooks/{}`."""
    return re.sub(r"<[^>]+>|\{[^}]+\}", "{}", path)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("openapi")
    return create_app(settings=make_settings(tmp, max_body_bytes=64 * 1024))


def test_package_file_is_valid_openapi_3():
    spec = package_spec()
    assert spec["openapi"].startswith("3.0.")
    validate(spec)


def test_served_document_is_the_package_file(app):
    response = app.test_client().get("/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == package_spec()


def test_every_route_is_described_and_nothing_else(app):
    routes = {
        (_shape(rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.endpoint not in NOT_API_ENDPOINTS
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    described = {
        (_shape(path), method)
        for path, item in package_spec()["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }
    assert routes - described == set(), "routes missing from webhooks/http/openapi.json"
    assert described - routes == set(), "described in webhooks/http/openapi.json but not served"


def test_every_error_answer_uses_the_error_schema():
    for path, item in package_spec()["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")) and status not in STATUS_DOCUMENTS:
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}, (path, method, status)


def test_webhook_operation_documents_the_contract():
    operation = package_spec()["paths"]["/webhooks/{tracker}"]["post"]
    assert set(operation["responses"]) == {"200", "202", "400", "401", "404", "413", "415"}
    headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
    assert "X-Atlassian-Webhook-Identifier" in headers
    schemes = package_spec()["components"]["securitySchemes"]
    used = {name for requirement in operation["security"] for name in requirement}
    assert {schemes[name].get("name") for name in used} >= {
        "X-Hub-Signature",
        "X-PMO-Bridge-Secret",
    }
    assert any(schemes[name].get("scheme") == "basic" for name in used)  # Authorization
    for path in ("/admin/deadletters", "/admin/deadletters/replay", "/admin/reload"):
        for operation in package_spec()["paths"][path].values():
            assert operation["security"] == [{"adminToken": []}]
            assert {"401", "403"} <= set(operation["responses"])


# -- Schemathesis: generated requests against the WSGI app, no network ------------------
# (Loaded at import: schemathesis' lazy `from_fixture` loader does not work on pytest 9.)

_SCHEMATHESIS_DIR = tempfile.mkdtemp(prefix="pmo-bridge-schemathesis-")
atexit.register(shutil.rmtree, _SCHEMATHESIS_DIR, ignore_errors=True)
schema = schemathesis.openapi.from_wsgi(
    "/openapi.json",
    create_app(settings=make_settings(Path(_SCHEMATHESIS_DIR), max_body_bytes=64 * 1024)),
)


@pytest.fixture(scope="module", autouse=True)
def _schemathesis_service():
    """Webhook secrets unset, so generated bodies get past authentication to the parsers;
    the admin API stays closed (403) without a token. Secrets are read per request."""
    with pytest.MonkeyPatch.context() as mp:
        for name in (JIRA_SECRET_ENV, AZURE_SECRET_ENV, "PMO_BRIDGE_ADMIN_TOKEN"):
            mp.delenv(name, raising=False)
        yield
    print(f"\nschemathesis inputs tried per operation: {TRIED}; total {sum(TRIED.values())}")


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_description(case):
    TRIED[case.operation.label] = TRIED.get(case.operation.label, 0) + 1
    response = case.call_and_validate(checks=CHECKS)
    assert "Traceback" not in response.text
