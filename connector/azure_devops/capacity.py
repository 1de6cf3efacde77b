"""Azure DevOps sprint capacity: the current iteration of a team and what each member
planned for it (hours per day, days off), through the `azure-devops` client's Work API:

- `GET {org}/{project}/{team}/_apis/work/teamsettings/iterations?$timeframe=current`
- `GET {org}/{project}/{team}/_apis/work/teamsettings/iterations/{iterationId}/capacities`
  (7.1-preview.3: a TeamCapacity, `{teamMembers: [{teamMember, activities:
  [{name, capacityPerDay}], daysOff: [{start, end}]}], totalCapacityPerDay, totalDaysOff}`).

Days off come as UTC midnights; an end before its start or a negative capacity is read as
nothing rather than trusted."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from azure.devops.v7_1.work.models import TeamContext
from azure.devops.v7_1.work.work_client import WorkClient
from msrest.authentication import BasicAuthentication
from msrest.exceptions import ClientException, ClientRequestError

from config.settings import TrackerConfig
from connector.errors import TrackerError

TIMEOUT = 30.0
MAX_HOURS_PER_DAY = 24.0


@dataclass(frozen=True, slots=True)
class MemberCapacity:
    unique_name: str
    display_name: str
    hours_per_day: float
    days_off: tuple[tuple[dt.date, dt.date], ...] = ()


@dataclass(frozen=True, slots=True)
class IterationCapacity:
    iteration: str
    start: dt.date | None
    finish: dt.date | None
    members: tuple[MemberCapacity, ...]


def _day(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).date() if value.tzinfo else value.date()
    return value if isinstance(value, dt.date) else None


def member_capacity(entry: Any) -> MemberCapacity | None:
    """One `TeamMemberCapacityIdentityRef`; None without a usable identity."""
    who = getattr(entry, "team_member", None)
    unique = getattr(who, "unique_name", None)
    if not unique:
        return None
    per_day = 0.0
    for activity in getattr(entry, "activities", None) or ():
        value = getattr(activity, "capacity_per_day", None)
        if isinstance(value, int | float) and 0 <= value <= MAX_HOURS_PER_DAY:
            per_day += float(value)
    days_off = []
    for span in getattr(entry, "days_off", None) or ():
        start, end = _day(getattr(span, "start", None)), _day(getattr(span, "end", None))
        if start is not None and end is not None and start <= end:
            days_off.append((start, end))
    name = getattr(who, "display_name", None) or unique
    return MemberCapacity(str(unique), str(name), min(per_day, MAX_HOURS_PER_DAY), tuple(days_off))


class CapacityReader:
    """Reads a team's current sprint capacity from one Azure DevOps tracker."""

    def __init__(self, tracker: TrackerConfig, *, environ: Mapping[str, str] | None = None) -> None:
        if not tracker.url:
            raise ValueError(f"tracker {tracker.name!r} has no url")
        _, token = tracker.credentials(environ)
        self._work = WorkClient(base_url=tracker.url, creds=BasicAuthentication("", token or ""))
        config = self._work.config
        config.connection.timeout = TIMEOUT
        policy = config.retry_policy.policy
        policy.total = policy.connect = policy.read = policy.status = 0  # the sweep retries

    def current(self, project: str, team: str) -> IterationCapacity | None:
        """The team's current iteration and its capacity; None when it has none."""
        context = TeamContext(project=project, team=team)
        try:
            iterations = self._work.get_team_iterations(context, timeframe="current") or []
            if not iterations:
                return None
            iteration = iterations[0]
            capacity = self._work.get_capacities_with_identity_ref_and_totals(context, iteration.id)
        except (ClientException, ClientRequestError) as exc:
            raise TrackerError(f"capacity of {project}/{team}: {exc}") from exc
        attributes = getattr(iteration, "attributes", None)
        members = [member_capacity(m) for m in getattr(capacity, "team_members", None) or ()]
        return IterationCapacity(
            iteration=str(iteration.path or iteration.name or iteration.id),
            start=_day(getattr(attributes, "start_date", None)),
            finish=_day(getattr(attributes, "finish_date", None)),
            members=tuple(m for m in members if m is not None),
        )
