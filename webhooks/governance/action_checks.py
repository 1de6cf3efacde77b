"""Rule field actions checked when a worker starts, before any is written.

`actions: {set: ...}` values are type-checked when the rules load; what only the
tracker knows is checked here, once: a Jira priority the site does not have, a
`custom.<name>` field the tracker's configuration does not map. Each problem is logged
(`rules.field_action_invalid`) with the rule and tracker. The worker starts anyway: a
refused action becomes an error finding in the item's comment, and the rest of the
write-back goes through."""

from __future__ import annotations

import logging

from connector.errors import TrackerError
from webhooks.resources import Resources as Runtime

log = logging.getLogger(__name__)


def check_field_actions(runtime: Runtime) -> list[str]:
    """Every problem found, as one line each (also logged)."""
    ruleset = runtime.rules.current()
    problems: list[str] = []
    priorities: dict[str, dict[str, str] | None] = {}  # tracker -> casefolded -> name
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
                    elif field == "priority" and tracker.kind == "jira" and tracker.url:
                        known = _priorities(runtime, name, priorities)
                        if known is not None and str(value).casefold() not in known:
                            problems.append(
                                f"rule {rule.id}: sets priority {value!r}, which tracker {name} "
                                f"does not have (it has: {', '.join(known.values())})"
                            )
    for problem in problems:
        log.error("rules.field_action_invalid", extra={"problem": problem})
    return problems


def _priorities(
    runtime: Runtime, name: str, cache: dict[str, dict[str, str] | None]
) -> dict[str, str] | None:
    """The site's priorities (asked once per tracker); None when it cannot answer."""
    if name not in cache:
        try:
            cache[name] = {p.casefold(): p for p in runtime.client(name).list_priorities()}
        except TrackerError as exc:  # cannot tell: the write will say
            log.warning("rules.field_actions_unchecked", extra={"tracker": name, "error": str(exc)})
            cache[name] = None
    return cache[name]
