"""Process one delivery: event -> current item -> store -> rules -> write-back plan ->
the difference applied, then the follow-ups (rollups of its ancestors, re-checks of its
portfolio groups) asked of the queue. Every step is idempotent, so a retry or a replay
after a crash writes nothing that was already written."""

from __future__ import annotations

import json
import logging
import re
import threading
from typing import Any, NamedTuple

from connector import trackers
from connector.errors import ItemNotFound
from connector.model import Event, EventKind, Ignored, WorkItem
from rules import Context
from rules.rollup import ChildFacts
from webhooks.governance.comment_guard import comment_as_written, notice_managed_comment_change
from webhooks.governance.followups import FollowUps
from webhooks.governance.hierarchy import with_portfolio_parent
from webhooks.governance.ownedits import is_own_edit
from webhooks.governance.people import record_allocation
from webhooks.governance.portfolio_groups import members_to_recheck
from webhooks.governance.rollups import Rollups
from webhooks.governance.writeback import WriteBack
from webhooks.queue.locks import item_lock
from webhooks.resources import Resources
from webhooks.store import DeliveryRecord, Ledger
from webhooks.store.jsoncodec import decode_json
from webhooks.store.supersession import COMMENT_COUNT
from webhooks.telemetry.metrics import EVENTS, PROCESSING_SECONDS

log = logging.getLogger(__name__)
UNCHANGED = "unchanged"  # the plan is as last written: item stored, delivery done
# What a new comment changes on the item itself: Jira dates the issue's `updated` (and a
# revision count would follow it). A rule or rollup that reads none of these cannot
# judge the item differently after a comment that is not the managed one.
_COMMENT_TOUCHES = re.compile(r"\b(updated|revision|age|status_age|comments?)\b")


def comments_change_nothing(ruleset: Any) -> bool:
    """True when no rule of `ruleset` names a field a comment changes (anywhere in its
    definition: checks, conditions, messages) and it has no rollups (their facts
    carry `updated`)."""
    if getattr(ruleset, "rollups", ()):
        return False
    text = json.dumps([rule.raw for rule in ruleset.rules], default=str)
    return _COMMENT_TOUCHES.search(text) is None


class Known(NamedTuple):
    """What the worker read when it started a delivery."""

    delivery: int
    item: WorkItem | None
    ledger: Ledger
    parent: WorkItem | None = None  # the stored parent the event's item names, when read


def keep_status_date(item: WorkItem, stored: WorkItem | None) -> WorkItem:
    """A status unchanged since the stored item keeps the stored (later) status date:
    Jira dates only category changes in the issue itself, the event dated the move."""
    if (
        stored is not None
        and stored.status == item.status
        and stored.status_changed is not None
        and (item.status_changed is None or stored.status_changed > item.status_changed)
    ):
        return item.with_changes(status_changed=stored.status_changed)
    return item


