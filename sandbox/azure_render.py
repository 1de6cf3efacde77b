"""Azure DevOps REST shapes of the sandbox's work items, comments and identities."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from sandbox.azure_catalog import IDENTITY_FIELDS, LINK_NAMES, PARENT

if TYPE_CHECKING:
    from sandbox.azure_state import AzureState, WorkItem


def identity_ref(state: AzureState, unique_name: str | None) -> dict[str, Any] | None:
    if unique_name is None:
        return None
    ident = state.identity(unique_name)
    return {
        "displayName": ident["displayName"],
        "url": f"{state.base_url}/{state.organization}/_apis/Identities/{ident['id']}",
        "_links": {
            "avatar": {
                "href": f"{state.org_url}/_apis/GraphProfile/MemberAvatars/aad.{ident['id']}"
            }
        },
        "id": ident["id"],
        "uniqueName": ident["uniqueName"],
        "imageUrl": f"{state.org_url}/_api/_common/identityImage?id={ident['id']}",
        "descriptor": f"aad.{ident['id']}",
    }


def identity_string(state: AzureState, unique_name: str | None) -> str | None:
    """Service hook payloads (resource version 1.0) write identities as "Name <unique>"."""
    if unique_name is None:
        return None
    ident = state.identity(unique_name)
    return f"{ident['displayName']} <{ident['uniqueName']}>"


def item_url(state: AzureState, item_id: int) -> str:
    return f"{state.org_url}/_apis/wit/workItems/{item_id}"


def relation_json(state: AzureState, rel: dict[str, Any]) -> dict[str, Any]:
    attributes = dict(rel.get("attributes") or {})
    if rel["rel"] in LINK_NAMES:
        attributes.setdefault("name", LINK_NAMES[rel["rel"]])
    url = item_url(state, rel["target"]) if "target" in rel else rel["url"]
    return {"rel": rel["rel"], "url": url, "attributes": attributes}


def fields_json(
    state: AzureState,
    item: WorkItem,
    *,
    identities: str = "ref",
    only: Collection[str] | None = None,
) -> dict[str, Any]:
    """The item's fields as the service shows them; `only` those named (a batch's `fields`),
    so a narrow read renders no identity it does not return."""
    render = identity_ref if identities == "ref" else identity_string
    return {
        ref: (render(state, value) if ref in IDENTITY_FIELDS else value)
        for ref, value in item.fields.items()
        if value is not None and (only is None or ref in only)
    }


def work_item_json(
    state: AzureState, item: WorkItem, *, expand: str | None = None, fields: list[str] | None = None
) -> dict[str, Any]:
    expand = (expand or "none").lower()
    wanted = frozenset(fields) if fields else None
    values = fields_json(state, item, only=wanted)
    parent = next((r["target"] for r in item.relations if r["rel"] == PARENT), None)
    if parent is not None and (wanted is None or "System.Parent" in wanted):
        # Azure DevOps Services shows the parent link as a field too
        values.setdefault("System.Parent", parent)
    out: dict[str, Any] = {"id": item.id, "rev": item.rev, "fields": values}
    if expand in ("relations", "all") and item.relations:
        out["relations"] = [relation_json(state, r) for r in item.relations]
    if expand in ("links", "all"):
        base = item_url(state, item.id)
        out["_links"] = {
            "self": {"href": base},
            "workItemUpdates": {"href": f"{base}/updates"},
            "workItemRevisions": {"href": f"{base}/revisions"},
            "workItemComments": {"href": f"{base}/comments"},
            "html": {"href": f"{state.org_url}/_workitems/edit/{item.id}"},
        }
    out["url"] = item_url(state, item.id)
    return out


def comment_json(state: AzureState, item: WorkItem, comment: dict[str, Any]) -> dict[str, Any]:
    project = state.project(item.fields["System.TeamProject"])
    return {
        "workItemId": item.id,
        "id": comment["id"],
        "version": comment["version"],
        "text": comment["text"],
        "renderedText": comment["text"],
        "format": "html",
        "createdBy": identity_ref(state, comment["createdBy"]),
        "createdDate": comment["createdDate"],
        "modifiedBy": identity_ref(state, comment["modifiedBy"]),
        "modifiedDate": comment["modifiedDate"],
        "isDeleted": comment["isDeleted"],
        "mentions": [],
        "reactions": [],
        "url": f"{state.org_url}/{project['id']}/_apis/wit/workItems/{item.id}"
        f"/comments/{comment['id']}",
    }
