"""Comments and webhook registrations of the Jira sandbox state (mixed into JiraState)."""

from __future__ import annotations

import copy
from typing import Any

from sandbox.jira_records import Issue, JiraChange, NotFound
from sandbox.queries import compile_jql


class JiraComments:
    """Needs the host's lock, get(), user(), _now(), _emit(), _snapshot() and id counters."""

    # -- comments ----------------------------------------------------------------------
    def add_comment(
        self, id_or_key: str | int, body_adf: dict[str, Any], *, actor: str
    ) -> dict[str, Any]:
        with self.lock:
            issue = self.get(id_or_key)
            now, ms = self._now()
            user = self.user(actor)["name"]
            comment = {
                "id": str(next(self._comment_ids)),
                "author": user,
                "updateAuthor": user,
                "body": body_adf,
                "created": now,
                "updated": now,
            }
            issue.comments.append(comment)
            self._emit(
                JiraChange(
                    "comment_created",
                    self._snapshot(issue),
                    self.user(actor),
                    ms,
                    comment=copy.deepcopy(comment),
                )
            )
            return comment

    def get_comment(self, issue: Issue, comment_id: str) -> dict[str, Any]:
        for comment in issue.comments:
            if comment["id"] == str(comment_id):
                return comment
        raise NotFound(comment_id)

    def update_comment(
        self, id_or_key: str | int, comment_id: str, body_adf: dict[str, Any], *, actor: str
    ) -> dict[str, Any]:
        with self.lock:
            issue = self.get(id_or_key)
            comment = self.get_comment(issue, comment_id)
            now, ms = self._now()
            comment.update(body=body_adf, updated=now, updateAuthor=self.user(actor)["name"])
            self._emit(
                JiraChange(
                    "comment_updated",
                    self._snapshot(issue),
                    self.user(actor),
                    ms,
                    comment=copy.deepcopy(comment),
                )
            )
            return comment

    def delete_comment(self, id_or_key: str | int, comment_id: str, *, actor: str) -> None:
        with self.lock:
            issue = self.get(id_or_key)
            comment = self.get_comment(issue, comment_id)
            issue.comments.remove(comment)
            _, ms = self._now()
            self._emit(
                JiraChange(
                    "comment_deleted",
                    self._snapshot(issue),
                    self.user(actor),
                    ms,
                    comment=copy.deepcopy(comment),
                )
            )

    # -- webhook registrations ---------------------------------------------------------
    def register_webhook(
        self,
        url: str,
        events: list[str],
        *,
        jql: str | None = None,
        name: str = "",
        secret: str | None = None,
        kind: str = "admin",
    ) -> dict[str, Any]:
        compile_jql(jql)  # refuse filters the sandbox cannot evaluate
        with self.lock:
            hook_id = next(self._webhook_ids)
            hook = {
                "id": hook_id,
                "name": name,
                "url": url,
                "events": list(events),
                "jqlFilter": jql or "",
                "secret": secret,
                "kind": kind,
                "enabled": True,
            }
            self.webhooks[hook_id] = hook
            return hook

    def delete_webhook(self, hook_id: int) -> bool:
        with self.lock:
            return self.webhooks.pop(int(hook_id), None) is not None
