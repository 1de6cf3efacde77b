"""What the `azure-devops` library asks of a mocked Azure DevOps before its first call."""

from __future__ import annotations

# The resource locations the library asks for with `OPTIONS {org}/_apis`: id, route
# template and versions, as Azure DevOps lists them.
LOCATIONS = [
    (
        "72c7ddf8-2cdc-4f60-90cd-ab71c14a399b",
        "wit",
        "workItems",
        "{project}/_apis/{area}/{resource}/{id}",
        3,
    ),
    (
        "908509b6-4248-4475-a1cd-829139ba419f",
        "wit",
        "workItemsBatch",
        "{project}/_apis/{area}/{resource}",
        1,
    ),
    (
        "1a9c53f7-f243-4447-b110-35ef023636e4",
        "wit",
        "wiql",
        "{project}/{team}/_apis/{area}/{resource}/{id}",
        2,
    ),
    (
        "608aac0a-32e1-4493-a863-b9cf4566d257",
        "wit",
        "comments",
        "{project}/_apis/{area}/workItems/{workItemId}/{resource}/{commentId}",
        4,
    ),
    (
        "bd293ce5-3d25-4192-8e67-e8092e879efb",
        "wit",
        "workItemTypesField",
        "{project}/_apis/{area}/workitemtypes/{type}/fields/{field}",
        3,
    ),
    (
        "b51fd764-e5c2-4b9b-aaf7-3395cf4bdd94",
        "wit",
        "fields",
        "{project}/_apis/{area}/{resource}/{fieldNameOrRefName}",
        3,
    ),
    ("00d9565f-ed9c-4a06-9a50-00e7896ccab4", "Location", "ConnectionData", "_apis/{resource}", 1),
]
OPTIONS_BODY = {
    "count": len(LOCATIONS),
    "value": [
        {
            "id": lid,
            "area": area,
            "resourceName": name,
            "routeTemplate": template,
            "resourceVersion": version,
            "minVersion": "1.0",
            "maxVersion": "7.1",
            "releasedVersion": "7.1" if area == "wit" and name != "comments" else "0.0",
        }
        for lid, area, name, template, version in LOCATIONS
    ],
}
