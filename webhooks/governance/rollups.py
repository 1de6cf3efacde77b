"""Portfolio rollups, kept current incrementally.

When an item changes, only its ancestors are recomputed, each from its direct children
and their stored rollups: the cost is (depth x children), never the size of the portfolio.
Requests for the same parent are coalesced by the queue for a short window
(`FollowUps.recompute_rollup`), so a bulk edit of 200 stories gives one recompute, and one
write at most, per parent."""

from __future__ import annotations

import logging

from connector.model import WorkItem
from rules.rollup import ChildView, Rollup, RollupSpec, compute_rollup, spec_for
from webhooks.governance.followups import FollowUps
from webhooks.governance.writeback import WriteBack
from webhooks.queue.locks import item_lock
from webhooks.resources import Resources
from webhooks.store.rollups import RollupInputs

log = logging.getLogger(__name__)


class Rollups:
    def __init__(self, resources: Resources, follow_ups: FollowUps) -> None:
        self.resources = resources
        self.store = resources.store
        self.follow_ups = follow_ups

    # -- what needs recomputing -----------------------------------------------------------

    def on_item_changed(
        self,
        key: str,
        *,
        deleted: bool = False,
        previous: WorkItem | None = None,
        current: WorkItem | None = None,
    ) -> None:
        """A child changed: its parent (and, after a re-parenting, its old parent) need a
        fresh rollup."""
        parents = {p.parent for p in (previous, current) if p is not None and p.parent}
        if current is not None and spec_for(self.resources.rules.current().rollups, current):
            parents.add(current.key)  # a parent's own fields (due date) feed its rollup
        for parent in parents:
            self.follow_ups.recompute_rollup(parent)

    def run(self, parent_key: str) -> None:
        """The queued recompute: recompute, write back what the tracker does not show
        yet, then move up one level."""
        parent = self.store.get_item(parent_key)
        if parent is None:
            return
        spec = spec_for(self.resources.rules.current().rollups, parent)
        if spec is None:
            return
        rollup, changed = self.refresh(parent, spec)
        # The ledger says what the tracker shows; a write that failed last time is retried
        # here even though the stored figures did not change since.
        written = self.store.get_ledger(parent.key).rollup_hash == rollup.content_hash()
        if not written:
            with item_lock(self.resources.huey, parent.key):  # ItemLocked: the task re-queues
                WriteBack(self.resources).govern(parent, rollup=rollup, rollup_spec=spec)
        if (changed or not written) and parent.parent:
            self.follow_ups.recompute_rollup(parent.parent)

    # -- computation ----------------------------------------------------------------------

    def refresh(self, parent: WorkItem, spec: RollupSpec) -> tuple[Rollup, bool]:
        """The parent's rollup from its direct children, stored; and whether it changed."""
        rollup, old = self._compute(parent, spec)
        if old is not None and old.content_hash() == rollup.content_hash():
            return old, False
        self.store.save_rollup(parent.key, rollup)
        return rollup, True

    def compute(self, parent: WorkItem, spec: RollupSpec) -> Rollup:
        return self._compute(parent, spec)[0]

    def _compute(
        self, parent: WorkItem, spec: RollupSpec, fresh: dict[str, Rollup] | None = None
    ) -> tuple[Rollup, Rollup | None]:
        """(the fresh rollup, the stored one), from one read of the store; `fresh` holds
        child rollups computed but not stored yet, which win over the stored ones."""
        return self._from_inputs(parent, spec, self.store.rollup_inputs(parent.key), fresh)

    def _from_inputs(
        self,
        parent: WorkItem,
        spec: RollupSpec,
        inputs: RollupInputs,
        fresh: dict[str, Rollup] | None,
    ) -> tuple[Rollup, Rollup | None]:
        children, stored, noncompliant, old = inputs
        if fresh:
            stored.update({c.key: fresh[c.key] for c in children if c.key in fresh})
        views = [
            ChildView(child, stored.get(child.key), child.key in noncompliant) for child in children
        ]
        return compute_rollup(spec, parent, views, self.resources.clock()), old

    def recompute_chain(self, key: str) -> list[Rollup]:
        """Recompute every ancestor of `key`, nearest first, without the queue (audits,
        sweeps and benchmarks), and store the changed ones in one transaction. Returns the
        rollups that changed."""
        ruleset = self.resources.rules.current()
        fresh: dict[str, Rollup] = {}
        changed = []
        for item, inputs in self.store.chain_inputs(
            key, lambda i: spec_for(ruleset.rollups, i) is not None
        ):
            spec = spec_for(ruleset.rollups, item)
            assert spec is not None  # chain_inputs yields rollup parents only
            rollup, old = self._from_inputs(item, spec, inputs, fresh)
            fresh[item.key] = rollup
            if old is None or old.content_hash() != rollup.content_hash():
                changed.append(rollup)
        if changed:
            self.store.save_rollups(changed)
        return changed
