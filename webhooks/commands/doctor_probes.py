"""The tracker calls `pmo-bridge doctor` makes beyond what the service itself needs, through
the same clients: a project read, the bot's permissions, the fields, the webhooks; and the
signed ping that proves the service and the tracker share one secret."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import requests

from config.settings import TrackerConfig
from connector.jira.adapter import SIGNATURE_HEADER
from connector.subscriptions import AzureHooksAdmin, JiraWebhookAdmin

# Jira permission keys the service's writes need (built-in permissions of a scheme).
PING_USER = "pmo-bridge-doctor"  # the service checks only the Basic password
JIRA_PERMISSIONS = {
    "read": ("BROWSE_PROJECTS",),
    "comment": ("ADD_COMMENTS", "EDIT_OWN_COMMENTS"),
    "labels": ("EDIT_ISSUES",),
}


class JiraProbe(JiraWebhookAdmin):
    def project(self, key: str) -> dict[str, Any]:
        """GET /rest/api/{v}/project/{key}"""
        with self._calling("get_project", key):
            return dict(self._jira.project(key).raw)

    def missing_permissions(self, key: str, wanted: tuple[str, ...]) -> list[str]:
        """GET /rest/api/{v}/mypermissions?projectKey=&permissions= (Cloud requires the
        list); the keys the bot lacks in the project."""
        with self._calling("my_permissions", key):
            answer = self._jira.my_permissions(projectKey=key, permissions=",".join(wanted))
        held = answer.get("permissions", {}) if isinstance(answer, dict) else {}
        return [k for k in wanted if not (held.get(k) or {}).get("havePermission")]


class AzureProbe(AzureHooksAdmin):
    def list_fields(self) -> list[dict[str, Any]]:
        """GET {org}/{project}/_apis/wit/fields: [{name, referenceName}] of the project."""
        with self._calling("list_fields"):
            found = self._wit.get_work_item_fields(project=self.tracker.project)
        return [{"id": f.reference_name, "name": f.name} for f in found or []]


def ping(tracker: TrackerConfig, target: str, secret: str | None, timeout: float = 10.0) -> int:
    """POST a delivery of an event the service ignores, signed as the tracker signs;
    the service's status code (401: the secret does not match)."""
    if tracker.kind == "jira":
        body = json.dumps({"webhookEvent": "pmo_bridge:doctor_ping", "timestamp": 0}).encode()
        headers = {"Content-Type": "application/json"}
        if secret:
            digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            headers[SIGNATURE_HEADER] = f"sha256={digest}"
    else:
        body = json.dumps({"id": "doctor-ping", "eventType": "pmo-bridge.doctor.ping"}).encode()
        headers = {"Content-Type": "application/json"}
        if secret:
            token = base64.b64encode(f"{PING_USER}:{secret}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
    response = requests.post(target, data=body, headers=headers, timeout=timeout)
    return response.status_code
