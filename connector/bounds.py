"""What an event may carry into the store and into tracker API paths, checked at intake.

Keys and ids become path segments of tracker calls (`/rest/api/3/issue/{key}/comment`,
`/_apis/wit/workItems/{id}`) and primary keys of the store, so each must have its
tracker's own format; strings the store keeps in bounded columns must fit them; numbers
must fit its 64-bit integers. A payload that breaks any of these is refused with a
`PayloadError` (a 400 at intake), before anything is stored or called.

Formats, from the vendors: a Jira issue key is the project key, a hyphen and the issue
number; project keys start with a letter and hold only letters of the Modern Roman
alphabet, digits and underscores (Atlassian, "Changing the project key format"). Jira
issue ids are decimal numbers. Azure DevOps work item ids and revisions are int32
(`WorkItem.id`, `WorkItem.rev` in the Work Item Tracking 7.1 API description).
"""

from __future__ import annotations

import re

from connector.errors import PayloadError
from connector.model import Event, Person, WorkItem

MAX_STORED_TEXT = 255  # String(255) columns: item keys, projects, people, comment ids
MAX_BIGINT = 2**63 - 1  # the store's BIGINT
MAX_INT32 = 2**31 - 1

JIRA_ISSUE_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_]*-[0-9]{1,18}")
JIRA_ISSUE_ID = re.compile(r"[0-9]{1,18}")


def jira_issue_key(value: object, where: str) -> str:
    """`value` when it is a Jira issue key (PAY-12) or issue id (10012), else PayloadError."""
    if isinstance(value, str) and len(value) <= MAX_STORED_TEXT:
        if JIRA_ISSUE_KEY.fullmatch(value) or JIRA_ISSUE_ID.fullmatch(value):
            return value
    raise PayloadError(f"{where} is not a Jira issue key or id: {_shown(value)}")


def jira_issue_id(value: object, where: str) -> str:
    """A Jira issue id (decimal digits) as text, else PayloadError."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_BIGINT:
        return str(value)
    if isinstance(value, str) and JIRA_ISSUE_ID.fullmatch(value):
        return value
    raise PayloadError(f"{where} must be a numeric issue id, not {_shown(value)}")


def azure_int32(value: int, where: str) -> int:
    """`value` when it fits Azure DevOps' int32 ids and revisions (and is not negative)."""
    if not 0 <= value <= MAX_INT32:
        raise PayloadError(f"{where} is outside 0..2^31-1 (Azure DevOps ids are int32)")
    return value


MAX_AREAS = 20  # Jira components of one issue read as its area


def area_text(value: object) -> str | None:
    """An item's area as one line of text: a path or name as it is, a list (Jira
    components, a multi-select field) as its names joined with ", " in the tracker's order;
    clipped to MAX_STORED_TEXT characters. Nothing usable is None."""
    if isinstance(value, list | tuple):
        names = []
        for element in value[:MAX_AREAS]:
            name = element.get("name") if isinstance(element, dict) else element
            if isinstance(name, str) and name.strip():
                names.append(" ".join(name.split()))
        text = ", ".join(names)
    elif isinstance(value, str):
        text = value.strip()
    else:
        return None
    return text[:MAX_STORED_TEXT] or None


def checked_item(item: WorkItem) -> WorkItem:
    """`item` when the store can hold it, else PayloadError naming the field."""
    _fits(item.key, "key")
    _fits(item.project, "project")
    if item.parent is not None:
        _fits(item.parent, "parent")
    _person_fits(item.assignee, "assignee")
    _person_fits(item.reporter, "reporter")
    _revision(item.revision, "revision")
    return item


def checked_event(event: Event) -> Event:
    """`event` when the store can hold it (its item included), else PayloadError."""
    _fits(event.item_key, "item key")
    if event.item is not None:
        checked_item(event.item)
    if event.revision is not None:
        _revision(event.revision, "revision")
    if event.comment is not None:
        _fits(event.comment.id, "comment id")
    _person_fits(event.actor, "actor")
    return event


def _fits(value: str, where: str) -> None:
    if len(value) > MAX_STORED_TEXT:
        raise PayloadError(f"{where} is longer than {MAX_STORED_TEXT} characters")


def _person_fits(person: Person | None, where: str) -> None:
    if person is not None:
        _fits(person.display_name, f"{where} name")
        if person.account_id is not None:
            _fits(person.account_id, f"{where} id")


def _revision(value: int, where: str) -> None:
    if not -MAX_BIGINT - 1 <= value <= MAX_BIGINT:
        raise PayloadError(f"{where} does not fit a 64-bit integer")


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
