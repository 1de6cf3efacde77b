"""Jira webhook registration routes.

- `/rest/webhooks/1.0/webhook`: the admin webhook API of Jira Server/Data Center (and
  Cloud's legacy admin webhooks); a webhook may carry a `secret` to sign deliveries.
- `/rest/api/3/webhook`: Jira Cloud dynamic webhooks (Connect/OAuth apps), Cloud only.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask, g, jsonify, request

from sandbox.jira_render import jira_time
from sandbox.jira_state import JiraState
from sandbox.queries import QueryError

ADMIN = "/rest/webhooks/1.0/webhook"


def _error(status: int, message: str):
    return jsonify({"errorMessages": [message], "errors": {}}), status


def register_webhook_routes(app: Flask, state: JiraState, *, cloud: bool) -> None:
    def admin_json(hook: dict[str, Any]) -> dict[str, Any]:
        user = state.user(hook.get("owner") or "admin")
        return {
            "self": f"{state.base_url}{ADMIN}/{hook['id']}",
            "name": hook["name"],
            "url": hook["url"],
            "events": hook["events"],
            "filters": {"issue-related-events-section": hook["jqlFilter"]},
            "excludeBody": False,
            "enabled": hook["enabled"],
            "lastUpdatedUser": user["accountId"],
            "lastUpdatedDisplayName": user["displayName"],
            "lastUpdated": hook.get("created", 0),
        }

    @app.get(ADMIN)
    def list_admin_webhooks():
        return jsonify([admin_json(h) for h in state.webhooks.values() if h["kind"] == "admin"])

    @app.post(ADMIN)
    def create_admin_webhook():
        body = request.get_json(silent=True) or {}
        if not body.get("url") or not body.get("name"):
            return _error(400, "Webhook name and url are required.")
        events = body.get("events") or []
        if not isinstance(events, list) or not events:
            return _error(400, "At least one event is required.")
        jql = (body.get("filters") or {}).get("issue-related-events-section") or None
        hook = state.register_webhook(
            body["url"], events, jql=jql, name=body["name"], secret=body.get("secret"), kind="admin"
        )
        hook["owner"] = g.actor
        hook["created"] = int(state.clock().timestamp() * 1000)
        return jsonify(admin_json(hook)), 201

    @app.get(f"{ADMIN}/<int:hook_id>")
    def get_admin_webhook(hook_id: int):
        hook = state.webhooks.get(hook_id)
        if hook is None or hook["kind"] != "admin":
            return _error(404, f"Webhook with id {hook_id} not found.")
        return jsonify(admin_json(hook))

    @app.delete(f"{ADMIN}/<int:hook_id>")
    def delete_admin_webhook(hook_id: int):
        if not state.delete_webhook(hook_id):
            return _error(404, f"Webhook with id {hook_id} not found.")
        return "", 204

    if not cloud:
        return

    @app.get("/rest/api/3/webhook")
    def list_dynamic_webhooks():
        start = int(request.args.get("startAt", 0))
        size = int(request.args.get("maxResults", 100))
        hooks = [h for h in state.webhooks.values() if h["kind"] == "dynamic"]
        page = hooks[start : start + size]
        return jsonify(
            {
                "maxResults": size,
                "startAt": start,
                "total": len(hooks),
                "isLast": start + size >= len(hooks),
                "values": [
                    {
                        "id": h["id"],
                        "jqlFilter": h["jqlFilter"],
                        "events": h["events"],
                        "expirationDate": jira_time(h["expires"]),
                    }
                    for h in page
                ],
            }
        )

    @app.post("/rest/api/3/webhook")
    def register_dynamic_webhooks():
        body = request.get_json(silent=True) or {}
        if not body.get("url") or not isinstance(body.get("webhooks"), list):
            return _error(400, "url and webhooks are required.")
        results = []
        for spec in body["webhooks"]:
            try:
                if not spec.get("jqlFilter"):
                    raise QueryError("The JQL filter is required.")
                hook = state.register_webhook(
                    body["url"],
                    list(spec.get("events") or []),
                    jql=spec["jqlFilter"],
                    kind="dynamic",
                )
            except QueryError as exc:
                results.append({"errors": [str(exc)]})
                continue
            # dynamic webhooks expire after 30 days unless refreshed
            hook["expires"] = state.clock() + dt.timedelta(days=30)
            results.append({"createdWebhookId": hook["id"]})
        return jsonify({"webhookRegistrationResult": results})

    @app.delete("/rest/api/3/webhook")
    def delete_dynamic_webhooks():
        body = request.get_json(silent=True) or {}
        ids = body.get("webhookIds")
        if not isinstance(ids, list) or not ids:
            return _error(400, "webhookIds must not be empty.")
        for hook_id in ids:
            state.delete_webhook(hook_id)
        return "", 202