class Processor:
    def __init__(self, resources: Resources, follow_ups: FollowUps) -> None:
        self.resources = resources
        self.store = resources.store
        self.follow_ups = follow_ups
        self.rollups = Rollups(resources, follow_ups)
        self._local = threading.local()  # the writes refused while handling this delivery
        self._comment_blind: tuple[Any, bool] | None = None  # (rule set, answer)

    def parse(self, record: DeliveryRecord) -> Event | Ignored:
        """The stored delivery's event (a payload error raises `PayloadError`)."""
        tracker = self.resources.settings.tracker(record.tracker)
        return trackers.adapter(tracker).parse_event(decode_json(record.payload), tracker)

    def own_edit(self, event: Event) -> bool:
        settings = self.resources.settings
        tracker = settings.tracker(event.tracker)
        return is_own_edit(event, tracker, settings.label_prefix, self._written_fields())

    def process(self, record: DeliveryRecord, event: Event | Ignored | None = None) -> str:
        """Handle one delivery; `event`: its payload already parsed (`parse`)."""
        settings = self.resources.settings
        tracker = settings.tracker(record.tracker)
        if event is None:
            event = self.parse(record)
        if isinstance(event, Ignored):
            self.store.mark_delivery(record.id, "ignored", error=event.reason)
            return "ignored"
        if is_own_edit(event, tracker, settings.label_prefix, self._written_fields()):
            self.store.mark_delivery(record.id, "ignored", error="the service's own edit")
            EVENTS.labels(tracker.name, event.native_event, "own_edit").inc()
            log.info("worker.own_edit_ignored", extra={"item": event.item_key})
            return "own-edit"

        self._local.refused = []
        self._local.delivery, self._local.begun = record.id, False
        try:
            with item_lock(self.resources.huey, event.item_key):  # ItemLocked: re-queued
                # One read; the delivery's status moves with the first write
                # ("processing", an attempt) or, when it changes nothing, its last one.
                shown = event.item if not event.partial else None
                parent_key = shown.parent if shown is not None else None
                stored, ledger, parent = self.store.read_for_delivery(event.item_key, parent_key)
                outcome = self.handle(event, known=Known(record.id, stored, ledger, parent))
        finally:
            begun, self._local.delivery = self._local.begun, None
        if outcome != UNCHANGED:  # that one was marked done with the item's upsert
            # Done, even when the tracker refused a part for good: the other parts are
            # written, and retrying cannot change a refusal. The delivery says which and why.
            refused = "; ".join(f"{part} refused: {why}" for part, why in self._local.refused)
            if begun:
                self.store.mark_delivery(record.id, "done", error=refused[:500] or None)
            else:  # stale, gone: its one write
                self.store.finish_delivery(record.id, "done", error=refused[:500] or None)
        EVENTS.labels(tracker.name, event.native_event, "processed").inc()
        received = getattr(record, "received_at", None)
        if received is not None:
            PROCESSING_SECONDS.labels(tracker.name).observe(
                max(0.0, (self.resources.clock() - received).total_seconds())
            )
        log.info(
            "worker.event_processed",
            extra={"item": event.item_key, "native_event": event.native_event, "outcome": outcome},
        )
        return outcome

    def _written_fields(self) -> set[str]:
        """Tracker fields the service itself writes (rollup write-back fields)."""
        ruleset = self.resources.rules.current()
        return {
            field
            for spec in getattr(ruleset, "rollups", ())
            for field in spec.write_back.fields.values()
        }

    def _begin(self) -> None:
        """Mark the delivery being processed "processing" (an attempt), once, before its
        first write or tracker call."""
        local = self._local
        if getattr(local, "delivery", None) is not None and not local.begun:
            self.store.mark_delivery(local.delivery, "processing")
            local.begun = True

    def handle(self, event: Event, *, known: Known | None = None) -> str:
        """Bring the store up to date with the event, then govern the item. `known`: the
        stored item and its ledger, when the caller read them; with them, an item whose
        plan is what the last finished write-back left is stored and its delivery marked
        done in one commit, with nothing more read or written."""
        if event.kind is EventKind.RESTORED:
            known = None  # read again after the restore
        if event.kind in (EventKind.DELETED, EventKind.RESTORED):
            self._begin()
        if event.kind is EventKind.DELETED:
            previous = self.store.get_item(event.item_key) if known is None else known.item
            self.store.mark_deleted(event.item_key, event.revision)
            record_allocation(self.resources, event.item_key, None, previous=previous)
            self.after_change(event.item_key, deleted=True, previous=previous)
            if previous is not None:
                self.recheck_groups([previous])
            return "deleted"

        noticed = notice_managed_comment_change(self.store, event)
        if noticed:  # a person's edit of the managed comment: restored below
            self._begin()
            known = None  # the ledger read with the delivery is no longer what is stored
        # Any other person's comment event (Azure DevOps names no comment in its hook), or
        # a person's update that changed the number of comments: the write-back reads the
        # managed comment by id, restored if it was changed.
        verify = noticed is None and (
            event.kind is EventKind.COMMENTED
            or any(change.field in COMMENT_COUNT for change in event.changes)
        )
        # A team comment (not the managed one, see above) on a known item, when nothing a
        # rule reads changed: the item is not fetched, stored or governed again.
        quiet = (
            event.kind is EventKind.COMMENTED
            and event.partial
            and known is not None
            and known.item is not None
            and self._comments_change_nothing()
        )
        whole = not event.partial and event.item is not None
        if verify and known is not None and known.item is not None and (quiet or whole):
            # The managed comment read by id (`comment_guard`) before anything else. As
            # written: a quiet comment is done, an item shown whole is judged as any edit
            # (settled or governed). Changed or gone (False): the ledger forgot it and
            # governing restores it without reading it again; None: no hash of its text
            # kept, governing reads it.
            checked = self._comment_as_written(known)
            if checked:
                verify = False
            else:
                verify, known, quiet = checked is None, None, False
        if quiet:
            return "comment"
        if verify:
            known = None  # not settled: the comment is read whatever the plan
        item = event.item
        if event.partial or item is None:
            self._begin()
            item = self.fetch(event)
            if item is None:
                return "gone"
        item = with_portfolio_parent(item, self.resources.settings)
        if event.kind is EventKind.RESTORED:
            self.store.restore(item.key)

        if known is None or item.key != event.item_key:
            stored = self.store.get_item(item.key)
        else:
            stored = known.item
        if stored is not None and stored.revision > item.revision:
            log.info(
                "worker.stale_event",
                extra={"item": item.key, "event_rev": item.revision, "stored_rev": stored.revision},
            )
            return "stale"
        item = keep_status_date(item, stored)
        writer = WriteBack(self.resources)
        parent = known.parent if known is not None else None
        read = {parent.key: parent} if parent is not None and parent.key == item.parent else None
        if (
            known is not None
            and stored is known.item
            and writer.settled(item, known.ledger, known=read)
        ):
            # shares first: the upsert marks the delivery done
            record_allocation(self.resources, item.key, item, previous=stored)
            begun = getattr(self._local, "begun", True)
            self.store.upsert_item(item, done_delivery=known.delivery, attempt=not begun)
            if stored is None or ChildFacts.of(stored) != ChildFacts.of(item):
                self.after_change(item.key, previous=stored, current=item)
            return UNCHANGED
        self._begin()
        self.store.upsert_item(item)
        record_allocation(self.resources, item.key, item, previous=stored)
        return self.govern(item, previous=stored, writer=writer, verify_comment=verify)

    def _comment_as_written(self, known: Known) -> bool | None:
        """The managed comment of the known item read by id and compared with what the
        service last wrote (`comment_as_written`), before nothing else is read."""
        item = known.item
        assert item is not None
        if known.ledger.comment_id is None:
            return True  # no managed comment whose id is known: nothing to read
        self._begin()
        client = self.resources.client(item.tracker)
        return comment_as_written(self.store, client, item.key, item.native_id, known.ledger)

    def _comments_change_nothing(self) -> bool:
        ruleset = self.resources.rules.current()
        cached = self._comment_blind
        if cached is None or cached[0] is not ruleset:
            cached = self._comment_blind = (ruleset, comments_change_nothing(ruleset))
        return cached[1]

    def fetch(self, event: Event) -> WorkItem | None:
        client = self.resources.client(event.tracker)
        if client is None:
            log.warning("worker.partial_event_without_client", extra={"item": event.item_key})
            return None
        native_id = event.item_key.split(":", 1)[1]
        try:
            return client.get_item(native_id)
        except ItemNotFound:
            self.store.mark_deleted(event.item_key, None)
            return None

    def govern(
        self,
        item: WorkItem,
        previous: WorkItem | None = None,
        writer: WriteBack | None = None,
        *,
        verify_comment: bool = False,
    ) -> str:
        """Evaluate the rules on the stored item and write back what changed. `writer`: the
        write-back that already evaluated `item` (its findings are reused); `verify_comment`:
        read the managed comment and restore it if a person changed it."""
        writer = writer or WriteBack(self.resources)
        outcome = writer.govern(item, verify_comment=verify_comment)
        refused = getattr(self._local, "refused", None)
        if refused is not None:
            refused.extend(writer.refused)
        self.after_change(item.key, previous=previous, current=item)
        self.recheck_groups([i for i in (previous, item) if i is not None], skip=item.key)
        return outcome

    def recheck_groups(self, items: list[WorkItem], *, skip: str | None = None) -> None:
        """Portfolio rules: members of the item's groups (old and new) re-checked."""
        ruleset = self.resources.rules.current()
        context = Context(now=self.resources.clock())
        for key in members_to_recheck(self.resources, ruleset, items, context) - {skip}:
            self.follow_ups.regovern(key)

    def after_change(
        self,
        key: str,
        *,
        deleted: bool = False,
        previous: WorkItem | None = None,
        current: WorkItem | None = None,
    ) -> None:
        """Hook for portfolio rollups: ancestors of a changed item are recomputed."""
        self.rollups.on_item_changed(key, deleted=deleted, previous=previous, current=current)
