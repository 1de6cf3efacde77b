"""An Azure DevOps-compatible REST server for one organization (Work Item Tracking 7.1,
comments 7.1-preview.4, service hooks), including the discovery calls of the
azure-devops client library (see sandbox.azure_locations)."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from flask import Flask, g, jsonify, request
from werkzeug.exceptions import HTTPException

from sandbox.azure_catalog import AzureError
from sandbox.azure_events import AzureWebhookEmitter
from sandbox.azure_hooks import register_hook_routes
from sandbox.azure_locations import resource_areas, resource_locations
from sandbox.azure_render import comment_json, work_item_json
from sandbox.azure_state import AzureState, ado_time
from sandbox.faults import Faults
from sandbox.queries import QueryError
from sandbox.validation import parse_authorization
from sandbox.webhooks import WebhookSender

WI = '<any("workitems", "workItems", "WorkItems"):_wi>'
BATCH = '<any("workitemsbatch", "workItemsBatch"):_wb>'
_VERSION = re.compile(r"api-version\s*=\s*([\w.\-]+)", re.IGNORECASE)
PATCH_MEDIA = "application/json-patch+json"
WEB_API = "Microsoft.VisualStudio.Services.WebApi.{0}, Microsoft.VisualStudio.Services.WebApi"


def _api_version() -> str | None:
    if request.args.get("api-version"):
        return request.args["api-version"]
    match = _VERSION.search(request.headers.get("Accept", ""))
    return match.group(1) if match else None


def _json_patch_body() -> list[Any]:
    media = (request.mimetype or "").lower()
    if media != PATCH_MEDIA:
        raise AzureError(
            415,
            f'The request indicated a Content-Type of "{request.mimetype}" for '
            f'method type "{request.method}" which is not supported. Valid content '
            f"types for this method are: {PATCH_MEDIA}.",
            "VssRequestContentTypeNotSupportedException",
            WEB_API.format("VssRequestContentTypeNotSupportedException"),
        )
    body = request.get_json(silent=True, force=True)
    if not isinstance(body, list):
        raise AzureError(
            400,
            "You must pass a valid patch document in the body of the request.",
            "VssPropertyValidationException",
            WEB_API.format("VssPropertyValidationException"),
        )
    return body


def create_azure_app(
    state: AzureState,
    *,
    organization: str = "fabrikam",
    webhook_url: str | None = None,
    webhook_secret: str | None = None,
    sender: WebhookSender | None = None,
) -> Flask:
    app = Flask("sandbox.azure")
    state.organization = organization
    sender = sender or WebhookSender()
    calls: Counter[tuple[str, str]] = Counter()
    faults = Faults()
    app.extensions["sandbox"] = {
        "state": state,
        "sender": sender,
        "calls": calls,
        "faults": faults,
    }
    state.subscribe(AzureWebhookEmitter(state, sender, webhook_url, webhook_secret))

    @app.before_request
    def authenticate():
        if state.base_url == "http://localhost":
            state.base_url = request.host_url.rstrip("/")
        calls[(request.method, request.url_rule.rule if request.url_rule else request.path)] += 1
        g.call, refused = faults.arrive(request.method, request.path)
        if refused is not None:
            status, headers = refused
            err = AzureError(status, f"Sandbox fault: HTTP {status}", "SandboxFaultException")
            return jsonify(err.body()), status, headers
        org = (request.view_args or {}).get("org")
        if org is not None and org.lower() != organization.lower():
            raise AzureError(
                404,
                f"TF400813: The organization '{org}' could not be found.",
                "HostNotFoundException",
                WEB_API.format("HostNotFoundException"),
            )
        creds = parse_authorization(request.headers.get("Authorization"))
        if creds is None or creds.scheme != "basic":
            err = AzureError(
                401,
                "TF400813: Resource not available for anonymous access. "
                "Client authentication required.",
                "UnauthorizedRequestException",
                "Microsoft.TeamFoundation.Framework.Server.UnauthorizedRequestException, "
                "Microsoft.TeamFoundation.Framework.Server",
            )
            return jsonify(err.body()), 401, {"WWW-Authenticate": 'Basic realm="sandbox"'}
        g.actor = (
            state.pats.get(creds.secret)
            or (creds.user if "@" in creds.user else None)
            or "sandbox-user@example.com"
        )
        state.identity(g.actor)
        g.call.actor = g.actor
        if request.method not in ("GET", "HEAD", "OPTIONS") and not _api_version():
            # GET without a version gets the latest released one; writes must say
            raise AzureError(
                400,
                f'No api-version was supplied for the "{request.method}" '
                "request. The version must be supplied either as part of the Accept "
                'header (e.g. "application/json; api-version=1.0") or as a query '
                'parameter (e.g. "?api-version=1.0").',
                "VssVersionNotSpecifiedException",
                WEB_API.format("VssVersionNotSpecifiedException"),
            )

    @app.after_request
    def log_status(response):
        if "call" in g:
            g.call.status = response.status_code
        return response

    @app.errorhandler(AzureError)
    def azure_error(exc: AzureError):
        return jsonify(exc.body()), exc.status

    @app.errorhandler(QueryError)
    def query_error(exc: QueryError):
        return jsonify(AzureError(400, str(exc), "WiqlParseException").body()), 400

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        message = (
            f"The requested resource does not support http method '{request.method}'."
            if exc.code == 405
            else exc.description or exc.name
        )
        err = AzureError(
            exc.code or 500,
            message,
            "HttpResponseException",
            "System.Web.Http.HttpResponseException, System.Web.Http",
            0,
        )
        return jsonify(err.body()), err.status

    # -- discovery -------------------------------------------------------------------
    @app.route("/<org>/_apis", methods=["OPTIONS"], provide_automatic_options=False)
    @app.route("/<org>/_apis/", methods=["OPTIONS"], provide_automatic_options=False)
    def locations(org: str):
        return jsonify(resource_locations())

    @app.get("/<org>/_apis/ResourceAreas")
    @app.get("/<org>/_apis/ResourceAreas/<area_id>")
    def areas(org: str, area_id: str | None = None):
        data = resource_areas(state.org_url)
        if area_id:
            match = [a for a in data["value"] if a["id"] == area_id.lower()]
            if not match:
                raise AzureError(
                    404, f"Resource area {area_id} not found.", "ResourceAreaNotFoundException"
                )
            return jsonify(match[0])
        return jsonify(data)

    # -- work items ------------------------------------------------------------------
    def _scope(project: str | None) -> None:
        if project is not None:
            state.project(project)

    @app.get(f"/<org>/_apis/wit/{WI}/<int:item_id>")
    @app.get(f"/<org>/<project>/_apis/wit/{WI}/<int:item_id>")
    def get_work_item(org: str, item_id: int, project: str | None = None, **_: str):
        _scope(project)
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
        _scope(project)
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
        _scope(project)
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
        _scope(project)
        ops = _json_patch_body()
        with state.lock:
            item = state.update_work_item(item_id, ops, actor=g.actor)
            return jsonify(work_item_json(state, item, expand="relations"))

    @app.delete(f"/<org>/_apis/wit/{WI}/<int:item_id>")
    @app.delete(f"/<org>/<project>/_apis/wit/{WI}/<int:item_id>")
    def delete_work_item(org: str, item_id: int, project: str | None = None, **_: str):
        _scope(project)
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
        ops = _json_patch_body()
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
        found = state.query(body["query"], name)
        top = request.args.get("$top")
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

    # -- comments --------------------------------------------------------------------
    COMMENTS = f"/<org>/<project>/_apis/wit/{WI}/<int:item_id>/comments"

    @app.get(COMMENTS)
    def list_comments(org: str, project: str, item_id: int, **_: str):
        _scope(project)
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
        _scope(project)
        text = (request.get_json(silent=True) or {}).get("text")
        if not isinstance(text, str) or not text.strip():
            raise AzureError(400, "VS402625: Comment text cannot be empty.", "ArgumentException")
        with state.lock:
            comment = state.add_comment(item_id, text, actor=g.actor)
            return jsonify(comment_json(state, state.get(item_id), comment))

    @app.get(f"{COMMENTS}/<int:comment_id>")
    def get_comment(org: str, project: str, item_id: int, comment_id: int, **_: str):
        _scope(project)
        item = state.get(item_id)
        return jsonify(comment_json(state, item, state.get_comment(item, comment_id)))

    @app.patch(f"{COMMENTS}/<int:comment_id>")
    def update_comment(org: str, project: str, item_id: int, comment_id: int, **_: str):
        _scope(project)
        text = (request.get_json(silent=True) or {}).get("text")
        if not isinstance(text, str) or not text.strip():
            raise AzureError(400, "VS402625: Comment text cannot be empty.", "ArgumentException")
        comment = state.update_comment(item_id, comment_id, text, actor=g.actor)
        return jsonify(comment_json(state, state.get(item_id), comment))

    @app.delete(f"{COMMENTS}/<int:comment_id>")
    def delete_comment(org: str, project: str, item_id: int, comment_id: int, **_: str):
        _scope(project)
        state.delete_comment(item_id, comment_id, actor=g.actor)
        return "", 204

    register_hook_routes(app, state)
    app.json.sort_keys = False
    return app
