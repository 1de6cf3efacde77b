"""A Jira-compatible REST server (Cloud REST v2/v3, or Server/Data Center v2 only).

Routes follow the Jira Cloud platform REST API (tests/specs/jira/platform-swagger.v3.json);
errors use Jira's `{"errorMessages": [...], "errors": {...}}` shape.
"""

from __future__ import annotations

import base64
from collections import Counter
from typing import Any

from flask import Flask, g, jsonify, request
from werkzeug.exceptions import HTTPException

from sandbox.faults import Faults
from sandbox.jira_catalog import FIELDS, ISSUE_TYPES, TRANSITIONS, field_json
from sandbox.jira_events import JiraWebhookEmitter
from sandbox.jira_render import (
    comment_json,
    issue_json,
    jira_time,
    project_json,
    status_json,
    user_json,
)
from sandbox.jira_state import JiraState, NotFound
from sandbox.jira_webhook_admin import register_webhook_routes
from sandbox.queries import QueryError
from sandbox.validation import (
    FieldError,
    adf_required,
    parse_authorization,
    string_required,
    text_to_adf,
)
from sandbox.webhooks import WebhookSender

ISSUE_MISSING = "Issue does not exist or you do not have permission to see it."


def jira_error(status: int, *messages: str, errors: dict[str, str] | None = None):
    return jsonify({"errorMessages": list(messages), "errors": errors or {}}), status


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise FieldError({}, ["No content to map to Object due to end of input"])
    return data


