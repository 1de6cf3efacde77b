"""What governance asks of the queue: work to do soon, after the current item. The worker's
tasks (`webhooks.worker.tasks.Tasks`) provide it; governance never imports the worker."""

from __future__ import annotations

from typing import Protocol


class FollowUps(Protocol):
    def regovern(self, key: str, *, delay: float = 0.5) -> bool:
        """Re-check stored item `key` soon (its portfolio group changed under it);
        requests within `delay` are coalesced. False when one is already waiting."""
        ...

    def recompute_rollup(self, parent_key: str) -> bool:
        """Recompute the rollup of `parent_key` soon, coalescing requests for a short
        window. False when one is already waiting."""
        ...
