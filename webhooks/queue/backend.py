"""The task queue: Huey over a SQLite file (embedded, the default) or Redis (scale-out).

Tasks are defined by `webhooks.worker.tasks` on the Huey instance from `make_huey`. Queued
tasks are durable in both backends; a task a consumer has already taken is not (Huey
removes it from the queue when it starts), so the store's `pending_deliveries()` sweep
is what brings back work that was in flight when a worker died.
"""

from __future__ import annotations

import logging

import huey
import redis
from huey.storage import RedisStorage

from config.settings import Settings

log = logging.getLogger(__name__)

QUEUE_NAME = "pmo-bridge"
DEFAULT_LOCK_TTL = 300.0  # seconds; longer than any one item's processing


def make_huey(settings: Settings, *, name: str = QUEUE_NAME) -> huey.Huey:
    """RedisHuey when `settings.redis_url` is set, else SqliteHuey on `settings.queue_path`.
    The queue carries `settings.item_lock_seconds` as its item locks' default expiry."""
    if settings.redis_url:
        # Our own pool so a dead Redis fails readiness fast instead of hanging.
        pool = redis.ConnectionPool.from_url(
            settings.redis_url, socket_connect_timeout=5, health_check_interval=30
        )
        queue: huey.Huey = huey.RedisHuey(name=name, connection_pool=pool, immediate=False)
    else:
        queue = huey.SqliteHuey(name=name, filename=settings.queue_path, immediate=False)
    queue.item_lock_ttl = float(getattr(settings, "item_lock_seconds", DEFAULT_LOCK_TTL))
    return queue


def queue_depth(queue: huey.Huey) -> int:
    """Tasks in the queue waiting for a worker. Retries a worker has set aside in Huey's
    schedule for later are not counted (`queue.scheduled_count()` has those)."""
    return int(queue.pending_count())


def ping(queue: huey.Huey) -> bool:
    """True when the queue's storage answers."""
    try:
        storage = queue.storage
        if isinstance(storage, RedisStorage):
            return bool(storage.conn.ping())
        storage.queue_size()
        return True
    except Exception as exc:
        log.warning("queue.ping.failed", extra={"error": type(exc).__name__})
        return False
