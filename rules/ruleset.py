"""Loading a whole rule set: packs, the packs they extend, their overrides and waivers.

`load_ruleset(paths)` reads files and folders. A folder contributes its `*.yaml` / `*.yml`
rules files (not `*.tests.yaml`) and its `*.waivers.yaml` waivers files; a file is read as
what its name says. A pack's `extend:` file is loaded too when it was not named. Rule ids
are unique across packs: findings, labels and test cases name rules by id alone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

from rules.errors import RuleError, RulesFileError
from rules.overrides import Override, compile_overrides
from rules.pack import Pack, Rule, RuleSet, is_waivers_file, read_pack, rule_files
from rules.waivers import Waiver, expired_errors, read_waivers, waiver_errors
from rules.yamlpos import Positions


def source_files(paths: Iterable[str | Path]) -> tuple[list[str], list[str], list[RuleError]]:
    """(rules files, waivers files, errors) named by the paths, in name order."""
    paths = list(paths)
    files, errors = rule_files(paths)
    waivers = [f for f in files if is_waivers_file(f)]
    for raw in paths:
        if Path(raw).is_dir():
            waivers += sorted(str(p) for p in Path(raw).iterdir() if is_waivers_file(p))
    return [f for f in files if not is_waivers_file(f)], waivers, errors


def _key(path: str) -> str:
    return str(Path(path).resolve())


def load_ruleset_with_errors(paths: Iterable[str | Path]) -> tuple[RuleSet, list[RuleError]]:
    files, waiver_files, errors = source_files(paths)
    packs: list[Pack] = []
    positions: dict[str, Positions] = {}
    queue = list(files)
    seen: set[str] = set()
    while queue:
        path = queue.pop(0)
        if _key(path) in seen:
            continue
        seen.add(_key(path))
        pack, pos, file_errors = read_pack(path)
        errors += file_errors
        if pack is None or pos is None:
            continue
        packs.append(pack)
        positions[_key(path)] = pos
        if pack.extend is not None:
            base = Path(path).parent / pack.extend
            if base.is_file():
                queue.append(str(base))
            else:
                message = f"extend: no such rules file {pack.extend!r} (relative to this file)"
                errors.append(pos.error(("extend",), message))
    errors += _duplicate_ids(packs, positions)
    overrides, override_errors = _overrides(packs, positions)
    errors += override_errors
    waivers: list[Waiver] = []
    for path in waiver_files:
        found, file_errors = read_waivers(path)
        waivers += found
        errors += file_errors
    rule_ids = {r.id: r for p in packs for r in p.rules}
    errors += waiver_errors(waivers, rule_ids)
    overridden_ids = {o.rule_id for o in overrides}
    overridden = tuple((p, r) for p in packs for r in p.rules if r.id in overridden_ids)
    ruleset = RuleSet(tuple(packs), tuple(waivers), tuple(overrides), overridden)
    return ruleset, sorted(set(errors))


def _duplicate_ids(packs: list[Pack], positions: dict[str, Positions]) -> list[RuleError]:
    errors = []
    first_seen: dict[str, Rule] = {}
    for pack in packs:
        for index, rule in enumerate(pack.rules):
            earlier = first_seen.setdefault(rule.id, rule)
            if earlier is not rule:
                errors.append(positions[_key(pack.path)].error(
                    ("rules", index, "id"),
                    f"duplicate rule id {rule.id!r}: also defined in {earlier.pack} "
                    f"line {earlier.line} (rule ids must be unique across packs)",
                ))  # fmt: skip
    return errors


def _overrides(
    packs: list[Pack], positions: dict[str, Positions]
) -> tuple[list[Override], list[RuleError]]:
    by_path = {_key(p.path): p for p in packs}
    found: list[Override] = []
    errors: list[RuleError] = []
    for pack in packs:
        if pack.extend is None:
            continue
        base = by_path.get(_key(str(Path(pack.path).parent / pack.extend)))
        if base is None:
            continue  # unreadable or missing: already reported
        if base is pack:
            message = "a pack cannot extend itself"
            errors.append(positions[_key(pack.path)].error(("extend",), message))
            continue
        pack_overrides, pack_errors = compile_overrides(pack, base, positions[_key(pack.path)])
        found += pack_overrides
        errors += pack_errors
    return found, errors


def load_ruleset(paths: Iterable[str | Path]) -> RuleSet:
    """Files and folders into one RuleSet. Raises RulesFileError with every problem."""
    ruleset, errors = load_ruleset_with_errors(paths)
    if errors:
        raise RulesFileError(errors)
    return ruleset


def validate_paths(paths: Iterable[str | Path], today: dt.date | None = None) -> list[RuleError]:
    """Every problem in the given files and folders (empty when all are valid); with
    `today`, waivers already expired are problems too."""
    ruleset, errors = load_ruleset_with_errors(paths)
    if today is not None:
        errors += expired_errors(ruleset.waivers, today)
    return sorted(set(errors))
