"""The managed comment is the service's: a person who edits or deletes it gets it back.

The ledger remembers the id and content hash of the comment the service wrote, and the
write-back only writes when the wanted comment differs from that hash. A comment someone
else changed would so stay wrong for good. It is noticed two ways, on both trackers:

- From the comment webhook that names it: Jira sends `comment_updated` /
  `comment_deleted` with the comment's id (the service's own edits are filtered out
  before). The ledger forgets what it wrote, so the governing that follows restores the
  comment in place, or re-creates it when it was deleted.
- From the next read: any other comment event by a person (Jira `comment_created`,
  Azure DevOps `workitem.commented`, which carries no comment id and is the only comment
  hook Azure DevOps has), or a person's update that changed `System.CommentCount`, makes
  the write-back read the managed comment by its id (`verify_comment`); gone, or its text
  no longer what the ledger's hash says was written, it is re-created or restored. A
  write of the comment that answers 404 re-creates it too.

Once per human change, with the reason logged: the service's own restore comes back as
its own edit (dropped), and a comment that reads as written is left alone.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from connector.model import Event, EventKind

log = logging.getLogger(__name__)
_EDITED = {"comment_updated"}
_DELETED = {"comment_deleted"}


def notice_managed_comment_change(store: Any, event: Event) -> str | None:
    """When the event is a person's edit or deletion of the managed comment, reset the
    ledger so the next write-back restores it; returns "edited" / "deleted" (else None)."""
    if event.kind is not EventKind.COMMENTED or event.comment is None:
        return None
    if event.native_event not in _EDITED | _DELETED:
        return None
    ledger = store.get_ledger(event.item_key)
    if ledger.comment_id is None or event.comment.id != ledger.comment_id:
        return None  # a comment of the team's own: none of the service's business
    deleted = event.native_event in _DELETED
    # findings_hash too: the plan is unchanged, but the comment it wrote is not there now
    if deleted:
        forgotten = replace(ledger, comment_id=None, comment_hash=None, findings_hash=None)
    else:
        forgotten = replace(ledger, comment_hash=None, findings_hash=None)
    store.save_ledger(event.item_key, forgotten)
    who = event.actor.display_name if event.actor is not None else "someone"
    log.warning(
        "writeback.managed_comment_changed",
        extra={
            "item": event.item_key,
            "comment": ledger.comment_id,
            "reason": f"managed comment {'deleted' if deleted else 'edited by ' + str(who)}: "
            f"{'re-created' if deleted else 'restored'} from the current findings",
        },
    )
    return "deleted" if deleted else "edited"


def _plain(text: str) -> str:
    return " ".join(text.split())


def managed_comment_change(client: Any, item_key: str, native_id: str, comment_id: str,
                           written: str) -> str | None:  # fmt: skip
    """Read the managed comment by id: "deleted" when it is gone, "edited" when its text
    is no longer `written` (the plain text of the body the service last sent, whose
    hash the ledger keeps), else None. Logged with the reason when changed."""
    current = client.get_comment(native_id, comment_id)
    if current is None:
        change = "deleted"
    elif _plain(current.body) != _plain(written):
        change = "edited"
    else:
        return None
    log.warning(
        "writeback.managed_comment_changed",
        extra={
            "item": item_key,
            "comment": comment_id,
            "reason": "managed comment found deleted on reading it: re-created"
            if change == "deleted"
            else "managed comment found edited on reading it: restored",
        },
    )
    return change
