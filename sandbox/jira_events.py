"""Jira webhook payloads and their delivery, shaped like Jira Cloud's own.

Issue events carry `user` (the acting account), the full issue in the REST v2 shape and,
for updates, a `changelog`; comment events carry the comment and a slim issue. Payloads
go to the app's configured URL and to every registered webhook whose events match.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from typing import Any

from sandbox import jira_fields
from sandbox.jira_render import comment_json, issue_json, user_json
from sandbox.jira_state import JiraChange, JiraState
from sandbox.queries import compile_jql
from sandbox.webhooks import Delivery, WebhookSender

WEBHOOK_EVENTS = {
    "issue_created": "jira:issue_created",
    "issue_updated": "jira:issue_updated",
    "issue_deleted": "jira:issue_deleted",
    "comment_created": "comment_created",
    "comment_updated": "comment_updated",
    "comment_deleted": "comment_deleted",
}

SLIM_FIELDS = ("summary", "issuetype", "project", "assignee", "priority", "status")


def build_payload(state: JiraState, change: JiraChange) -> dict[str, Any]:
    event = WEBHOOK_EVENTS[change.kind]
    if change.comment is not None:
        full = issue_json(state, change.issue, 2)
        slim = {k: full[k] for k in ("id", "self", "key")}
        slim["fields"] = {k: full["fields"][k] for k in SLIM_FIELDS}
        return {
            "timestamp": change.timestamp,
            "webhookEvent": event,
            "comment": comment_json(state, change.issue, change.comment, 2),
            "issue": slim,
        }
    payload: dict[str, Any] = {
        "timestamp": change.timestamp,
        "webhookEvent": event,
        "issue_event_type_name": change.event_type_name,
        "user": user_json(state, change.actor["name"], 2),
        "issue": issue_json(state, change.issue, 2),
    }
    if change.changelog is not None:
        payload["changelog"] = change.changelog
    return payload


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class JiraWebhookEmitter:
    """State listener: turns each change into deliveries on the sender."""

    def __init__(
        self, state: JiraState, sender: WebhookSender, url: str | None, secret: str | None
    ) -> None:
        self.state, self.sender, self.url, self.secret = state, sender, url, secret

    def targets(self, change: JiraChange, event: str) -> list[tuple[str, str | None, list[int]]]:
        out: list[tuple[str, str | None, list[int]]] = []
        if self.url:
            out.append((self.url, self.secret, []))
        doc = jira_fields.jql_doc(change.issue)
        for hook in list(self.state.webhooks.values()):
            if not hook["enabled"] or event not in hook["events"]:
                continue
            if hook["jqlFilter"] and not compile_jql(hook["jqlFilter"])(doc):
                continue
            out.append((hook["url"], hook["secret"] or self.secret, [hook["id"]]))
        return out

    def __call__(self, change: JiraChange) -> None:
        event = WEBHOOK_EVENTS[change.kind]
        targets = self.targets(change, event)
        if not targets:
            return
        payload = build_payload(self.state, change)
        for url, secret, matched in targets:
            body_obj = dict(payload, matchedWebhookIds=matched) if matched else payload
            body = json.dumps(body_obj, separators=(",", ":")).encode()
            headers = {
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": "Atlassian Webhook HTTP Client",
                "X-Atlassian-Webhook-Flow": "Primary",
            }
            delivery_id = str(uuid.uuid4())
            headers["X-Atlassian-Webhook-Identifier"] = delivery_id
            if secret:
                headers["X-Hub-Signature"] = signature(secret, body)
            self.sender.enqueue(
                Delivery(
                    url, body, headers, event, delivery_id, retry_header="X-Atlassian-Webhook-Retry"
                )
            )
