"""The queue over a SQLite file and over the real Redis: tasks cross processes, queued
tasks survive a SIGKILLed consumer, the per-item lock, depth and readiness."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import huey
import pytest

from tests.support.helpers import ROOT
from tests.support.queue_app import build
from webhooks.queue.backend import make_huey, ping, queue_depth
from webhooks.queue.locks import ItemLocked, is_item_locked, item_lock


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> SimpleNamespace:
    redis_url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    out = tmp_path / "out"
    out.mkdir()
    return SimpleNamespace(
        name=request.param, queue_path=str(tmp_path / "queue.db"), redis_url=redis_url, out=out
    )


@pytest.fixture
def consumers(backend: SimpleNamespace) -> Iterator[Callable[..., subprocess.Popen]]:
    """Start consumer processes over the backend; all are stopped after the test."""
    started: list[subprocess.Popen] = []

    def start(workers: int = 1) -> subprocess.Popen:
        code = "from tests.support.queue_app import main; main()"
        args = [backend.queue_path, backend.redis_url or "", str(workers)]
        proc = subprocess.Popen(
            [sys.executable, "-c", code, *args],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


# -- construction, depth, readiness ---------------------------------------------------


def test_make_huey_sqlite_by_default(tmp_path: Path) -> None:
    queue = make_huey(SimpleNamespace(queue_path=str(tmp_path / "q.db"), redis_url=None))
    assert isinstance(queue, huey.SqliteHuey)
    assert queue.name == "pmo-bridge" and queue.immediate is False
    assert queue.storage.filename == str(tmp_path / "q.db")
    assert ping(queue) is True


@pytest.mark.redis
def test_make_huey_redis_when_configured(redis_url: str) -> None:
    queue = make_huey(SimpleNamespace(queue_path="unused.db", redis_url=redis_url))
    assert isinstance(queue, huey.RedisHuey)
    assert queue.name == "pmo-bridge" and queue.immediate is False
    assert ping(queue) is True


def test_ping_is_false_when_redis_is_unreachable() -> None:
    queue = make_huey(SimpleNamespace(queue_path="unused.db", redis_url="redis://127.0.0.1:1/0"))
    assert ping(queue) is False


def test_queue_depth_counts_waiting_tasks(backend: SimpleNamespace) -> None:
    queue, tasks = build(backend.queue_path, backend.redis_url)
    assert queue_depth(queue) == 0
    for n in range(5):
        tasks.touch(str(backend.out), f"t{n}")
    assert queue_depth(queue) == 5


# -- across processes -----------------------------------------------------------------


def test_task_enqueued_here_runs_in_a_consumer_process(backend, consumers) -> None:
    queue, tasks = build(backend.queue_path, backend.redis_url)
    names = [f"job{n}" for n in range(6)]
    for name in names:
        tasks.touch(str(backend.out), name)
    assert queue_depth(queue) == 6

    consumer = consumers(workers=2)
    assert wait_for(lambda: all((backend.out / n).exists() for n in names))
    pids = {int((backend.out / n).read_text()) for n in names}
    assert pids == {consumer.pid}
    assert queue_depth(queue) == 0


def test_queued_tasks_survive_a_sigkilled_consumer(backend, consumers) -> None:
    queue, tasks = build(backend.queue_path, backend.redis_url)
    out = str(backend.out)
    tasks.block(out, "in-flight")
    for name in ("a", "b", "c"):
        tasks.touch(out, name)

    first = consumers(workers=1)
    assert wait_for(lambda: (backend.out / "in-flight.started").exists())
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=10)
    assert not any((backend.out / n).exists() for n in ("a", "b", "c"))
    assert queue_depth(queue) == 3

    (backend.out / "release").touch()
    second = consumers(workers=1)
    assert wait_for(lambda: all((backend.out / n).exists() for n in ("a", "b", "c")))
    assert {int((backend.out / n).read_text()) for n in ("a", "b", "c")} == {second.pid}
    # The task the killed consumer had taken is gone from the queue (Huey dequeues
    # before running): the store's pending_deliveries() sweep re-enqueues such work.
    assert not (backend.out / "in-flight").exists()
    assert queue_depth(queue) == 0


# -- the per-item lock ----------------------------------------------------------------


def test_item_lock_excludes_a_second_holder(backend: SimpleNamespace) -> None:
    queue, _ = build(backend.queue_path, backend.redis_url)
    with item_lock(queue, "jira:PAY-1"):
        assert is_item_locked(queue, "jira:PAY-1")
        with pytest.raises(ItemLocked) as locked:
            with item_lock(queue, "jira:PAY-1"):
                pytest.fail("entered a held lock")
        assert locked.value.key == "jira:PAY-1"
        assert isinstance(locked.value, huey.exceptions.TaskLockedException)
        with item_lock(queue, "jira:PAY-2"):  # other items are independent
            pass
    assert not is_item_locked(queue, "jira:PAY-1")


def test_item_lock_releases_on_failure_and_passes_it_on(backend: SimpleNamespace) -> None:
    queue, _ = build(backend.queue_path, backend.redis_url)
    with pytest.raises(RuntimeError, match="tracker down"):
        with item_lock(queue, "jira:PAY-1"):
            raise RuntimeError("tracker down")
    with item_lock(queue, "jira:PAY-1"):
        pass


def test_item_lock_one_winner_among_threads(backend: SimpleNamespace) -> None:
    queue, _ = build(backend.queue_path, backend.redis_url)
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def contend() -> None:
        barrier.wait()
        try:
            with item_lock(queue, "jira:PAY-1"):
                outcomes.append("won")
                time.sleep(0.3)
        except ItemLocked:
            outcomes.append("locked")

    threads = [threading.Thread(target=contend) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["locked"] * 7 + ["won"]


def test_item_lock_expires_so_a_dead_holder_cannot_block_forever(backend: SimpleNamespace) -> None:
    queue, _ = build(backend.queue_path, backend.redis_url)
    abandoned = item_lock(queue, "jira:PAY-1", ttl=0.3)
    abandoned.__enter__()  # a holder that never exits, as if killed
    with pytest.raises(ItemLocked):
        with item_lock(queue, "jira:PAY-1"):
            pass
    time.sleep(0.4)
    with item_lock(queue, "jira:PAY-1"):
        # the late holder's release must not remove the new holder's lock
        abandoned.__exit__(None, None, None)
        assert is_item_locked(queue, "jira:PAY-1")


def test_lock_held_by_a_killed_consumer_process_expires(backend, consumers) -> None:
    queue, tasks = build(backend.queue_path, backend.redis_url)
    tasks.hold_item(str(backend.out), "jira:PAY-1", 1.0)
    holder = consumers(workers=1)
    assert wait_for(lambda: (backend.out / "holding-jira:PAY-1").exists())
    with pytest.raises(ItemLocked):
        with item_lock(queue, "jira:PAY-1"):
            pass
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(timeout=10)
    assert wait_for(lambda: not is_item_locked(queue, "jira:PAY-1"), timeout=5)
    with item_lock(queue, "jira:PAY-1"):
        pass


def test_locked_item_is_retried_later_not_failed(backend, consumers) -> None:
    queue, tasks = build(backend.queue_path, backend.redis_url)
    consumers(workers=2)
    with item_lock(queue, "jira:PAY-1"):
        result = tasks.process_item(str(backend.out), "jira:PAY-1")
        assert wait_for(lambda: (backend.out / "locked-jira:PAY-1").exists())
        assert not (backend.out / "processed-jira:PAY-1").exists()
    assert wait_for(lambda: (backend.out / "processed-jira:PAY-1").exists())
    # locked twice or ten times, the task ends with its own result, not an error
    assert result.get(blocking=True, timeout=10) == "processed"
