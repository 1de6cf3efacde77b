"""`pmo-bridge rules validate` and `pmo-bridge rules test`."""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path

from config.settings import ConfigError, load_settings
from rules.casefile import CaseResult, load_case_file, run_case_file
from rules.errors import RuleError
from rules.pack import is_tests_file
from rules.ruleset import load_ruleset_with_errors
from rules.waivers import expired_errors


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def validate_command(args: argparse.Namespace) -> int:
    """One `PATH:LINE:COL: message` line per problem and exit 1, or a summary and exit 0.
    Folders contribute every *.yaml / *.yml except *.tests.yaml; a tests file named
    directly is checked as a tests file (including the rules it points at)."""
    tests = [p for p in args.paths if is_tests_file(p) and Path(p).is_file()]
    rule_paths = [p for p in args.paths if p not in tests]
    ruleset, errors = load_ruleset_with_errors(rule_paths)
    errors += expired_errors(ruleset.waivers, dt.datetime.now(dt.UTC).date())
    for path in tests:
        errors += load_case_file(path)[1]
    config_error = _config_error(getattr(args, "config", None))
    if config_error:
        print(config_error)
    if errors:
        for error in sorted(set(errors)):
            print(error)
    if errors or config_error:
        return 1
    files = len(ruleset.packs) + len(tests)
    if files == 0:
        print("error: no rules files found in " + ", ".join(args.paths))
        return 1
    extras = ""
    if ruleset.overrides:
        extras += f", {_plural(len(ruleset.overrides), 'override')}"
    if ruleset.waivers:
        extras += f", {_plural(len(ruleset.waivers), 'waiver')}"
    print(
        f"ok: {_plural(files, 'file')}, {_plural(len(ruleset.rules), 'rule')}, "
        f"{_plural(len(ruleset.rollups), 'rollup')}{extras}"
    )
    return 0


def _config_error(path: str | None) -> str | None:
    """The config file's problem, as `PATH[:LINE:COL]: message`; None when it loads."""
    if not path:
        return None
    try:
        load_settings(path, environ={})
    except ConfigError as exc:
        return str(exc)
    return None


def _tests_files(paths: list[str]) -> tuple[list[str], list[RuleError]]:
    found: list[str] = []
    errors: list[RuleError] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found += sorted(str(p) for p in path.iterdir() if is_tests_file(p))
        elif path.is_file() and is_tests_file(path):
            found.append(raw)
        elif path.is_file():
            sibling = path.with_name(path.name.rsplit(".", 1)[0] + ".tests.yaml")
            if sibling.is_file():
                found.append(str(sibling))
            else:
                errors.append(RuleError(raw, 1, 1, f"no tests file next to it ({sibling.name})"))
        else:
            errors.append(RuleError(raw, 1, 1, "no such file or folder"))
    return list(dict.fromkeys(found)), errors


def test_command(args: argparse.Namespace) -> int:
    """Run the cases: a dot or F per case, then the failures, then a summary line."""
    started = time.perf_counter()
    files, broken = _tests_files(list(args.paths))
    results: list[CaseResult] = []
    for path in files:
        case_file, errors = load_case_file(path)
        if case_file is None:
            broken += errors
            print(f"{path} E")
            continue
        file_results = run_case_file(case_file)
        results += file_results
        print(f"{path} " + "".join("." if r.passed else "F" for r in file_results))

    failed = [r for r in results if not r.passed]
    if broken:
        print("\n=== ERRORS ===")
        for error in sorted(set(broken)):
            print(error)
    if failed:
        print("\n=== FAILURES ===")
        for result in failed:
            print(_describe_failure(result))
    if not files and not broken:
        print("no tests files found")
        return 1
    elapsed = time.perf_counter() - started
    summary = [f"{len(results) - len(failed)} passed"]
    if failed:
        summary.append(f"{len(failed)} failed")
    if broken:
        summary.append(_plural(len(broken), "error"))
    print(f"{', '.join(summary)} in {elapsed:.2f}s")
    return 1 if failed or broken else 0


def _describe_failure(result: CaseResult) -> str:
    case = result.case
    lines = [f"___ {case.name} (line {case.line}) ___"]
    lines.append(f"  expected to fail: {', '.join(sorted(result.expected)) or '(none)'}")
    lines.append(f"  actually failed:  {', '.join(sorted(result.actual)) or '(none)'}")
    missing = sorted(set(result.expected) - set(result.actual))
    extra = sorted(set(result.actual) - set(result.expected))
    if missing:
        lines.append(f"  passed but should fail: {', '.join(missing)}")
    if extra:
        lines.append(f"  failed unexpectedly:    {', '.join(extra)}")
    if set(result.expected_waived) != set(result.actual_waived):
        lines.append(f"  expected waived:  {', '.join(sorted(result.expected_waived)) or '(none)'}")
        lines.append(f"  actually waived:  {', '.join(sorted(result.actual_waived)) or '(none)'}")
    lines += [f"  finding: {message}" for message in result.messages]
    lines += [f"  error: {message}" for message in result.errors]
    return "\n".join(lines)
