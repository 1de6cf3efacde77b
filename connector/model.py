"""The common project model: what every tracker event becomes.

Rules, the store and write-back see only these types, never a raw payload. All of them
are frozen so an item can be shared between threads and cached without copies.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from types import MappingProxyType
from typing import Any


class ItemType(StrEnum):
    INITIATIVE = "initiative"
    EPIC = "epic"
    FEATURE = "feature"
    STORY = "story"
    TASK = "task"
    BUG = "bug"
    SUBTASK = "subtask"
    RISK = "risk"
    OTHER = "other"


class StatusCategory(StrEnum):
    TODO = "todo"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    REMOVED = "removed"


class EventKind(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    COMMENTED = "commented"
    DELETED = "deleted"
    RESTORED = "restored"
    LINKED = "linked"
    UNLINKED = "unlinked"


@dataclass(frozen=True, slots=True)
class Person:
    """A user as trackers show them: a display name plus the stable account id."""

    display_name: str
    account_id: str | None = None

    def matches(self, account: str) -> bool:
        """True when `account` names this person by account id (Jira Cloud accountId,
        Jira Server user name, Azure DevOps unique name) or by display name."""
        wanted = account.casefold()
        return wanted in {
            (self.account_id or "").casefold(),
            self.display_name.casefold(),
        }


@dataclass(frozen=True, slots=True)
class Link:
    type: str
    key: str


def _frozen_mapping(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(value or {}))


@dataclass(frozen=True, slots=True)
class WorkItem:
    key: str
    tracker: str
    native_id: str
    project: str
    type: ItemType
    title: str
    status: str
    status_category: StatusCategory
    description: str = ""
    assignee: Person | None = None
    reporter: Person | None = None
    priority: str | None = None
    labels: tuple[str, ...] = ()
    estimate: float | None = None
    remaining_hours: float | None = None  # remaining work (Jira time tracking, Azure RemainingWork)
    start_date: dt.date | None = None
    due_date: dt.date | None = None
    parent: str | None = None
    links: tuple[Link, ...] = ()
    created: dt.datetime | None = None
    updated: dt.datetime | None = None
    status_changed: dt.datetime | None = None
    revision: int = 0
    url: str | None = None
    custom: Mapping[str, Any] = field(default_factory=dict)
    # where the item belongs in the organisation: Azure DevOps area path, Jira components
    # (or the field configured as `area` for either tracker)
    area: str | None = None

    def __post_init__(self) -> None:
        # Normalise containers so equal items compare equal and nobody mutates one.
        object.__setattr__(self, "labels", tuple(self.labels))
        object.__setattr__(self, "links", tuple(self.links))
        object.__setattr__(self, "custom", _frozen_mapping(self.custom))

    def with_changes(self, **changes: Any) -> WorkItem:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; `from_dict(to_dict(x)) == x`."""
        return {name: _to_json(getattr(self, name)) for name in _WORK_ITEM_FIELDS}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WorkItem:
        def person(value: Any) -> Person | None:
            if value is None:
                return None
            if isinstance(value, str):
                return Person(value)
            return Person(value["display_name"], value.get("account_id"))

        return cls(
            key=data["key"],
            tracker=data["tracker"],
            native_id=str(data["native_id"]),
            project=data["project"],
            type=ItemType(data["type"]),
            title=data.get("title") or "",
            status=data.get("status") or "",
            status_category=StatusCategory(data["status_category"]),
            description=data.get("description") or "",
            assignee=person(data.get("assignee")),
            reporter=person(data.get("reporter")),
            priority=data.get("priority"),
            labels=tuple(data.get("labels") or ()),
            estimate=None
            if data.get("estimate") is None
            else usable_number(float(data["estimate"])),
            remaining_hours=None
            if data.get("remaining_hours") is None
            else usable_number(float(data["remaining_hours"])),
            start_date=parse_date(data.get("start_date")),
            due_date=parse_date(data.get("due_date")),
            parent=data.get("parent"),
            links=tuple(Link(link["type"], link["key"]) for link in data.get("links") or ()),
            created=parse_datetime(data.get("created")),
            updated=parse_datetime(data.get("updated")),
            status_changed=parse_datetime(data.get("status_changed")),
            revision=int(data.get("revision") or 0),
            url=data.get("url"),
            custom=dict(data.get("custom") or {}),
            area=data.get("area") or None,
        )


