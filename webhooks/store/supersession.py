"""Deliveries that a later waiting delivery of the same item makes moot.

A webhook for an edit shows the whole item (Jira's issue, an Azure DevOps revision). When
a later edit of the same item at a higher revision waits in the store as well, governing
that one writes all the earlier would have written, and more; the earlier, processed
first, would only write a state the later one overwrites at once. In a bulk edit of
thousands of items, or any backlog, most deliveries are such intermediate states.

Intake marks each delivery with what this needs (`DeliveryMarks`, three columns); the
worker asks the store which of the deliveries it is about to process are superseded,
against every delivery still waiting, not only those of its own batch
(`DeliveryStore.superseded_deliveries`). What is never passed over: comments, links,
deletions, restores, partial events, an edit that changed the number of comments (its
managed comment is checked), and anything across a deletion or restore of the item.
What never supersedes: an edit by the service's own account (it may be an echo that the
worker ignores), and a delivery that is finished or dead.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from connector.model import Event, EventKind

# Changed fields that say the item's comments changed (Azure DevOps counts them): such an
# edit makes the worker read the managed comment, so it is never passed over.
COMMENT_COUNT = frozenset({"System.CommentCount"})
# Kinds that no superseding reaches across.
BOUNDARY_KINDS = (EventKind.DELETED.value, EventKind.RESTORED.value)
_WHOLE_EDITS = (EventKind.CREATED, EventKind.UPDATED)


@dataclass(frozen=True, slots=True)
class DeliveryMarks:
    """What intake read of a delivery's event, kept in its row."""

    item_key: str
    event_kind: str
    # the item's revision when the event is an edit showing the whole item, made by
    # someone other than the service, that touched no comment; else None
    item_revision: int | None

    @classmethod
    def of(cls, event: Event, bot_account: str | None) -> DeliveryMarks:
        revision = None
        if (
            event.kind in _WHOLE_EDITS
            and not event.partial
            and event.item is not None
            and not (bot_account and event.actor is not None and event.actor.matches(bot_account))
            and not any(change.field in COMMENT_COUNT for change in event.changes)
        ):
            revision = event.item.revision
        return cls(event.item_key[:255], event.kind.value, revision)


class MarkedRow(NamedTuple):
    """A delivery row as the supersession check reads it."""

    id: int
    item_key: str
    event_kind: str | None
    item_revision: int | None
    waiting: bool  # received, queued or processing


def superseded_ids(candidates: Iterable[int], rows: Iterable[MarkedRow]) -> set[int]:
    """Of `candidates` (row ids, each among `rows`), those that a later waiting whole edit
    of the same item at a higher revision supersedes, with no deletion or restore of the
    item between them. `rows`: the candidates and every later row of their items that
    could supersede one (waiting, with a revision) or stop it (a boundary)."""
    wanted = set(candidates)
    by_item: dict[str, list[MarkedRow]] = {}
    for row in rows:
        by_item.setdefault(row.item_key, []).append(row)
    out: set[int] = set()
    for item_rows in by_item.values():
        newest = None  # the highest revision of a later waiting edit since the last boundary
        for row in sorted(item_rows, key=lambda r: r.id, reverse=True):
            if row.event_kind in BOUNDARY_KINDS:
                newest = None
                continue
            if row.item_revision is None:
                continue
            if row.id in wanted and newest is not None and newest > row.item_revision:
                out.add(row.id)
            if row.waiting and (newest is None or row.item_revision > newest):
                newest = row.item_revision
    return out
