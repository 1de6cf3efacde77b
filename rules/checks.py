"""Check operators: one validator and one closure builder per operator.

A check on a missing value: `present` decides presence. Ordering checks (`min`, `max`,
`before`, `after`, `lte_field`, `gte_field`) pass, because there is nothing to compare:
pair them with `present: true` when the value is required. `equals` and `in` fail (a
missing value equals nothing) and `not_in` passes. Text checks read a missing value as
empty: `contains` and `min_length` fail, `matches` searches the empty string.
Text comparisons (`equals`, `in`, `not_in`, `contains`) ignore case; `matches` is a
case-sensitive RE2 search (linear time) unless the pattern says `(?i)`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from rules.fastpath import fast_test
from rules.fields import (
    DATE,
    DATETIME,
    DURATION,
    LIST,
    FieldSpec,
    as_comparable,
    field_ref,
    is_present,
    parse_duration,
    parse_moment,
    show,
)  # fmt: skip
from rules.regexes import compile_search

Test = Callable[[Any, Any], bool]
Describe = Callable[[Any, Any], str]


@dataclass(frozen=True, slots=True)
class Check:
    """One compiled requirement: `test(item, ctx)` is True when it holds."""

    field: str
    op: str
    arg: Any
    test: Test
    describe: (
        Describe  # the default message for a failure, e.g. "estimate must be at most 13 (is 21)"
    )
    hint: str  # how to fix it, for the managed comment


def _fold(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def build_check(spec: FieldSpec, op: str, arg: Any, other: FieldSpec | None = None) -> Check:
    """Compile one validated check into closures (a direct-attribute variant of the test
    where one exists)."""
    check = _build_generic(spec, op, arg, other)
    fast = fast_test(spec, op, arg, other)
    return check if fast is None else replace(check, test=fast)


def _build_generic(spec: FieldSpec, op: str, arg: Any, other: FieldSpec | None) -> Check:
    name, get = spec.name, spec.get
    if op == "present":
        want = bool(arg)

        def test_present(item: Any, ctx: Any) -> bool:
            return is_present(get(item, ctx)) is want

        if want:
            return Check(
                name,
                op,
                arg,
                test_present,
                lambda i, c: f"{name} must be set",
                f"Set {field_ref(name)}.",
            )
        return Check(
            name, op, arg, test_present,
            lambda i, c: f"{name} must be empty (is {show(get(i, c))})",
            f"Clear {field_ref(name)}.",
        )  # fmt: skip

    if op == "equals":
        wanted = _fold(arg)

        def test_equals(item: Any, ctx: Any) -> bool:
            value = get(item, ctx)
            return value is not None and _fold(value) == wanted

        return Check(
            name, op, arg, test_equals,
            lambda i, c: f"{name} must be {show(arg)} (is {show(get(i, c))})",
            f"Set {field_ref(name)} to {show(arg)}.",
        )  # fmt: skip

    if op in ("in", "not_in"):
        allowed = frozenset(_fold(a) for a in arg)
        listed = ", ".join(show(a) for a in arg)
        if op == "in":

            def test_in(item: Any, ctx: Any) -> bool:
                value = get(item, ctx)
                return value is not None and _fold(value) in allowed

            return Check(
                name, op, arg, test_in,
                lambda i, c: f"{name} must be one of {listed} (is {show(get(i, c))})",
                f"Set {field_ref(name)} to one of {listed}.",
            )  # fmt: skip

        def test_not_in(item: Any, ctx: Any) -> bool:
            value = get(item, ctx)
            return value is None or _fold(value) not in allowed

        return Check(
            name, op, arg, test_not_in,
            lambda i, c: f"{name} must not be {show(get(i, c))}",
            f"Change {name}: it must not be one of {listed}.",
        )  # fmt: skip

    if op == "matches":
        found = compile_search(arg)

        def test_matches(item: Any, ctx: Any) -> bool:
            value = get(item, ctx)
            return found("" if value is None else str(value))

        return Check(
            name, op, arg, test_matches,
            lambda i, c: f"{name} must match /{arg}/ (is {show(get(i, c))})",
            f"Edit {name} so it matches /{arg}/.",
        )  # fmt: skip

    if op == "contains":
        needles = tuple(arg if isinstance(arg, list) else [arg])
        folded = tuple(n.casefold() for n in needles)
        if spec.kind == LIST:

            def missing(item: Any, ctx: Any) -> list[str]:
                have = {_fold(v) for v in get(item, ctx) or ()}
                return [n for n, f in zip(needles, folded, strict=True) if f not in have]

            def test_contains_all(item: Any, ctx: Any) -> bool:
                values = get(item, ctx)
                if not values:
                    return False
                have = {_fold(v) for v in values}
                return all(f in have for f in folded)

            test_contains = test_contains_all
        else:

            def missing(item: Any, ctx: Any) -> list[str]:
                text = str(get(item, ctx) or "").casefold()
                return [n for n, f in zip(needles, folded, strict=True) if f not in text]

            def test_contains_text(item: Any, ctx: Any) -> bool:
                value = get(item, ctx)
                if not value:
                    return False
                text = str(value).casefold()
                for needle in folded:
                    if needle not in text:
                        return False
                return True

            test_contains = test_contains_text
        quoted = ", ".join(f'"{n}"' for n in needles)
        return Check(
            name, op, arg, test_contains,
            lambda i, c: f"{name} must contain " + ", ".join(f'"{n}"' for n in missing(i, c)),
            f"Add {quoted} to {name}.",
        )  # fmt: skip

    if op in ("min", "max"):
        bound = parse_duration(arg) if isinstance(arg, str) else arg
        at = "at least" if op == "min" else "at most"
        if op == "min":

            def test_bound(item: Any, ctx: Any) -> bool:
                value = get(item, ctx)
                return value is None or _number(value) >= bound
        else:

            def test_bound(item: Any, ctx: Any) -> bool:
                value = get(item, ctx)
                return value is None or _number(value) <= bound

        if spec.kind == DURATION:
            hint = (
                f"Move the item on or update its status: it has been there longer "
                f"than {show(bound)}."
                if op == "max"
                else f"Wait until {field_ref(name)} is at least {show(bound)}."
            )
        else:
            hint = (
                f"{'Raise' if op == 'min' else 'Reduce'} {field_ref(name)} to {at} {show(bound)}"
                + (" (split the item if it is too big)." if op == "max" else ".")
            )
        return Check(
            name, op, arg, test_bound,
            lambda i, c: f"{name} must be {at} {show(bound)} (is {show(get(i, c))})", hint,
        )  # fmt: skip

    if op == "min_length":
        need = int(arg)

        def length(item: Any, ctx: Any) -> int:
            value = get(item, ctx)
            if value is None:
                return 0
            return len(value.strip()) if isinstance(value, str) else len(value)

        def test_min_length(item: Any, ctx: Any) -> bool:
            return length(item, ctx) >= need

        unit = "entries" if spec.kind == LIST else "characters"
        return Check(
            name, op, arg, test_min_length,
            lambda i, c: f"{name} must have at least {need} {unit} (has {length(i, c)})",
            f"Make {name} at least {need} {unit} long.",
        )  # fmt: skip

    if op in ("before", "after"):
        return _moment_check(spec, op, arg)

    if op in ("lte_field", "gte_field"):
        assert other is not None
        other_get = other.get
        later = "later than" if spec.kind in (DATE, DATETIME) else "greater than"
        earlier = "earlier than" if spec.kind in (DATE, DATETIME) else "less than"
        word = later if op == "lte_field" else earlier

        def test_field(item: Any, ctx: Any) -> bool:
            mine, theirs = get(item, ctx), other_get(item, ctx)
            if mine is None or theirs is None:
                return True  # one side unknown: nothing to compare
            mine, theirs = as_comparable(mine, theirs)
            return mine <= theirs if op == "lte_field" else mine >= theirs

        return Check(
            name, op, arg, test_field,
            lambda i, c: f"{name} ({show(get(i, c))}) must not be {word} {other.name} "
            f"({show(other_get(i, c))})",
            f"Bring {name} within {other.name}, or change {other.name}.",
        )  # fmt: skip
    raise ValueError(f"unknown operator {op!r}")


def all_of(checks: list[Check]) -> Check:
    """Several operators on one field inside an `any` alternative: all must hold."""
    if len(checks) == 1:
        return checks[0]
    tests = tuple(c.test for c in checks)

    def test_all(item: Any, ctx: Any) -> bool:
        return all(t(item, ctx) for t in tests)

    def describe(item: Any, ctx: Any) -> str:
        return " and ".join(c.describe(item, ctx) for c in checks if not c.test(item, ctx))

    hint = " ".join(c.hint for c in checks)
    return Check(checks[0].field, "all", tuple(checks), test_all, describe, hint)


def any_of(alternatives: list[Check]) -> Check:
    """`any: [check, ...]`: holds when at least one alternative holds."""
    tests = tuple(c.test for c in alternatives)

    def test_any(item: Any, ctx: Any) -> bool:
        for test in tests:
            if test(item, ctx):
                return True
        return False

    def describe(item: Any, ctx: Any) -> str:
        return "one of these must hold: " + "; or ".join(
            c.describe(item, ctx) for c in alternatives
        )

    hint = " Or: ".join(c.hint for c in alternatives)
    return Check("any", "any", tuple(alternatives), test_any, describe, hint)


def fields_checked(check: Check) -> Iterator[str]:
    """The model fields a check reads (an `any`/`all` check: its parts'; a comparison
    with another field: that one too)."""
    if check.op in ("any", "all") and isinstance(check.arg, tuple):
        for part in check.arg:
            yield from fields_checked(part)
        return
    yield check.field
    if isinstance(check.arg, str):
        yield check.arg


def _number(value: Any) -> Any:
    if isinstance(value, str):
        duration = parse_duration(value)
        return duration if duration is not None else float(value)
    return value


def _moment_check(spec: FieldSpec, op: str, arg: Any) -> Check:
    name, get = spec.name, spec.get
    moment = parse_moment(arg)
    on_dates = spec.kind == DATE

    def bound(ctx: Any) -> Any:
        if isinstance(moment, dt.timedelta):
            if on_dates:
                whole_days = moment.days if moment.days >= 0 else -((-moment).days)
                return ctx.today + dt.timedelta(days=whole_days)
            return ctx.now + moment
        return moment

    def test_moment(item: Any, ctx: Any) -> bool:
        value = get(item, ctx)
        if value is None:
            return True
        value, limit = as_comparable(value, bound(ctx))
        return value < limit if op == "before" else value > limit

    relative = f" ({arg})" if isinstance(moment, dt.timedelta) else ""
    return Check(
        name, op, arg, test_moment,
        lambda i, c: f"{name} must be {op} {show(bound(c))}{relative} (is {show(get(i, c))})",
        f"Set {field_ref(name)} {op} {arg}" + (" from today." if relative else "."),
    )  # fmt: skip
