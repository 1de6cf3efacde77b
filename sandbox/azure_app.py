"""An Azure DevOps-compatible REST server for one organization (Work Item Tracking 7.1,
comments 7.1-preview.4, service hooks, sprint capacity, permissions), including the
discovery calls of the azure-devops client library (see sandbox.azure_locations).

Work item routes are in sandbox.azure_item_routes, comment routes in
sandbox.azure_comment_routes, service hooks in sandbox.azure_hooks, work item type
fields and identities in sandbox.azure_directory."""

from __future__ import annotations

from collections import Counter

from flask import Flask, g, jsonify, request
from werkzeug.exceptions import HTTPException

from sandbox.azure_capacity import register_capacity_routes
from sandbox.azure_catalog import AzureError
from sandbox.azure_comment_routes import register_comment_routes
from sandbox.azure_directory import register_directory_routes
from sandbox.azure_events import AzureWebhookEmitter
from sandbox.azure_hooks import register_hook_routes
from sandbox.azure_http import BATCH, PATCH_MEDIA, WEB_API, WI, api_version
from sandbox.azure_item_routes import register_item_routes
from sandbox.azure_locations import resource_areas, resource_locations
from sandbox.azure_security import register_security_routes
from sandbox.azure_state import AzureState
from sandbox.faults import Faults
from sandbox.queries import QueryError
from sandbox.validation import parse_authorization
from sandbox.webhooks import WebhookSender

__all__ = ["BATCH", "PATCH_MEDIA", "WEB_API", "WI", "create_azure_app"]


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
        strict = state.known_credentials_only
        unknown = creds is not None and strict and creds.secret not in state.pats
        if creds is None or creds.scheme != "basic" or unknown:
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
        if request.method not in ("GET", "HEAD", "OPTIONS") and not api_version():
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

    register_item_routes(app, state)
    register_comment_routes(app, state)
    register_hook_routes(app, state)
    register_capacity_routes(app, state)
    register_security_routes(app, state)
    register_directory_routes(app, state)
    app.json.sort_keys = False
    return app
