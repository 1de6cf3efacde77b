"""In-memory Jira: projects, users, issues, comments, webhook registrations.

Every change runs under one lock and is announced to listeners (the webhook emitter)
while the lock is held, so notifications leave in the order the changes happened.
Methods take the acting user's name: it becomes the webhook `user` and comment author.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import itertools
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sandbox import jira_fields
from sandbox.jira_catalog import ISSUE_TYPES, STATUSES, TRANSITIONS
from sandbox.jira_comments import JiraComments
from sandbox.jira_records import Issue, JiraChange, NotFound
from sandbox.queries import compile_jql
from sandbox.validation import FieldError

__all__ = ["Issue", "JiraChange", "JiraState", "NotFound"]


def _account_id(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:24]


class JiraState(JiraComments):
    def __init__(self, clock: Callable[[], dt.datetime] | None = None) -> None:
        self.lock = threading.RLock()
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.base_url = "http://localhost"
        self.projects: dict[str, dict[str, Any]] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.bearer_tokens: dict[str, str] = {}
        # True: only registered tokens authenticate (a wrong token gets 401)
        self.known_credentials_only = False
        self.withheld_permissions: set[str] = set()  # mypermissions answers false
        # users with Administer Jira or Administer Projects: only they may pass
        # notifyUsers=false on an edit
        self.admins: set[str] = set()
        self.issues: dict[str, Issue] = {}
        self._by_id: dict[str, Issue] = {}  # str(issue.id) -> issue: bulk reads by id
        self.extra_fields: dict[str, str] = {}  # custom field id -> name
        self.webhooks: dict[int, dict[str, Any]] = {}
        self._listeners: list[Callable[[JiraChange], None]] = []
        self._ids = itertools.count(10000)
        self._comment_ids = itertools.count(10000)
        self._changelog_ids = itertools.count(10000)
        self._link_ids = itertools.count(10000)
        self._webhook_ids = itertools.count(1)
        self._last_ms = 0
        self._last_search: tuple[tuple[Any, ...], list[Issue]] | None = None
        # False: the edit screen has no comment field, so an edit's `update.comment` is
        # refused (400) and comments go through the comment resource only
        self.comment_on_edit = True

    # -- setup -------------------------------------------------------------------------
    def subscribe(self, listener: Callable[[JiraChange], None]) -> None:
        self._listeners.append(listener)

    def add_project(self, key: str, name: str | None = None) -> dict[str, Any]:
        with self.lock:
            project = {
                "id": str(10000 + len(self.projects)),
                "key": key,
                "name": name or key,
                "next": 1,
            }
            return self.projects.setdefault(key, project)

    def add_user(
        self,
        name: str,
        display_name: str | None = None,
        *,
        email: str | None = None,
        account_id: str | None = None,
        token: str | None = None,
        admin: bool = False,
    ) -> dict[str, Any]:
        """A user known by `name` (the Basic-auth user); `token` maps a Bearer token to it;
        `admin` gives it (project) admin rights."""
        with self.lock:
            if admin:
                self.admins.add(name)
            user = self.users.get(name) or {
                "name": name,
                "key": name,
                "accountId": account_id or _account_id(name),
                "displayName": display_name or name,
                "emailAddress": email or f"{name}@example.com",
                "active": True,
                "timeZone": "UTC",
            }
            self.users[name] = user
            if token:
                self.bearer_tokens[token] = name
            return user

    def add_field(self, field_id: str, name: str) -> None:
        with self.lock:
            self.extra_fields[field_id] = name

    def user(self, name: str) -> dict[str, Any]:
        return self.users.get(name) or self.add_user(name)

    def find_user(self, ref: Mapping[str, Any]) -> dict[str, Any] | None:
        for user in self.users.values():
            if ref.get("accountId") in (user["accountId"],) or ref.get("name") == user["name"]:
                return user
        return None

    # -- reads -------------------------------------------------------------------------
    def get(self, id_or_key: str | int) -> Issue:
        with self.lock:
            text = str(id_or_key)
            issue = self.issues.get(text.upper()) or self._by_id.get(text)
            if issue is None or issue.deleted:
                raise NotFound(text)
            return issue

    def search(self, jql: str | None, *, next_page: bool = False) -> list[Issue]:
        """The issues `jql` finds, newest first. The first page of a search runs the query;
        the pages after it (`next_page`) reuse that result while nothing was written since,
        as a paged search is read from one result rather than re-run per page."""
        with self.lock:
            key = (jql, self._last_ms, len(self.issues))
            if next_page and self._last_search is not None and self._last_search[0] == key:
                return self._last_search[1]
            matcher = compile_jql(jql)
            found = [
                i for i in self.issues.values() if not i.deleted and matcher(jira_fields.jql_doc(i))
            ]
            found.sort(key=lambda i: i.id, reverse=True)
            self._last_search = (key, found)
        return found

    # -- writes ------------------------------------------------------------------------
    def _now(self) -> tuple[dt.datetime, int]:
        # strictly increasing per state, so `updated` can serve as a revision
        now = self.clock()
        ms = max(int(now.timestamp() * 1000), self._last_ms + 1)
        self._last_ms = ms
        return dt.datetime.fromtimestamp(ms / 1000, dt.UTC), ms

    def _emit(self, change: JiraChange) -> None:
        for listener in list(self._listeners):
            listener(change)

    def _snapshot(self, issue: Issue) -> Issue:
        return copy.deepcopy(issue)

    def create_issue(
        self,
        project: str,
        issuetype: str,
        summary: str,
        *,
        actor: str,
        fields: Mapping[str, Any] | None = None,
        api_version: int = 3,
    ) -> Issue:
        with self.lock:
            if project not in self.projects:
                raise FieldError({"project": "Specify a valid project ID or key"})
            if issuetype not in ISSUE_TYPES:
                raise FieldError({"issuetype": "Specify a valid issue type"})
            if not isinstance(summary, str) or not summary.strip():
                raise FieldError({"summary": "You must specify a summary of the issue."})
            values = jira_fields.coerce_all(self, dict(fields or {}), api_version)
            now, ms = self._now()
            proj = self.projects[project]
            key = f"{project}-{proj['next']}"
            proj["next"] += 1
            issue = Issue(
                next(self._ids),
                key,
                project,
                {
                    "summary": summary,
                    "issuetype": issuetype,
                    "status": "To Do",
                    "description": None,
                    "labels": [],
                    "assignee": None,
                    "reporter": self.user(actor)["name"],
                    "priority": "Medium",
                    "parent": None,
                    "duedate": None,
                    "customfield_10016": None,
                    "customfield_10015": None,
                    "created": now,
                    "updated": now,
                    "statuscategorychangedate": now,
                    "issuelinks": [],
                },
            )
            issue.fields.update(values)
            self.issues[key] = issue
            self._by_id[str(issue.id)] = issue
            self._emit(
                JiraChange(
                    "issue_created", self._snapshot(issue), self.user(actor), ms, "issue_created"
                )
            )
            return issue

    def update_issue(
        self,
        id_or_key: str | int,
        *,
        actor: str,
        fields: Mapping[str, Any] | None = None,
        update: Mapping[str, Any] | None = None,
        api_version: int = 3,
        status: str | None = None,
        comments: Sequence[dict[str, Any]] = (),
    ) -> Issue:
        """Apply `fields` (set) and `update` (verbs) like PUT /issue; all-or-nothing. The
        `comments` (ADF bodies, checked by the caller) are added by the same edit."""
        with self.lock:
            issue = self.get(id_or_key)
            new = jira_fields.apply_update(
                self, issue, dict(fields or {}), dict(update or {}), api_version
            )
            if status is not None:
                new["status"] = status
            for body in comments:
                self.add_comment(issue.key, body, actor=actor)
            items = jira_fields.changelog_items(self, issue.fields, new)
            if not items:
                return issue
            now, ms = self._now()
            if (
                STATUSES[new.get("status", issue.fields["status"])][1]
                != STATUSES[issue.fields["status"]][1]
            ):
                new["statuscategorychangedate"] = now
            issue.fields.update(new)
            issue.fields["updated"] = now
            kind = (
                "issue_assigned"
                if any(i["field"] == "assignee" for i in items)
                else "issue_generic"
            )
            changelog = {"id": str(next(self._changelog_ids)), "items": items}
            self._emit(
                JiraChange(
                    "issue_updated", self._snapshot(issue), self.user(actor), ms, kind, changelog
                )
            )
            return issue

    def transition(
        self,
        id_or_key: str | int,
        transition: str,
        *,
        actor: str,
        fields: Mapping[str, Any] | None = None,
        api_version: int = 3,
    ) -> Issue:
        """Move to the transition's status (ids from GET transitions, or a status name)."""
        target = TRANSITIONS.get(str(transition)) or (
            transition if transition in STATUSES else None
        )
        if target is None:
            raise FieldError({}, [f"Transition id '{transition}' is not valid for this issue."])
        return self.update_issue(
            id_or_key, actor=actor, fields=fields, status=target, api_version=api_version
        )

    def delete_issue(self, id_or_key: str | int, *, actor: str) -> None:
        with self.lock:
            issue = self.get(id_or_key)
            issue.deleted = True
            _, ms = self._now()
            self._emit(
                JiraChange(
                    "issue_deleted", self._snapshot(issue), self.user(actor), ms, "issue_deleted"
                )
            )

    def link_issues(
        self, outward: str, inward: str, link_type: str = "Blocks", *, actor: str
    ) -> None:
        """`outward` blocks `inward` (Jira's "Blocks" link); both issues get the link."""
        with self.lock:
            a, b = self.get(outward), self.get(inward)
            link_id = str(next(self._link_ids))
            a.fields["issuelinks"].append({"id": link_id, "type": link_type, "outwardIssue": b.key})
            b.fields["issuelinks"].append({"id": link_id, "type": link_type, "inwardIssue": a.key})
            now, ms = self._now()
            for issue, other, verb in ((a, b, "blocks"), (b, a, "is blocked by")):
                issue.fields["updated"] = now
                changelog = {
                    "id": str(next(self._changelog_ids)),
                    "items": [
                        {
                            "field": "Link",
                            "fieldtype": "jira",
                            "from": None,
                            "fromString": None,
                            "to": other.key,
                            "toString": f"This issue {verb} {other.key}",
                        }
                    ],
                }
                self._emit(
                    JiraChange(
                        "issue_updated",
                        self._snapshot(issue),
                        self.user(actor),
                        ms,
                        "issue_generic",
                        changelog,
                    )
                )
