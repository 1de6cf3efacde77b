"""`pmo-bridge rules validate` and `pmo-bridge rules test` through the real CLI entry."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from config.settings import ConfigError, load_settings
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


@pytest.mark.parametrize(
    ("prefix", "why"),
    [
        ('"pmo "', "'pmo ' contains whitespace (Jira labels cannot)"),
        ('"pmo;"', "'pmo;' contains ',' or ';' (Azure DevOps tag separators)"),
        ('"pmo,"', "'pmo,' contains ',' or ';' (Azure DevOps tag separators)"),
        ('""', "'' is empty: every label on an item would count as the service's own"),
        ("x" * 33, f"'{'x' * 33}' is 33 characters: at most 32"),
    ],
)
def test_validate_with_config_refuses_a_prefix_trackers_would_refuse(
    capsys: pytest.CaptureFixture[str], team: Path, prefix: str, why: str
) -> None:
    config = team / "pmo-bridge.yaml"
    config.write_text(f"trackers:\n  jira: {{kind: jira}}\nlabels:\n  prefix: {prefix}\n")
    assert main(["rules", "validate", str(team / "team.yaml"), "--config", str(config)]) == 1
    assert (
        capsys.readouterr().out.splitlines()[0].startswith(f"{config}:4:11: labels.prefix: {why}")
    )


def test_validate_with_a_good_config(capsys: pytest.CaptureFixture[str], team: Path) -> None:
    config = team / "pmo-bridge.yaml"
    config.write_text("trackers:\n  jira: {kind: jira}\nlabels:\n  prefix: pmo.gov-\n")
    assert main(["rules", "validate", str(team / "team.yaml"), "--config", str(config)]) == 0
    assert capsys.readouterr().out.startswith("ok: 1 file, 2 rules")


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
    assert out == "ok: 1 file, 16 rules, 1 rollup\n"
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


# -- hostile rules files: aliases and size -------------------------------------------------

ALIAS_BOMB = (
    'version: 1\nrules: []\na: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    + "".join(
        f"{n}: &{n} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]\n"
        for p, n in zip("abcd", "bcde", strict=True)  # 9**5 strings once expanded
    )
)
SELF_ALIAS = "version: 1\nrules: &r\n  - id: a\n    require: *r\n"


@pytest.mark.parametrize(
    ("text", "where"), [(ALIAS_BOMB, "4:8"), (SELF_ALIAS, "4:14")], ids=["bomb", "cycle"]
)
def test_validate_refuses_yaml_aliases_in_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, where: str
) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(text)
    code, out = run(capsys, "rules", "validate", str(path))
    assert code == 1
    assert out.splitlines() == [
        f"{path}:{where}: invalid YAML: aliases (*name) are not supported: write the value out"
    ]


def test_rules_test_refuses_aliases_in_a_tests_file(
    capsys: pytest.CaptureFixture[str], team: Path
) -> None:
    (team / "team.tests.yaml").write_text(
        TESTS.replace("item: {type: story, estimate: 5}", "item: &story {type: story}").replace(
            "    item: {type: story}\n", "    item: *story\n"
        )
    )
    code, out = run(capsys, "rules", "test", str(team))
    assert code == 1
    assert (
        f"{team / 'team.tests.yaml'}:8:11: invalid YAML: aliases (*name) are not supported" in out
    )
    assert "Traceback" not in out


def test_validate_refuses_a_rules_file_over_the_size_cap(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "huge.yaml"
    path.write_text(RULES + "# padding\n" * 200_000)
    code, out = run(capsys, "rules", "validate", str(path))
    assert code == 1
    assert out.splitlines() == [f"{path}:1:1: cannot read file: file is larger than 1024 KB"]


def test_a_config_file_with_aliases_is_refused_with_its_line(tmp_path: Path) -> None:
    config = tmp_path / "pmo-bridge.yaml"
    config.write_text("trackers:\n  jira: &t\n    kind: jira\n  other: *t\nrules: []\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    assert str(caught.value).startswith(f"{config}:4:10: not valid YAML (aliases")


def test_validate_refuses_deep_nesting_in_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text("version: 1\nrules: " + "[" * 5000 + "]" * 5000 + "\n")
    code, out = run(capsys, "rules", "validate", str(path))
    assert code == 1
    assert out.splitlines() == [f"{path}:2:71: invalid YAML: nested deeper than 64 levels"]
    config = tmp_path / "pmo-bridge.yaml"
    config.write_text("rules: " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(ConfigError, match=r":1:71: not valid YAML \(nested deeper than 64"):
        load_settings(config)
