"""Service hooks subscription routes (serviceHooks-7.1.json: /{organization}/_apis/hooks/...)
and the project lookup that registering a project-scoped subscription starts with."""

from __future__ import annotations

import re
import uuid
from typing import Any

from flask import Flask, g, jsonify, request

from sandbox.azure_catalog import KNOWN_FIELDS, READ_ONLY_FIELDS, AzureError, stable_id
from sandbox.azure_render import identity_ref
from sandbox.azure_state import AzureState, ado_time

EVENT_TYPES = {
    "workitem.created": "Work item created",
    "workitem.updated": "Work item updated",
    "workitem.commented": "Work item commented on",
    "workitem.deleted": "Work item deleted",
    "workitem.restored": "Work item restored",
}
SUBSCRIPTIONS = '/<org>/_apis/hooks/<any("subscriptions", "Subscriptions"):_res>'


def _hooks_error(status: int, message: str, type_key: str) -> AzureError:
    return AzureError(
        status,
        message,
        type_key,
        f"Microsoft.VisualStudio.Services.ServiceHooks.WebApi.{type_key}, "
        "Microsoft.VisualStudio.Services.ServiceHooks.WebApi",
    )


def register_hook_routes(app: Flask, state: AzureState) -> None:
    # core/projects/get (7.1): a project by name or id
    @app.get("/<org>/_apis/ConnectionData")
    def connection_data(org: str):
        """Who the caller is: what a client reads to learn its own account."""
        ident = state.identity(g.actor)
        user = {
            "id": ident["id"],
            "descriptor": f"Microsoft.IdentityModel.Claims.ClaimsIdentity;{ident['uniqueName']}",
            "providerDisplayName": ident["displayName"],
            "isActive": True,
            "properties": {"Account": {"$type": "System.String", "$value": ident["uniqueName"]}},
        }
        return jsonify({"authenticatedUser": user, "authorizedUser": user,
                        "instanceId": stable_id("org", org)})  # fmt: skip

    @app.get("/<org>/_apis/wit/fields")
    @app.get("/<org>/<project>/_apis/wit/fields")
    def list_fields(org: str, project: str | None = None):
        """WorkItemField2 entries: the process's fields and the ones a test added."""
        names = sorted(KNOWN_FIELDS | state.extra_fields)
        value = [{"name": field_display_name(ref), "referenceName": ref, "type": "string",
                  "readOnly": ref in READ_ONLY_FIELDS, "isLocked": False,
                  "url": f"{state.org_url}/_apis/wit/fields/{ref}"} for ref in names]  # fmt: skip
        return jsonify({"count": len(value), "value": value})

    @app.get("/<org>/_apis/projects/<project_id>")
    def get_project(org: str, project_id: str):
        project = state.project(project_id)
        return jsonify(
            {
                "id": project["id"],
                "name": project["name"],
                "url": f"{state.org_url}/_apis/projects/{project['id']}",
                "state": "wellFormed",
                "revision": 1,
                "visibility": "private",
                "lastUpdateTime": ado_time(state.clock()),
            }
        )

    def subscription_json(sub: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in sub.items() if k not in ("consumerInputs", "owner")}
        consumer = dict(sub.get("consumerInputs") or {})
        if consumer.get("basicAuthPassword"):
            consumer["basicAuthPassword"] = "********"  # the service never echoes secrets
        out["consumerInputs"] = consumer
        out["createdBy"] = out["modifiedBy"] = identity_ref(state, sub["owner"])
        out["url"] = f"{state.org_url}/_apis/hooks/subscriptions/{sub['id']}"
        return out

    @app.get(SUBSCRIPTIONS)
    def list_subscriptions(org: str, _res: str):
        subs = [
            s
            for s in state.subscriptions.values()
            if request.args.get("eventType") in (None, s["eventType"])
        ]
        return jsonify({"count": len(subs), "value": [subscription_json(s) for s in subs]})

    @app.post(SUBSCRIPTIONS)
    def create_subscription(org: str, _res: str):
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise _hooks_error(
                400,
                "Value cannot be null.\r\nParameter name: subscription",
                "ArgumentNullException",
            )
        if body.get("publisherId") != "tfs" or body.get("eventType") not in EVENT_TYPES:
            raise _hooks_error(
                400,
                f"No publisher/event type found for '{body.get('publisherId')}'"
                f"/'{body.get('eventType')}'.",
                "EventTypeNotFoundException",
            )
        if body.get("consumerId") != "webHooks" or body.get("consumerActionId") != "httpRequest":
            raise _hooks_error(
                400,
                "Only the webHooks/httpRequest consumer is available here.",
                "ConsumerActionNotFoundException",
            )
        consumer = body.get("consumerInputs") or {}
        if not consumer.get("url"):
            raise _hooks_error(400, "The input 'url' is required.", "SubscriptionInputException")
        now = ado_time(state.clock())
        sub = {
            "id": str(uuid.uuid4()),
            "status": "enabled",
            "publisherId": "tfs",
            "eventType": body["eventType"],
            "eventDescription": EVENT_TYPES[body["eventType"]],
            "resourceVersion": body.get("resourceVersion") or "1.0",
            "consumerId": "webHooks",
            "consumerActionId": "httpRequest",
            "actionDescription": f"To host {consumer['url']}",
            "publisherInputs": dict(body.get("publisherInputs") or {}),
            "consumerInputs": dict(consumer),
            "probationRetries": 0,
            "createdDate": now,
            "modifiedDate": now,
            "owner": g.actor,
        }
        with state.lock:
            state.subscriptions[sub["id"]] = sub
        return jsonify(subscription_json(sub))

    @app.get(f"{SUBSCRIPTIONS}/<subscription_id>")
    def get_subscription(org: str, _res: str, subscription_id: str):
        sub = state.subscriptions.get(subscription_id)
        if sub is None:
            raise _hooks_error(
                404,
                f"Subscription {subscription_id} does not exist.",
                "SubscriptionNotFoundException",
            )
        return jsonify(subscription_json(sub))

    @app.delete(f"{SUBSCRIPTIONS}/<subscription_id>")
    def delete_subscription(org: str, _res: str, subscription_id: str):
        with state.lock:
            if state.subscriptions.pop(subscription_id, None) is None:
                raise _hooks_error(
                    404,
                    f"Subscription {subscription_id} does not exist.",
                    "SubscriptionNotFoundException",
                )
        return "", 204


def field_display_name(reference_name: str) -> str:
    """Microsoft.VSTS.Scheduling.StoryPoints -> Story Points, as the process names it."""
    last = reference_name.rsplit(".", 1)[-1]
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", last)
