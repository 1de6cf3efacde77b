"""Rule packs: loading, validation and compilation into closures, once per file.

`load_pack(path)` reads one rules file; `rules.ruleset.load_ruleset(paths)` reads files
and folders (every `*.yaml` / `*.yml` in a folder except `*.tests.yaml` and
`*.waivers.yaml`) into one `RuleSet`.
Rule ids must be unique across all packs of a RuleSet, because findings, labels
(`pmo-<rule-id>`) and test cases name rules by id alone; a clash is a validation error
pointing at the second definition.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from config.yamlsafe import TooLarge, read_yaml_text
from connector.model import ItemType, StatusCategory
from rules.checks import Check, any_of, build_check, fields_checked
from rules.checks import all_of as _all_of
from rules.errors import RuleError, RulesFileError
from rules.escalate import EscalationStep, compile_steps
from rules.fields import TEXT, compile_field
from rules.load_spec import LoadBound, parse_load
from rules.rollup import RollupSpec, rollup_spec_from_dict
from rules.semantics import validate_pack_data
from rules.templates import Part, compile_template
from rules.yamlpos import Positions, load_yaml

Matcher = Callable[[Any, Any], bool]
Scope = Mapping[str, frozenset[str] | None] | None  # tracker -> projects (None = all)
_TYPES = tuple(ItemType)
_CATEGORIES = tuple(StatusCategory)


def in_scope(scope: Scope, tracker: str | None, project: str | None) -> bool:
    """Whether a tracker/project is in a scope; None for either means "any"."""
    if scope is None:
        return True
    trackers = scope if tracker is None else {tracker: scope.get(tracker, frozenset())}
    return any(
        tracker in scope and (projects is None or project is None or project in projects)
        for tracker, projects in trackers.items()
    )


@dataclass(frozen=True, slots=True)
class Owner:
    """Who answers for a rule: a person or team and how to reach them."""

    name: str
    contact: str

    def __str__(self) -> str:
        return f"{self.name}, {self.contact}"

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any] | None) -> Owner | None:
        return None if not raw else cls(raw["name"], raw["contact"])


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    pack: str
    title: str
    severity: str
    enforcement: str
    checks: tuple[Check, ...]
    types: frozenset[str] | None  # `when: type`, None = any
    categories: frozenset[str] | None  # `when: status_category`, None = any
    extra_when: Matcher | None  # the rest of `when`, compiled
    when: Mapping[str, tuple[Any, ...]]
    message: tuple[Part, ...] | None
    hint: str | None
    labels: tuple[str, ...]
    set_fields: Mapping[str, Any]
    across: str | None
    count: Mapping[str, int] = field(default_factory=dict)
    load: LoadBound | None = None  # `across: person` rules only
    line: int = 0
    escalate: tuple[EscalationStep, ...] = ()  # rules.escalate
    message_prefix: str = ""  # "<title>: " before default messages
    owner: Owner | None = None  # the rule's, else its pack's
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    # True when the rule does not apply (rest of `when`) or every check holds
    ok: Matcher = field(default=lambda item, ctx: True, repr=False, compare=False)

    def applies(self, item: Any, ctx: Any) -> bool:
        return (
            (self.types is None or item.type in self.types)
            and (self.categories is None or item.status_category in self.categories)
            and (self.extra_when is None or self.extra_when(item, ctx))
        )


@dataclass(frozen=True)
class Pack:
    name: str
    path: str
    version: int
    enforcement: str
    scope: Scope
    rules: tuple[Rule, ...]
    rollups: tuple[RollupSpec, ...] = ()  # rules.rollup specs
    owner: Owner | None = None
    extend: str | None = None  # the rules file this pack changes, as written
    overrides: tuple[Mapping[str, Any], ...] = ()  # raw `overrides:`, compiled by rules.ruleset
    # (type, status_category) -> per-item rules whose type/category filters match, as
    # (rule.ok, rule) pairs; keyed by the members' ids because Enum.__hash__ is Python code
    buckets: Mapping[tuple[int, int], tuple[tuple[Matcher, Rule], ...]] = field(
        default_factory=dict, repr=False
    )

    def in_scope(self, item: Any) -> bool:
        return in_scope(self.scope, item.tracker, item.project)

    def rules_for(self, item: Any) -> tuple[tuple[Matcher, Rule], ...]:
        """The (ok, rule) pairs that may apply to the item, by its type and category."""
        found = self.buckets.get((id(item.type), id(item.status_category)))
        if found is not None:
            return found
        return tuple(  # a plain string or an unknown value instead of the model's enums
            (r.ok, r)
            for r in self.rules
            if r.across is None
            and (r.types is None or item.type in r.types)
            and (r.categories is None or item.status_category in r.categories)
        )


@dataclass(frozen=True)
class RuleSet:
    """Several packs evaluated together; rule ids are unique across them. Waivers
    (rules.waivers.Waiver) and overrides (rules.overrides.Override) are attached by
    rules.ruleset, which loads them with the packs."""

    packs: tuple[Pack, ...]
    waivers: tuple[Any, ...] = ()
    overrides: tuple[Any, ...] = ()
    # the (pack, base rule) pairs some override changes: evaluated per item, not by bucket
    overridden: tuple[tuple[Pack, Rule], ...] = ()

    @property
    def rules(self) -> tuple[Rule, ...]:
        return tuple(r for p in self.packs for r in p.rules)

    @property
    def rollups(self) -> tuple[RollupSpec, ...]:
        return tuple(r for p in self.packs for r in p.rollups)

    def rule(self, rule_id: str) -> Rule | None:
        for pack in self.packs:
            for rule in pack.rules:
                if rule.id == rule_id:
                    return rule
        return None


def reads_field(ruleset: RuleSet, name: str) -> bool:
    """Whether any rule's `when` or checks read the model field `name` (on the item or
    on its parent, e.g. `parent.links`): readers that can leave a field out ask first."""
    for rule in ruleset.rules:
        read = [*rule.when, *(f for check in rule.checks for f in fields_checked(check))]
        if any(name in str(field_name).split(".") for field_name in read):
            return True
    return False


def as_ruleset(pack_or_ruleset: Pack | RuleSet) -> RuleSet:
    return pack_or_ruleset if isinstance(pack_or_ruleset, RuleSet) else RuleSet((pack_or_ruleset,))


# --- loading -------------------------------------------------------------------------------
def rule_files(paths: Iterable[str | Path]) -> tuple[list[str], list[RuleError]]:
    """Expand folders to their rules files (not `*.tests.yaml`), in name order."""
    files: list[str] = []
    errors: list[RuleError] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for child in sorted(path.iterdir()):
                if (
                    child.suffix in (".yaml", ".yml")
                    and not is_tests_file(child)
                    and not is_waivers_file(child)
                ):
                    files.append(str(child))
        elif path.is_file():
            files.append(str(raw))
        else:
            errors.append(RuleError(str(raw), 1, 1, "no such file or folder"))
    return files, errors


def is_tests_file(path: str | Path) -> bool:
    return Path(path).name.endswith((".tests.yaml", ".tests.yml"))


def is_waivers_file(path: str | Path) -> bool:
    return Path(path).name.endswith((".waivers.yaml", ".waivers.yml"))


def read_pack(path: str) -> tuple[Pack | None, Positions | None, list[RuleError]]:
    """(pack, positions, errors) for one file; pack is None when there are errors."""
    try:
        text = read_yaml_text(path)
    except (OSError, UnicodeDecodeError, TooLarge) as exc:
        return None, None, [RuleError(path, 1, 1, f"cannot read file: {exc}")]
    return parse_pack(text, path)


def parse_pack(text: str, path: str = "<rules>") -> tuple[Pack | None, Positions, list[RuleError]]:
    """Like read_pack, from text; `path` only names the source in errors."""
    data, positions, errors = load_yaml(text, path)
    if errors:
        return None, positions, errors
    if data is None:
        return None, positions, [RuleError(path, 1, 1, "empty rules file")]
    errors = validate_pack_data(data, positions)
    if errors:
        return None, positions, errors
    return compile_pack(data, path, positions), positions, []


def load_pack(path: str | Path) -> Pack:
    """One rules file, validated and compiled. Raises RulesFileError with every problem."""
    pack, _positions, errors = read_pack(str(path))
    if errors or pack is None:
        raise RulesFileError(errors)
    return pack


# --- compilation ---------------------------------------------------------------------------
def compile_scope(raw: Mapping[str, list[str]] | None) -> Scope:
    """`{tracker: [projects]}` (`'*'` = every project) as tracker -> projects or None."""
    if raw is None:
        return None
    return {
        tracker: None if "*" in projects else frozenset(projects)
        for tracker, projects in raw.items()
    }


def compile_pack(data: Mapping[str, Any], path: str, positions: Positions) -> Pack:
    name = data.get("name") or Path(path).stem
    default = data.get("enforcement", "advise")
    owner = Owner.from_dict(data.get("owner"))
    chain = data.get("escalate")
    rules = tuple(
        compile_rule(raw, path, default, positions.value(("rules", i))[0], owner, chain)
        for i, raw in enumerate(data.get("rules") or ())
    )
    rollups = tuple(rollup_spec_from_dict(raw) for raw in data.get("rollups") or ())
    return Pack(
        name=name, path=path, version=data["version"], enforcement=default,
        scope=compile_scope(data.get("scope")), rules=rules, rollups=rollups,
        buckets=_buckets(rules), owner=owner, extend=data.get("extend"),
        overrides=tuple(data.get("overrides") or ()),
    )  # fmt: skip


def _values(wanted: Any) -> tuple[Any, ...]:
    return tuple(wanted) if isinstance(wanted, list) else (wanted,)


def compile_rule(
    raw: Mapping[str, Any],
    path: str,
    default: str,
    line: int,
    pack_owner: Owner | None = None,
    chain: Any = None,
) -> Rule:
    when = {name: _values(wanted) for name, wanted in (raw.get("when") or {}).items()}
    types = frozenset(when["type"]) if "type" in when else None
    categories = frozenset(when["status_category"]) if "status_category" in when else None
    rest = {k: v for k, v in when.items() if k not in ("type", "status_category")}
    severity = raw.get("severity", "medium")
    enforcement = raw.get("enforcement", default)
    checks: list[Check] = []
    count: dict[str, int] = {}
    load = None
    for spec in raw["require"]:
        if raw.get("across") == "person":
            load = parse_load(spec["load"])
            continue
        if "count" in spec:
            count.update(spec["count"])
            continue
        checks.extend(_compile_check(spec))
    message = None
    if raw.get("message"):
        rule_values = {
            "rule": raw["id"], "severity": severity, "enforcement": enforcement,
            "rule_title": raw.get("title") or raw["id"],
        }  # fmt: skip
        message = tuple(compile_template(raw["message"], rule_values))
    extra_when = compile_when(rest) if rest else None
    return Rule(
        ok=_rule_ok(extra_when, tuple(c.test for c in checks)),
        message_prefix=f"{raw['title']}: " if raw.get("title") else "",
        id=raw["id"], pack=path, title=raw.get("title", ""), severity=severity,
        enforcement=enforcement, checks=tuple(checks), types=types, categories=categories,
        extra_when=extra_when, when=when, message=message,
        hint=raw.get("hint"), labels=tuple(raw.get("labels") or ()),
        set_fields=dict((raw.get("actions") or {}).get("set") or {}),
        across=raw.get("across"), count=count, load=load, line=line,
        owner=Owner.from_dict(raw.get("owner")) or pack_owner, raw=raw,
        escalate=compile_steps(raw["escalate"] if "escalate" in raw else chain),
    )  # fmt: skip


def _compile_check(spec: Mapping[str, Any]) -> list[Check]:
    """One entry of `require`: a check per operator, or one `any` group."""
    if "any" in spec:
        return [any_of([c for alt in spec["any"] for c in [_all_of(_compile_check(alt))]])]
    getter = compile_field(spec["field"])
    checks = []
    for op, arg in spec.items():
        if op != "field":
            other = compile_field(arg) if op in ("lte_field", "gte_field") else None
            checks.append(build_check(getter, op, arg, other))
    return checks


def _rule_ok(extra_when: Matcher | None, tests: tuple[Matcher, ...]) -> Matcher:
    """One closure per rule: the evaluation loop makes a single call per rule."""
    if extra_when is None and len(tests) == 1:
        return tests[0]
    if extra_when is None:

        def all_hold(item: Any, ctx: Any) -> bool:
            for test in tests:
                if not test(item, ctx):
                    return False
            return True

        return all_hold
    if len(tests) == 1:
        only = tests[0]
        return lambda item, ctx: not extra_when(item, ctx) or only(item, ctx)

    def applies_and_holds(item: Any, ctx: Any) -> bool:
        if not extra_when(item, ctx):
            return True
        for test in tests:
            if not test(item, ctx):
                return False
        return True

    return applies_and_holds


def compile_when(when: Mapping[str, tuple[Any, ...]]) -> Matcher:
    """All conditions must match; text compares case-insensitively, a list field matches
    when any element is listed, and `null` in the list matches a missing value."""
    tests: list[Matcher] = []
    for name, wanted in when.items():
        spec = compile_field(name)
        folded = frozenset(_fold(v) for v in wanted)
        if spec.attr is not None and spec.kind == TEXT and None not in folded:
            tests.append(_text_when_test(spec.attr, folded))
        else:
            tests.append(_when_test(spec.get, folded))

    def matches(item: Any, ctx: Any) -> bool:
        for test in tests:
            if not test(item, ctx):
                return False
        return True

    return tests[0] if len(tests) == 1 else matches


def _text_when_test(attr: Callable[[Any], Any], folded: frozenset[Any]) -> Matcher:
    return lambda item, ctx: (value := attr(item)) is not None and value.casefold() in folded


def _when_test(get: Callable[[Any, Any], Any], folded: frozenset[Any]) -> Matcher:
    def test(item: Any, ctx: Any) -> bool:
        value = get(item, ctx)
        if isinstance(value, tuple):
            return any(_fold(v) in folded for v in value) or (not value and None in folded)
        return _fold(value) in folded

    return test


def _fold(value: Any) -> Any:
    if isinstance(value, str):
        return value.casefold()
    if isinstance(value, dt.datetime):
        return value.date()
    return value


def _buckets(rules: tuple[Rule, ...]) -> dict[tuple[int, int], tuple[tuple[Matcher, Rule], ...]]:
    """Precompute which per-item rules can apply to each (type, status_category), so
    `when: type` / `when: status_category` cost one dict lookup per item, not per rule."""
    buckets = {}
    for item_type in _TYPES:
        for category in _CATEGORIES:
            buckets[(id(item_type), id(category))] = tuple(
                (r.ok, r)
                for r in rules
                if r.across is None
                and (r.types is None or item_type in r.types)
                and (r.categories is None or category in r.categories)
            )
    return buckets
