"""Load rules: `across: person` with `require: [{load: {max: 110%}}]` (over-allocation)
or `{load: {min: 50%, for: 2w}}` (under-allocation), over the weeks of a `Ledger`.

Pure. Over-allocation lands on the items driving the load in the weeks over the bound,
so their managed comments say why; under-allocation is a fact about a person, not an
item, and is reported to the PMO only (`under_allocated`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from rules.allocation import Ledger
from rules.engine import Finding
from rules.pack import Pack, Rule, RuleSet

MAX_WEEKS_SHOWN = 4


def load_rules(ruleset: Pack | RuleSet) -> list[Rule]:
    packs = ruleset.packs if isinstance(ruleset, RuleSet) else (ruleset,)
    return [rule for pack in packs for rule in pack.rules if rule.load is not None]


def _pct(value: float) -> str:
    return f"{value * 100:.0f}%"


def over_allocated(
    rule: Rule, ledger: Ledger, people: Iterable[str], weeks: list[dt.date]
) -> dict[str, Finding]:
    """item key -> the finding for that item, for every item with work in a week where
    its person is over `load.max`. Items of people within bounds get nothing."""
    bound = rule.load
    if bound is None or bound.max is None:
        return {}
    out: dict[str, Finding] = {}
    for person in people:
        over = [(w, f) for w in weeks if (f := ledger.fraction(person, w)) and f > bound.max]
        if not over:
            continue
        name = ledger.member(person).name
        shown = ", ".join(f"{w.isoformat()} ({_pct(f)})" for w, f in over[:MAX_WEEKS_SHOWN])
        more = f" and {len(over) - MAX_WEEKS_SHOWN} more" if len(over) > MAX_WEEKS_SHOWN else ""
        drivers: dict[str, None] = {}
        for week, _f in over:
            drivers.update(dict.fromkeys(ledger.drivers(person, week)))
        for key in drivers:
            message = (
                f"{rule.title or rule.id}: {name} is allocated over {_pct(bound.max)} "
                f"in the weeks of {shown}{more}; this item is part of that load"
            )
            hint = rule.hint or "Move work to someone with room, or move its dates."
            out[key] = Finding(
                rule.id, rule.severity, rule.enforcement, message, "fail", key, rule.title, hint
            )
    return out


def under_allocated(
    rule: Rule, ledger: Ledger, people: Iterable[str], weeks: list[dt.date]
) -> list[dict[str, Any]]:
    """People under `load.min` for `load.for` weeks in a row: for the PMO's report."""
    bound = rule.load
    if bound is None or bound.min is None:
        return []
    found = []
    for person in people:
        run: list[dt.date] = []
        for week in weeks:
            fraction = ledger.fraction(person, week)
            if fraction is not None and fraction < bound.min:
                run.append(week)
                if len(run) >= bound.weeks:
                    break
            else:
                run = []
        if len(run) >= bound.weeks:
            member = ledger.member(person)
            found.append(
                {
                    "rule": rule.id,
                    "person": person,
                    "name": member.name,
                    "team": member.team,
                    "weeks": [w.isoformat() for w in run],
                    "load": [round(ledger.fraction(person, w) or 0.0, 3) for w in run],
                    "message": f"{member.name} is under {_pct(bound.min)} for {len(run)} "
                    f"week(s) from {run[0].isoformat()}",
                }
            )
    return found
