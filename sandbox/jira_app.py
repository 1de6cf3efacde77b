"""A Jira-compatible REST server (Cloud REST v2/v3, or Server/Data Center v2 only).

Routes follow the Jira Cloud platform REST API (tests/specs/jira/platform-swagger.v3.json);
errors use Jira's `{"errorMessages": [...], "errors": {...}}` shape.

Issue and search routes are in `sandbox.jira_issue_routes`, comment routes in
`sandbox.jira_comment_routes`, webhook registration in `sandbox.jira_webhook_admin`,
priorities and user search in `sandbox.jira_directory`.
"""

from __future__ import annotations

from collections import Counter

from flask import Flask, g, jsonify, request
from werkzeug.exceptions import HTTPException

from sandbox.faults import Faults
from sandbox.jira_catalog import FIELDS, field_json
from sandbox.jira_comment_routes import register_comment_routes
from sandbox.jira_directory import register_directory_routes
from sandbox.jira_events import JiraWebhookEmitter
from sandbox.jira_http import ISSUE_MISSING, jira_error
from sandbox.jira_issue_routes import register_issue_routes, register_search_routes
from sandbox.jira_render import jira_time, project_json, user_json
from sandbox.jira_state import JiraState, NotFound
from sandbox.jira_webhook_admin import register_webhook_routes
from sandbox.queries import QueryError
from sandbox.validation import Credentials, FieldError, parse_authorization
from sandbox.webhooks import WebhookSender

__all__ = ["ISSUE_MISSING", "NOTIFY_USERS_REFUSED", "create_jira_app", "jira_error"]

NOTIFY_USERS_REFUSED = (
    "To discard the user notification either admin or project admin permissions are required."
)


def create_jira_app(
    state: JiraState,
    *,
    webhook_url: str | None = None,
    webhook_secret: str | None = None,
    deployment: str = "cloud",
    sender: WebhookSender | None = None,
) -> Flask:
    app = Flask("sandbox.jira")
    sender = sender or WebhookSender()
    calls: Counter[tuple[str, str]] = Counter()
    faults = Faults()
    app.extensions["sandbox"] = {
        "state": state,
        "sender": sender,
        "calls": calls,
        "faults": faults,
    }
    state.subscribe(JiraWebhookEmitter(state, sender, webhook_url, webhook_secret))
    versions = '<any("2", "3"):version>' if deployment == "cloud" else '<any("2"):version>'
    api = f"/rest/api/{versions}"

    @app.before_request
    def authenticate():
        if state.base_url == "http://localhost":
            state.base_url = request.host_url.rstrip("/")
        rule = request.url_rule.rule if request.url_rule else request.path
        calls[(request.method, rule)] += 1
        g.call, refused = faults.arrive(request.method, request.path)
        if refused is not None:
            status, headers = refused
            response = jira_error(status, f"Sandbox fault: HTTP {status}")
            return response[0], status, headers
        creds = parse_authorization(request.headers.get("Authorization"))
        if creds is None:
            return jira_error(
                401, "You are not authenticated. Authentication required to perform this operation."
            )
        if state.known_credentials_only and not _known(state, creds):
            return jira_error(401, "Client must be authenticated to access this resource.")
        g.actor = creds.user or state.bearer_tokens.get(creds.secret, "bearer-user")
        g.call.actor = g.actor
        state.user(g.actor)
        g.api = int((request.view_args or {}).get("version", 2))
        quiet = request.args.get("notifyUsers", "").strip().lower() == "false"
        if quiet and request.method != "GET" and g.actor not in state.admins:
            # Cloud and Data Center both refuse the whole edit, whatever the docs say of
            # the request being "ignored": nothing is written.
            return jira_error(403, NOTIFY_USERS_REFUSED)

    @app.after_request
    def log_status(response):
        if "call" in g:
            g.call.status = response.status_code
        return response

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        return jira_error(exc.code or 500, exc.description or exc.name)

    @app.errorhandler(FieldError)
    def field_error(exc: FieldError):
        return jsonify(exc.body()), 400

    @app.errorhandler(QueryError)
    def query_error(exc: QueryError):
        return jira_error(400, str(exc))

    @app.errorhandler(NotFound)
    def not_found(_exc: NotFound):
        return jira_error(404, ISSUE_MISSING)

    @app.get(f"{api}/serverInfo")
    def server_info(version: str):
        cloud = deployment == "cloud"
        return jsonify(
            {
                "baseUrl": state.base_url,
                "version": "1001.0.0-SNAPSHOT" if cloud else "9.12.2",
                "versionNumbers": [1001, 0, 0] if cloud else [9, 12, 2],
                "deploymentType": "Cloud" if cloud else "Server",
                "buildNumber": 100249,
                "buildDate": "2024-01-01T00:00:00.000+0000",
                "serverTime": jira_time(state.clock()),
                "scmInfo": "sandbox",
                "serverTitle": "Jira (pmo-bridge sandbox)",
            }
        )

    @app.get(f"{api}/myself")
    def myself(version: str):
        return jsonify(dict(user_json(state, g.actor, g.api), locale="en_US"))

    @app.get(f"{api}/field")
    def fields(version: str):
        out = [field_json(fid, meta) for fid, meta in FIELDS.items()]
        out += [
            field_json(fid, (name, "any", True, True)) for fid, name in state.extra_fields.items()
        ]
        return jsonify(out)

    @app.get(f"{api}/mypermissions")
    def my_permissions(version: str):
        # Cloud requires `permissions`; every listed key is answered, held unless withheld
        wanted = [k for k in request.args.get("permissions", "").split(",") if k]
        if not wanted:
            return jira_error(400, "The 'permissions' query parameter is required.")
        out = {
            key: {"id": str(n), "key": key, "name": key.replace("_", " ").title(),
                  "type": "PROJECT", "description": "",
                  "havePermission": key not in state.withheld_permissions}
            for n, key in enumerate(wanted, start=1)
        }  # fmt: skip
        return jsonify({"permissions": out})

    @app.get(f"{api}/project/<key>")
    def project(version: str, key: str):
        for p in state.projects.values():
            if key in (p["key"], p["id"]):
                return jsonify(project_json(state, p["key"], g.api))
        return jira_error(404, f"No project could be found with key '{key}'.")

    register_issue_routes(app, state, api, cloud=deployment == "cloud")
    register_comment_routes(app, state, api, cloud=deployment == "cloud")
    register_search_routes(app, state, api, cloud=deployment == "cloud")
    register_webhook_routes(app, state, cloud=deployment == "cloud")
    register_directory_routes(app, state, api, cloud=deployment == "cloud")
    app.json.sort_keys = False
    return app


def _known(state: JiraState, creds: Credentials) -> bool:
    """Basic: a user with this API token; Bearer: a known personal access token."""
    owner = state.bearer_tokens.get(creds.secret)
    return owner is not None and (creds.scheme == "bearer" or owner == creds.user)
