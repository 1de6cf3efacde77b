"""Semantic validation of a rules file: what a schema cannot express (fields, operators,
enums, regexes, durations, dates, templates, duplicate ids, across rules, rollups).
Runs after the marshmallow shape check and reports every problem with its position."""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable, Mapping
from typing import Any

from marshmallow import ValidationError

from connector.labels import NAME_MAX
from rules.checkspec import require_errors, when_errors
from rules.errors import RuleError
from rules.fields import field_kind
from rules.rollup import METRICS, rollup_spec_from_dict
from rules.schema import (
    LABEL,
    RULE_ID,
    SETTABLE_FIELDS,
    PackSchema,
    schema_errors,
)
from rules.templates import template_errors
from rules.yamlpos import Positions


def validate_pack_data(data: Any, pos: Positions) -> list[RuleError]:
    """All problems in one parsed rules file."""
    if not isinstance(data, Mapping):
        return [pos.error((), "a rules file is a mapping with version, rules and optional rollups")]
    try:
        PackSchema().load(data)
        errors: list[RuleError] = []
    except ValidationError as exc:
        errors = schema_errors(exc.messages, (), data, pos)
    errors += _semantic_errors(data, pos, structure_ok=not errors)
    return sorted(set(errors))


def _too_long(what: str, name: str) -> str:
    # Written to trackers with the prefix: Jira takes labels of at most 255 characters.
    return (
        f"{what} {name[:20]!r}... is {len(name)} characters: at most {NAME_MAX}, so that with "
        "the label prefix it stays within Jira's 255-character labels"
    )


def _semantic_errors(
    data: Mapping[str, Any], pos: Positions, *, structure_ok: bool
) -> list[RuleError]:
    errors: list[RuleError] = _scope_errors(data.get("scope"), ("scope",), pos)
    if "rules" not in data and "extend" not in data:
        errors.append(pos.error((), "missing required key 'rules'"))
    errors += override_errors(data, pos)
    rules = data.get("rules") if isinstance(data.get("rules"), list) else []
    seen: dict[str, int] = {}
    for index, rule in enumerate(rules):
        if not isinstance(rule, Mapping):
            continue
        path = ("rules", index)
        rule_id = rule.get("id")
        if isinstance(rule_id, str):
            if not RULE_ID.match(rule_id):
                errors.append(
                    pos.error(
                        (*path, "id"),
                        f"bad rule id {rule_id!r}: use lower-case letters, digits and -",
                    )
                )
            elif len(rule_id) > NAME_MAX:
                errors.append(pos.error((*path, "id"), _too_long("rule id", rule_id)))
            elif rule_id in seen:
                errors.append(
                    pos.error(
                        (*path, "id"),
                        f"duplicate rule id {rule_id!r} (first defined on line {seen[rule_id]})",
                    )
                )
            else:
                seen[rule_id] = pos.value((*path, "id"))[0]
        errors += when_errors(rule.get("when"), (*path, "when"), pos)
        errors += require_errors(rule, path, pos)
        if isinstance(rule.get("message"), str):
            errors += [pos.error((*path, "message"), e) for e in template_errors(rule["message"])]
        for i, label in enumerate(
            rule.get("labels") or [] if isinstance(rule.get("labels"), list) else []
        ):
            if isinstance(label, str) and not LABEL.match(label):
                errors.append(
                    pos.error(
                        (*path, "labels", i),
                        f"bad label {label!r}: letters, digits, '.', '_', ':' and '-' only",
                    )
                )
            elif isinstance(label, str) and len(label) > NAME_MAX:
                errors.append(pos.error((*path, "labels", i), _too_long("label", label)))
        actions = rule.get("actions")
        if isinstance(actions, Mapping) and isinstance(actions.get("set"), Mapping):
            for name, value in actions["set"].items():
                set_path = (*path, "actions", "set", name)
                settable = name in SETTABLE_FIELDS or (
                    name.startswith("custom.") and field_kind(name)
                )
                if not settable:
                    errors.append(
                        pos.error(
                            set_path,
                            f"cannot set field {name!r} (allowed: {', '.join(SETTABLE_FIELDS)})",
                            at_key=True,
                        )
                    )
                elif not isinstance(value, str | int | float | dt.date) or isinstance(value, bool):
                    errors.append(
                        pos.error(set_path, f"actions.set.{name}: expected a single value")
                    )
                elif problem := action_value_problem(name, value):
                    errors.append(pos.error(set_path, f"actions.set.{name}: {problem}"))
    rollups = data.get("rollups") if isinstance(data.get("rollups"), list) else []
    rollup_ids: set[str] = set()
    for index, rollup in enumerate(rollups):
        if not isinstance(rollup, Mapping):
            continue
        path = ("rollups", index)
        if isinstance(rollup.get("id"), str):
            if rollup["id"] in rollup_ids:
                errors.append(pos.error((*path, "id"), f"duplicate rollup id {rollup['id']!r}"))
            rollup_ids.add(rollup["id"])
        parents = rollup.get("parents")
        if isinstance(parents, Mapping) and "type" in parents:
            errors += when_errors({"type": parents["type"]}, (*path, "parents"), pos)
        write_back = rollup.get("write_back")
        if isinstance(write_back, Mapping) and isinstance(write_back.get("fields"), Mapping):
            for metric in write_back["fields"]:
                if metric not in METRICS:
                    message = f"unknown metric {metric!r} (allowed: {', '.join(METRICS)})"
                    errors.append(
                        pos.error((*path, "write_back", "fields", metric), message, at_key=True)
                    )
        if structure_ok and not errors:
            try:  # the rollup engine's own reading, so both agree on what a rollup is
                rollup_spec_from_dict(rollup)
            except ValueError as exc:
                errors.append(pos.error(path, str(exc)))
    return errors


