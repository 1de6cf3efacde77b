"""Rule-pack test cases (`<pack>.tests.yaml`): items with the rules they should fail.

Format (also documented in the header of config/packs/pmo-standard.tests.yaml):

    rules: pmo-standard.yaml          # rules file(s), relative to this file; a list is allowed
    now: 2026-11-01T09:00:00Z         # evaluation time (default: the current time)
    waivers: pmo-standard.waivers.yaml  # optional: waivers file(s) the cases run with
    defaults: {tracker: jira, project: PAY}   # optional: fields every case's item starts from
    cases:
      - name: in-progress epic without an owner
        item: {type: epic, status_category: in_progress}   # common-model fields
        parent: {type: epic, due_date: 2026-12-01}          # optional: the parent item
        expect_fail: [epic-has-owner]                       # exactly the rules that fail
        expect_waived: []                                   # exactly the rules waived
        only: [epic-has-owner]                              # optional: compare just these
      - name: a sixth item in progress for Sam             # a portfolio (across:) rule
        item: {status_category: in_progress, assignee: Sam}
        group:                                              # the other items of its groups
          - {status_category: in_progress, assignee: Sam}
        expect_fail: [wip-per-person]

Items need only the fields a case is about. Defaults: tracker jira, project TEST (or the
first tracker and project of the first pack with a `scope`: a rule named by a case whose
item is outside its pack's scope is an error, never a silent pass),
native_id TEST-<n>, key <tracker>:<native_id>, type task, status_category todo, status from
the category (To Do, In Progress, Done, Removed), title = the case name, created 30 days
and updated 1 day before `now`. Timestamps and dates may be relative to `now` (`-6d`).
`expect_fail` lists every rule the item must fail; all other rules must pass (or, with
`only`, all other listed rules). A rule that raises is always a failure of the case.
A case naming an `across:` rule lists the other items of the item's groups under
`group` (same fields as `item`, ids TEST-<n>01, TEST-<n>02, ...): each rule counts those
in the item's own group (same assignee, project, parent...), the item included, and
waivers apply to its finding as to any other.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from marshmallow import ValidationError, validate
from marshmallow import fields as mf

from config.yamlsafe import TooLarge, read_yaml_text
from connector.model import WorkItem, parse_datetime
from rules.engine import Context, evaluate
from rules.errors import RuleError
from rules.fields import parse_duration
from rules.pack import RuleSet
from rules.portfolio import across_rules, evaluate_across, group_key
from rules.ruleset import load_ruleset_with_errors
from rules.schema import StrictSchema, schema_errors
from rules.waivers import read_waivers, waiver_errors
from rules.yamlpos import load_yaml

MAX_GROUP = 1_000  # other items of a case's groups: bounded like every input
ITEM_FIELDS = tuple(f.name for f in fields(WorkItem))
_RELATIVE_FIELDS = ("created", "updated", "status_changed", "start_date", "due_date")
_STATUS_NAMES = {
    "todo": "To Do",
    "in_progress": "In Progress",
    "done": "Done",
    "removed": "Removed",
}


class _Case(StrictSchema):
    name = mf.String(required=True)
    item = mf.Dict(keys=mf.String(), required=True)
    parent = mf.Dict(keys=mf.String())
    expect_fail = mf.List(mf.String(), required=True)
    expect_waived = mf.List(mf.String())
    only = mf.List(mf.String())
    group = mf.List(mf.Dict(keys=mf.String()), validate=validate.Length(max=MAX_GROUP))


class _CaseFile(StrictSchema):
    rules = mf.Raw(required=True)
    now = mf.Raw()  # default: the current time
    waivers = mf.Raw()  # waivers file(s) for these cases, relative to this file
    defaults = mf.Dict(keys=mf.String())
    cases = mf.List(mf.Nested(_Case), required=True)


# The tests file's schema by a public name: the editors' JSON Schema is generated from it.
CaseFileSchema = _CaseFile


@dataclass(frozen=True)
class Case:
    name: str
    item: WorkItem
    parent: WorkItem | None
    expect_fail: tuple[str, ...]
    only: tuple[str, ...] | None
    line: int
    expect_waived: tuple[str, ...] = ()
    group: tuple[WorkItem, ...] = ()  # the other items of the item's across: groups


@dataclass
class CaseFile:
    path: str
    ruleset: RuleSet
    now: dt.datetime
    cases: list[Case] = field(default_factory=list)


@dataclass(frozen=True)
class CaseResult:
    case: Case
    expected: tuple[str, ...]
    actual: tuple[str, ...]
    errors: tuple[str, ...]
    messages: tuple[str, ...] = ()  # of the failing findings, to show why
    expected_waived: tuple[str, ...] = ()
    actual_waived: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return (
            set(self.expected) == set(self.actual)
            and set(self.expected_waived) == set(self.actual_waived)
            and not self.errors
        )


def load_case_file(path: str) -> tuple[CaseFile | None, list[RuleError]]:
    """The cases of a tests file, or every problem in it at once (shape, rules, cases)."""
    try:
        text = read_yaml_text(path)
    except (OSError, UnicodeDecodeError, TooLarge) as exc:
        return None, [RuleError(path, 1, 1, f"cannot read file: {exc}")]
    data, pos, errors = load_yaml(text, path)
    if errors:
        return None, errors
    if not isinstance(data, Mapping):
        return None, [RuleError(path, 1, 1, "a tests file is a mapping with rules and cases")]
    try:
        _CaseFile().load(data)
    except ValidationError as exc:
        errors += schema_errors(exc.messages, (), data, pos)

    now = _parse_now(data["now"]) if "now" in data else dt.datetime.now(dt.UTC)
    if now is None:
        errors.append(pos.error(("now",), "now: expected an ISO timestamp"))
    base = Path(path).parent
    ruleset, rule_errors = _ruleset(data, base)
    errors += rule_errors
    if ruleset is None or now is None or not isinstance(data.get("cases"), list):
        return None, sorted(set(errors))

    case_file = CaseFile(path, ruleset, now)
    known = {r.id: r for r in ruleset.rules}
    defaults = {**scope_defaults(ruleset), **(data.get("defaults") or {})}
    for index, raw in enumerate(data["cases"]):
        cpath = ("cases", index)
        if not isinstance(raw, Mapping) or not isinstance(raw.get("item"), Mapping):
            continue  # the schema said what is wrong
        try:
            item = _work_item(raw["item"], defaults, now, index, is_parent=False)
            parent = None
            if isinstance(raw.get("parent"), Mapping):
                parent = _work_item(raw["parent"], defaults, now, index, is_parent=True)
                if item.parent is None:
                    item = item.with_changes(parent=parent.key)
            group = tuple(
                _work_item(member, defaults, now, index, is_parent=False, member=number)
                for number, member in enumerate(_mappings(raw.get("group")))
            )
        except _ItemError as exc:
            where = exc.which if exc.member is None else ("group", exc.member)
            where = where if isinstance(where, tuple) else (where,)
            errors.append(pos.error((*cpath, *where, *exc.path), exc.message, at_key=exc.at_key))
            continue
        named = {key: _ids(raw.get(key)) for key in ("expect_fail", "expect_waived", "only")}
        for key, ids in named.items():
            for i, rule_id in enumerate(ids):
                problem = _rule_problem(known.get(rule_id), rule_id, ruleset, item, bool(group))
                if problem:
                    errors.append(pos.error((*cpath, key, i), problem))
        only = named["only"] if raw.get("only") is not None else None
        case_file.cases.append(Case(
            str(raw.get("name", "")), item, parent, named["expect_fail"], only,
            pos.value(cpath)[0], named["expect_waived"], group,
        ))  # fmt: skip
    return (None, sorted(set(errors))) if errors else (case_file, [])


def _mappings(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _ids(value: Any) -> tuple[str, ...]:
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def _paths(value: Any) -> list[str] | None:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def _ruleset(data: Mapping[str, Any], base: Path) -> tuple[RuleSet | None, list[RuleError]]:
    """The rules under test, with the tests file's own `waivers:` files added."""
    rule_paths = _paths(data.get("rules"))
    if rule_paths is None:
        return None, []  # missing or not text: the schema said so
    ruleset, errors = load_ruleset_with_errors(str(base / p) for p in rule_paths)
    waivers = list(ruleset.waivers)
    for name in _paths(data.get("waivers")) or ():
        found, file_errors = read_waivers(str(base / name))
        waivers += found
        errors += file_errors
    errors += waiver_errors(waivers, {r.id: r for r in ruleset.rules})
    return (None, errors) if errors else (replace(ruleset, waivers=tuple(waivers)), [])


