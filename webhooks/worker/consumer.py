"""Huey's consumer for a worker process, with the outbox relay running beside it."""

from __future__ import annotations

from webhooks.worker.relay import Relay, RelayingConsumer
from webhooks.worker.runtime import Runtime

# The current task's time to finish on SIGTERM: inside `serve`'s grace period (10 s).
SHUTDOWN_SECONDS = 8


def build_consumer(runtime: Runtime, threads: int) -> RelayingConsumer:
    """Huey's consumer for `threads` worker threads, with the outbox relay beside them."""
    relay = Relay(runtime.store, runtime.tasks, interval=runtime.settings.relay_interval_seconds)
    return RelayingConsumer(
        runtime.huey,
        relay,
        workers=threads,
        worker_type="thread",
        periodic=True,
        initial_delay=0.05,
        max_delay=0.5,
        check_worker_health=True,
        graceful_signal="TERM",  # SIGTERM lets the current task finish
        shutdown_timeout=SHUTDOWN_SECONDS,
    )
