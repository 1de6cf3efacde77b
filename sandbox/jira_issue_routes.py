"""Jira sandbox routes for issues: read, edit, delete, create, transitions and search
(`/rest/api/{2,3}/...`; the enhanced `/rest/api/3/search/jql` on Cloud only)."""

from __future__ import annotations

import base64
from typing import Any

from flask import Flask, g, jsonify, request

from sandbox.jira_catalog import ISSUE_TYPES, TRANSITIONS
from sandbox.jira_comment_routes import comment_body
from sandbox.jira_http import fields_param, jira_error, request_body
from sandbox.jira_render import issue_json, status_json
from sandbox.jira_state import JiraState, NotFound
from sandbox.validation import FieldError

# What Jira answers for a field the edit screen does not have.
COMMENT_NOT_ON_SCREEN = (
    "Field 'comment' cannot be set. It is not on the appropriate screen, or unknown."
)

KEY_PAGE_MAX = 5000  # search/jql page when only ids or keys are asked for
BULK_FETCH_MAX = 100  # issues per /issue/bulkfetch call (more only for narrow field lists)


def _edit_comments(state: JiraState, operations: Any, api: int, *, cloud: bool) -> list[Any]:
    """The comments an edit adds through `update.comment: [{"add": {"body": ...}}]`
    (Atlassian, "JIRA REST API Example - Add Comment": comments may be added "as part of
    editing an issue"), checked as the comment resource checks them. A site whose edit
    screen lacks the comment field refuses the edit (`comment_on_edit` False), as Jira
    refuses any field that is not on the screen."""
    if operations is None:
        return []
    if not state.comment_on_edit:
        raise FieldError({"comment": COMMENT_NOT_ON_SCREEN})
    if not isinstance(operations, list):
        raise FieldError({"comment": "Operations must be a list"})
    bodies = []
    for op in operations:
        verb, value = next(iter(op.items())) if isinstance(op, dict) and op else ("", None)
        if verb != "add" or not isinstance(value, dict):
            raise FieldError({"comment": f"Field 'comment' does not support operation '{verb}'"})
        bodies.append(comment_body(value.get("body"), api, cloud=cloud))
    return bodies


def register_issue_routes(app: Flask, state: JiraState, api: str, *, cloud: bool = True) -> None:
    @app.get(f"{api}/issue/<id_or_key>")
    def get_issue(version: str, id_or_key: str):
        with state.lock:
            issue = state.get(id_or_key)
            return jsonify(
                issue_json(state, issue, g.api, fields_param(request.args.get("fields")))
            )

    @app.put(f"{api}/issue/<id_or_key>")
    def edit_issue(version: str, id_or_key: str):
        body = request_body()
        update = body.get("update") or {}
        if not isinstance(update, dict):
            raise FieldError({}, ["Can not deserialize the update: it is not an object"])
        update = dict(update)
        comments = _edit_comments(state, update.pop("comment", None), g.api, cloud=cloud)
        state.update_issue(
            id_or_key,
            actor=g.actor,
            fields=body.get("fields"),
            update=update,
            api_version=g.api,
            comments=comments,
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
        fields = dict(request_body().get("fields") or {})
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
        body = request_body()
        transition = (body.get("transition") or {}).get("id")
        if transition is None:
            return jira_error(400, "Missing 'transition' identifier")
        state.get(id_or_key)
        state.transition(
            id_or_key, str(transition), actor=g.actor, fields=body.get("fields"), api_version=g.api
        )
        return "", 204


def register_search_routes(app: Flask, state: JiraState, api: str, *, cloud: bool) -> None:
    def _search_args() -> dict[str, Any]:
        if request.method == "POST":
            return request_body()
        args: dict[str, Any] = dict(request.args)
        return args

    @app.route(f"{api}/search", methods=["GET", "POST"])
    def search(version: str):
        args = _search_args()
        start = int(args.get("startAt") or 0)
        size = max(0, min(int(args.get("maxResults") or 50), 100))
        with state.lock:
            found = state.search(args.get("jql"), next_page=start > 0)
            wanted = fields_param(args.get("fields"))
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

    if cloud:

        @app.route("/rest/api/3/search/jql", methods=["GET", "POST"])
        def search_jql():
            args = _search_args()
            token = args.get("nextPageToken")
            try:
                start = int(base64.urlsafe_b64decode(token).decode()) if token else 0
            except ValueError:
                return jira_error(400, "The provided next page token is invalid or expired.")
            wanted = fields_param(args.get("fields"))
            # pages of ids (or keys) only may be far larger than pages with fields
            key_only = not wanted or set(wanted) <= {"id", "key"}
            limit = KEY_PAGE_MAX if key_only else 100
            size = max(1, min(int(args.get("maxResults") or 50), limit))
            with state.lock:
                found = state.search(args.get("jql"), next_page=token is not None)
                page = found[start : start + size]
                # the enhanced search returns only ids unless fields are asked for
                issues = (
                    [issue_json(state, i, 3, wanted) for i in page]
                    if not key_only
                    else [_id_and_key(i, wanted) for i in page]
                )
            out: dict[str, Any] = {"issues": issues, "isLast": start + size >= len(found)}
            if not out["isLast"]:
                out["nextPageToken"] = base64.urlsafe_b64encode(str(start + size).encode()).decode()
            return jsonify(out)

        @app.post("/rest/api/3/issue/bulkfetch")
        def bulk_fetch():
            # Up to 100 issues by id or key; unknown ones are left out (not errors);
            # the issues come back in ascending id order.
            body = request_body()
            wanted_ids = body.get("issueIdsOrKeys")
            if not isinstance(wanted_ids, list) or not wanted_ids:
                return jira_error(400, "issueIdsOrKeys must be a non-empty list.")
            if len(wanted_ids) > BULK_FETCH_MAX:
                return jira_error(400, f"You can request at most {BULK_FETCH_MAX} issues.")
            wanted = fields_param(body.get("fields"))
            found = {}
            with state.lock:
                for ref in wanted_ids:
                    try:
                        issue = state.get(str(ref))
                    except NotFound:
                        continue
                    found[issue.id] = issue
                issues = [issue_json(state, found[i], 3, wanted) for i in sorted(found)]
            return jsonify({"issues": issues, "issueErrors": []})


def _id_and_key(issue: Any, wanted: list[str] | None) -> dict[str, Any]:
    """The enhanced search returns only ids unless fields are asked for; `key` on request."""
    out = {"id": str(issue.id)}
    if wanted and "key" in wanted:
        out["key"] = issue.key
    return out
