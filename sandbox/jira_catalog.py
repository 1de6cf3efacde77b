"""Fixed Jira metadata the sandbox serves: issue types, statuses, transitions, fields."""

from __future__ import annotations

from typing import Any

# name -> (id, subtask, hierarchyLevel)
ISSUE_TYPES: dict[str, tuple[str, bool, int]] = {
    "Initiative": ("10005", False, 2),
    "Epic": ("10000", False, 1),
    "Story": ("10001", False, 0),
    "Task": ("10002", False, 0),
    "Bug": ("10004", False, 0),
    "Risk": ("10006", False, 0),
    "Sub-task": ("10003", True, -1),
}

# statusCategory key -> (id, name, colorName)
CATEGORIES: dict[str, tuple[int, str, str]] = {
    "new": (2, "To Do", "blue-gray"),
    "indeterminate": (4, "In Progress", "yellow"),
    "done": (3, "Done", "green"),
}

# status name -> (id, category key)
STATUSES: dict[str, tuple[str, str]] = {
    "To Do": ("10000", "new"),
    "In Progress": ("3", "indeterminate"),
    "In Review": ("10003", "indeterminate"),
    "Blocked": ("10002", "indeterminate"),
    "Done": ("10001", "done"),
}

# transition id -> target status (a simplified workflow: every status reachable from any)
TRANSITIONS: dict[str, str] = {
    "11": "To Do",
    "21": "In Progress",
    "31": "Done",
    "41": "Blocked",
    "51": "In Review",
}

PRIORITIES: dict[str, str] = {"Highest": "1", "High": "2", "Medium": "3", "Low": "4", "Lowest": "5"}

# field id -> (name, schema type, custom, editable); labels etc. follow Jira Cloud's ids
FIELDS: dict[str, tuple[str, str, bool, bool]] = {
    "summary": ("Summary", "string", False, True),
    "description": ("Description", "string", False, True),
    "issuetype": ("Issue Type", "issuetype", False, True),
    "project": ("Project", "project", False, False),
    "status": ("Status", "status", False, False),
    "labels": ("Labels", "array", False, True),
    "assignee": ("Assignee", "user", False, True),
    "reporter": ("Reporter", "user", False, True),
    "priority": ("Priority", "priority", False, True),
    "parent": ("Parent", "issuelink", False, True),
    "duedate": ("Due date", "date", False, True),
    "created": ("Created", "datetime", False, False),
    "updated": ("Updated", "datetime", False, False),
    "statuscategorychangedate": ("Status Category Changed", "datetime", False, False),
    "issuelinks": ("Linked Issues", "array", False, False),
    "comment": ("Comment", "comments-page", False, False),
    "customfield_10016": ("Story point estimate", "number", True, True),
    "customfield_10015": ("Start date", "date", True, True),
}

CLAUSE_NAMES = {
    "issuetype": ["issuetype", "type"],
    "customfield_10016": ["cf[10016]", "Story point estimate"],
    "customfield_10015": ["cf[10015]", "Start date"],
    "duedate": ["due", "duedate"],
}


def field_json(field_id: str, meta: tuple[str, str, bool, bool]) -> dict[str, Any]:
    name, kind, custom, _ = meta
    schema: dict[str, Any] = {"type": kind}
    if custom:
        schema["custom"] = f"com.atlassian.jira.plugin.system.customfieldtypes:{kind}field"
        schema["customId"] = int(field_id.rsplit("_", 1)[-1])
    elif kind == "array":
        schema["items"] = "string" if field_id == "labels" else "issuelinks"
        schema["system"] = field_id
    else:
        schema["system"] = field_id
    return {
        "id": field_id,
        "key": field_id,
        "name": name,
        "custom": custom,
        "orderable": True,
        "navigable": True,
        "searchable": True,
        "clauseNames": CLAUSE_NAMES.get(field_id, [field_id]),
        "schema": schema,
    }
