"""Azure DevOps sandbox routes for work items (Work Item Tracking 7.1): get, list, batch,
JSON Patch update, delete, create, and WIQL queries."""

from __future__ import annotations

from typing import Any

from flask import Flask, g, jsonify, request

from sandbox.azure_catalog import AzureError
from sandbox.azure_http import BATCH, WI, check_project, json_patch_body
from sandbox.azure_render import work_item_json
from sandbox.azure_state import AzureState, ado_time

# A WIQL answer holds at most 20,000 work items: past it the service answers 400
# VS402337 (as reported against the live service: nkdAgility/azure-devops-migration-tools
# #1005, microsoft/azure-devops-node-api#393); with `$top` at or below it, the first
# `$top` come back (how tools page large organisations, ordered by id).
WIQL_LIMIT = 20_000


def register_item_routes(app: Flask, state: AzureState) -> None:
    @app.get(f"/<org>/_apis/wit/{WI}/<int:item_id>")
    @app.get(f"/<org>/<project>/_apis/wit/{WI}/<int:item_id>")
    def get_work_item(org: str, item_id: int, project: str | None = None, **_: str):
        check_project(state, project)
        fields = request.args.get("fields")
        with state.lock:
            item = state.get(item_id)
            return jsonify(
                work_item_json(
                    state,
                    item,
                    expand=request.args.get("$expand"),
                    fields=fields.split(",") if fields else None,
                )
            )

    def _items(
        ids: list[Any], expand: str | None, fields: list[str] | None, policy: str | None
    ) -> dict[str, Any]:
        if fields and (expand or "none").lower() != "none":
            # what the service answers to both (seen from its client libraries' users)
            raise AzureError(
                400,
                "The expand parameter can not be used with the fields parameter.",
                "ArgumentException",
            )
        out = []
        with state.lock:
            for item_id in ids:
                try:
                    out.append(
                        work_item_json(state, state.get(item_id), expand=expand, fields=fields)
                    )
                except AzureError:
                    if (policy or "fail").lower() != "omit":
                        raise
                    out.append(None)
        return {"count": len(out), "value": out}

    @app.get(f"/<org>/_apis/wit/{WI}")
    @app.get(f"/<org>/<project>/_apis/wit/{WI}")
    def list_work_items(org: str, project: str | None = None, **_: str):
        check_project(state, project)
        ids = [i for i in request.args.get("ids", "").split(",") if i.strip()]
        if not ids or len(ids) > 200:
            raise AzureError(
                400, "VS403496: The ids parameter must list 1 to 200 ids.", "ArgumentException"
            )
        fields = request.args.get("fields")
        return jsonify(
            _items(
                ids,
                request.args.get("$expand"),
                fields.split(",") if fields else None,
                request.args.get("errorPolicy"),
            )
        )

    @app.post(f"/<org>/_apis/wit/{BATCH}")
    @app.post(f"/<org>/<project>/_apis/wit/{BATCH}")
    def batch(org: str, project: str | None = None, **_: str):
        check_project(state, project)
        body = request.get_json(silent=True) or {}
        ids = body.get("ids") or []
        if not ids or len(ids) > 200:
            raise AzureError(
                400, "VS403496: The ids parameter must list 1 to 200 ids.", "ArgumentException"
            )
        return jsonify(
            _items(ids, body.get("$expand"), body.get("fields"), body.get("errorPolicy"))
        )

    @app.patch(f"/<org>/_apis/wit/{WI}/<int:item_id>")
    @app.patch(f"/<org>/<project>/_apis/wit/{WI}/<int:item_id>")
    def update_work_item(org: str, item_id: int, project: str | None = None, **_: str):
        check_project(state, project)
        quiet = request.args.get("suppressNotifications", "").strip().lower() == "true"
        if quiet and g.actor not in state.may_suppress:
            # The permission is documented; the exact refusal is not (a 403 here).
            raise AzureError(
                403,
                f"Access denied: {g.actor} needs the project permission 'Suppress "
                "notifications for work item updates' to suppress notifications.",
                "UnauthorizedRequestException",
            )
        ops = json_patch_body()
        with state.lock:
            item = state.update_work_item(item_id, ops, actor=g.actor)
            return jsonify(work_item_json(state, item, expand="relations"))

    @app.delete(f"/<org>/_apis/wit/{WI}/<int:item_id>")
    @app.delete(f"/<org>/<project>/_apis/wit/{WI}/<int:item_id>")
    def delete_work_item(org: str, item_id: int, project: str | None = None, **_: str):
        check_project(state, project)
        item = state.delete_work_item(item_id, actor=g.actor)
        return jsonify(
            {
                "id": item.id,
                "type": item.fields["System.WorkItemType"],
                "name": item.fields.get("System.Title"),
                "deletedDate": ado_time(state.clock()),
                "deletedBy": g.actor,
                "project": item.fields["System.TeamProject"],
                "url": f"{state.org_url}/_apis/wit/recyclebin/{item.id}",
            }
        )

    @app.post(f"/<org>/<project>/_apis/wit/{WI}/$<work_item_type>")
    def create_work_item(org: str, project: str, work_item_type: str, **_: str):
        ops = json_patch_body()
        with state.lock:
            item = state.create_work_item(project, work_item_type, actor=g.actor, ops=ops)
            return jsonify(work_item_json(state, item, expand="relations"))

    @app.post("/<org>/_apis/wit/wiql")
    @app.post("/<org>/<project>/_apis/wit/wiql")
    @app.post("/<org>/<project>/<team>/_apis/wit/wiql")
    def wiql(org: str, project: str | None = None, team: str | None = None):
        name = state.project(project)["name"] if project else None
        body = request.get_json(silent=True) or {}
        if not body.get("query"):
            raise AzureError(400, "VS402336: The query text is required.", "ArgumentException")
        found = sorted(state.query(body["query"], name), key=lambda i: i.id)
        top = request.args.get("$top")
        if top is not None and not top.isdigit():
            raise AzureError(400, f"Invalid value '{top}' for $top.", "ArgumentException")
        if len(found) > WIQL_LIMIT and not (top and int(top) <= WIQL_LIMIT):
            raise AzureError(
                400,
                f"VS402337: The number of work items returned exceeds the size limit of "
                f"{WIQL_LIMIT}. Change the query to return fewer items.",
                "WorkItemTrackingQueryResultSizeLimitExceededException",
            )
        if top:
            found = found[: int(top)]
        return jsonify(
            {
                "queryType": "flat",
                "queryResultType": "workItem",
                "asOf": ado_time(state.clock()),
                "columns": [
                    {
                        "referenceName": "System.Id",
                        "name": "ID",
                        "url": f"{state.org_url}/_apis/wit/fields/System.Id",
                    }
                ],
                "sortColumns": [],
                "workItems": [
                    {"id": i.id, "url": f"{state.org_url}/_apis/wit/workItems/{i.id}"}
                    for i in found
                ],
            }
        )
