"""Whom an escalation step reaches: the item's assignee or reporter, a role from the
config's `owners:` map, or a named person; and their account on each tracker, found
through the tracker's user search once and then cached.

`resolve_target` is the one place that turns a step's `to:` into a person: a people
directory spanning trackers can replace it without touching the escalation engine.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from config.notify import Notify
from connector.model import Person, WorkItem

log = logging.getLogger(__name__)

CACHE_SECONDS = 24 * 3600.0
CACHE_MAX = 10_000


@dataclass(frozen=True)
class Target:
    name: str
    role: str | None = None  # "programme lead" for role:programme_lead
    email: str | None = None
    accounts: Mapping[str, str] = field(default_factory=dict)  # tracker name -> account
    # the account the item itself names (Jira: accountId / user name; Azure DevOps: the
    # unique name, which its mention anchor does not take)
    item_account: str | None = None

    @property
    def label(self) -> str:
        return f"{self.name} ({self.role})" if self.role else self.name


def _role_label(role: str) -> str:
    return role.replace("_", " ")


def _from_person(person: Person | None, item: WorkItem, notify: Notify, role: str) -> Target | None:
    if person is None:
        return None
    contact = notify.people.get(person.display_name)
    accounts = dict(contact.accounts) if contact else {}
    email = contact.email if contact else None
    return Target(person.display_name, role, email, accounts, person.account_id)


def _named(name: str, role: str | None, notify: Notify) -> Target:
    contact = notify.people.get(name)
    if contact is None:
        return Target(name, role)
    return Target(name, role, contact.email, dict(contact.accounts))


def resolve_target(to: str, item: WorkItem, notify: Notify) -> Target | None:
    """The person a step's `to:` names for this item; None when nobody fills the part
    (no assignee, no owner configured for the item's project)."""
    if to == "assignee":
        return _from_person(item.assignee, item, notify, "assignee")
    if to == "reporter":
        return _from_person(item.reporter, item, notify, "reporter")
    if to.startswith("role:"):
        role = to.removeprefix("role:")
        for project in (item.project, "*"):
            name = (notify.owners.get(project) or {}).get(role)
            if name:
                return _named(name, _role_label(role), notify)
        return None
    if to.startswith("person:"):
        return _named(to.removeprefix("person:").strip(), None, notify)
    return None


UserSearch = Callable[[str], "Person | None"]


class UserDirectory:
    """Tracker accounts by name, each looked up once (per `CACHE_SECONDS`) through the
    tracker's user search; a miss is cached too, so an unknown name costs one call."""

    def __init__(self, search_for: Callable[[str], UserSearch | None]) -> None:
        self._search_for = search_for  # tracker name -> its user search, or None
        self._cache: dict[tuple[str, str], tuple[float, str | None]] = {}
        self._lock = threading.Lock()
        self.lookups = 0

    def account(
        self, tracker: str, target: Target, *, item_account_mentions: bool = True
    ) -> str | None:
        """The person's account for a mention on `tracker`: configured, else the one the
        item names (when that tracker's mentions take it), else found by user search."""
        if target.accounts.get(tracker):
            return target.accounts[tracker]
        if item_account_mentions and target.item_account:
            return target.item_account
        key = (tracker, target.email or target.name)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and now - hit[0] < CACHE_SECONDS:
                return hit[1]
        search = self._search_for(tracker)
        found = None
        if search is not None:
            self.lookups += 1
            person = search(key[1])
            found = person.account_id if person else None
            if found is None:
                log.warning("escalation.user_not_found", extra={"tracker": tracker})
        with self._lock:
            if len(self._cache) >= CACHE_MAX:
                self._cache.clear()
            self._cache[key] = (now, found)
        return found
