"""Whom an escalation step reaches: the item's assignee or reporter, a role from the
config's `owners:` map, or a named person; and their account on each tracker, found
through the tracker's user search once and then cached (in memory, and in the store for
every process until retention forgets it).

People resolve through the people directory (`config.people.resolve_person`): the same
person seen as a Jira account on one item and an Azure DevOps unique name on another,
or named by a role, is one target (their name, their e-mail), and the mention uses
their account on the item's tracker. `resolve_target` is the one place that turns a
step's `to:` into a person.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from config.notify import Notify
from config.people import Directory, Member, resolve_person
from connector.errors import TrackerError
from connector.model import Person, WorkItem

log = logging.getLogger(__name__)

CACHE_SECONDS = 24 * 3600.0  # in memory; and how long a miss is believed
FAILED_SECONDS = 600.0  # a search that failed (tracker down, refused) is tried again
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
    person_id: str | None = None  # the people directory's id, when the person is mapped

    @property
    def label(self) -> str:
        return f"{self.name} ({self.role})" if self.role else self.name


def _role_label(role: str) -> str:
    return role.replace("_", " ")


def _target(
    name: str, role: str | None, notify: Notify, member: Member | None,
    item_account: str | None = None,
) -> Target:  # fmt: skip
    """A target from the config's contact of `name` and the directory's member, if any:
    the member's name wins (one person, one name), contacts of either name add accounts."""
    mapped = member is not None and member.mapped
    canonical = member.name if mapped and member is not None else name
    contacts = [c for c in (notify.people.get(canonical), notify.people.get(name)) if c]
    accounts: dict[str, str] = {}
    for contact in reversed(contacts):
        accounts.update(contact.accounts)
    email = next((c.email for c in contacts if c.email), None)
    if email is None and mapped and member is not None:
        email = member.email
    person_id = member.id if mapped and member is not None else None
    return Target(canonical, role, email, accounts, item_account, person_id)


def _from_person(
    person: Person | None, item: WorkItem, notify: Notify, role: str, people: Directory | None
) -> Target | None:
    if person is None:
        return None
    member = resolve_person(people, item.tracker, person) if people is not None else None
    return _target(person.display_name, role, notify, member, person.account_id)


def _named(name: str, role: str | None, notify: Notify, people: Directory | None) -> Target:
    member = people.named(name) if people is not None else None
    return _target(name, role, notify, member)


def resolve_target(
    to: str, item: WorkItem, notify: Notify, people: Directory | None = None
) -> Target | None:
    """The person a step's `to:` names for this item; None when nobody fills the part
    (no assignee, no owner configured for the item's project)."""
    if to == "assignee":
        return _from_person(item.assignee, item, notify, "assignee", people)
    if to == "reporter":
        return _from_person(item.reporter, item, notify, "reporter", people)
    if to.startswith("role:"):
        role = to.removeprefix("role:")
        for project in (item.project, "*"):
            name = (notify.owners.get(project) or {}).get(role)
            if name:
                return _named(name, _role_label(role), notify, people)
        return None
    if to.startswith("person:"):
        return _named(to.removeprefix("person:").strip(), None, notify, people)
    return None


UserSearch = Callable[[str], "Person | None"]


class UserDirectory:
    """Tracker accounts of people, each looked up once through the tracker's user search:
    kept in memory (`CACHE_SECONDS`) and, with a store, in the store (shared by every
    process; found accounts until retention forgets them, misses for `CACHE_SECONDS`).
    A search that fails is not remembered beyond `FAILED_SECONDS`."""

    def __init__(
        self,
        search_for: Callable[[str], UserSearch | None],
        store: Any = None,
        *,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self._search_for = search_for  # tracker name -> its user search, or None
        self._store = store
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._cache: dict[tuple[str, str], tuple[float, str | None]] = {}
        self._lock = threading.Lock()
        self.lookups = 0

    def account(
        self, tracker: str, target: Target, *, item_account_mentions: bool = True
    ) -> str | None:
        """The person's account for a mention on `tracker`: configured, else the one the
        item names (when that tracker's mentions take it), else found by user search (by
        the unique name the item names, else e-mail, else name)."""
        if target.accounts.get(tracker):
            return target.accounts[tracker]
        if item_account_mentions and target.item_account:
            return target.item_account
        query = (target.item_account if not item_account_mentions else None) or (
            target.email or target.name
        )
        key = (tracker, query.casefold())
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and now > hit[0]:
                hit = None
        if hit is not None:
            return hit[1]
        found, keep = self._stored(tracker, query)
        if not keep:
            found, keep = self._search(tracker, query)
        with self._lock:
            if len(self._cache) >= CACHE_MAX:
                self._cache.clear()
            self._cache[key] = (now + keep, found)
        return found

    def _stored(self, tracker: str, query: str) -> tuple[str | None, float]:
        if self._store is None:
            return None, 0.0
        known = self._store.known_identity(tracker, query)
        if known is None:
            return None, 0.0
        age = (self._clock() - known.looked_up_at).total_seconds()
        if known.identity is None and age >= CACHE_SECONDS:
            return None, 0.0  # a miss is asked again after a day
        return known.identity, CACHE_SECONDS

    def _search(self, tracker: str, query: str) -> tuple[str | None, float]:
        search = self._search_for(tracker)
        if search is None:
            return None, CACHE_SECONDS
        self.lookups += 1
        try:
            person = search(query)
        except TrackerError as exc:
            log.warning("escalation.user_search_failed", extra={"tracker": tracker,
                        "error": str(exc)[:300]})  # fmt: skip
            return None, FAILED_SECONDS
        found = person.account_id if person else None
        if found is None:
            log.warning("escalation.user_not_found", extra={"tracker": tracker})
        if self._store is not None:
            display = person.display_name if person else None
            self._store.remember_identity(tracker, query, found, display, self._clock())
        return found, CACHE_SECONDS
