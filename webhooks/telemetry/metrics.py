"""Prometheus metrics. Web and worker processes on one machine share one view of them
through prometheus_client's multiprocess mode when PROMETHEUS_MULTIPROC_DIR is set (`serve`
sets it); otherwise each process reports its own."""

from __future__ import annotations

import os
from pathlib import Path

# In multiprocess mode each metric opens its file in the folder as it is created, below:
# the folder must exist first (`serve` empties it at start; others only create it).
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

EVENTS = Counter(
    "pmo_bridge_events_total",
    "Webhook deliveries by tracker, event type and outcome "
    "(accepted, ignored, duplicate, rejected, failed, processed)",
    ["tracker", "event", "outcome"],
)
PROCESSING_SECONDS = Histogram(
    "pmo_bridge_processing_seconds",
    "Time from delivery accepted to write-back done",
    ["tracker"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
TRACKER_CALLS = Counter(
    "pmo_bridge_tracker_calls_total",
    "Calls to tracker APIs by tracker, method and HTTP status (0 = no answer)",
    ["tracker", "method", "status"],
)
WRITES = Counter(
    "pmo_bridge_writes_total",
    "Write-back operations applied, by tracker and kind",
    ["tracker", "kind"],
)
QUEUE_DEPTH = Gauge(
    "pmo_bridge_queue_depth",
    "Tasks waiting in the queue",
    multiprocess_mode="livemax",
)
DEAD_LETTERS = Counter(
    "pmo_bridge_dead_letters_total", "Events sent to the dead-letter store", ["tracker"]
)


def render_metrics() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST


def record_tracker_call(tracker: str, method: str, status: int | None, seconds: float) -> None:
    TRACKER_CALLS.labels(tracker, method, str(status or 0)).inc()
