"""Permissions of the Azure DevOps sandbox (Security REST 7.1) and the project's root
classification nodes, as `pmo-bridge doctor` asks them:

- `GET {org}/_apis/securitynamespaces/{id}` -> {count, value: [SecurityNamespaceDescription]}
  with the namespace's actions (name, displayName, bit);
- `GET {org}/_apis/permissions/{namespaceId}/{bits}?tokens=a,b[&delimiter=]`
  -> {count, value: [bool per token]}: the caller holds every bit on the token;
- `POST {org}/_apis/security/permissionevaluationbatch` {evaluations: [{securityNamespaceId,
  token, permissions}]} -> the same evaluations with `value` set;
- `GET {org}/{project}/_apis/wit/classificationnodes?$depth=` -> the root Area and
  Iteration nodes ({count, value: [WorkItemClassificationNode]}), whose `identifier`
  makes the CSS token `vstfs:///Classification/Node/{identifier}`.

Namespaces and tokens follow Microsoft's "Security namespace and permission reference"
(docs/organizations/security/namespace-reference.md in MicrosoftDocs/azure-devops-docs):
CSS 83e28ad4-2d72-4ceb-97b0-c7726d5502c3 guards area paths ("Edit work items in this
node"), Tagging bb50f182-8e5e-40b8-bc21-e8752a1e7ae2 guards tag definitions ("Create tag
definition", token `/{projectId}`). The CSS bits are those of Azure DevOps Server's
`CssSecurityConstants`; the Tagging actions are listed there in the order
Enumerate, Create, Update, Delete, given bits 1, 2, 4, 8 here. Clients read the bits from
the namespace description rather than trusting these numbers.

Every identity holds every action unless denied (`AzureState.permissions.deny`)."""

from __future__ import annotations

import threading
from typing import Any

from flask import Flask, g, jsonify, request

from sandbox.azure_catalog import AzureError, stable_id

CSS = "83e28ad4-2d72-4ceb-97b0-c7726d5502c3"
TAGGING = "bb50f182-8e5e-40b8-bc21-e8752a1e7ae2"
ALL_NAMESPACES = "00000000-0000-0000-0000-000000000000"
AREA_NODE = "vstfs:///Classification/Node/{}"

# namespace id -> (name, separator, [(action name, display name, bit)])
NAMESPACES: dict[str, tuple[str, str, list[tuple[str, str, int]]]] = {
    CSS: (
        "CSS",
        ":",
        [
            ("GENERIC_READ", "View permissions for this node", 1),
            ("GENERIC_WRITE", "Edit this node", 2),
            ("CREATE_CHILDREN", "Create child nodes", 4),
            ("DELETE", "Delete this node", 8),
            ("WORK_ITEM_READ", "View work items in this node", 16),
            ("WORK_ITEM_WRITE", "Edit work items in this node", 32),
            ("MANAGE_TEST_PLANS", "Manage test plans", 64),
            ("MANAGE_TEST_SUITES", "Manage test suites", 128),
            ("WORK_ITEM_SAVE_COMMENT", "Edit work item comments in this node", 512),
        ],
    ),
    TAGGING: (
        "Tagging",
        "/",
        [
            ("Enumerate", "Enumerate tag definitions", 1),
            ("Create", "Create tag definition", 2),
            ("Update", "Update tag definition", 4),
            ("Delete", "Delete tag definition", 8),
        ],
    ),
}


def describe(namespace_id: str) -> dict[str, Any]:
    name, separator, actions = NAMESPACES[namespace_id]
    return {
        "namespaceId": namespace_id,
        "name": name,
        "displayName": name,
        "separatorValue": separator,
        "elementLength": -1,
        "writePermission": 2,
        "readPermission": 1,
        "dataspaceCategory": "Default",
        "actions": [
            {"bit": bit, "name": action, "displayName": display, "namespaceId": namespace_id}
            for action, display, bit in actions
        ],
        "structureValue": 1,
        "extensionType": None,
        "isRemotable": False,
        "useTokenTranslator": False,
    }


