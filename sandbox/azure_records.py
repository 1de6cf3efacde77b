"""Records of the Azure DevOps sandbox: a work item and a change announcement."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any


def ado_time(value: dt.datetime) -> str:
    return (
        value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{value.microsecond // 1000:03d}Z"
    )


@dataclass
class WorkItem:
    id: int
    rev: int
    fields: dict[str, Any]  # identity fields hold unique names
    relations: list[dict[str, Any]] = field(default_factory=list)  # {rel, target, attributes}
    comments: list[dict[str, Any]] = field(default_factory=list)
    deleted: bool = False


@dataclass(frozen=True)
class AzureChange:
    event: str  # workitem.created|workitem.updated|workitem.commented|workitem.deleted
    item: WorkItem  # snapshot after the change
    actor: str  # unique name
    date: str
    field_changes: dict[str, dict[str, Any]] | None = None  # ref -> {oldValue, newValue}
    relations: dict[str, list[dict[str, Any]]] | None = None  # {"added": [...], "removed"}
