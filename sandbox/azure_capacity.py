"""Team iterations and sprint capacity of the Azure DevOps sandbox (the Work API):

- `GET {org}/{project}/{team}/_apis/work/teamsettings/iterations[?$timeframe=current]`
  -> {count, value: [TeamSettingsIteration]}
- `GET {org}/{project}/{team}/_apis/work/teamsettings/iterations/{id}/capacities`
  -> TeamCapacity {teamMembers, totalCapacityPerDay, totalDaysOff} (7.1-preview.3)
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from typing import Any

from flask import Flask, jsonify, request

from sandbox.azure_catalog import AzureError


def _midnight(day: dt.date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


class TeamCapacities:
    """Iterations per (project, team), and each member's plan per iteration."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.iterations: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.plans: dict[str, list[dict[str, Any]]] = {}  # iteration id -> members

    def add_iteration(self, project: str, team: str, name: str, start: dt.date,
                      finish: dt.date) -> str:  # fmt: skip
        iteration_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{project}/{team}/{name}"))
        record = {"id": iteration_id, "name": name, "path": f"{project}\\{name}",
                  "start": start, "finish": finish}  # fmt: skip
        with self.lock:
            self.iterations.setdefault((project.casefold(), team.casefold()), []).append(record)
            self.plans.setdefault(iteration_id, [])
        return iteration_id

    def plan(self, iteration_id: str, identity: dict[str, Any], hours_per_day: float,
             days_off: list[tuple[dt.date, dt.date]] = ()) -> None:  # type: ignore[assignment]  # fmt: skip
        with self.lock:
            self.plans[iteration_id].append(
                {
                    "teamMember": identity,
                    "activities": [{"capacityPerDay": hours_per_day, "name": "Development"}],
                    "daysOff": [{"start": _midnight(a), "end": _midnight(b)} for a, b in days_off],
                }
            )


def register_capacity_routes(app: Flask, state: Any) -> None:
    capacities: TeamCapacities = state.capacities
    base = "/<org>/<project>/<team>/_apis/work/teamsettings/iterations"

    def team_iterations(project: str, team: str) -> list[dict[str, Any]]:
        if project not in state.projects:
            raise AzureError(
                404, f"The project {project} does not exist.", "ProjectDoesNotExistException"
            )
        return capacities.iterations.get((project.casefold(), team.casefold()), [])

    @app.get(base)
    def iterations(org: str, project: str, team: str):
        today = state.clock().date()
        current = request.args.get("$timeframe", "").casefold() == "current"
        value = []
        for it in team_iterations(project, team):
            frame = "current" if it["start"] <= today <= it["finish"] else (
                "past" if it["finish"] < today else "future")  # fmt: skip
            if current and frame != "current":
                continue
            value.append({
                "id": it["id"], "name": it["name"], "path": it["path"],
                "attributes": {"startDate": _midnight(it["start"]),
                               "finishDate": _midnight(it["finish"]), "timeFrame": frame},
                "url": f"{state.org_url}/{project}/_apis/work/teamsettings/iterations/{it['id']}",
            })  # fmt: skip
        return jsonify({"count": len(value), "value": value})

    @app.get(f"{base}/<iteration_id>/capacities")
    def team_capacity(org: str, project: str, team: str, iteration_id: str):
        known = {it["id"] for it in team_iterations(project, team)}
        if iteration_id not in known:
            raise AzureError(
                404, f"Iteration {iteration_id} not found.", "IterationNotFoundException"
            )
        members = capacities.plans[iteration_id]
        per_day = sum(a["capacityPerDay"] for m in members for a in m["activities"])
        return jsonify({"teamMembers": members, "totalCapacityPerDay": per_day,
                        "totalDaysOff": 0})  # fmt: skip
