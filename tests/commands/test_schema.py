"""The editors' JSON Schemas stay in step with the loaders: the shipped files are what the
marshmallow schemas generate, every bundled and example file validates, and every loader
error case is refused by the schema or listed here as one only the loader can see."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from config.settings import ConfigError, load_settings
from rules.casefile import load_case_file
from rules.ruleset import load_ruleset_with_errors
from webhooks.commands.main import main
from webhooks.commands.schema import SOURCES, generate, render, shipped_path

ROOT = Path(__file__).resolve().parents[2]


def _kind(path: Path) -> str:
    if path.name.endswith(".tests.yaml"):
        return "tests"
    return "waivers" if path.name.endswith(".waivers.yaml") else "rules"


# Every file shipped or shown as an example, found by folder so that a new one is
# checked without being listed here.
_PACK_FILES = sorted((ROOT / "config/packs").rglob("*.yaml")) + sorted(
    (ROOT / "tests/packs").glob("*.yaml")
)
BUNDLED = {
    kind: [p for p in _PACK_FILES if _kind(p) == kind] for kind in ("rules", "tests", "waivers")
}
BUNDLED["config"] = sorted((ROOT / "config").glob("pmo-bridge*.example.yaml"))
MODELINED = {
    ROOT / "config/packs/pmo-standard.yaml": "rules",
    ROOT / "config/packs/pmo-standard.tests.yaml": "tests",
    ROOT / "config/pmo-bridge.example.yaml": "config",
    ROOT / "config/packs/examples/payments.yaml": "rules",
    ROOT / "config/packs/examples/payments.tests.yaml": "tests",
    ROOT / "config/packs/examples/payments.waivers.yaml": "waivers",
}


def as_json(value):
    """YAML as an editor's YAML support hands it to the schema: dates are text."""
    if isinstance(value, dict):
        return {str(k): as_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_json(v) for v in value]
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value


def schema_errors(kind: str, text: str) -> list[str]:
    validator = jsonschema.Draft7Validator(generate(kind))
    return [e.message for e in validator.iter_errors(as_json(yaml.safe_load(text)))]


@pytest.mark.parametrize("kind", [k for k, (source, _) in SOURCES.items() if source])
def test_the_shipped_schema_is_what_the_loaders_schemas_generate(kind, capsys):
    assert shipped_path(kind).read_text() == render(kind), "regenerate config/schemas"
    assert main(["schema", kind]) == 0
    assert json.loads(capsys.readouterr().out) == generate(kind)
    jsonschema.Draft7Validator.check_schema(generate(kind))


def test_every_kind_has_bundled_files_to_check():
    assert all(BUNDLED[kind] for kind in ("rules", "tests", "waivers", "config")), BUNDLED
    assert ROOT / "config/packs/examples/payments.waivers.yaml" in BUNDLED["waivers"]


def test_what_init_writes_validates_against_the_schemas(tmp_path):
    args = ["init", "--dir", str(tmp_path), "--no-input", "--jira-url", "https://a.example",
            "--jira-projects", "PAY", "--azure-url", "https://dev.azure.com/f",
            "--azure-project", "Fiber"]  # fmt: skip
    assert main(args) == 0
    written = {tmp_path / "pmo-bridge.yaml": "config"}
    written |= {p: _kind(p) for p in (tmp_path / "pmo-rules").glob("*.yaml")}
    assert sorted(written.values()) == ["config", "rules", "tests", "waivers"]
    for path, kind in written.items():
        assert schema_errors(kind, path.read_text()) == [], path
        first = path.read_text().splitlines()[0]
        assert first == f"# yaml-language-server: $schema={shipped_path(kind).as_uri()}"


def test_a_waivers_file_without_an_approver_is_refused_by_the_schema():
    text = "waivers:\n  - rule: story-estimated\n    items: [PAY-1]\n    reason: r\n"
    assert schema_errors("waivers", text)


@pytest.mark.parametrize(
    ("kind", "path"), [(k, p) for k, paths in BUNDLED.items() for p in paths], ids=str
)
def test_every_bundled_and_example_file_validates(kind, path):
    assert schema_errors(kind, path.read_text()) == []


