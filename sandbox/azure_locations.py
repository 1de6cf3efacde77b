"""Discovery data the azure-devops client library reads before its first real call.

The library (azure/devops/connection.py and client.py) does, per base URL:
1. `OPTIONS {org}/_apis` -> {"count", "value": [ApiResourceLocation]} to find the route
   template of the "Location/ResourceAreas" resource,
2. `GET {org}/_apis/ResourceAreas` -> {"count", "value": [ResourceAreaInfo]} to find the
   URL of the area a client belongs to (work item tracking: 5264459e-...),
3. `OPTIONS {area url}/_apis` again (cached per URL) to route each call by location id.
Both answers are cached by the library in memory and on disk (~/.azure-devops).
"""

from __future__ import annotations

from typing import Any

# (location id, area, resourceName, routeTemplate, resourceVersion, maxVersion, released)
LOCATIONS: list[tuple[str, str, str, str, int, str, str]] = [
    (
        "e81700f7-3be2-46de-8624-2eb35882fcaa",
        "Location",
        "ResourceAreas",
        "_apis/{resource}/{areaId}",
        1,
        "7.1",
        "0.0",
    ),
    (
        "72c7ddf8-2cdc-4f60-90cd-ab71c14a399b",
        "wit",
        "workItems",
        "{project}/_apis/{area}/{resource}/{id}",
        3,
        "7.1",
        "7.1",
    ),
    (
        "62d3d110-0047-428c-ad3c-4fe872c91c74",
        "wit",
        "workItems",
        "{project}/_apis/{area}/{resource}/${type}",
        3,
        "7.1",
        "7.1",
    ),
    (
        "908509b6-4248-4475-a1cd-829139ba419f",
        "wit",
        "workItemsBatch",
        "{project}/_apis/{area}/{resource}",
        1,
        "7.1",
        "7.1",
    ),
    (
        "1a9c53f7-f243-4447-b110-35ef023636e4",
        "wit",
        "wiql",
        "{project}/{team}/_apis/{area}/{resource}/{id}",
        2,
        "7.1",
        "7.1",
    ),
    (
        "608aac0a-32e1-4493-a863-b9cf4566d257",
        "wit",
        "comments",
        "{project}/_apis/{area}/workItems/{workItemId}/{resource}/{commentId}",
        4,
        "7.1",
        "0.0",
    ),
    (
        "603fe2ac-9723-48b9-88ad-09305aa6c6e1",
        "core",
        "projects",
        "_apis/{resource}/{*projectId}",
        4,
        "7.1",
        "7.0",
    ),
    (
        "b51fd764-e5c2-4b9b-aaf7-3395cf4bdd94",
        "wit",
        "fields",
        "{project}/_apis/{area}/{resource}/{fieldNameOrRefName}",
        3,
        "7.1",
        "0.0",
    ),
    (
        "bd293ce5-3d25-4192-8e67-e8092e879efb",
        "wit",
        "workItemTypesField",
        "{project}/_apis/{area}/workItemTypes/{type}/fields/{field}",
        3,
        "7.1",
        "0.0",
    ),
    (
        "00d9565f-ed9c-4a06-9a50-00e7896ccab4",
        "Location",
        "ConnectionData",
        "_apis/{resource}",
        1,
        "7.1",
        "0.0",
    ),
    (
        "fc50d02a-849f-41fb-8af1-0a5216103269",
        "hooks",
        "Subscriptions",
        "_apis/{area}/{resource}/{subscriptionId}",
        1,
        "7.1",
        "7.1",
    ),
]

LOCATIONS += [
    (
        "c9175577-28a1-4b06-9197-8636af9f64ad",
        "work",
        "iterations",
        "{project}/{team}/_apis/{area}/teamsettings/{resource}/{id}",
        1,
        "7.1",
        "7.1",
    ),
    (
        "74412d15-8c1a-4352-a48d-ef1ed5587d57",
        "work",
        "capacities",
        "{project}/{team}/_apis/{area}/teamsettings/iterations/{iterationId}/{resource}/{teamMemberId}",
        3,
        "7.1",
        "7.0",
    ),
]

LOCATIONS += [
    (
        "a70579d1-f53a-48ee-a5be-7be8659023b9",
        "wit",
        "classificationNodes",
        "{project}/_apis/{area}/{resource}",
        2,
        "7.1",
        "7.1",
    ),
    (
        "ce7b9f95-fde9-4be8-a86d-83b366f0b87a",
        "Security",
        "securitynamespaces",
        "_apis/{resource}/{securityNamespaceId}",
        1,
        "7.1",
        "0.0",
    ),
    (
        "dd3b8bd6-c7fc-4cbd-929a-933d9c011c9d",
        "Security",
        "permissions",
        "_apis/{resource}/{securityNamespaceId}/{permissions}",
        2,
        "7.1",
        "0.0",
    ),
    (
        "cf1faa59-1b63-4448-bf04-13d981a46f5d",
        "Security",
        "permissionevaluationbatch",
        "_apis/security/{resource}",
        1,
        "7.1",
        "0.0",
    ),
]

# resource area id -> name; work item tracking, service hooks and core live on the org URL
RESOURCE_AREAS = {
    "5264459e-e5e0-4bd8-b118-0985e68a4ec5": "wit",
    "1d4f49f9-02b9-4e26-b826-2cdb6195f2a9": "work",
    "3b95fb80-fdda-4218-b60e-1052d070ae6b": "hooks",
    "79134c72-4a58-4b42-976c-04e7115f32bf": "core",
    "00d9565f-ed9c-4a06-9a50-00e7896ccab4": "Location",
}


def resource_locations() -> dict[str, Any]:
    value = [
        {
            "id": loc_id,
            "area": area,
            "resourceName": name,
            "routeTemplate": template,
            "resourceVersion": resource_version,
            "minVersion": "1.0",
            "maxVersion": max_version,
            "releasedVersion": released,
        }
        for loc_id, area, name, template, resource_version, max_version, released in LOCATIONS
    ]
    return {"count": len(value), "value": value}


def resource_areas(org_url: str) -> dict[str, Any]:
    value = [
        {"id": area_id, "name": name, "locationUrl": org_url + "/"}
        for area_id, name in RESOURCE_AREAS.items()
    ]
    return {"count": len(value), "value": value}