def _rule_problem(
    rule: Any, rule_id: str, ruleset: RuleSet, item: WorkItem, has_group: bool
) -> str | None:
    if rule is None:
        return f"unknown rule {rule_id!r}"
    if rule.load is not None:
        return f"{rule_id} is a load rule: it reads the people file's capacity, not a case"
    if rule.across is not None and not has_group:
        return (
            f"{rule_id} is an across rule: list the other items of the item's "
            f"{rule.across} group under group"
        )
    pack = next(p for p in ruleset.packs if rule in p.rules)
    if not pack.in_scope(item):
        return (
            f"out of scope: {rule_id} is in pack {pack.name!r}, which does not see "
            f"{item.tracker} project {item.project} (set tracker/project in the item or defaults)"
        )
    return None


def scope_defaults(ruleset: RuleSet) -> dict[str, str]:
    """Case items default to the first tracker and project of the first scoped pack, so
    a scoped pack's cases are in its scope unless they say otherwise."""
    for pack in ruleset.packs:
        if pack.scope:
            tracker, projects = next(iter(pack.scope.items()))
            return {"tracker": tracker, "project": min(projects) if projects else "TEST"}
    return {}


def _parse_now(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return parse_datetime(value)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time(), dt.UTC)
    try:
        return parse_datetime(str(value))
    except ValueError:
        return None


