"""Azure DevOps sandbox routes a worker asks before writing field actions.

- `GET {org}/{project}/_apis/wit/workitemtypes/{type}/fields/{field}?$expand=allowedValues`
  (Work Item Types Field - Get, workItemTracking-7.1.json): a `WorkItemTypeFieldWithReferences`
  (`referenceName`, `name`, `url`, `alwaysRequired`, `helpText`, `defaultValue`,
  `allowedValues`); allowed values only with `$expand=allowedValues` (the library's
  `expand` documents "to include allowedvalues ... as a part of response"). Priority
  takes 1, 2, 3, 4 (`PRIORITY_VALUES`); a field the process does not have answers 404,
  and so does a type that is neither one of the Agile process's (`PROCESS_TYPES`) nor
  the type of an item of the project (the client then asks the rule's next type name).
- `GET {org}/_apis/identities?searchFilter=General&filterValue=...` (Identities - Read
  Identities, identities-7.1.json): the identities whose display name, account or e-mail is
  the value, in the `{"count", "value"}` wrapper of the recorded example
  (tests/specs/azure-devops/examples/identities_GET__SearchIdentityByEmail.json).
  Azure DevOps Services serves it on the organisation's vssps host; Azure DevOps Server
  on the collection URL, which is how the client addresses a sandbox (its URL is not a
  dev.azure.com or visualstudio.com one, see connector/azure_devops/identities.py).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, request

from sandbox.azure_catalog import KNOWN_FIELDS, PRIORITY, PRIORITY_VALUES, AzureError
from sandbox.azure_hooks import field_display_name
from sandbox.azure_http import check_project
from sandbox.azure_state import AzureState

TYPE_FIELD = '/<org>/<project>/_apis/wit/<any("workitemtypes", "workItemTypes"):_t>'
MAX_FILTER = 255
# the Agile process's work item types (learn.microsoft.com/azure/devops/boards/work-items/
# guidance/agile-process-workflow); the sandbox takes any type on create, and such a type
# is then one of its project's too
PROCESS_TYPES = {"Epic", "Feature", "User Story", "Task", "Bug", "Issue", "Test Case"}


def register_directory_routes(app: Flask, state: AzureState) -> None:
    @app.get(f"{TYPE_FIELD}/<type_name>/fields/<field>")
    def type_field(org: str, project: str, type_name: str, field: str, **_: str):
        check_project(state, project)
        name = state.project(project)["name"]
        with state.lock:
            types = PROCESS_TYPES | {
                i.fields.get("System.WorkItemType") for i in state.items.values()
                if i.fields.get("System.TeamProject") == name
            }  # fmt: skip
        if type_name.lower() not in {str(t).lower() for t in types}:
            raise AzureError(
                404,
                f"VS402323: Work item type {type_name} does not exist in project {name}.",
                "WorkItemTypeNotFoundException",
            )
        known = {f.lower(): f for f in KNOWN_FIELDS | state.extra_fields}
        ref = known.get(field.lower())
        if ref is None:
            raise AzureError(
                404, f"TF51535: Cannot find field {field}.", "WorkItemTypeFieldNotFoundException"
            )
        out: dict[str, Any] = {
            "alwaysRequired": False,
            "dependentFields": [],
            "helpText": "",
            "referenceName": ref,
            "name": field_display_name(ref),
            "url": f"{state.org_url}/_apis/wit/fields/{ref}",
        }
        if "allowedvalues" in request.args.get("$expand", "").lower():
            out["allowedValues"] = list(PRIORITY_VALUES) if ref == PRIORITY else []
            out["defaultValue"] = PRIORITY_VALUES[1] if ref == PRIORITY else None
        return jsonify(out)

    @app.get('/<org>/_apis/<any("identities", "Identities"):_i>')
    def identities(org: str, **_: str):
        how = request.args.get("searchFilter")
        value = request.args.get("filterValue")
        if how is None or value is None:
            raise AzureError(
                400,
                "Either descriptors, identityIds or searchFilter and filterValue must be given.",
                "ArgumentException",
            )
        wanted = value[:MAX_FILTER].strip().casefold()
        with state.lock:
            found = [
                identity_json(state, ident)
                for ident in state.identities.values()
                if wanted in _names(ident)
            ]
        return jsonify({"count": len(found), "value": found})


def _names(ident: dict[str, Any]) -> set[str]:
    return {ident["uniqueName"].casefold(), ident["displayName"].casefold()}


def identity_json(state: AzureState, ident: dict[str, Any]) -> dict[str, Any]:
    def prop(value: str) -> dict[str, str]:
        return {"$type": "System.String", "$value": value}

    unique = ident["uniqueName"]
    properties = {"SchemaClassName": prop("User"), "Account": prop(unique)}
    if "@" in unique:
        properties["Mail"] = prop(unique)
    return {
        "id": ident["id"],
        "descriptor": f"Microsoft.IdentityModel.Claims.ClaimsIdentity;{unique}",
        "providerDisplayName": ident["displayName"],
        "isActive": ident.get("active", True),
        "isContainer": False,
        "members": [],
        "memberOf": [],
        "memberIds": [],
        "properties": properties,
        "resourceVersion": 2,
        "metaTypeId": 0,
    }
