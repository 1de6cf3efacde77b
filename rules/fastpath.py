"""Fast paths for compiled checks.

The generic tests in `rules.checks` read values through `get(item, ctx)`. For the common
shapes (a plain model attribute, or the derived ages) these variants read the attribute
directly; they must give exactly the same answers, which tests/test_rules_engine.py checks
for both paths over the whole operator table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from rules.fields import (
    DATE,
    DATETIME,
    ENUM,
    LIST,
    MODEL_FIELDS,
    NUMBER,
    TEXT,
    FieldSpec,
    compile_field,
    parse_duration,
    parse_moment,
)  # fmt: skip

Test = Callable[[Any, Any], bool]


def _fold(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def fast_test(spec: FieldSpec, op: str, arg: Any, other: FieldSpec | None) -> Test | None:
    attr, kind = spec.attr, spec.kind
    if spec.name in ("status_age", "age") and op in ("min", "max"):
        return _fast_age(spec.name, op, parse_duration(arg))
    if attr is None:
        return None
    if op == "present" and arg is True:
        if kind == TEXT:
            return lambda item, ctx: bool(value := attr(item)) and not value.isspace()
        if kind == LIST:
            return lambda item, ctx: len(attr(item)) > 0
        return lambda item, ctx: attr(item) is not None
    if op in ("min", "max") and kind == NUMBER:
        bound = arg
        if op == "max":
            return lambda item, ctx: (value := attr(item)) is None or value <= bound
        return lambda item, ctx: (value := attr(item)) is None or value >= bound
    if op == "min_length" and kind == TEXT:
        need = int(arg)
        return lambda item, ctx: len((attr(item) or "").strip()) >= need
    if op == "contains" and kind == TEXT:
        folded = tuple(n.casefold() for n in (arg if isinstance(arg, list) else [arg]))

        def test_contains(item: Any, ctx: Any) -> bool:
            value = attr(item)
            if not value:
                return False
            text = value.casefold()
            for needle in folded:
                if needle not in text:
                    return False
            return True

        return test_contains
    if op in ("in", "equals") and kind in (TEXT, ENUM):
        allowed = frozenset(_fold(a) for a in (arg if op == "in" else [arg]))
        return lambda item, ctx: (value := attr(item)) is not None and value.casefold() in allowed
    if op in ("before", "after") and kind == DATE:
        return _fast_date_bound(attr, op, parse_moment(arg))
    if op in ("lte_field", "gte_field") and other is not None and other.kind == kind:
        return _fast_field_compare(spec, op, other)
    return None


def _fast_age(name: str, op: str, bound: Any) -> Test:
    # written out per case: this is the hottest check of a typical pack
    if name == "status_age" and op == "max":

        def test_status_age_max(item: Any, ctx: Any) -> bool:
            start = item.status_changed or item.updated or item.created
            return start is None or ctx.now - start <= bound

        return test_status_age_max
    if name == "status_age":

        def test_status_age_min(item: Any, ctx: Any) -> bool:
            start = item.status_changed or item.updated or item.created
            return start is None or ctx.now - start >= bound

        return test_status_age_min
    if op == "max":

        def test_age_max(item: Any, ctx: Any) -> bool:
            start = item.created or item.updated
            return start is None or ctx.now - start <= bound

        return test_age_max

    def test_age_min(item: Any, ctx: Any) -> bool:
        start = item.created or item.updated
        return start is None or ctx.now - start >= bound

    return test_age_min


def _fast_date_bound(attr: Callable[[Any], Any], op: str, moment: Any) -> Test:
    if isinstance(moment, dt.timedelta):
        days = dt.timedelta(days=moment.days if moment.days >= 0 else -((-moment).days))
        if op == "after":
            return lambda item, ctx: (value := attr(item)) is None or value > ctx.today + days
        return lambda item, ctx: (value := attr(item)) is None or value < ctx.today + days
    limit = moment.date() if isinstance(moment, dt.datetime) else moment
    if op == "after":
        return lambda item, ctx: (value := attr(item)) is None or value > limit
    return lambda item, ctx: (value := attr(item)) is None or value < limit


def _fast_field_compare(spec: FieldSpec, op: str, other: FieldSpec) -> Test | None:
    mine = spec.attr
    if spec.kind not in (NUMBER, DATE, DATETIME) or mine is None:
        return None
    lte = op == "lte_field"
    if other.attr is not None:
        theirs = other.attr

        def test_same_item(item: Any, ctx: Any) -> bool:
            a, b = mine(item), theirs(item)
            return a is None or b is None or (a <= b if lte else a >= b)

        return test_same_item
    if other.name.startswith("parent.") and other.name[7:] in MODEL_FIELDS:
        theirs = compile_field(other.name[7:]).attr
        if theirs is None:
            return None

        def test_parent(item: Any, ctx: Any) -> bool:
            a = mine(item)
            if a is None or ctx.parent is None:
                return True
            b = theirs(ctx.parent)
            return b is None or (a <= b if lte else a >= b)

        return test_parent
    return None
