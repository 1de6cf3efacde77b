"""Work item comments of the Azure DevOps sandbox state (mixed into AzureState)."""

from __future__ import annotations

import copy
from typing import Any

from sandbox.azure_catalog import AzureError
from sandbox.azure_records import AzureChange, WorkItem


class AzureComments:
    """Needs the host's lock, get(), update_work_item(), _now(), _emit() and _comment_ids."""

    # -- comments ----------------------------------------------------------------------
    def _add_comment_record(
        self, item: WorkItem, text: str, actor: str, now: str
    ) -> dict[str, Any]:
        comment = {
            "id": next(self._comment_ids),
            "workItemId": item.id,
            "version": 1,
            "text": text,
            "createdBy": actor,
            "createdDate": now,
            "modifiedBy": actor,
            "modifiedDate": now,
            "isDeleted": False,
        }
        item.comments.append(comment)
        item.fields["System.CommentCount"] = len([c for c in item.comments if not c["isDeleted"]])
        return comment

    def add_comment(self, item_id: int | str, text: str, *, actor: str) -> dict[str, Any]:
        """Comments API: a new revision carrying System.History, then workitem.commented."""
        with self.lock:
            item = self.get(item_id)
            self.update_work_item(
                item.id,
                [{"op": "add", "path": "/fields/System.History", "value": text}],
                actor=actor,
                _emit_comment=False,
            )
            comment = self._add_comment_record(item, text, actor, item.fields["System.ChangedDate"])
            self._emit(
                AzureChange(
                    "workitem.commented", copy.deepcopy(item), actor, comment["createdDate"]
                )
            )
            return comment

    def get_comment(self, item: WorkItem, comment_id: int | str) -> dict[str, Any]:
        for comment in item.comments:
            if str(comment["id"]) == str(comment_id):
                return comment
        raise AzureError(
            404,
            f"VS402625: Comment {comment_id} does not exist for work item {item.id}.",
            "CommentNotFoundException",
        )

    def update_comment(
        self, item_id: int | str, comment_id: int | str, text: str, *, actor: str
    ) -> dict[str, Any]:
        # editing a comment makes no work item revision and fires no service hook
        with self.lock:
            comment = self.get_comment(self.get(item_id), comment_id)
            comment.update(
                text=text,
                version=comment["version"] + 1,
                modifiedBy=actor,
                modifiedDate=self._now(),
            )
            return comment

    def delete_comment(self, item_id: int | str, comment_id: int | str, *, actor: str) -> None:
        with self.lock:
            item = self.get(item_id)
            comment = self.get_comment(item, comment_id)
            comment.update(isDeleted=True, modifiedBy=actor, modifiedDate=self._now())
            item.fields["System.CommentCount"] = len(
                [c for c in item.comments if not c["isDeleted"]]
            )
