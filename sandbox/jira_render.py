"""Jira REST shapes (v2 and v3) of the sandbox's canonical issue and comment records."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sandbox.jira_catalog import CATEGORIES, ISSUE_TYPES, PRIORITIES, STATUSES
from sandbox.validation import adf_to_text

if TYPE_CHECKING:
    from sandbox.jira_state import Issue, JiraState


def jira_time(value: dt.datetime) -> str:
    """Jira's timestamp form: 2019-01-07T16:55:51.184+0000."""
    return (
        value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{value.microsecond // 1000:03d}+0000"
    )


def api_root(state: JiraState, api_version: int) -> str:
    return f"{state.base_url}/rest/api/{api_version}"


def user_json(state: JiraState, name: str | None, api_version: int = 2) -> dict[str, Any] | None:
    if name is None:
        return None
    user = state.user(name)
    return {
        "self": f"{api_root(state, api_version)}/user?accountId={user['accountId']}",
        "name": user["name"],
        "key": user["key"],
        "accountId": user["accountId"],
        "emailAddress": user["emailAddress"],
        "avatarUrls": {"48x48": f"{state.base_url}/secure/useravatar?avatarId=10122"},
        "displayName": user["displayName"],
        "active": True,
        "timeZone": user["timeZone"],
        "accountType": "atlassian",
    }


def status_json(state: JiraState, name: str, api_version: int) -> dict[str, Any]:
    status_id, category = STATUSES[name]
    cat_id, cat_name, color = CATEGORIES[category]
    root = api_root(state, api_version)
    return {
        "self": f"{root}/status/{status_id}",
        "description": "",
        "iconUrl": f"{state.base_url}/",
        "name": name,
        "id": status_id,
        "statusCategory": {
            "self": f"{root}/statuscategory/{cat_id}",
            "id": cat_id,
            "key": category,
            "colorName": color,
            "name": cat_name,
        },
    }


def issuetype_json(state: JiraState, name: str, api_version: int) -> dict[str, Any]:
    type_id, subtask, level = ISSUE_TYPES[name]
    return {
        "self": f"{api_root(state, api_version)}/issuetype/{type_id}",
        "id": type_id,
        "description": "",
        "iconUrl": f"{state.base_url}/images/icons/{name.lower()}.svg",
        "name": name,
        "subtask": subtask,
        "hierarchyLevel": level,
    }


def project_json(state: JiraState, key: str, api_version: int) -> dict[str, Any]:
    project = state.projects[key]
    return {
        "self": f"{api_root(state, api_version)}/project/{project['id']}",
        "id": project["id"],
        "key": key,
        "name": project["name"],
        "projectTypeKey": "software",
        "simplified": False,
        "avatarUrls": {"48x48": f"{state.base_url}/secure/projectavatar?avatarId=10324"},
    }


def _rich(value: Any, api_version: int) -> Any:
    if value is None:
        return None
    return value if api_version >= 3 else adf_to_text(value)


def _link_ref(state: JiraState, key: str, api_version: int) -> dict[str, Any]:
    other = (
        state.get(key)
        if any(i.key == key and not i.deleted for i in state.issues.values())
        else None
    )
    ref: dict[str, Any] = {"key": key}
    if other is not None:
        ref.update(
            id=str(other.id),
            self=f"{api_root(state, api_version)}/issue/{other.id}",
            fields={
                "summary": other.fields["summary"],
                "status": status_json(state, other.fields["status"], api_version),
                "issuetype": issuetype_json(state, other.fields["issuetype"], api_version),
            },
        )
    return ref


def comment_json(
    state: JiraState, issue: Issue, comment: dict[str, Any], api_version: int
) -> dict[str, Any]:
    return {
        "self": f"{api_root(state, api_version)}/issue/{issue.id}/comment/{comment['id']}",
        "id": comment["id"],
        "author": user_json(state, comment["author"], api_version),
        "body": _rich(comment["body"], api_version),
        "updateAuthor": user_json(state, comment["updateAuthor"], api_version),
        "created": jira_time(comment["created"]),
        "updated": jira_time(comment["updated"]),
        "jsdPublic": True,
    }


def fields_json(state: JiraState, issue: Issue, api_version: int) -> dict[str, Any]:
    f = issue.fields
    links = []
    for link in f["issuelinks"]:
        entry: dict[str, Any] = {
            "id": link["id"],
            "type": {
                "id": "10000",
                "name": link["type"],
                "inward": "is blocked by",
                "outward": "blocks",
            },
        }
        for side in ("inwardIssue", "outwardIssue"):
            if side in link:
                entry[side] = _link_ref(state, link[side], api_version)
        links.append(entry)
    out: dict[str, Any] = {
        "summary": f["summary"],
        "description": _rich(f["description"], api_version),
        "issuetype": issuetype_json(state, f["issuetype"], api_version),
        "project": project_json(state, issue.project, api_version),
        "status": status_json(state, f["status"], api_version),
        "labels": list(f["labels"]),
        "assignee": user_json(state, f["assignee"], api_version),
        "reporter": user_json(state, f["reporter"], api_version),
        "creator": user_json(state, f["reporter"], api_version),
        "priority": {
            "self": f"{api_root(state, api_version)}/priority/{PRIORITIES[f['priority']]}",
            "name": f["priority"],
            "id": PRIORITIES[f["priority"]],
        },
        "duedate": f["duedate"],
        "customfield_10016": f["customfield_10016"],
        "customfield_10015": f["customfield_10015"],
        "created": jira_time(f["created"]),
        "updated": jira_time(f["updated"]),
        "statuscategorychangedate": jira_time(f["statuscategorychangedate"]),
        "resolution": None,
        "issuelinks": links,
        "subtasks": [],
        "comment": {
            "comments": [comment_json(state, issue, c, api_version) for c in issue.comments],
            "self": f"{api_root(state, api_version)}/issue/{issue.id}/comment",
            "maxResults": len(issue.comments),
            "total": len(issue.comments),
            "startAt": 0,
        },
    }
    if f["parent"]:
        out["parent"] = _link_ref(state, f["parent"], api_version)
    for field_id in state.extra_fields:
        out[field_id] = f.get(field_id)
    return out


def issue_json(
    state: JiraState, issue: Issue, api_version: int, wanted: Iterable[str] | None = None
) -> dict[str, Any]:
    fields = fields_json(state, issue, api_version)
    wanted = [w.strip() for w in (wanted or []) if w.strip()]
    if wanted and not {"*all", "*navigable"} & set(wanted):
        fields = {k: v for k, v in fields.items() if k in wanted}
    return {
        "expand": "renderedFields,names,schema,operations,editmeta,changelog",
        "id": str(issue.id),
        "self": f"{api_root(state, api_version)}/issue/{issue.id}",
        "key": issue.key,
        "fields": fields,
    }
