"""Rule field actions checked when a worker starts, before any is written.

`actions: {set: ...}` values are type-checked when the rules load (offline, that is all
that can be known); what only the tracker knows is checked here, once per tracker and
value, through the tracker's own API: a priority the site or the work item type does not
have (Jira's priorities, Azure DevOps' allowed values of Microsoft.VSTS.Common.Priority),
an assignee the tracker finds no active user or identity for (Jira's user search, Azure
DevOps' identities), a `custom.<name>` field the tracker's configuration does not map.
Each problem is logged (`rules.field_action_invalid`) with the rule and tracker. The
worker starts anyway: a refused action becomes an error finding in the item's comment,
and the rest of the write-back goes through."""

from __future__ import annotations

import logging
from typing import Any

from connector.errors import TrackerError
from webhooks.resources import Resources as Runtime

log = logging.getLogger(__name__)
CHECKED = ("priority", "assignee")  # the values a tracker can vouch for


def check_field_actions(runtime: Runtime) -> list[str]:
    """Every problem found, as one line each (also logged)."""
    ruleset = runtime.rules.current()
    problems: list[str] = []
    answers: dict[tuple[str, str, str, Any], str | None] = {}  # asked once per value
    unanswered: set[str] = set()  # trackers that could not answer: the write will say
    for name, tracker in runtime.settings.trackers.items():
        for pack in ruleset.packs:
            if pack.scope is not None and name not in pack.scope:
                continue
            for rule in pack.rules:
                for field, value in rule.set_fields.items():
                    custom = field[len("custom.") :] if field.startswith("custom.") else None
                    if custom is not None and custom not in tracker.fields:
                        problems.append(
                            f"rule {rule.id}: sets {field}, but tracker {name} maps no field "
                            f"{custom!r} (add it under fields:)"
                        )
                        continue
                    if field not in CHECKED or not tracker.url or name in unanswered:
                        continue
                    types = tuple(sorted(rule.types)) if rule.types is not None else None
                    key = (name, field, str(value), types)
                    if key not in answers:
                        try:
                            answers[key] = _ask(runtime, name, field, value, types)
                        except TrackerError as exc:
                            log.warning(
                                "rules.field_actions_unchecked",
                                extra={"tracker": name, "error": str(exc)},
                            )
                            unanswered.add(name)
                            continue
                    if answers[key] is not None:
                        problems.append(
                            f"rule {rule.id}: sets {field} {value!r}, but tracker {name} "
                            f"{answers[key]}"
                        )
    for problem in problems:
        log.error("rules.field_action_invalid", extra={"problem": problem})
    return problems


def _ask(runtime: Runtime, tracker: str, field: str, value: Any, types: Any) -> str | None:
    client = runtime.client(tracker)
    if client is None:
        return None
    return client.field_value_problem(field, value, types)
