"""The `load` check of `across: person` rules: `{load: {max: 110%}}`,
`{load: {min: 50%, for: 2w}}`. Parsed and validated here; evaluated in `rules.load`."""

from __future__ import annotations

import re
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

from rules.fields import parse_duration

_PERCENT = re.compile(r"^\s*(\d{1,4}(?:\.\d+)?)\s*%\s*$")
LOAD_EXAMPLE = "{load: {max: 110%}} or {load: {min: 50%, for: 2w}}"


@dataclass(frozen=True, slots=True)
class LoadBound:
    max: float | None = None  # fractions of capacity: 1.1 = 110%
    min: float | None = None
    weeks: int = 1  # `for:` how many weeks in a row the load must stay under `min`


def percent(value: Any) -> float | None:
    """`110%` -> 1.1; a bare number is a percentage too; None when neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) / 100 if 0 <= value <= 1000 else None
    match = _PERCENT.match(value) if isinstance(value, str) else None
    return float(match[1]) / 100 if match and float(match[1]) <= 1000 else None


def load_problems(check: Any) -> list[tuple[tuple[Hashable, ...], str]]:
    """What is wrong with one `require` entry of an `across: person` rule, as
    (path below the entry, reason) pairs; empty when it is a valid load check."""
    if not isinstance(check, Mapping) or set(check) != {"load"}:
        return [((), f"across: person rules take one load check, e.g. {LOAD_EXAMPLE}")]
    spec = check["load"]
    if not isinstance(spec, Mapping) or not ({"max", "min"} & set(spec)):
        return [(("load",), f"load takes max and/or min, e.g. {LOAD_EXAMPLE}")]
    problems = []
    for key, value in spec.items():
        if key in ("max", "min"):
            if percent(value) is None:
                problems.append((("load", key), f"load.{key}: a percentage such as 110%"))
        elif key == "for":
            span = parse_duration(value)
            if span is None or span.days < 7 or span.days % 7 or span.days > 52 * 7:
                problems.append((("load", key), "load.for: whole weeks, 1w to 52w, e.g. 2w"))
        else:
            problems.append((("load", key), f"unknown key {key!r} (allowed: max, min, for)"))
    return problems


def parse_load(spec: Mapping[str, Any]) -> LoadBound:
    span = parse_duration(spec.get("for")) if "for" in spec else None
    return LoadBound(
        max=percent(spec["max"]) if "max" in spec else None,
        min=percent(spec["min"]) if "min" in spec else None,
        weeks=span.days // 7 if span else 1,
    )
