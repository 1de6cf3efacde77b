"""The tracker calls `pmo-bridge doctor` makes beyond what the service itself needs, through
the same clients: a project read, the bot's permissions, the fields, the webhooks; and the
signed ping that proves the service and the tracker share one secret."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests
from azure.devops.v7_1.security.models import PermissionEvaluation, PermissionEvaluationBatch
from azure.devops.v7_1.security.security_client import SecurityClient

from config.settings import TrackerConfig
from connector.clients import DEFAULT_TIMEOUT, error_for_status
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


# Azure DevOps security namespaces (Microsoft's "Security namespace and permission
# reference"): CSS guards area paths and the work items in them (token
# `vstfs:///Classification/Node/{area identifier}`), Tagging guards tag definitions
# (token `/{project id}`). Each action's bit is read from the namespace's description.
CSS_NAMESPACE = "83e28ad4-2d72-4ceb-97b0-c7726d5502c3"
TAGGING_NAMESPACE = "bb50f182-8e5e-40b8-bc21-e8752a1e7ae2"
AREA_NODE = "vstfs:///Classification/Node/{}"


@dataclass(frozen=True)
class Wanted:
    """One permission to evaluate: an action of a namespace on a token."""

    namespace: str
    action: str  # the action's non-localized name, e.g. WORK_ITEM_WRITE
    token: str


class AzureProbe(AzureHooksAdmin):
    def __init__(
        self,
        tracker: TrackerConfig,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(tracker, timeout=timeout, environ=environ)
        self._security = SecurityClient(base_url=tracker.url, creds=self._creds)
        self._configure(self._security.config, timeout)

    def area_token(self, project: str) -> str:
        """GET {org}/{project}/_apis/wit/classificationnodes?$depth=0: the CSS token of
        the project's root area, which its sub-areas inherit from."""
        with self._calling("root_nodes"):
            nodes = self._wit.get_root_nodes(project, depth=0)
        for node in nodes or ():
            if str(node.structure_type or "").casefold() == "area" and node.identifier:
                return AREA_NODE.format(node.identifier)
        raise error_for_status(502, {}, f"azure-devops root_nodes: {project} has no root area")

    def action_bits(self, namespace: str) -> dict[str, tuple[int, str]]:
        """GET {org}/_apis/securitynamespaces/{id}: action name -> (bit, display name)."""
        with self._calling("security_namespaces"):
            found = self._security.query_security_namespaces(namespace)
        return {
            str(a.name): (int(a.bit), str(a.display_name or a.name))
            for ns in found or ()
            for a in ns.actions or ()
            if a.name and isinstance(a.bit, int)
        }

    def evaluate(self, wanted: list[Wanted], bits: Mapping[str, Mapping[str, int]]) -> list[bool]:
        """POST {org}/_apis/security/permissionevaluationbatch: whether the caller holds
        each wanted action, in order. `bits`: namespace -> action name -> bit."""
        batch = PermissionEvaluationBatch(
            always_allow_administrators=False,
            evaluations=[
                PermissionEvaluation(
                    security_namespace_id=w.namespace,
                    token=w.token,
                    permissions=bits[w.namespace][w.action],
                )
                for w in wanted
            ],
        )
        with self._calling("permission_evaluation_batch"):
            answer = self._security.has_permissions_batch(batch)
        values = [e.value for e in (answer.evaluations or ())] if answer else []
        if len(values) != len(wanted) or not all(isinstance(v, bool) for v in values):
            raise error_for_status(502, {}, "azure-devops permission_evaluation_batch: "
                                   "the answer does not evaluate every permission")  # fmt: skip
        return values

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