def _fields_param(value: Any) -> list[str] | None:
    if value is None:
        return None
    return value if isinstance(value, list) else str(value).split(",")


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
        g.actor = creds.user or state.bearer_tokens.get(creds.secret, "bearer-user")
        g.call.actor = g.actor
        state.user(g.actor)
        g.api = int((request.view_args or {}).get("version", 2))

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

    @app.get(f"{api}/project/<key>")
    def project(version: str, key: str):
        for p in state.projects.values():
            if key in (p["key"], p["id"]):
                return jsonify(project_json(state, p["key"], g.api))
        return jira_error(404, f"No project could be found with key '{key}'.")

    @app.get(f"{api}/issue/<id_or_key>")
    def get_issue(version: str, id_or_key: str):
        with state.lock:
            issue = state.get(id_or_key)
            return jsonify(
                issue_json(state, issue, g.api, _fields_param(request.args.get("fields")))
            )

    @app.put(f"{api}/issue/<id_or_key>")
    def edit_issue(version: str, id_or_key: str):
        body = _body()
        state.update_issue(
            id_or_key,
            actor=g.actor,
            fields=body.get("fields"),
            update=body.get("update"),
            api_version=g.api,
        )
        if request.args.get("returnIssue", "").lower() == "true":
            return jsonify(issue_json(state, state.get(id_or_key), g.api))
        return "", 204

    @app.delete(f"{api}/issue/<id_or_key>")
    def delete_issue(version: str, id_or_key: str):
        state.delete_issue(id_or_key, actor=g.actor)
        return "", 204

    @app.post(f"{api}/issue")
    def create_issue(version: str):
        fields = dict(_body().get("fields") or {})
        project_ref = fields.pop("project", None) or {}
        type_ref = fields.pop("issuetype", None) or {}
        summary = fields.pop("summary", None)
        project_key = next(
            (
                p["key"]
                for p in state.projects.values()
                if project_ref.get("key") == p["key"] or str(project_ref.get("id")) == p["id"]
            ),
            "",
        )
        type_name = type_ref.get("name") or next(
            (n for n, meta in ISSUE_TYPES.items() if meta[0] == str(type_ref.get("id"))), ""
        )
        issue = state.create_issue(
            project_key, type_name, summary, actor=g.actor, fields=fields, api_version=g.api
        )
        return jsonify(
            {
                "id": str(issue.id),
                "key": issue.key,
                "self": f"{state.base_url}/rest/api/{g.api}/issue/{issue.id}",
            }
        ), 201

    @app.get(f"{api}/issue/<id_or_key>/transitions")
    def transitions(version: str, id_or_key: str):
        current = state.get(id_or_key).fields["status"]
        return jsonify(
            {
                "expand": "transitions",
                "transitions": [
                    {
                        "id": tid,
                        "name": name,
                        "to": status_json(state, name, g.api),
                        "hasScreen": False,
                        "isGlobal": True,
                        "isInitial": False,
                        "isAvailable": True,
                        "isConditional": False,
                        "isLooped": False,
                    }
                    for tid, name in TRANSITIONS.items()
                    if name != current
                ],
            }
        )

    @app.post(f"{api}/issue/<id_or_key>/transitions")
    def do_transition(version: str, id_or_key: str):
        body = _body()
        transition = (body.get("transition") or {}).get("id")
        if transition is None:
            return jira_error(400, "Missing 'transition' identifier")
        state.get(id_or_key)
        state.transition(
            id_or_key, str(transition), actor=g.actor, fields=body.get("fields"), api_version=g.api
        )
        return "", 204

    def _comment_body(body: dict[str, Any]) -> dict[str, Any]:
        value = body.get("body")
        if g.api >= 3:
            doc = adf_required(value, "comment")
        else:
            doc = text_to_adf(string_required(value, "comment") or "")
        if doc is None:
            raise FieldError({"comment": "Comment body can not be empty!"})
        return doc

    @app.get(f"{api}/issue/<id_or_key>/comment")
    def list_comments(version: str, id_or_key: str):
        with state.lock:
            issue = state.get(id_or_key)
            start = int(request.args.get("startAt", 0))
            size = min(int(request.args.get("maxResults", 5000)), 5000)
            ordered = (
                list(reversed(issue.comments))
                if request.args.get("orderBy") == "-created"
                else issue.comments
            )
            page = ordered[start : start + size]
            return jsonify(
                {
                    "startAt": start,
                    "maxResults": size,
                    "total": len(issue.comments),
                    "comments": [comment_json(state, issue, c, g.api) for c in page],
                }
            )

    @app.post(f"{api}/issue/<id_or_key>/comment")
    def add_comment(version: str, id_or_key: str):
        issue = state.get(id_or_key)
        comment = state.add_comment(id_or_key, _comment_body(_body()), actor=g.actor)
        return jsonify(comment_json(state, issue, comment, g.api)), 201

    def _comment_or_404(id_or_key: str, comment_id: str):
        issue = state.get(id_or_key)
        try:
            return issue, state.get_comment(issue, comment_id)
        except NotFound:
            return issue, None

    @app.get(f"{api}/issue/<id_or_key>/comment/<comment_id>")
    def get_comment(version: str, id_or_key: str, comment_id: str):
        issue, comment = _comment_or_404(id_or_key, comment_id)
        if comment is None:
            return jira_error(404, f"Can not find a comment for key: {comment_id}.")
        return jsonify(comment_json(state, issue, comment, g.api))

    @app.put(f"{api}/issue/<id_or_key>/comment/<comment_id>")
    def edit_comment(version: str, id_or_key: str, comment_id: str):
        issue, comment = _comment_or_404(id_or_key, comment_id)
        if comment is None:
            return jira_error(404, f"Can not find a comment for key: {comment_id}.")
        comment = state.update_comment(id_or_key, comment_id, _comment_body(_body()), actor=g.actor)
        return jsonify(comment_json(state, issue, comment, g.api))

    @app.delete(f"{api}/issue/<id_or_key>/comment/<comment_id>")
    def delete_comment(version: str, id_or_key: str, comment_id: str):
        _, comment = _comment_or_404(id_or_key, comment_id)
        if comment is None:
            return jira_error(404, f"Can not find a comment for key: {comment_id}.")
        state.delete_comment(id_or_key, comment_id, actor=g.actor)
        return "", 204

    def _search_args() -> dict[str, Any]:
        if request.method == "POST":
            return _body()
        args: dict[str, Any] = dict(request.args)
        return args

    @app.route(f"{api}/search", methods=["GET", "POST"])
    def search(version: str):
        args = _search_args()
        start = int(args.get("startAt") or 0)
        size = max(0, min(int(args.get("maxResults") or 50), 100))
        with state.lock:
            found = state.search(args.get("jql"))
            wanted = _fields_param(args.get("fields"))
            issues = [issue_json(state, i, g.api, wanted) for i in found[start : start + size]]
        return jsonify(
            {
                "expand": "schema,names",
                "startAt": start,
                "maxResults": size,
                "total": len(found),
                "issues": issues,
            }
        )

    if deployment == "cloud":

        @app.route("/rest/api/3/search/jql", methods=["GET", "POST"])
        def search_jql():
            args = _search_args()
            token = args.get("nextPageToken")
            try:
                start = int(base64.urlsafe_b64decode(token).decode()) if token else 0
            except ValueError:
                return jira_error(400, "The provided next page token is invalid or expired.")
            size = max(1, min(int(args.get("maxResults") or 50), 100))
            with state.lock:
                found = state.search(args.get("jql"))
                wanted = _fields_param(args.get("fields"))
                page = found[start : start + size]
                # the enhanced search returns only ids unless fields are asked for
                issues = (
                    [issue_json(state, i, 3, wanted) for i in page]
                    if wanted
                    else [{"id": str(i.id)} for i in page]
                )
            out: dict[str, Any] = {"issues": issues, "isLast": start + size >= len(found)}
            if not out["isLast"]:
                out["nextPageToken"] = base64.urlsafe_b64encode(str(start + size).encode()).decode()
            return jsonify(out)

    register_webhook_routes(app, state, cloud=deployment == "cloud")
    app.json.sort_keys = False
    return app
