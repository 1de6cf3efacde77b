"""Portfolio rollups, kept current incrementally.

When an item changes, only its ancestors are recomputed, each from its direct children
and their stored rollups: the cost is (depth x children), never the size of the portfolio.
Requests for the same parent are coalesced for a short window, so a bulk edit of 200
stories gives one recompute, and one write at most, per parent."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from connector.model import WorkItem
from rules.rollup import ChildView, Rollup, RollupSpec, compute_rollup

if TYPE_CHECKING:
    from webhooks.runtime import Runtime

log = logging.getLogger(__name__)


def spec_for(ruleset: Any, item: WorkItem) -> RollupSpec | None:
    for spec in getattr(ruleset, "rollups", ()):
        if spec.applies_to(item):
            return spec
    return None


class Rollups:
    def __init__(self, runtime: Runtime, *, delay: float | None = None) -> None:
        self.runtime = runtime
        self.store = runtime.store
        self.delay = runtime.settings.rollup_delay_seconds if delay is None else delay
        self.task: Any = None  # set by register_tasks

    # -- scheduling -----------------------------------------------------------------------

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
        if current is not None and spec_for(self.runtime.rules.current(), current):
            parents.add(current.key)  # a parent's own fields (due date) feed its rollup
        for parent in parents:
            self.request(parent)

    def request(self, parent_key: str) -> bool:
        """Schedule a recompute of `parent_key` unless one is already waiting."""
        from webhooks.tasks import schedule_once

        return schedule_once(
            self.runtime.huey,
            f"pmo-bridge:rollup-pending:{parent_key}",
            lambda: self.task.schedule((parent_key,), delay=self.delay),
        )

    def run(self, parent_key: str) -> None:
        """The queued task: recompute, write back what the tracker does not show yet,
        then move up one level."""
        self.runtime.huey.delete(f"pmo-bridge:rollup-pending:{parent_key}")
        parent = self.store.get_item(parent_key)
        if parent is None:
            return
        spec = spec_for(self.runtime.rules.current(), parent)
        if spec is None:
            return
        rollup, changed = self.refresh(parent, spec)
        # The ledger says what the tracker shows; a write that failed last time is retried
        # here even though the stored figures did not change since.
        written = self.store.get_ledger(parent.key).rollup_hash == rollup.content_hash()
        if not written:
            from webhooks.queue import item_lock
            from webhooks.writeback import WriteBack

            with item_lock(self.runtime.huey, parent.key):  # ItemLocked: the task re-queues
                WriteBack(self.runtime).govern(parent, rollup=rollup, rollup_spec=spec)
        if (changed or not written) and parent.parent:
            self.request(parent.parent)

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
        self, parent: WorkItem, spec: RollupSpec, inputs: Any, fresh: dict[str, Rollup] | None
    ) -> tuple[Rollup, Rollup | None]:
        children, stored, noncompliant, old = inputs
        if fresh:
            stored.update({c.key: fresh[c.key] for c in children if c.key in fresh})
        views = [
            ChildView(child, stored.get(child.key), child.key in noncompliant) for child in children
        ]
        return compute_rollup(spec, parent, views, self.runtime.clock()), old

    def recompute_chain(self, key: str) -> list[Rollup]:
        """Recompute every ancestor of `key`, nearest first, without the queue (audits,
        sweeps and benchmarks), and store the changed ones in one transaction. Returns the
        rollups that changed."""
        ruleset = self.runtime.rules.current()
        fresh: dict[str, Rollup] = {}
        changed = []
        for item, inputs in self.store.chain_inputs(
            key, lambda i: spec_for(ruleset, i) is not None
        ):
            spec = spec_for(ruleset, item)
            rollup, old = self._from_inputs(item, spec, inputs, fresh)
            fresh[item.key] = rollup
            if old is None or old.content_hash() != rollup.content_hash():
                changed.append(rollup)
        if changed:
            self.store.save_rollups(changed)
        return changed