def action_value_problem(name: str, value: Any) -> str | None:
    """What the tracker would refuse for certain, checked before anything is written."""
    if name == "estimate" and (isinstance(value, str) or isinstance(value, dt.date)):
        return f"expected a number (got {value!r})"
    if name in ("start_date", "due_date") and not isinstance(value, dt.date):
        try:
            dt.date.fromisoformat(str(value))
        except ValueError:
            return f"expected a date such as 2027-03-31 (got {value!r})"
    if name in ("priority", "assignee") and not isinstance(value, str):
        return f"expected a name (got {value!r})"
    if isinstance(value, str) and not value.strip():
        return "expected a value, not blank text"
    return None


def _scope_errors(scope: Any, path: tuple[Hashable, ...], pos: Positions) -> list[RuleError]:
    errors = []
    if isinstance(scope, Mapping):
        for tracker, projects in scope.items():
            if isinstance(projects, list) and not projects:
                message = f"scope.{tracker}: list projects, or ['*'] for all"
                errors.append(pos.error((*path, tracker), message))
    return errors


_OVERRIDABLE = ("severity", "enforcement", "when", "require", "message", "hint", "owner")


def override_errors(data: Mapping[str, Any], pos: Positions) -> list[RuleError]:
    """`overrides:` entries: what can be checked without the extended pack (the rule ids
    are checked when the packs are loaded together)."""
    overrides = data.get("overrides")
    if overrides is None:
        return []
    errors = []
    if "extend" not in data:
        message = "overrides need `extend:`, the rules file whose rules they change"
        errors.append(pos.error(("overrides",), message, at_key=True))
    for index, override in enumerate(overrides if isinstance(overrides, list) else []):
        if not isinstance(override, Mapping):
            continue
        path = ("overrides", index)
        if not override.get("disabled") and not any(k in override for k in _OVERRIDABLE):
            message = f"override changes nothing: set one of {', '.join(_OVERRIDABLE)} or disabled"
            errors.append(pos.error(path, message))
        errors += _scope_errors(override.get("scope"), (*path, "scope"), pos)
        errors += when_errors(override.get("when"), (*path, "when"), pos)
        errors += require_errors(override, path, pos)
        if isinstance(override.get("message"), str):
            problems = template_errors(override["message"])
            errors += [pos.error((*path, "message"), e) for e in problems]
    return errors
