"""One portfolio snapshot per process, shared by every dashboard reader for a few seconds.

Building the snapshot reads every item and renders a page (2,000 items: a third of a
second of CPU); rebuilt per request, eight readers kept the web process busy and
webhooks waited behind them. Here a snapshot, with its JSON and its page encoded once,
serves every reader until it is `ttl` seconds old (writes come from the queue workers,
other processes: the age bounds how stale a page can be). Then one reader rebuilds while
the others are served the previous copy, so readers never queue up behind a rebuild, and
the CPU spent on the dashboard is one build per `ttl`, however many read it.
"""

from __future__ import annotations

import gc
import gzip
import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a view of a large snapshot is made: the work
    makes no cycles, but its many new dicts trigger full collections, each walking every
    object of the snapshot (at 100,000 items that tripled a filter's time)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


MAX_VIEWS = 32  # filtered views and drill-downs kept per snapshot


@dataclass
class Snapshot:
    data: dict[str, Any]
    built_at: float
    _encoded: dict[str, bytes] = field(default_factory=dict)
    _memo: dict[str, Any] = field(default_factory=dict)
    _views: OrderedDict[str, Any] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def memo(self, key: str, make: Callable[[dict[str, Any]], Any]) -> Any:
        """`make(data)`, computed once per snapshot."""
        with self._lock:
            if key not in self._memo:
                with gc_paused():
                    self._memo[key] = make(self.data)
            return self._memo[key]

    def view(self, key: str, make: Callable[[dict[str, Any]], Any]) -> Any:
        """`make(data)` for one of many views (a filter, a drill-down), the last
        MAX_VIEWS kept: each reader's URL is its own key, so the memo must not grow."""
        with self._lock:
            if key in self._views:
                self._views.move_to_end(key)
                return self._views[key]
        with gc_paused():  # outside the lock: a slow filter must not hold up others
            made = make(self.data)
        with self._lock:
            self._views[key] = made
            while len(self._views) > MAX_VIEWS:
                self._views.popitem(last=False)
        return made

    def encoded(self, kind: str, encode: Callable[[dict[str, Any]], str | bytes]) -> bytes:
        """The snapshot as `kind` (json, html), encoded once per snapshot."""
        with self._lock:
            if kind not in self._encoded:
                with gc_paused():
                    text = encode(self.data)
                self._encoded[kind] = text.encode() if isinstance(text, str) else text
            return self._encoded[kind]

    def gzipped(self, kind: str, encode: Callable[[dict[str, Any]], str | bytes]) -> bytes:
        """The same, gzip-compressed once (a page of 2,000 items: ~1 MB, ~60 KB gzipped)."""
        plain = self.encoded(kind, encode)
        with self._lock:
            key = f"{kind}.gz"
            if key not in self._encoded:
                self._encoded[key] = gzip.compress(plain, compresslevel=6, mtime=0)
            return self._encoded[key]

    def etag(self, kind: str, encode: Callable[[dict[str, Any]], str | bytes]) -> str:
        plain = self.encoded(kind, encode)
        with self._lock:
            key = f"{kind}.etag"
            if key not in self._encoded:
                self._encoded[key] = hashlib.sha256(plain).hexdigest()[:32].encode()
            return self._encoded[key].decode()


class SnapshotCache:
    def __init__(
        self,
        build: Callable[[], dict[str, Any]],
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
        prepare: Callable[[Snapshot], None] | None = None,
    ) -> None:
        self._build = build
        self._prepare = prepare  # work every reader needs, done by the one who rebuilds
        self._ttl = ttl
        self._clock = clock
        self._current: Snapshot | None = None
        self._building = threading.Lock()

    def get(self) -> Snapshot:
        current = self._current
        if current is not None and not self._expired(current):
            return current
        if current is not None:
            # Someone is rebuilding: serve the previous copy rather than wait.
            if not self._building.acquire(blocking=False):
                return current
        else:
            self._building.acquire()
        try:
            latest = self._current
            if latest is not None and latest is not current and not self._expired(latest):
                return latest  # built by another reader while this one waited
            snapshot = Snapshot(self._build(), self._clock())
            if self._prepare is not None:
                self._prepare(snapshot)
            self._current = snapshot
            return snapshot
        finally:
            self._building.release()

    def _expired(self, snapshot: Snapshot) -> bool:
        return self._clock() - snapshot.built_at >= self._ttl
