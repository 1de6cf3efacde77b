"""Checks of the parts a rule and a waiver share: `when` selectors and `require` checks
(fields, operators and their arguments, `any` groups, `count` in across rules)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from rules.errors import RuleError
from rules.fields import field_kind, field_names
from rules.load_spec import load_problems
from rules.operators import OPERATORS, VALIDATORS, field_kinds_comparable
from rules.schema import DISTINCT_FIELDS, ENUM_VALUES
from rules.yamlpos import Positions


def when_errors(when: Any, path: tuple[Hashable, ...], pos: Positions) -> list[RuleError]:
    """A `when` (or rollup `parents`) filter: field -> value or list of values."""
    if not isinstance(when, Mapping):
        return []  # absent, or the schema already said it is not a mapping
    errors = []
    for name, wanted in when.items():
        key_path = (*path, name)
        if field_kind(name) is None:
            errors.append(pos.error(key_path, _unknown_field(name), at_key=True))
            continue
        values = wanted if isinstance(wanted, list) else [wanted]
        if not values:
            errors.append(pos.error(key_path, f"when.{name}: list at least one value"))
        for i, value in enumerate(values):
            value_path = (*key_path, i) if isinstance(wanted, list) else key_path
            if value is not None and not isinstance(value, str | int | float | bool):
                errors.append(
                    pos.error(value_path, f"when.{name}: expected a value or a list of values")
                )
            elif name in ENUM_VALUES and value not in ENUM_VALUES[name]:
                allowed = ", ".join(ENUM_VALUES[name])
                errors.append(
                    pos.error(value_path, f"unknown {name} {value!r} (allowed: {allowed})")
                )
    return errors


def _unknown_field(name: Any) -> str:
    return f"unknown field {name!r} (allowed: {', '.join(field_names())})"


def require_errors(
    rule: Mapping[str, Any], path: tuple[Hashable, ...], pos: Positions
) -> list[RuleError]:
    checks = rule.get("require")
    if not isinstance(checks, list):
        return []
    errors = []
    across = rule.get("across") is not None
    for index, check in enumerate(checks):
        cpath = (*path, "require", index)
        if rule.get("across") == "person":
            errors += [pos.error((*cpath, *sub), why) for sub, why in load_problems(check)]
        elif across and isinstance(check, Mapping):
            errors += _count_errors(check, cpath, pos)
        else:
            errors += _check_errors(check, cpath, pos)
    return errors


def _check_errors(check: Any, cpath: tuple[Hashable, ...], pos: Positions) -> list[RuleError]:
    """One check: {field: F, <operator>: value, ...} or {any: [check, check, ...]}."""
    if not isinstance(check, Mapping):
        return [pos.error(cpath, "a check is a mapping such as {field: estimate, max: 13}")]
    if "any" in check:
        alternatives = check["any"]
        errors = [
            pos.error((*cpath, key), f"unknown key {key!r} next to any (allowed: any)", at_key=True)
            for key in check
            if key != "any"
        ]
        if not isinstance(alternatives, list) or len(alternatives) < 2:
            return [*errors, pos.error((*cpath, "any"), "any takes a list of two or more checks")]
        for i, alternative in enumerate(alternatives):
            errors += _check_errors(alternative, (*cpath, "any", i), pos)
        return errors
    errors = []
    ops = [k for k in check if k != "field"]
    for op in ops:
        if op == "count":
            errors.append(
                pos.error((*cpath, op), "count is only valid in across rules", at_key=True)
            )
        elif op not in OPERATORS:
            allowed = ", ".join(o for o in OPERATORS if o != "count")
            message = f"unknown operator {op!r} (allowed: field, any, {allowed})"
            errors.append(pos.error((*cpath, op), message, at_key=True))
    if "field" not in check:
        if errors:  # e.g. a lone `count`: its own error says enough
            return errors
        message = "check needs a field, e.g. {field: estimate, present: true}"
        return [pos.error(cpath, message)]
    name = check["field"]
    kind = field_kind(name) if isinstance(name, str) else None
    if kind is None:
        return [*errors, pos.error((*cpath, "field"), _unknown_field(name))]
    if not ops:
        message = f"check on {name} needs an operator, e.g. present: true"
        errors.append(pos.error(cpath, message))
    for op in ops:
        validator = VALIDATORS.get(op)
        if validator is None:
            continue
        problem = validator(check[op], kind)
        if problem is None and op in ("lte_field", "gte_field"):
            other_kind = field_kind(check[op])
            if other_kind is None:
                problem = _unknown_field(check[op])
            elif not field_kinds_comparable(kind, other_kind):
                problem = f"cannot compare {name} ({kind}) with {check[op]} ({other_kind})"
        if problem:
            errors.append(pos.error((*cpath, op), problem))
    return errors


def _count_errors(
    check: Mapping[str, Any], cpath: tuple[Hashable, ...], pos: Positions
) -> list[RuleError]:
    errors = []
    for key in check:
        if key != "count":
            errors.append(
                pos.error(
                    (*cpath, key),
                    f"across rules take only count checks, e.g. {{count: {{max: 5}}}} "
                    f"(got {key!r})",
                    at_key=True,
                )
            )
    count = check.get("count")
    if "count" not in check:
        return errors or [
            pos.error(cpath, "across rules take a count check, e.g. {count: {max: 5}}")
        ]
    if not isinstance(count, Mapping) or not count:
        return [
            *errors,
            pos.error(
                (*cpath, "count"),
                "count takes {min: N} and/or {max: N}, optionally {distinct: FIELD}",
            ),
        ]
    for key, value in count.items():
        if key == "distinct":
            if value not in DISTINCT_FIELDS:
                errors.append(
                    pos.error(
                        (*cpath, "count", key),
                        f"count.distinct: unknown field {value!r} "
                        f"(allowed: {', '.join(DISTINCT_FIELDS)})",
                    )
                )
        elif key not in ("min", "max"):
            errors.append(
                pos.error(
                    (*cpath, "count", key),
                    f"unknown key {key!r} (allowed: min, max, distinct)",
                    at_key=True,
                )
            )
        elif isinstance(value, bool) or not isinstance(value, int) or value < 0:
            errors.append(
                pos.error((*cpath, "count", key), f"count.{key}: expected a whole number >= 0")
            )
    return errors
