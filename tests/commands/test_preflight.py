"""A command refused on its configuration leaves the folder as it found it: no store, no
queue file. `audit --rules` runs the given rules instead of the config's."""

from __future__ import annotations

import pytest

from webhooks.commands.main import main


@pytest.fixture
def empty_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("PMO_BRIDGE_CONFIG", "PMO_BRIDGE_DATABASE_URL", "PMO_BRIDGE_QUEUE_PATH",
                 "PMO_BRIDGE_RULES", "PMO_BRIDGE_REDIS_URL", "JIRA_API_TOKEN"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_audit_without_a_tracker_url_creates_no_file(empty_folder, capsys):
    code = main(["audit", "--tracker", "jira", "--query", "project = PAY"])
    assert code == 2
    assert "tracker 'jira' has no url" in capsys.readouterr().err
    assert list(empty_folder.iterdir()) == []


def test_audit_without_a_token_creates_no_file(empty_folder, capsys):
    config = empty_folder / "pmo.yaml"
    config.write_text(
        "trackers:\n  jira: {kind: jira, url: 'https://acme.example', "
        "auth: {user_env: JIRA_EMAIL, token_env: JIRA_API_TOKEN}}\n"
    )
    code = main(["audit", "--config", str(config), "--tracker", "jira", "--query", "x"])
    assert code == 2
    assert "no API token (JIRA_API_TOKEN is not set)" in capsys.readouterr().err
    assert list(empty_folder.iterdir()) == [config]


def test_audit_with_broken_rules_creates_no_file_and_points_at_the_line(
    empty_folder, monkeypatch, capsys
):
    config = empty_folder / "pmo.yaml"
    config.write_text("trackers:\n  jira: {kind: jira, url: 'https://acme.example', "
                      "auth: {token_env: JIRA_API_TOKEN}}\n")  # fmt: skip
    rules = empty_folder / "mine.yaml"
    rules.write_text("version: 1\nrules:\n  - id: r1\n    severity: dreadful\n    require: [x]\n")
    monkeypatch.setenv("JIRA_API_TOKEN", "t")
    code = main(["audit", "--config", str(config), "--tracker", "jira", "--query", "x",
                 "--rules", str(rules)])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert f"{rules}:4:" in err and "dreadful" in err
    assert sorted(p.name for p in empty_folder.iterdir()) == ["mine.yaml", "pmo.yaml"]


def test_worker_commands_with_broken_rules_create_no_store(empty_folder, capsys):
    rules = empty_folder / "mine.yaml"
    rules.write_text("version: 1\nrules: [{id: r1, require: [x], colour: red}]\n")
    config = empty_folder / "pmo.yaml"
    config.write_text(f"trackers:\n  jira: {{kind: jira}}\nrules: [{rules}]\n")
    assert main(["deadletters", "list", "--config", str(config)]) == 2
    assert "unknown key 'colour'" in capsys.readouterr().err
    assert sorted(p.name for p in empty_folder.iterdir()) == ["mine.yaml", "pmo.yaml"]
