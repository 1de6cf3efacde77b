"""Records of the Jira sandbox: an issue and a change announcement."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class NotFound(LookupError):
    pass


@dataclass
class Issue:
    id: int
    key: str
    project: str
    fields: dict[str, Any]  # canonical values, see jira_fields
    comments: list[dict[str, Any]] = field(default_factory=list)
    deleted: bool = False


@dataclass(frozen=True)
class JiraChange:
    kind: str  # issue_created|issue_updated|issue_deleted|comment_*|issuelink_created
    issue: Issue  # snapshot after the change
    actor: dict[str, Any]
    timestamp: int  # epoch ms
    event_type_name: str | None = None
    changelog: dict[str, Any] | None = None
    comment: dict[str, Any] | None = None