_WORK_ITEM_FIELDS = tuple(f.name for f in fields(WorkItem))  # to_dict's order


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One changed field: `field` is the common-model name when one exists
    (status, assignee, labels, ...), else the tracker's own field id."""

    field: str
    old: Any = None
    new: Any = None


@dataclass(frozen=True, slots=True)
class Comment:
    id: str
    body: str
    author: Person | None = None


@dataclass(frozen=True, slots=True)
class Event:
    """What happened to one item, from one delivery."""

    kind: EventKind
    tracker: str
    item_key: str
    native_event: str  # the tracker's own event name, e.g. "jira:issue_updated"
    item: WorkItem | None = None  # None when the payload carries no usable item
    changes: tuple[FieldChange, ...] = ()
    actor: Person | None = None
    occurred: dt.datetime | None = None
    delivery_id: str | None = None
    revision: int | None = None
    comment: Comment | None = None
    link: Link | None = None  # for linked/unlinked: the other end
    partial: bool = False  # the item must be re-fetched before rules can run

    def __post_init__(self) -> None:
        object.__setattr__(self, "changes", tuple(self.changes))

    def changed(self, name: str) -> bool:
        return any(change.field == name for change in self.changes)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _to_json(getattr(self, f.name)) for f in fields(self)}


@dataclass(frozen=True, slots=True)
class Ignored:
    """A well-formed event the service acknowledges but does not act on."""

    native_event: str
    reason: str


# Numbers a tracker field may carry into sums and forecasts: beyond this an estimate is
# a typo or an attack, and sums of such values overflow to infinity.
MAX_MAGNITUDE = 1e12


def usable_number(number: float) -> float | None:
    """`number` when finite and within MAX_MAGNITUDE, else None (read as missing)."""
    return number if math.isfinite(number) and abs(number) <= MAX_MAGNITUDE else None


def parse_date(value: Any) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def parse_datetime(value: Any) -> dt.datetime | None:
    """ISO timestamps from either tracker, always returned timezone-aware (UTC if naive).

    Jira writes `+0100` offsets and milliseconds; Azure DevOps writes `Z` and up to
    seven fractional digits. Python 3.11's `fromisoformat` reads both as they are; what it
    refuses (surrounding spaces, say) is normalised first.
    """
    if value in (None, ""):
        return None
    if type(value) is str:
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            parsed = _from_loose_iso(value)
    elif isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, int | float):
        parsed = dt.datetime.fromtimestamp(value / 1000, tz=dt.UTC)
    else:
        parsed = _from_loose_iso(str(value))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed


def _from_loose_iso(value: str) -> dt.datetime:
    text = value.strip().replace("Z", "+00:00")
    if len(text) >= 5 and text[-5] in "+-" and text[-4:].isdigit():
        text = f"{text[:-2]}:{text[-2:]}"  # +0100 -> +01:00
    head, dot, rest = text.partition(".")
    if dot:
        digits = rest[: len(rest) - len(rest.lstrip("0123456789"))]
        zone = rest[len(digits) :]
        text = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
    return dt.datetime.fromisoformat(text)


def _to_json(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Person):
        return {"display_name": value.display_name, "account_id": value.account_id}
    if isinstance(value, Link):
        return {"type": value.type, "key": value.key}
    if isinstance(value, FieldChange):
        return {"field": value.field, "old": _to_json(value.old), "new": _to_json(value.new)}
    if isinstance(value, Comment):
        return {"id": value.id, "body": value.body, "author": _to_json(value.author)}
    if isinstance(value, WorkItem):
        return value.to_dict()
    if isinstance(value, Mapping):
        return {str(k): _to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_to_json(v) for v in value]
    return str(value)
