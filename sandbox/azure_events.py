"""Service hook notifications (publisher "tfs", resource version 1.0), as Azure DevOps
sends them to a Web Hooks subscription: Basic auth with the subscription's password."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

from sandbox.azure_catalog import stable_id
from sandbox.azure_render import fields_json, identity_ref, item_url, relation_json
from sandbox.azure_state import AzureChange, AzureState
from sandbox.webhooks import Delivery, WebhookSender

VERBS = {
    "workitem.created": "created",
    "workitem.updated": "updated",
    "workitem.commented": "commented on",
    "workitem.deleted": "deleted",
}


def _messages(state: AzureState, change: AzureChange) -> tuple[dict[str, str], dict[str, str]]:
    item = change.item
    kind = item.fields.get("System.WorkItemType", "Work Item")
    title = item.fields.get("System.Title", "")
    who = state.identity(change.actor)["displayName"]
    link = f"{state.org_url}/_workitems/edit/{item.id}"
    head = f"{kind} #{item.id} ({title}) {VERBS[change.event]} by {who}."
    message = {
        "text": f"{head}\r\n({link})",
        "html": f'<a href="{link}">{kind} #{item.id}</a> ({title}) {VERBS[change.event]} by {who}.',
        "markdown": f"[{kind} #{item.id}]({link}) ({title}) {VERBS[change.event]} by {who}.",
    }
    details = [
        f"- {ref.split('.')[-1]}: {c.get('newValue')}"
        for ref, c in (change.field_changes or {}).items()
        if ref in ("System.State", "System.AssignedTo", "System.Tags", "System.Title")
    ]
    detailed = {
        k: v + ("\r\n\r\n" + "\r\n".join(details) if details else "") for k, v in message.items()
    }
    return message, detailed


def _resource(state: AzureState, change: AzureChange) -> dict[str, Any]:
    item = change.item
    whole: dict[str, Any] = {
        "id": item.id,
        "rev": item.rev,
        "fields": fields_json(state, item, identities="string"),
    }
    if item.relations:
        whole["relations"] = [relation_json(state, r) for r in item.relations]
    base = item_url(state, item.id)
    if change.event == "workitem.deleted":
        url = f"{state.org_url}/_apis/wit/recyclebin/{item.id}"
        return dict(whole, _links={"self": {"href": url}}, url=url)
    if change.event != "workitem.updated":
        return dict(
            whole,
            _links={"self": {"href": base}, "workItemUpdates": {"href": f"{base}/updates"}},
            url=base,
        )
    whole["url"] = f"{base}/revisions/{item.rev}"
    changes = {}
    for ref, values in (change.field_changes or {}).items():
        if ref in ("System.ChangedBy", "System.AssignedTo", "System.CreatedBy"):
            values = {
                k: state.identity(v)["displayName"] + f" <{v}>" if v else v
                for k, v in values.items()
            }
        changes[ref] = {k: v for k, v in values.items() if v is not None}
    resource: dict[str, Any] = {
        "id": item.rev - 1,  # the update number; updates count from 0 at creation
        "workItemId": item.id,
        "rev": item.rev,
        "revisedBy": dict(
            identity_ref(state, change.actor) or {},
            name=f"{state.identity(change.actor)['displayName']} <{change.actor}>",
        ),
        "revisedDate": "9999-01-01T00:00:00Z",
        "fields": changes,
    }
    rel = change.relations or {}
    if rel.get("added") or rel.get("removed"):
        resource["relations"] = {
            k: [relation_json(state, r) for r in rel[k]] for k in ("added", "removed") if rel.get(k)
        }
    resource["_links"] = {
        "self": {"href": f"{base}/updates/{item.rev - 1}"},
        "workItemUpdates": {"href": f"{base}/updates"},
        "parent": {"href": base},
    }
    resource["url"] = f"{base}/updates/{item.rev - 1}"
    resource["revision"] = whole
    return resource


def build_payload(
    state: AzureState, change: AzureChange, subscription_id: str, notification_id: int
) -> dict[str, Any]:
    message, detailed = _messages(state, change)
    project = state.project(change.item.fields["System.TeamProject"])
    return {
        "subscriptionId": subscription_id,
        "notificationId": notification_id,
        "id": str(uuid.uuid4()),
        "eventType": change.event,
        "publisherId": "tfs",
        "message": message,
        "detailedMessage": detailed,
        "resource": _resource(state, change),
        "resourceVersion": "1.0",
        "resourceContainers": {
            "collection": {
                "id": stable_id("collection", state.organization),
                "baseUrl": state.org_url + "/",
            },
            "account": {
                "id": stable_id("account", state.organization),
                "baseUrl": state.org_url + "/",
            },
            "project": {"id": project["id"], "baseUrl": state.org_url + "/"},
        },
        "createdDate": change.date,
    }


class AzureWebhookEmitter:
    """State listener: one delivery per matching subscription (plus the app's own URL)."""

    def __init__(
        self, state: AzureState, sender: WebhookSender, url: str | None, secret: str | None
    ) -> None:
        self.state, self.sender, self.url, self.secret = state, sender, url, secret
        self._notifications = 0

    def _targets(self, change: AzureChange) -> list[tuple[str, str, str | None, str]]:
        out = []
        if self.url:
            out.append(("00000000-0000-0000-0000-000000000000", self.url, self.secret, "sandbox"))
        project = self.state.project(change.item.fields["System.TeamProject"])
        for sub in list(self.state.subscriptions.values()):
            inputs = sub.get("publisherInputs") or {}
            if sub["eventType"] != change.event or sub.get("status") != "enabled":
                continue
            if inputs.get("projectId") and inputs["projectId"] not in (
                project["id"],
                project["name"],
            ):
                continue
            wanted_type = inputs.get("workItemType")
            if wanted_type and wanted_type != change.item.fields.get("System.WorkItemType"):
                continue
            consumer = sub.get("consumerInputs") or {}
            out.append(
                (
                    sub["id"],
                    consumer["url"],
                    consumer.get("basicAuthPassword"),
                    consumer.get("basicAuthUsername") or "sandbox",
                )
            )
        return out

    def __call__(self, change: AzureChange) -> None:
        for sub_id, url, secret, user in self._targets(change):
            self._notifications += 1
            payload = build_payload(self.state, change, sub_id, self._notifications)
            body = json.dumps(payload, separators=(",", ":")).encode()
            headers = {
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": "VSServices/16.255.0 (sandbox)",
            }
            if secret:
                token = base64.b64encode(f"{user}:{secret}".encode()).decode()
                headers["Authorization"] = f"Basic {token}"
            self.sender.enqueue(Delivery(url, body, headers, change.event, payload["id"]))
