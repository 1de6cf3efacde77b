"""`pmo-bridge init` from flags and from answers; `pmo-bridge completion`."""

from __future__ import annotations

import argparse
import json
import subprocess

import pytest

from config.settings import ConfigError, load_settings
from webhooks.commands.completion import completion_script
from webhooks.commands.init import answers_from
from webhooks.commands.main import build_parser, main


def test_init_with_flags_writes_a_config_that_loads_and_a_pack_whose_tests_pass(tmp_path, capsys):
    code = main(["init", "--dir", str(tmp_path), "--no-input", "--jira-url", "https://acme.example/",
                 "--jira-projects", "PAY, WEB", "--field", "jira.estimate=customfield_10016",
                 "--azure-url", "https://dev.azure.com/fabrikam", "--azure-project", "Fiber"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    settings = load_settings(tmp_path / "pmo-bridge.yaml", environ={})
    jira, azure = settings.tracker("jira"), settings.tracker("azure-devops")
    assert (jira.url, jira.projects, dict(jira.fields)) == (
        "https://acme.example", ("PAY", "WEB"), {"estimate": "customfield_10016"})  # fmt: skip
    assert (jira.token_env, azure.token_env, azure.project) == (
        "JIRA_API_TOKEN",
        "AZURE_DEVOPS_PAT",
        "Fiber",
    )
    assert settings.rules == (str(tmp_path / "pmo-rules/"),)
    assert "export JIRA_API_TOKEN=..." in out and "export AZURE_DEVOPS_PAT=..." in out
    for step in ("rules test", "doctor", "audit", "register"):
        assert f"pmo-bridge {step}" in out
    assert main(["rules", "test", str(tmp_path / "pmo-rules")]) == 0
    pack = (tmp_path / "pmo-rules/pmo-standard.yaml").read_text()
    assert pack.startswith("# yaml-language-server: $schema=file://")


def test_init_refuses_to_overwrite_and_writes_nothing_on_a_bad_answer(tmp_path, capsys):
    args = ["init", "--dir", str(tmp_path), "--no-input", "--jira-url", "https://a.example"]
    assert main(args) == 2
    assert "--jira-projects" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
    assert main([*args, "--jira-projects", "PAY"]) == 0
    before = (tmp_path / "pmo-bridge.yaml").read_text()
    assert main([*args, "--jira-projects", "WEB"]) == 2
    assert "would overwrite" in capsys.readouterr().err
    assert (tmp_path / "pmo-bridge.yaml").read_text() == before
    assert main([*args, "--jira-projects", "WEB", "--force"]) == 0


def test_init_asks_for_what_the_flags_do_not_say():
    args = build_parser().parse_args(["init"])
    answers = iter(["https://acme.example", "server", "PAY,OPS", "", ""])
    prompts: list[str] = []

    def ask(prompt: str) -> str:
        prompts.append(prompt)
        return next(answers)

    got = answers_from(args, ask)
    assert (got.jira_url, got.jira_deployment, got.jira_projects) == (
        "https://acme.example", "server", ["PAY", "OPS"])  # fmt: skip
    assert got.azure_url is None and got.pack == "pmo-standard"
    assert len(prompts) == 5


def test_a_bad_field_flag_is_one_clear_line():
    args = build_parser().parse_args(
        ["init", "--jira-url", "https://a.example", "--field", "estimate"]
    )
    with pytest.raises(ConfigError, match=r"TRACKER\.NAME=ID"):
        answers_from(args, None)


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_completion_is_generated_from_the_parser(shell):
    script = completion_script(shell)
    for word in ("doctor", "init", "schema", "--keep-running", "--jira-projects", "waivers"):
        assert word in script, word
    if shell == "bash":
        subprocess.run(["bash", "-n"], input=script, text=True, check=True)
    else:
        assert script.startswith("#compdef pmo-bridge")


def test_completion_command_prints_the_script(capsys):
    assert main(["completion", "bash"]) == 0
    assert capsys.readouterr().out == completion_script("bash")
    assert isinstance(build_parser(), argparse.ArgumentParser)


def test_init_writes_a_waivers_file_the_loader_reads_and_the_schema_accepts(tmp_path, capsys):
    """An empty, valid waivers file beside the pack, with the editors' modeline; its
    commented example, uncommented, is a waiver `rules validate` and `rules test` take."""
    import jsonschema
    import yaml

    from rules.ruleset import load_ruleset_with_errors
    from rules.waivers import read_waivers
    from webhooks.commands.schema import generate, shipped_path

    assert main(["init", "--dir", str(tmp_path), "--no-input", "--jira-url",
                 "https://acme.example", "--jira-projects", "PAY"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    path = tmp_path / "pmo-rules/pmo-standard.waivers.yaml"
    assert f"wrote {path}" in out and "pmo-standard.waivers.yaml" in out.split("Next steps:")[1]
    text = path.read_text()
    first = text.splitlines()[0]
    assert first == f"# yaml-language-server: $schema={shipped_path('waivers').as_uri()}"
    jsonschema.validate(yaml.safe_load(text), generate("waivers"))
    assert read_waivers(str(path)) == ([], [])
    settings = load_settings(tmp_path / "pmo-bridge.yaml", environ={})
    assert load_ruleset_with_errors(settings.rules)[1] == []
    assert main(["rules", "validate", str(tmp_path / "pmo-rules")]) == 0
    assert main(["rules", "test", str(tmp_path / "pmo-rules")]) == 0

    # the example, as the file says to use it
    lines = text.splitlines()
    start = lines.index("# waivers:")
    example = [ln[2:] for ln in lines[start:] if ln.startswith("# ")]
    path.write_text("\n".join([*lines[: lines.index("waivers: []")], *example]) + "\n")
    waivers, errors = read_waivers(str(path))
    assert errors == [] and [(w.rule, sorted(w.items or ())) for w in waivers] == [
        ("story-estimated", ["jira:PAY-7"])
    ]
    jsonschema.validate(
        json.loads(json.dumps(yaml.safe_load(path.read_text()), default=str)),
        generate("waivers"),
    )
    capsys.readouterr()
    assert main(["rules", "validate", str(tmp_path / "pmo-rules")]) == 0
    assert "1 waiver" in capsys.readouterr().out
    ruleset, errors = load_ruleset_with_errors(settings.rules)
    assert errors == [] and [w.rule for w in ruleset.waivers] == ["story-estimated"]
    assert main(["rules", "test", str(tmp_path / "pmo-rules")]) == 0
