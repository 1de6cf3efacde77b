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

A team comment on a known item that no rule can see (`Processor.handle`'s quick path)
is not governed: the comment is read by id all the same and compared with the hash of
the plain text the service last wrote (`comment_text_hash` in the ledger), with no
fetch of the item and no evaluation. Changed or gone, the ledger forgets the comment
as above and the item is governed, which restores it; a ledger written before that hash
was kept has none, and the item is governed with the comment read as before.

Once per human change, with the reason logged: the service's own restore comes back as
its own edit (dropped), and a comment that reads as written is left alone.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import replace
from typing import Any

from connector.errors import PermanentTrackerError
from connector.model import Event, EventKind
from webhooks.store import Ledger

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
    store.save_ledger(event.item_key, forgotten_comment(ledger, deleted=deleted))
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


def forgotten_comment(ledger: Ledger, *, deleted: bool) -> Ledger:
    """The ledger with the managed comment forgotten, so the next write-back writes it
    again: in place when edited, anew when deleted. findings_hash too: the plan is
    unchanged, but the comment it wrote is not there now."""
    if deleted:
        return replace(ledger, comment_id=None, comment_hash=None, comment_text_hash=None,
                       findings_hash=None)  # fmt: skip
    return replace(ledger, comment_hash=None, comment_text_hash=None, findings_hash=None)


def text_hash(text: str) -> str:
    """The hash of a comment's plain text, whitespace runs as one space: what the service
    wrote (`body_text` of the body it sent) and what the tracker reads back compare
    equal unless a person changed the words."""
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()[:32]


def managed_comment_change(client: Any, item_key: str, native_id: str, comment_id: str,
                           written: str | None = None, *,
                           written_hash: str | None = None) -> str | None:  # fmt: skip
    """Read the managed comment by id: "deleted" when it is gone, "edited" when its text
    is no longer `written` (the plain text of the body the service last sent) or, given
    instead, `written_hash` (its `text_hash`, as the ledger keeps it), else None. Logged
    with the reason when changed."""
    expected = written_hash if written_hash is not None else text_hash(written or "")
    current = client.get_comment(native_id, comment_id)
    if current is None:
        change = "deleted"
    elif text_hash(current.body) != expected:
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


def comment_as_written(store: Any, client: Any, item_key: str, native_id: str,
                       ledger: Ledger) -> bool | None:  # fmt: skip
    """The quick check of a person's comment event on an item that is not governed again:
    True when the managed comment reads as the service last wrote it (one read by id),
    or there is none to read (no id known, no tracker client) or the tracker refuses the
    read for good (nothing could be restored either). False when it is gone or edited:
    the ledger forgets it (saved), so governing the item restores it, once. None when
    the ledger keeps no hash of the text written (written before it did): the caller
    governs the item with the comment read there."""
    if ledger.comment_id is None or client is None:
        return True
    if ledger.comment_text_hash is None:
        return None
    try:
        change = managed_comment_change(
            client, item_key, native_id, ledger.comment_id, written_hash=ledger.comment_text_hash
        )
    except PermanentTrackerError as exc:
        log.warning("writeback.comment_unread", extra={"item": item_key, "error": str(exc)})
        return True
    if change is None:
        return True
    store.save_ledger(item_key, forgotten_comment(ledger, deleted=change == "deleted"))
    return False
