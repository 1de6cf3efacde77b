"""Loop prevention: recognise the events the service's own write-back causes.

This is the cheap first guard. The second is that write-back diffs against the ledger and
the item, so even an own edit that slips through writes nothing."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from config.settings import TrackerConfig
from connector.model import Event, EventKind

# Fields the service itself writes; an update by the bot touching only these is its own echo.
_MANAGED_FIELDS = {"labels", "comment", "System.History", "System.CommentCount"}


def _label_set(value: Any) -> set[str]:
    if value is None:
        return set()
    if isinstance(value, str):
        parts = value.replace(";", " ").split()
        return {p.strip() for p in parts if p.strip()}
    if isinstance(value, Iterable):
        return {str(v).strip() for v in value if str(v).strip()}
    return {str(value)}


def is_own_edit(
    event: Event, tracker: TrackerConfig, prefix: str, managed_fields: Iterable[str] = ()
) -> bool:
    """True for an update by the bot account that touched only what the service manages:
    prefixed labels, its comment, and `managed_fields` (rollup fields it writes)."""
    if not tracker.bot_account or event.actor is None:
        return False
    if not event.actor.matches(tracker.bot_account):
        return False
    if event.kind is EventKind.COMMENTED:
        return True
    if event.kind is not EventKind.UPDATED or not event.changes:
        return False
    written_fields = set(managed_fields)
    for change in event.changes:
        if change.field == "labels":
            touched = _label_set(change.old) ^ _label_set(change.new)
            if any(not label.startswith(prefix) for label in touched):
                return False
        elif change.field not in _MANAGED_FIELDS and change.field not in written_fields:
            return False
    return True