@pytest.mark.parametrize(("path", "kind"), MODELINED.items(), ids=str)
def test_bundled_files_name_their_schema_for_editors(path, kind):
    first = path.read_text().splitlines()[0]
    assert first.startswith("# yaml-language-server: $schema=")
    target = (path.parent / first.split("$schema=", 1)[1]).resolve()
    assert target == shipped_path(kind)


def test_the_schema_describes_keys_for_hover_help():
    rule = generate("rules")["definitions"]["_Rule"]["properties"]
    assert "must all hold" in rule["require"]["description"]
    assert rule["severity"]["enum"] == ["info", "low", "medium", "high", "critical"]


# -- error cases: (kind, file text, refused by the schema?) -------------------------------
RULES_OK = "version: 1\nrules:\n  - id: r1\n    require: [{field: title, present: true}]\n"
CONFIG_OK = "trackers:\n  jira: {kind: jira}\n"
TESTS_OK = "rules: p.yaml\nnow: 2026-01-01T00:00:00Z\ncases: []\n"
WAIVER_OK = (
    "version: 1\nwaivers:\n  - rule: r1\n    items: [PAY-1]\n    reason: spike\n"
    "    approver: Dana\n    expires: 2099-03-31\n"
)

SCHEMA_REFUSES = {
    "rules: unknown top-level key": ("rules", RULES_OK + "colour: red\n"),
    "rules: unsupported version": ("rules", RULES_OK.replace("version: 1", "version: 2")),
    "rules: missing rules": ("rules", "version: 1\n"),
    "rules: rule without id": ("rules", "version: 1\nrules:\n  - require: [x]\n"),
    "rules: unknown severity": ("rules", RULES_OK + "    severity: dreadful\n"),
    "rules: empty require": ("rules", "version: 1\nrules:\n  - id: r1\n    require: []\n"),
    "rules: unknown rule key": ("rules", RULES_OK + "    colour: red\n"),
    "rules: bad rollup metric": (
        "rules",
        RULES_OK + "rollups:\n  - id: x\n    parents: {type: epic}\n    metrics: [speed]\n",
    ),
    "rules: negative slip days": (
        "rules",
        RULES_OK
        + "rollups:\n  - id: x\n    parents: {type: epic}\n    rag: {red: {slip_days: -1}}\n",
    ),
    "config: unknown key": ("config", CONFIG_OK + "colour: red\n"),
    "config: unknown tracker kind": ("config", "trackers:\n  j: {kind: github}\n"),
    "config: tracker without kind": ("config", "trackers:\n  j: {url: 'https://x.example'}\n"),
    "config: no trackers": ("config", "trackers: {}\n"),
    "config: unknown labels key": ("config", CONFIG_OK + "labels: {suffix: x}\n"),
    "config: unknown server key": ("config", CONFIG_OK + "server: {hostname: x}\n"),
    "config: body limit too small": ("config", CONFIG_OK + "max_body_bytes: 10\n"),
    "config: bad state category": (
        "config",
        "trackers:\n  j: {kind: jira, state_map: {Blocked: stuck}}\n",
    ),
    "config: header with spaces": ("config", CONFIG_OK + "trusted_proxy_header: 'X Auth'\n"),
    "config: worker threads 0": ("config", CONFIG_OK + "worker_threads: 0\n"),
    "tests: missing cases": ("tests", "rules: p.yaml\nnow: 2026-01-01T00:00:00Z\n"),
    "tests: case without expect_fail": (
        "tests",
        TESTS_OK.replace("[]", "\n  - {name: a, item: {}}"),
    ),
    "waivers: unknown top-level key": ("waivers", WAIVER_OK + "colour: red\n"),
    "waivers: unsupported version": ("waivers", WAIVER_OK.replace("version: 1", "version: 2")),
    "waivers: no waivers key": ("waivers", "version: 1\n"),
    "waivers: waiver without approver": ("waivers", WAIVER_OK.replace("    approver: Dana\n", "")),
    "waivers: unknown waiver key": ("waivers", WAIVER_OK + "    colour: red\n"),
    "waivers: empty reason": ("waivers", WAIVER_OK.replace("reason: spike", "reason: ''")),
    "tests: unknown case key": (
        "tests",
        TESTS_OK.replace("[]", "\n  - {name: a, item: {}, expect_fail: [], why: x}"),
    ),
}
# What only the loader can see, and why a schema cannot.
LOADER_ONLY = {
    "rules: unknown field in a check (field names depend on the config)": (
        "rules",
        RULES_OK.replace("title", "titel"),
    ),
    "rules: a regex RE2 refuses (needs the regex engine)": (
        "rules",
        RULES_OK.replace("present: true", "matches: '([A-Z'"),
    ),
    "rules: duplicate rule ids (across files too)": (
        "rules",
        RULES_OK + "  - id: r1\n    require: [{field: title, present: true}]\n",
    ),
    "rules: bad duration (needs the duration parser)": (
        "rules",
        RULES_OK.replace("title, present: true", "status_age, max: 5days"),
    ),
    "config: url not http(s) (marshmallow's URL check)": (
        "config",
        "trackers:\n  j: {kind: jira, url: 'ftp://x'}\n",
    ),
    "config: label prefix with a space (tracker label rules)": (
        "config",
        CONFIG_OK + "labels: {prefix: 'pmo x'}\n",
    ),
    "waivers: no selector (items, projects or when: one of three, not expressed)": (
        "waivers",
        WAIVER_OK.replace("    items: [PAY-1]\n", ""),
    ),
    "waivers: an expiry that is not a date (YAML dates are text to an editor)": (
        "waivers",
        WAIVER_OK.replace("2099-03-31", "next spring"),
    ),
    "waivers: a rule id the packs do not have (needs the packs)": (
        "waivers",
        WAIVER_OK.replace("rule: r1", "rule: no-such-rule"),
    ),
    "tests: an unparsable now (needs the timestamp parser)": (
        "tests",
        TESTS_OK.replace("2026-01-01T00:00:00Z", "soon"),
    ),
}


