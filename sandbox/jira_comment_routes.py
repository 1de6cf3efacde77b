"""Jira sandbox routes for issue comments (`/rest/api/{2,3}/issue/{idOrKey}/comment`):
plain text bodies on v2, Atlassian Document Format on v3.

As Jira does, a v3 body that is not valid ADF (Atlassian's schema, `sandbox.adf`) is
refused with `400 {"errorMessages": ["INVALID_INPUT"], "errors": {}}`, and a body over
32,767 characters with the "too long" field error (Cloud writes the number with a comma,
Server/Data Center without). How Cloud counts an ADF body is not documented: the sandbox
counts its compact JSON, the stricter reading."""

from __future__ import annotations

import json
from typing import Any

from flask import Flask, g, jsonify, request

from sandbox.adf import is_valid_adf
from sandbox.jira_http import jira_error, request_body
from sandbox.jira_render import comment_json
from sandbox.jira_state import JiraState, NotFound
from sandbox.validation import FieldError, adf_required, string_required, text_to_adf

COMMENT_LIMIT = 32_767


def comment_body(value: Any, api: int, *, cloud: bool) -> dict[str, Any]:
    """A comment body as Jira checks it (the comment resource and an edit's
    `update.comment` add alike), stored as ADF."""
    if api >= 3:
        doc = adf_required(value, "comment")
        size = len(json.dumps(doc, separators=(",", ":"), ensure_ascii=False))
    else:
        text = string_required(value, "comment") or ""
        doc, size = text_to_adf(text), len(text)
    if doc is None:
        raise FieldError({"comment": "Comment body can not be empty!"})
    if size > COMMENT_LIMIT:
        limit = f"{COMMENT_LIMIT:,}" if cloud else str(COMMENT_LIMIT)
        raise FieldError(
            {
                "comment": "The entered text is too long. It exceeds the allowed limit of "
                f"{limit} characters."
            }
        )
    if api >= 3 and not is_valid_adf(doc):
        raise FieldError({}, ["INVALID_INPUT"])
    return doc


def register_comment_routes(app: Flask, state: JiraState, api: str, *, cloud: bool) -> None:
    def _comment_body(body: dict[str, Any]) -> dict[str, Any]:
        return comment_body(body.get("body"), g.api, cloud=cloud)

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
        comment = state.add_comment(id_or_key, _comment_body(request_body()), actor=g.actor)
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
        comment = state.update_comment(
            id_or_key, comment_id, _comment_body(request_body()), actor=g.actor
        )
        return jsonify(comment_json(state, issue, comment, g.api))

    @app.delete(f"{api}/issue/<id_or_key>/comment/<comment_id>")
    def delete_comment(version: str, id_or_key: str, comment_id: str):
        _, comment = _comment_or_404(id_or_key, comment_id)
        if comment is None:
            return jira_error(404, f"Can not find a comment for key: {comment_id}.")
        state.delete_comment(id_or_key, comment_id, actor=g.actor)
        return "", 204
