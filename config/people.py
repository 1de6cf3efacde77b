"""The PMO's people: one identity per person across trackers, their team and capacity.

Read by `config.people_file` from `people.yaml` beside the config file (or the file the
config's `people_file:` key names). Strict like the rest of the config: an unknown key, a bad
date or an account mapped to two people stops loading with `FILE:LINE: reason`.

    units: {jira: hours, azure-devops: points}   # tracker name -> how its work is counted
    teams:
      payments: {capacity: {points: 20}, time_off: [{from: 2026-12-24, to: 2026-12-26}]}
    people:
      - id: ana
        name: Ana Lima
        email: ana@example.com
        team: payments
        accounts: [5b10ac8d82e05b22cc7d4ef5, ana@fabrikam.com]   # Jira ids, Azure unique names
        capacity: {hours: 32}                                    # per week; else the team's
        time_off: [{from: 2026-12-21, to: 2027-01-01}]

Accounts are matched case-folded and whatever the tracker: Jira Cloud account ids are
opaque and Azure DevOps unique names are e-mail addresses, so they do not collide.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

UNITS = ("hours", "points")
NAME_MAX = 200  # an unmapped display name as a person id stays within the store's columns


@dataclass(frozen=True, slots=True)
class Capacity:
    """Per week, in the units work is counted in; None for a unit not given."""

    hours: float | None = None
    points: float | None = None

    def of(self, unit: str) -> float | None:
        return self.hours if unit == "hours" else self.points


@dataclass(frozen=True, slots=True)
class Member:
    """One person as the PMO knows them. `mapped` is False for a display name seen in a
    tracker that no entry claims: such people are grouped by display name."""

    id: str
    name: str
    email: str | None = None
    team: str | None = None
    accounts: tuple[str, ...] = ()
    capacity: Capacity = field(default_factory=Capacity)
    time_off: tuple[tuple[dt.date, dt.date], ...] = ()
    mapped: bool = True

    def off_on(self, day: dt.date) -> bool:
        return any(start <= day <= end for start, end in self.time_off)


@dataclass(frozen=True)
class Directory:
    members: Mapping[str, Member] = field(default_factory=dict)
    units: Mapping[str, str] = field(default_factory=dict)  # tracker name -> unit
    _by_account: Mapping[str, str] = field(default_factory=dict)
    # Azure DevOps teams whose sprint capacity is read: (tracker, project, team)
    sources: tuple[tuple[str, str, str], ...] = ()
    # tracker name -> the current iteration (first day, last day), read with the capacity
    sprints: Mapping[str, tuple[dt.date, dt.date]] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        members: list[Member],
        units: Mapping[str, str] | None = None,
        sources: tuple[tuple[str, str, str], ...] = (),
        sprints: Mapping[str, tuple[dt.date, dt.date]] | None = None,
    ) -> Directory:
        by_account: dict[str, str] = {}
        for member in members:
            for account in (*member.accounts, member.email or ""):
                if account:
                    by_account[account.casefold()] = member.id
        members_by_id = {m.id: m for m in members}
        return cls(members_by_id, dict(units or {}), by_account, sources, dict(sprints or {}))

    def unit(self, tracker: str) -> str:
        return self.units.get(tracker, "points")

    def resolve(self, account: str | None, display_name: str | None = None) -> Member | None:
        """The member an account (or, failing that, a display name) belongs to; None for
        nobody. Unmapped names come back as a `mapped=False` member keyed by the name."""
        found = self._by_account.get((account or "").casefold())
        if found is not None:
            return self.members[found]
        name = " ".join((display_name or account or "").split())[:NAME_MAX]
        if not name:
            return None
        return Member(id=f"name:{name.casefold()}", name=name, mapped=False)

    def named(self, name: str) -> Member | None:
        """The member a config names (escalation `person:` and `owners:` entries): by id,
        name or e-mail, case-folded; None when the people file has nobody of that name."""
        wanted = " ".join(name.split()).casefold()
        if not wanted:
            return None
        for member in self.members.values():
            if wanted in (member.id.casefold(), member.name.casefold()):
                return member
        found = self._by_account.get(wanted)
        return self.members[found] if found is not None else None


def resolve_person(directory: Directory, tracker: str, person: Any) -> Member | None:
    """One person across trackers, for anything that groups by person (portfolio rules,
    escalation targets, the people view). `person` is a `connector.model.Person` or an
    account string; `tracker` names where it came from (accounts are matched whatever the
    tracker, see the module doc)."""
    del tracker  # accounts of Jira and Azure DevOps cannot collide
    if person is None:
        return None
    if isinstance(person, str):
        return directory.resolve(person, person)
    return directory.resolve(getattr(person, "account_id", None), person.display_name)
