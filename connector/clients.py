"""Write-back clients: the one interface the worker uses to read and write trackers.

`connector.trackers.make_client(tracker)` returns a `JiraClient` or an `AzureDevOpsClient`
(`TrackerClient` below is what both offer). Both translate
every vendor and `requests` failure into `connector.errors` in one place each, keep the
libraries' own retry loops off (the worker owns retries and backoff) and put a timeout on
every call. `on_call(tracker, method, status, seconds)` is told about each HTTP call;
status is None when no answer came (connection error, timeout). A `CallGate`, when given,
is asked before every HTTP request is sent and told at once, from the response, of a
429 that limits the whole tracker.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol, runtime_checkable

from config.settings import TrackerConfig
from connector.document import MARKER, Document
from connector.errors import (
    Conflict,
    ItemNotFound,
    PermanentTrackerError,
    RateLimited,
    TrackerError,
    TrackerUnavailable,
)
from connector.headers import header_value
from connector.model import Comment, Person, WorkItem

OnCall = Callable[[str, str, "int | None", float], None]


class CallGate(Protocol):
    """Who may call a tracker now: consulted right before each HTTP request goes out."""

    def check(self) -> None:
        """Raise (a `TrackerError`) to keep the request from being sent."""

    def rate_limited(self, seconds: float) -> None:
        """The tracker answered 429 for all calls, asking for `seconds` of quiet."""


DEFAULT_TIMEOUT = 10.0
# When a 429 names no wait at all: long enough not to hammer, short enough to recover.
DEFAULT_RETRY_AFTER = 30.0


@runtime_checkable
class TrackerClient(Protocol):
    """What the worker needs from a tracker. Native ids: Jira issue key, Azure DevOps id."""

    name: str

    def get_item(self, native_id: str) -> WorkItem: ...

    def search(
        self, query: str, *, page_size: int = 100, links: bool = True
    ) -> tuple[int, Iterator[WorkItem]]:
        """(total, the items). `links=False`: no rule reads links, so a client may
        leave them out where that makes the read cheaper."""
        ...

    def find_managed_comment(self, native_id: str, marker: str = MARKER) -> Comment | None: ...

    def add_comment(self, native_id: str, doc: Document) -> str: ...

    def update_comment(self, native_id: str, comment_id: str, doc: Document) -> None: ...

    def update_labels(
        self,
        native_id: str,
        add: set[str],
        remove: set[str],
        *,
        revision: int | None = None,
    ) -> int | None:
        """Returns a revision at or below the one the item has after this write (None
        when nothing was written), so later payloads can be told from earlier ones."""
        ...

    def update_labels_with_comment(
        self,
        native_id: str,
        add: set[str],
        remove: set[str],
        doc: Document,
        *,
        revision: int | None = None,
    ) -> tuple[int | None, str | None] | None:
        """The labels and a new managed comment in one write where the tracker takes both
        in one call: (revision as `update_labels` returns it, the new comment's id or None
        when it could not be learned). None, with nothing written, when the tracker
        refuses that form: the caller then writes them apart."""
        ...

    def set_fields(self, native_id: str, values: Mapping[str, Any]) -> None: ...

    def whoami(self) -> Person: ...


def pick_managed_comment(found: list[Comment], bot_account: str | None) -> Comment | None:
    """Of the comments carrying the marker, the bot's own wins (someone may have quoted
    the managed comment), else the oldest."""
    if bot_account:
        for comment in found:
            if comment.author and comment.author.matches(bot_account):
                return comment
    return found[0] if found else None


def field_id(tracker: TrackerConfig, name: str) -> str:
    """A common-model or configured name to the tracker's field id; ids pass through."""
    return tracker.fields.get(name, name)


# -- error translation shared by both clients -------------------------------------------


def _seconds_until(moment: dt.datetime, now: float) -> float:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return max(0.0, moment.timestamp() - now)


def retry_after_seconds(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """The wait a 429 (or 503) asks for, from `Retry-After` (seconds or HTTP-date), else
    from `X-RateLimit-Reset` (epoch seconds as Azure DevOps sends it, or an ISO timestamp
    as Jira Cloud sends it). None when the response names no wait."""
    now = time.time() if now is None else now
    value = (header_value(headers, "Retry-After") or "").strip()
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                return _seconds_until(email.utils.parsedate_to_datetime(value), now)
            except (TypeError, ValueError):
                pass
    reset = (header_value(headers, "X-RateLimit-Reset") or "").strip()
    if reset:
        try:
            return max(0.0, float(reset) - now)
        except ValueError:
            try:
                return _seconds_until(dt.datetime.fromisoformat(reset.replace("Z", "+00:00")), now)
            except ValueError:
                pass
    return None


def error_for_status(
    status: int,
    headers: Mapping[str, str],
    message: str,
    *,
    item_scoped: bool = False,
) -> TrackerError:
    """The one mapping from an HTTP failure to a `connector.errors` exception."""
    if status == 429:
        wait = retry_after_seconds(headers)
        return RateLimited(
            message,
            retry_after=DEFAULT_RETRY_AFTER if wait is None else wait,
            scope="item" if item_scoped else "tracker",
            status=status,
        )
    if status >= 500 or status == 408:
        return TrackerUnavailable(message, status=status)
    if status == 404:
        return ItemNotFound(message, status=status)
    if status in (409, 412):
        return Conflict(message, status=status)
    return PermanentTrackerError(message, status=status)


def unavailable(exc: BaseException, what: str) -> TrackerUnavailable:
    """No answer at all: connection refused or reset, DNS, TLS, timeout."""
    return TrackerUnavailable(f"{what}: no answer ({type(exc).__name__}: {_short(exc)})")


def _short(exc: BaseException, limit: int = 200) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def short_message(text: Any, limit: int = 300) -> str:
    text = " ".join(str(text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
