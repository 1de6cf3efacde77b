"""Errors the connectors raise; no raw `requests` or vendor exception leaves `connector/`."""

from __future__ import annotations


class PayloadError(ValueError):
    """A webhook body that is JSON but not a usable event (wrong types, no item)."""


class TrackerError(Exception):
    """A tracker call failed. `retryable` tells the worker whether to try again."""

    retryable = False

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class TrackerUnavailable(TrackerError):
    """Timeouts, connection errors and 5xx: worth retrying with backoff."""

    retryable = True


class RateLimited(TrackerError):
    """429: wait `retry_after` seconds. `scope` is "item" when only writes to that one
    item are limited (Jira's per-issue write limit), else "tracker"."""

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        retry_after: float,
        scope: str = "tracker",
        status: int | None = 429,
    ) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after
        self.scope = scope


class Conflict(TrackerError):
    """The item changed under us (Azure DevOps `test /rev` failed): re-read and re-plan."""

    retryable = True


class PermanentTrackerError(TrackerError):
    """4xx other than 408/409/429: retrying the same request cannot help."""


class ItemNotFound(PermanentTrackerError):
    """The item no longer exists (deleted since the event was sent)."""
