"""Azure DevOps sandbox routes for work item comments (comments 7.1-preview.4)."""

from __future__ import annotations

from typing import Any

from flask import Flask, g, jsonify, request

from sandbox.azure_catalog import AzureError
from sandbox.azure_http import WI, check_project
from sandbox.azure_render import comment_json
from sandbox.azure_state import AzureState


def register_comment_routes(app: Flask, state: AzureState) -> None:
    COMMENTS = f"/<org>/<project>/_apis/wit/{WI}/<int:item_id>/comments"

    @app.get(COMMENTS)
    def list_comments(org: str, project: str, item_id: int, **_: str):
        check_project(state, project)
        with state.lock:
            item = state.get(item_id)
            deleted = request.args.get("includeDeleted", "").lower() == "true"
            comments = [c for c in item.comments if deleted or not c["isDeleted"]]
            if request.args.get("order", "desc").lower() != "asc":
                comments = list(reversed(comments))
            start = int(request.args.get("continuationToken") or 0)
            top = int(request.args.get("$top") or 200)
            page = comments[start : start + top]
            out: dict[str, Any] = {
                "totalCount": len(comments),
                "count": len(page),
                "comments": [comment_json(state, item, c) for c in page],
                "url": f"{state.org_url}/{project}/_apis/wit/workItems/{item_id}/comments",
            }
            if start + top < len(comments):
                out["continuationToken"] = str(start + top)
                out["nextPage"] = f"{out['url']}?continuationToken={start + top}"
            return jsonify(out)

    @app.post(COMMENTS)
    def add_comment(org: str, project: str, item_id: int, **_: str):
        check_project(state, project)
        text = (request.get_json(silent=True) or {}).get("text")
        if not isinstance(text, str) or not text.strip():
            raise AzureError(400, "VS402625: Comment text cannot be empty.", "ArgumentException")
        with state.lock:
            comment = state.add_comment(item_id, text, actor=g.actor)
            return jsonify(comment_json(state, state.get(item_id), comment))

    @app.get(f"{COMMENTS}/<int:comment_id>")
    def get_comment(org: str, project: str, item_id: int, comment_id: int, **_: str):
        check_project(state, project)
        item = state.get(item_id)
        return jsonify(comment_json(state, item, state.get_comment(item, comment_id)))

    @app.patch(f"{COMMENTS}/<int:comment_id>")
    def update_comment(org: str, project: str, item_id: int, comment_id: int, **_: str):
        check_project(state, project)
        text = (request.get_json(silent=True) or {}).get("text")
        if not isinstance(text, str) or not text.strip():
            raise AzureError(400, "VS402625: Comment text cannot be empty.", "ArgumentException")
        comment = state.update_comment(item_id, comment_id, text, actor=g.actor)
        return jsonify(comment_json(state, state.get(item_id), comment))

    @app.delete(f"{COMMENTS}/<int:comment_id>")
    def delete_comment(org: str, project: str, item_id: int, comment_id: int, **_: str):
        check_project(state, project)
        state.delete_comment(item_id, comment_id, actor=g.actor)
        return "", 204
