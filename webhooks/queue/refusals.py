"""Writes a tracker refuses for good (a 4xx that no retry can change), per tracker and
part: "labels", "fields", "comment".

A refusal is usually the bot's permissions or the site's configuration, so it repeats on
every event. It is logged once per tracker and part (again only when its HTTP status
changes, or after the part was written once more) and shown on /readyz. The record lives
in the queue's key-value store, so the web process sees what a separate worker process
met."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from typing import Any

log = logging.getLogger(__name__)

PARTS = ("labels", "fields", "comment")
_REASON_LIMIT = 300


def _kind(reason: str) -> str:
    """ "HTTP 403 ..." -> "HTTP 403": what a refusal is, without the tracker's wording."""
    return " ".join(reason.split()[:2])


def _key(tracker: str) -> str:
    return f"pmo-bridge:refused:{tracker}"


class Refusals:
    """The refused writes of one runtime's trackers."""

    def __init__(self, huey: Any) -> None:
        self._huey = huey
        self._lock = threading.Lock()
        self._known: dict[str, dict[str, str]] = {}  # what this process last stored

    def note(self, tracker: str, part: str, reason: str) -> None:
        """Remember a refused write; logged when it is new for the tracker and part."""
        reason = " ".join(reason.split())[:_REASON_LIMIT]
        with self._lock:
            stored = self._read(tracker)
            before = stored.get(part)
            if before == reason:
                self._known[tracker] = stored
                return
            stored[part] = reason
            self._write(tracker, stored)
        # the tracker's text may name the item; only a new kind of refusal is logged
        if before is not None and _kind(before) == _kind(reason):
            return
        log.warning("writeback.refused", extra={"tracker": tracker, "part": part, "reason": reason})

    def clear(self, tracker: str, part: str) -> None:
        """A write of `part` went through: forget a refusal of it. Cheap when there is
        none known to this process (no store read on the hot path)."""
        if part not in self._known.get(tracker, {}):
            return
        with self._lock:
            stored = self._read(tracker)
            if stored.pop(part, None) is not None:
                self._write(tracker, stored)
                log.info("writeback.refusal_cleared", extra={"tracker": tracker, "part": part})
            else:
                self._known[tracker] = stored

    def current(self, trackers: Mapping[str, Any]) -> dict[str, dict[str, str]]:
        """Tracker -> part -> reason, for the trackers that have any."""
        out = {}
        for name in trackers:
            stored = self._read(name)
            if stored:
                out[name] = stored
        return out

    def _read(self, tracker: str) -> dict[str, str]:
        try:
            raw = self._huey.get(_key(tracker), peek=True)
        except Exception:  # the queue being down is readiness's to report, not ours
            return dict(self._known.get(tracker, {}))
        if not raw:
            return {}
        try:
            value = json.loads(raw)
        except (TypeError, ValueError):
            return {}
        return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}

    def _write(self, tracker: str, stored: dict[str, str]) -> None:
        self._known[tracker] = dict(stored)
        try:
            if stored:
                self._huey.put(_key(tracker), json.dumps(stored))
            else:
                self._huey.delete(_key(tracker))
        except Exception:
            log.warning("writeback.refusal_not_stored", extra={"tracker": tracker})