class Permissions:
    """Denied (namespace, bit) pairs per identity's unique name; the rest is allowed."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.denied: dict[str, set[tuple[str, int]]] = {}

    def deny(self, unique_name: str, namespace: str, action: str) -> None:
        """`deny("bot@x", "CSS", "WORK_ITEM_WRITE")`: that identity lacks the action."""
        namespace_id, bit = _action(namespace, action)
        with self.lock:
            self.denied.setdefault(unique_name.casefold(), set()).add((namespace_id, bit))

    def allow_all(self) -> None:
        with self.lock:
            self.denied.clear()

    def holds(self, unique_name: str, namespace_id: str, bits: int) -> bool:
        with self.lock:
            denied = self.denied.get(unique_name.casefold(), set())
        return not any(ns == namespace_id and bit & bits for ns, bit in denied)


def _action(namespace: str, action: str) -> tuple[str, int]:
    for namespace_id, (name, _, actions) in NAMESPACES.items():
        if namespace in (name, namespace_id):
            for action_name, _, bit in actions:
                if action_name == action:
                    return namespace_id, bit
    raise KeyError(f"no action {action!r} in namespace {namespace!r}")


def _namespace(namespace_id: str) -> str:
    key = namespace_id.lower()
    if key not in NAMESPACES:
        raise AzureError(
            404,
            f"VS403507: The security namespace {namespace_id} does not exist.",
            "InvalidSecurityNamespaceException",
        )
    return key


def register_security_routes(app: Flask, state: Any) -> None:
    permissions: Permissions = state.permissions

    @app.get("/<org>/_apis/securitynamespaces/<namespace_id>")
    def security_namespaces(org: str, namespace_id: str):
        if namespace_id.lower() == ALL_NAMESPACES:
            value = [describe(ns) for ns in NAMESPACES]
        else:
            value = [describe(namespace_id.lower())] if namespace_id.lower() in NAMESPACES else []
        return jsonify({"count": len(value), "value": value})

    @app.get("/<org>/_apis/permissions/<namespace_id>/<bits>")
    def has_permissions(org: str, namespace_id: str, bits: str):
        namespace = _namespace(namespace_id)
        if not bits.isdigit():
            raise AzureError(400, f"The permissions value {bits!r} is not valid.",
                             "ArgumentException")  # fmt: skip
        delimiter = request.args.get("delimiter") or ","
        tokens = [t for t in (request.args.get("tokens") or "").split(delimiter) if t]
        value = [permissions.holds(g.actor, namespace, int(bits)) for _ in tokens]
        return jsonify({"count": len(value), "value": value})

    @app.post("/<org>/_apis/security/permissionevaluationbatch")
    def has_permissions_batch(org: str):
        body = request.get_json(silent=True, force=True)
        evaluations = body.get("evaluations") if isinstance(body, dict) else None
        if not isinstance(evaluations, list) or len(evaluations) > 1000:
            raise AzureError(400, "Value cannot be null.\r\nParameter name: evalBatch",
                             "ArgumentNullException")  # fmt: skip
        answered = []
        for entry in evaluations:
            entry = entry if isinstance(entry, dict) else {}
            namespace = _namespace(str(entry.get("securityNamespaceId") or ""))
            bits = entry.get("permissions")
            bits = bits if isinstance(bits, int) else 0
            answered.append({**entry, "value": permissions.holds(g.actor, namespace, bits)})
        return jsonify({**body, "evaluations": answered})

    @app.get("/<org>/<project>/_apis/wit/classificationnodes")
    @app.get("/<org>/<project>/_apis/wit/classificationNodes")
    def root_nodes(org: str, project: str):
        record = state.project(project)
        value = [
            {
                "id": index,
                "identifier": stable_id("classification", record["id"], group),
                "name": record["name"],
                "structureType": group,
                "hasChildren": False,
                "path": f"\\{record['name']}\\{group.title()}",
                "url": f"{state.org_url}/{record['id']}/_apis/wit/classificationNodes/"
                f"{group.title()}s",
            }
            for index, group in ((1, "area"), (2, "iteration"))
        ]
        return jsonify({"count": len(value), "value": value})


def area_token(state: Any, project: str) -> str:
    """The CSS token of a sandbox project's root area (as the nodes route reports it)."""
    record = state.project(project)
    return AREA_NODE.format(stable_id("classification", record["id"], "area"))
