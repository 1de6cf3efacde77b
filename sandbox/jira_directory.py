"""Jira sandbox routes a worker asks before writing field actions: the site's priorities
and the user search (tests/specs/jira/platform-swagger.v3.json, "Get priorities" and
"Find users").

- `GET /rest/api/{2,3}/priority`: every priority as `{self, statusColor, description,
  iconUrl, name, id}` (the spec's example), in the catalogue's order.
- `GET /rest/api/{2,3}/user/search`: Cloud takes `query` (matched against the prefix of
  displayName and emailAddress, the parameter's description) or `accountId` (exact);
  Server/Data Center takes `username` (its v2 API matches user name, display name and
  e-mail). Neither given: 400, as the spec's 400 response lists. `startAt`/`maxResults`
  page the filtered users (maxResults bounded at 1000, "up to the thousandth user").
  Inactive users are listed with `active: false` (the client skips them).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, g, jsonify, request

from sandbox.jira_catalog import PRIORITIES
from sandbox.jira_http import jira_error
from sandbox.jira_render import api_root, user_json
from sandbox.jira_state import JiraState

COLOURS = {"Highest": "#d04437", "High": "#f15C75", "Medium": "#f79232", "Low": "#707070",
           "Lowest": "#999999"}  # fmt: skip
MAX_USERS = 1000


def register_directory_routes(app: Flask, state: JiraState, api: str, *, cloud: bool) -> None:
    @app.get(f"{api}/priority")
    def priorities(version: str):
        root = api_root(state, g.api)
        return jsonify(
            [
                {
                    "self": f"{root}/priority/{pid}",
                    "statusColor": COLOURS.get(name, "#707070"),
                    "description": f"{name} priority.",
                    "iconUrl": f"{state.base_url}/images/icons/priorities/{name.lower()}.svg",
                    "name": name,
                    "id": pid,
                }
                for name, pid in PRIORITIES.items()
            ]
        )

    @app.get(f"{api}/user/search")
    def user_search(version: str):
        query = request.args.get("query") if cloud else None
        username = request.args.get("username")
        account_id = request.args.get("accountId")
        if cloud and query is not None and account_id is not None:
            return jira_error(400, "The query parameters 'query' and 'accountId' are exclusive.")
        wanted = query if cloud else username
        if not wanted and not account_id:
            name = "query" if cloud else "username"
            return jira_error(400, f"The query parameter '{name}' is required.")
        try:
            start = max(0, int(request.args.get("startAt", 0)))
            size = min(MAX_USERS, max(0, int(request.args.get("maxResults", 50))))
        except ValueError:
            return jira_error(400, "startAt and maxResults must be whole numbers.")
        with state.lock:
            found = [u for u in state.users.values() if _matches(u, wanted, account_id, cloud)]
            page = [
                dict(user_json(state, u["name"], g.api) or {}, active=u.get("active", True))
                for u in found[:MAX_USERS][start : start + size]
            ]
        return jsonify(page)


def _matches(user: dict[str, Any], wanted: str | None, account_id: str | None, cloud: bool) -> bool:
    if account_id:
        return user["accountId"] == account_id
    text = (wanted or "").casefold()
    names = [user["displayName"], user["emailAddress"]]
    if not cloud:
        names.append(user["name"])
    return any(n.casefold().startswith(text) for n in names)
