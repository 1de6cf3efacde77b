"""Operator validators: for each check operator, what its argument may be on which kind of
field. `rules.schema` uses them; an error message names what to write instead."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from rules.fields import (
    ANY,
    DATE,
    DATETIME,
    DURATION,
    ENUM,
    LIST,
    NUMBER,
    PERSON,
    TEXT,
    parse_duration,
    parse_moment,
)  # fmt: skip
from rules.regexes import pattern_error


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool | dt.date)


def _v_present(arg: Any, kind: str) -> str | None:
    return None if isinstance(arg, bool) else "present takes true or false"


def _v_equals(arg: Any, kind: str) -> str | None:
    if kind == LIST:
        return "equals does not apply to a list field; use contains"
    if kind == DURATION:
        return "equals does not apply to a duration; use min or max"
    return None if _scalar(arg) else "equals takes a single value"


def _v_in(arg: Any, kind: str) -> str | None:
    if kind in (LIST, DURATION):
        return f"in/not_in do not apply to a {kind} field"
    if not isinstance(arg, list) or not arg or not all(_scalar(a) for a in arg):
        return "expected a non-empty list of values"
    return None


def _v_matches(arg: Any, kind: str) -> str | None:
    if kind not in (TEXT, ENUM, PERSON, ANY):
        return f"matches applies to text fields, not a {kind} field"
    if not isinstance(arg, str):
        return "matches takes a regular expression"
    problem = pattern_error(arg)
    return f"bad regular expression {arg!r}: {problem}" if problem else None


def _v_contains(arg: Any, kind: str) -> str | None:
    if kind not in (TEXT, LIST, PERSON, ANY):
        return f"contains applies to text or list fields, not a {kind} field"
    values = arg if isinstance(arg, list) else [arg]
    if not values or not all(isinstance(v, str) and v for v in values):
        return "contains takes text or a non-empty list of text"
    return None


def _v_bound(arg: Any, kind: str) -> str | None:
    if kind == DURATION:
        if isinstance(arg, int | float) and not isinstance(arg, bool):
            return f"expected a duration such as 5d or 12h, got the number {arg}"
        if parse_duration(arg) is None:
            return f"bad duration {arg!r}: write e.g. 30m, 12h, 5d or 2w"
        return None
    if kind in (DATE, DATETIME):
        return "min/max do not apply to dates; use before or after"
    if kind not in (NUMBER, ANY):
        return f"min/max apply to numbers and durations, not a {kind} field"
    if isinstance(arg, bool) or not isinstance(arg, int | float):
        if kind == ANY and parse_duration(arg) is not None:
            return None
        return f"expected a number, got {arg!r}"
    return None


def _v_min_length(arg: Any, kind: str) -> str | None:
    if kind not in (TEXT, LIST, PERSON, ANY):
        return f"min_length applies to text or list fields, not a {kind} field"
    if isinstance(arg, bool) or not isinstance(arg, int) or arg < 0:
        return "min_length takes a whole number >= 0"
    return None


def _v_moment(arg: Any, kind: str) -> str | None:
    if kind not in (DATE, DATETIME, ANY):
        return f"before/after apply to dates, not a {kind} field"
    if parse_moment(arg) is None:
        return f"bad date {arg!r}: write an ISO date (2026-12-31) or a relative one (+30d, -7d)"
    return None


def _v_field(arg: Any, kind: str) -> str | None:
    return None if isinstance(arg, str) else "expected a field name"


VALIDATORS: dict[str, Callable[[Any, str], str | None]] = {
    "present": _v_present,
    "equals": _v_equals,
    "in": _v_in,
    "not_in": _v_in,
    "matches": _v_matches,
    "contains": _v_contains,
    "min": _v_bound,
    "max": _v_bound,
    "min_length": _v_min_length,
    "before": _v_moment,
    "after": _v_moment,
    "lte_field": _v_field,
    "gte_field": _v_field,
    "count": None,  # type: ignore[dict-item]  # only in across rules, validated there
}
OPERATORS = tuple(VALIDATORS)


def field_kinds_comparable(a: str, b: str) -> bool:
    """lte_field / gte_field need two sides of the same nature."""
    groups = ({DATE, DATETIME}, {NUMBER}, {DURATION}, {TEXT, ENUM, PERSON})
    return a == ANY or b == ANY or any(a in g and b in g for g in groups)
