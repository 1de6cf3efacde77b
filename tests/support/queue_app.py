"""A small Huey app for tests/test_queue.py: the test process enqueues with `build()`, a
child process runs the consumer with `python -c "from tests.support.queue_app import main; main()"`.

Tasks report by writing files into a folder given as an argument, so the test can see
which process ran what.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from huey.exceptions import RetryTask

from webhooks.queue.backend import make_huey
from webhooks.queue.locks import ItemLocked, item_lock


def build(queue_path: str, redis_url: str | None) -> tuple[Any, SimpleNamespace]:
    huey = make_huey(SimpleNamespace(queue_path=queue_path, redis_url=redis_url or None))

    @huey.task(name="touch")
    def touch(out: str, name: str) -> None:
        Path(out, name).write_text(str(os.getpid()))

    @huey.task(name="block")
    def block(out: str, name: str) -> None:
        """Says it started, then waits for a `release` file."""
        Path(out, f"{name}.started").write_text(str(os.getpid()))
        while not Path(out, "release").exists():
            time.sleep(0.05)
        Path(out, name).write_text(str(os.getpid()))

    @huey.task(name="hold_item")
    def hold_item(out: str, key: str, ttl: float) -> None:
        """Holds an item's lock until a `release` file appears."""
        with item_lock(huey, key, ttl=ttl):
            Path(out, f"holding-{key}").write_text(str(os.getpid()))
            while not Path(out, "release").exists():
                time.sleep(0.05)

    @huey.task(name="process_item")
    def process_item(out: str, key: str) -> str:
        """What the worker does: locked means "try again shortly", not a failure."""
        try:
            with item_lock(huey, key):
                Path(out, f"processed-{key}").write_text(str(os.getpid()))
                return "processed"
        except ItemLocked:
            with Path(out, f"locked-{key}").open("a") as log:
                log.write("locked\n")
            raise RetryTask(delay=0.2) from None

    return huey, SimpleNamespace(
        touch=touch, block=block, hold_item=hold_item, process_item=process_item
    )


def main() -> None:
    queue_path, redis_url, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
    huey, _ = build(queue_path, redis_url)
    # Poll often: the default back-off reaches 10 s on an idle SQLite queue.
    consumer = huey.create_consumer(
        workers=workers,
        periodic=False,
        initial_delay=0.05,
        max_delay=0.2,
        check_worker_health=False,
    )
    consumer.run()