class _ItemError(Exception):
    def __init__(self, which: str, path: tuple[Any, ...], message: str, at_key: bool = False):
        super().__init__(message)
        self.which, self.path, self.message, self.at_key = which, path, message, at_key
        self.member: int | None = None  # which item of the case's group


def _work_item(
    raw: Mapping[str, Any], defaults: Mapping[str, Any], now: dt.datetime, index: int,
    *, is_parent: bool, member: int | None = None,
) -> WorkItem:  # fmt: skip
    try:
        return _make_item(raw, defaults, now, index, is_parent, member)
    except _ItemError as exc:
        exc.member = member
        raise


def _make_item(
    raw: Mapping[str, Any], defaults: Mapping[str, Any], now: dt.datetime, index: int,
    is_parent: bool, member: int | None,
) -> WorkItem:  # fmt: skip
    which = "parent" if is_parent else "item"
    for name in raw:
        if name not in ITEM_FIELDS:
            allowed = ", ".join(ITEM_FIELDS)
            raise _ItemError(
                which, (name,), f"unknown item field {name!r} (allowed: {allowed})", True
            )
    data: dict[str, Any] = {**defaults, **raw}
    data.setdefault("tracker", "jira")
    data.setdefault("project", "TEST")
    suffix = "0" if is_parent else (f"{member + 1:02d}" if member is not None else "")
    data.setdefault("native_id", f"{data['project']}-{index + 1}{suffix}")
    data.setdefault("key", f"{data['tracker']}:{data['native_id']}")
    data.setdefault("type", "epic" if is_parent else "task")
    data.setdefault("status_category", "todo")
    data.setdefault("status", _STATUS_NAMES.get(str(data["status_category"]), "To Do"))
    data.setdefault("title", f"Test case item number {index + 1}")
    data.setdefault("created", now - dt.timedelta(days=30))
    data.setdefault("updated", now - dt.timedelta(days=1))
    for name in _RELATIVE_FIELDS:
        value = data.get(name)
        if isinstance(value, str) and value[:1] in "+-":
            delta = parse_duration(value[1:])
            if delta is None:
                raise _ItemError(which, (name,), f"bad relative time {value!r}: write e.g. -6d")
            data[name] = now - delta if value[0] == "-" else now + delta
    try:
        return WorkItem.from_dict(data)
    except (KeyError, ValueError, TypeError) as exc:
        raise _ItemError(which, (), f"{which}: not a valid work item ({exc})") from None


def _groups(ruleset: RuleSet, case: Case) -> dict[str, list[WorkItem]]:
    """rule id -> the case's group items in the item's own group for that rule."""
    groups = {}
    for _pack, rule in across_rules(ruleset):
        own = group_key(rule.across, case.item)
        groups[rule.id] = [m for m in case.group if own and group_key(rule.across, m) == own]
    return groups


def run_case_file(case_file: CaseFile) -> list[CaseResult]:
    results = []
    for case in case_file.cases:
        context = Context(case_file.now, case.parent)
        findings = evaluate(case_file.ruleset, case.item, context)
        if case.group:
            findings += evaluate_across(
                case_file.ruleset, case.item, _groups(case_file.ruleset, case), context
            )
        actual = [f.rule for f in findings if f.status == "fail"]
        waived = [f.rule for f in findings if f.status == "waived"]
        errors = tuple(f.message for f in findings if f.status == "error")
        expected, expected_waived = list(case.expect_fail), list(case.expect_waived)
        if case.only is not None:
            actual = [r for r in actual if r in case.only]
            waived = [r for r in waived if r in case.only]
            expected = [r for r in expected if r in case.only]
            expected_waived = [r for r in expected_waived if r in case.only]
        messages = tuple(f"{f.rule}: {f.message}" for f in findings if f.rule in actual)
        results.append(CaseResult(
            case, tuple(expected), tuple(actual), errors, messages,
            tuple(expected_waived), tuple(waived),
        ))  # fmt: skip
    return results
