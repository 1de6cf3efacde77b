"""`pmo-bridge rules validate` and `pmo-bridge rules test` through the real CLI entry."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.support.helpers import CONFIG_PACKS, RULES_FILES
from webhooks.commands.main import main

PACKS = CONFIG_PACKS
FILES = RULES_FILES
RULES = """version: 1
rules:
  - id: has-estimate
    when: {type: [story]}
    require: [{field: estimate, present: true}]
  - id: small
    require: [{field: estimate, max: 13}]
"""
TESTS = """rules: team.yaml
now: 2026-11-01T09:00:00Z
cases:
  - name: estimated story passes
    item: {type: story, estimate: 5}
    expect_fail: []
  - name: unestimated story fails
    item: {type: story}
    expect_fail: [has-estimate]
  - name: big task fails small
    item: {estimate: 21}
    expect_fail: [small]
"""


@pytest.fixture
def team(tmp_path: Path) -> Path:
    (tmp_path / "team.yaml").write_text(RULES)
    (tmp_path / "team.tests.yaml").write_text(TESTS)
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out + out.err


def test_validate_ok_prints_a_summary(capsys: pytest.CaptureFixture[str], team: Path) -> None:
    code, out = run(capsys, "rules", "validate", str(team))
    assert (code, out) == (0, "ok: 1 file, 2 rules, 0 rollups\n")


def test_validate_errors_one_line_each_and_exit_1(
    capsys: pytest.CaptureFixture[str], team: Path
) -> None:
    broken = str(FILES / "many-errors.yaml")
    code, out = run(capsys, "rules", "validate", str(team / "team.yaml"), broken)
    assert code == 1
    lines = out.splitlines()
    assert len(lines) == 7
    assert all(re.match(rf"{re.escape(broken)}:\d+:\d+: \S", line) for line in lines)


def test_validate_missing_path(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out = run(capsys, "rules", "validate", str(tmp_path / "nope.yaml"))
    assert (code, out) == (1, f"{tmp_path / 'nope.yaml'}:1:1: no such file or folder\n")


def test_validate_checks_a_tests_file_named_directly(
    capsys: pytest.CaptureFixture[str], team: Path
) -> None:
    (team / "team.tests.yaml").write_text(
        TESTS.replace("expect_fail: [small]", "expect_fail: [smal]")
    )
    code, out = run(capsys, "rules", "validate", str(team / "team.tests.yaml"))
    assert (code, out) == (1, f"{team / 'team.tests.yaml'}:12:19: unknown rule 'smal'\n")


def test_rules_test_passes(capsys: pytest.CaptureFixture[str], team: Path) -> None:
    code, out = run(capsys, "rules", "test", str(team))
    assert code == 0
    assert out.splitlines()[0] == f"{team / 'team.tests.yaml'} ..."
    assert re.fullmatch(r"3 passed in \d+\.\d\ds", out.splitlines()[-1])


def test_rules_test_finds_the_cases_next_to_a_rules_file(
    capsys: pytest.CaptureFixture[str], team: Path
) -> None:
    code, out = run(capsys, "rules", "test", str(team / "team.yaml"))
    assert code == 0 and "3 passed" in out


def test_rules_test_failure_shows_expected_and_actual(
    capsys: pytest.CaptureFixture[str], team: Path
) -> None:
    (team / "team.tests.yaml").write_text(TESTS.replace("expect_fail: [small]", "expect_fail: []"))
    code, out = run(capsys, "rules", "test", str(team))
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == f"{team / 'team.tests.yaml'} ..F"
    assert "___ big task fails small (line 10) ___" in lines
    assert "  expected to fail: (none)" in lines
    assert "  actually failed:  small" in lines
    assert "  failed unexpectedly:    small" in lines
    assert "  finding: small: estimate must be at most 13 (is 21)" in lines
    assert re.fullmatch(r"2 passed, 1 failed in \d+\.\d\ds", lines[-1])


def test_rules_test_broken_tests_file(capsys: pytest.CaptureFixture[str], team: Path) -> None:
    (team / "team.tests.yaml").write_text(
        TESTS.replace("    item: {estimate: 21}", "    item: {estimat: 21}")
    )
    code, out = run(capsys, "rules", "test", str(team))
    assert code == 1
    assert f"{team / 'team.tests.yaml'}:11:12: unknown item field 'estimat'" in out
    assert re.fullmatch(r"0 passed, 1 error in \d+\.\d\ds", out.splitlines()[-1])


def test_rules_test_broken_rules_file(capsys: pytest.CaptureFixture[str], team: Path) -> None:
    (team / "team.yaml").write_text(RULES.replace("max: 13", "max: lots"))
    code, out = run(capsys, "rules", "test", str(team))
    assert code == 1
    assert f"{team / 'team.yaml'}:7:38: expected a number, got 'lots'" in out


def test_rules_test_without_a_tests_file(capsys: pytest.CaptureFixture[str], team: Path) -> None:
    (team / "team.tests.yaml").unlink()
    code, out = run(capsys, "rules", "test", str(team / "team.yaml"))
    assert code == 1
    assert f"{team / 'team.yaml'}:1:1: no tests file next to it (team.tests.yaml)" in out


def test_relative_times_and_parents_in_cases(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    shutil.copy(PACKS / "pmo-standard.yaml", tmp_path / "std.yaml")
    (tmp_path / "std.tests.yaml").write_text(
        "rules: std.yaml\nnow: 2026-11-01\ndefaults: {tracker: azure-devops, project: Fabrikam}\ncases:\n"
        "  - name: blocked a week\n    item: {status: Blocked, status_category: in_progress, status_changed: -7d}\n"
        "    only: [blocked-escalation]\n    expect_fail: [blocked-escalation]\n"
        "  - name: due after parent\n    item: {type: story, due_date: +20d}\n    parent: {due_date: +10d}\n"
        "    only: [due-within-parent, story-has-parent]\n    expect_fail: [due-within-parent]\n"
    )
    code, out = run(capsys, "rules", "test", str(tmp_path))
    assert code == 0, out


def test_bundled_pack_validates_and_its_tests_pass(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "rules", "validate", str(PACKS))
    assert code == 0, out
    assert out == "ok: 1 file, 14 rules, 1 rollup\n"
    code, out = run(capsys, "rules", "test", str(PACKS))
    assert code == 0, out
    assert "failed" not in out


def test_bundled_tests_cover_every_per_item_rule_passing_and_failing() -> None:
    import yaml

    from rules import load_pack

    pack = load_pack(PACKS / "pmo-standard.yaml")
    cases = yaml.safe_load((PACKS / "pmo-standard.tests.yaml").read_text())["cases"]
    for rule in pack.rules:
        if rule.across is not None:
            continue
        fails = [c for c in cases if rule.id in c["expect_fail"]]
        passes = [
            c
            for c in cases
            if rule.id not in c["expect_fail"] and rule.id in c.get("only", [rule.id])
        ]
        assert fails and passes, rule.id
