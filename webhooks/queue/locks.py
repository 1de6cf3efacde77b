"""Per-item locks across every worker of a queue: one item is processed by one worker at a
time, and a lock left by a killed worker expires or is freed by its host's next worker."""

from __future__ import annotations

import itertools
import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import huey
from huey.exceptions import TaskLockedException
from huey.storage import RedisStorage, SqliteStorage

from webhooks.queue.backend import DEFAULT_LOCK_TTL

_LOCK_TABLE = (
    "create table if not exists pmo_item_lock ("
    "name text not null primary key, token text not null, expires_at real not null)"
)
# Delete only our own lock: after a TTL expiry someone else may hold the name.
_REDIS_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class ItemLocked(TaskLockedException):
    """Another worker is processing this item: re-enqueue later, this is not a failure.

    A `TaskLockedException`, so Huey logs it as "locked" rather than as an error."""

    def __init__(self, key: str) -> None:
        super().__init__(f"item {key} is locked by another worker")
        self.key = key


@contextmanager
def item_lock(queue: huey.Huey, key: str, *, ttl: float | None = None) -> Iterator[None]:
    """Hold the per-item lock while processing `key`, across all workers of `queue`.

    Raises `ItemLocked` at once when another worker holds it (the caller re-enqueues the
    task, e.g. `raise huey.exceptions.RetryTask(delay=...)`); any other exception from
    the body passes through unchanged, lock released. The lock expires after `ttl`
    seconds, so a worker killed with SIGKILL cannot block an item for ever (Huey's own
    `lock_task` has no expiry on SQLite). Other storages (tests' MemoryHuey) fall back
    to `lock_task` without expiry. `ttl` defaults to the queue's `item_lock_ttl`.
    """
    if ttl is None:
        ttl = float(getattr(queue, "item_lock_ttl", DEFAULT_LOCK_TTL))
    name = f"{queue.name}.item-lock.{key}"
    token = _holder_token()
    storage = queue.storage
    if isinstance(storage, RedisStorage):
        acquired = bool(storage.conn.set(name, token, nx=True, px=max(1, int(ttl * 1000))))
        release: Any = lambda: storage.conn.eval(_REDIS_RELEASE, 1, name, token)  # noqa: E731
    elif isinstance(storage, SqliteStorage):
        acquired = _sqlite_acquire(storage, name, token, ttl)
        release = lambda: storage.sql(  # noqa: E731 (one statement: atomic on its own)
            "delete from pmo_item_lock where name = ? and token = ?", (name, token)
        )
    else:
        task_lock = queue.lock_task(f"item-lock.{key}")
        try:
            task_lock.acquire()
            acquired = True
        except TaskLockedException:
            acquired = False
        release = task_lock.release
    if not acquired:
        raise ItemLocked(key)
    try:
        yield
    finally:
        release()


_holder: tuple[int, str] | None = None  # (pid, "host:pid:<random>:") of this process
_taken = itertools.count(1)


def _holder_token() -> str:
    """Names the lock's holder (host and process), so a restarted worker can free the
    locks a killed process on its own host left behind; a count makes it unique."""
    global _holder
    if _holder is None or _holder[0] != os.getpid():  # a forked child names itself anew
        _holder = (os.getpid(), f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex}:")
    return f"{_holder[1]}{next(_taken)}"


def _dead_holder(token: str) -> bool:
    host, _, rest = token.partition(":")
    pid, _, _ = rest.partition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False  # another machine's worker: only its expiry frees it
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def release_dead_locks(queue: huey.Huey) -> int:
    """Free item locks held by processes of this host that no longer run (a worker killed
    with SIGKILL). Returns how many were freed."""
    storage = queue.storage
    prefix = f"{queue.name}.item-lock."
    freed = 0
    if isinstance(storage, RedisStorage):
        for name in storage.conn.scan_iter(match=f"{prefix}*"):
            token = storage.conn.get(name)
            if token is not None and _dead_holder(token.decode()):
                freed += int(storage.conn.eval(_REDIS_RELEASE, 1, name, token))
    elif isinstance(storage, SqliteStorage):
        storage.sql(_LOCK_TABLE, commit=True)
        rows = storage.sql("select name, token from pmo_item_lock", results=True)
        for name, token in rows:
            if _dead_holder(token):
                storage.sql(
                    "delete from pmo_item_lock where name = ? and token = ?",
                    (name, token),
                    commit=True,
                )
                freed += 1
    return freed


# Taken when free or expired, in one statement: 1 row changed, or none when held.
_SQLITE_TAKE = (
    "insert into pmo_item_lock (name, token, expires_at) values (?, ?, ?) "
    "on conflict (name) do update set token = excluded.token, expires_at = excluded.expires_at "
    "where pmo_item_lock.expires_at < ?"
)


def _sqlite_acquire(storage: SqliteStorage, name: str, token: str, ttl: float) -> bool:
    now = time.time()
    if not getattr(storage, "pmo_item_lock_table", False):
        storage.sql(_LOCK_TABLE, commit=True)
        storage.pmo_item_lock_table = True  # type: ignore[attr-defined]
    with storage.db() as cursor:  # one statement: atomic on its own (autocommit)
        cursor.execute(_SQLITE_TAKE, (name, token, now + ttl, now))
        return cursor.rowcount == 1


def is_item_locked(queue: huey.Huey, key: str) -> bool:
    """Whether some worker holds `key`'s lock now (for tests and diagnostics)."""
    name = f"{queue.name}.item-lock.{key}"
    storage = queue.storage
    if isinstance(storage, RedisStorage):
        return bool(storage.conn.exists(name))
    if isinstance(storage, SqliteStorage):
        storage.sql(_LOCK_TABLE, commit=True)
        rows = storage.sql(
            "select 1 from pmo_item_lock where name = ? and expires_at >= ?",
            (name, time.time()),
            results=True,
        )
        return bool(rows)
    return queue.is_locked(f"item-lock.{key}")