def loader_refuses(kind: str, text: str, tmp_path: Path) -> bool:
    path = tmp_path / f"case.{kind}.yaml"
    path.write_text(text)
    if kind == "rules":
        return bool(load_ruleset_with_errors([path])[1])
    if kind == "tests":
        (tmp_path / "p.yaml").write_text(RULES_OK)
        return bool(load_case_file(str(path))[1])
    if kind == "waivers":  # beside a pack with rule r1, as the service loads them
        pack = tmp_path / "pack"
        pack.mkdir(exist_ok=True)
        (pack / "p.yaml").write_text(RULES_OK)
        (pack / "p.waivers.yaml").write_text(text)
        return bool(load_ruleset_with_errors([pack])[1])
    try:
        load_settings(path, environ={})
    except ConfigError:
        return True
    return False


@pytest.mark.parametrize("case", SCHEMA_REFUSES)
def test_loader_errors_the_schema_also_refuses(case, tmp_path):
    kind, text = SCHEMA_REFUSES[case]
    assert loader_refuses(kind, text, tmp_path)
    assert schema_errors(kind, text), f"the {kind} schema accepts: {text}"


@pytest.mark.parametrize("case", LOADER_ONLY)
def test_loader_only_errors_are_listed_honestly(case, tmp_path):
    """If the schema starts refusing one of these, move it to SCHEMA_REFUSES."""
    kind, text = LOADER_ONLY[case]
    assert loader_refuses(kind, text, tmp_path)
    assert schema_errors(kind, text) == []


def test_the_ok_baselines_pass_both(tmp_path):
    for kind, text in (("rules", RULES_OK), ("config", CONFIG_OK), ("tests", TESTS_OK)):
        assert not loader_refuses(kind, text, tmp_path), kind
        assert schema_errors(kind, text) == [], kind


@pytest.mark.parametrize("kind", ["rules", "tests", "config", "waivers"])
def test_the_error_cases_start_from_a_file_both_accept(kind, tmp_path):
    text = {"rules": RULES_OK, "tests": TESTS_OK, "config": CONFIG_OK, "waivers": WAIVER_OK}[kind]
    assert not loader_refuses(kind, text, tmp_path)
    assert schema_errors(kind, text) == []
