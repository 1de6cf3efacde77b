"""The managed comment is the service's: a person who edits or deletes it gets it back.

The ledger remembers the id and content hash of the comment the service wrote, and the
write-back only writes when the wanted comment differs from that hash. A comment someone
else changed would so stay wrong for good. A comment event about the managed comment (Jira
sends `comment_updated` / `comment_deleted` with the comment's id; the service's own edits
are filtered out before) makes the ledger forget what it wrote, so the governing that
follows restores the comment in place, or re-creates it when it was deleted: once per
human change, with the reason logged. Azure DevOps sends no hook for edited or deleted
comments; there a deleted comment is re-created at the next write (the update answers 404).
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
