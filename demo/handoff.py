"""What the demo leaves a newcomer while it stays up: a config file and an env file that
point `audit`, `evaluate`, `register` and `doctor` at the running sandboxes, and the lines
that say how to reach each sandbox by hand."""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Any

import yaml

from config.settings import STANDARD_PACK
from demo.seed import AZURE_BOT, AZURE_PROJECT, JIRA_PROJECTS, PORTFOLIO_FIELD
from webhooks.commands.schema import modeline

CONFIG_NAME = "pmo-bridge.demo.yaml"
ENV_NAME = "pmo-bridge.demo.env"


def demo_config(stack: Any, env: dict[str, str]) -> dict[str, Any]:
    """The demo's own settings as a config file: the same trackers, rules and store."""
    settings = stack.settings
    return {
        "trackers": {
            "jira": {
                "kind": "jira",
                "url": stack.sandbox.jira_url,
                "deployment": "cloud",
                "auth": {"user_env": env["jira_user"], "token_env": env["jira_token"]},
                "webhook_secret_env": env["jira_secret"],
                "bot_account": stack.jira_bot_id,
                "projects": list(JIRA_PROJECTS),
            },
            "azure-devops": {
                "kind": "azure-devops",
                "url": stack.sandbox.azure_url,
                "project": AZURE_PROJECT,
                "auth": {"token_env": env["azure_pat"]},
                "webhook_secret_env": env["azure_secret"],
                "bot_account": AZURE_BOT,
                "fields": {"portfolio_link": PORTFOLIO_FIELD},
            },
        },
        "rules": [str(Path(p).resolve()) for p in settings.rules],
        "database_url": settings.database_url,
        "queue_path": settings.queue_path,
        "public_url": stack.url,
    }


def write_files(stack: Any, env: dict[str, str], folder: Path) -> tuple[Path, Path]:
    """`pmo-bridge.demo.yaml` and `pmo-bridge.demo.env` (mode 600: it holds the secrets)."""
    config_path = folder / CONFIG_NAME
    env_path = folder / ENV_NAME
    header = (
        "# Written by `pmo-bridge demo`: its sandbox trackers, rules and store while it runs.\n"
        f"# Secrets are in {ENV_NAME}: `. ./{ENV_NAME}` before using this file.\n"
    )
    body = yaml.safe_dump(demo_config(stack, env), sort_keys=False)
    config_path.write_text(modeline("config") + header + body, encoding="utf-8")
    lines = [f"export {name}={shlex.quote(value)}" for name, value in stack.values.items()]
    fd = os.open(env_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write("# Secrets of the running `pmo-bridge demo`; source with `. ./")
        out.write(f"{ENV_NAME}`\n" + "\n".join(lines) + "\n")
    return config_path, env_path


def remove_files(paths: tuple[Path, Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def audit_command(config_path: Path, env_path: Path) -> str:
    """One line a newcomer pastes into a second terminal while the demo runs."""
    return (
        f". {shlex.quote(_sourceable(env_path))} && pmo-bridge audit "
        f"--config {shlex.quote(str(config_path))} --tracker jira "
        f"--rules {shlex.quote(str(STANDARD_PACK))} --query 'project = PAY'"
    )


def access_lines(stack: Any, env: dict[str, str], files: tuple[Path, Path]) -> list[str]:
    values = stack.values
    jira_user, jira_token = values[env["jira_user"]], values[env["jira_token"]]
    azure_pat = values[env["azure_pat"]]
    issue = f"{stack.sandbox.jira_url}/rest/api/3/issue/PAY-1"
    config_path, env_path = files
    return [
        "Sandbox trackers (up while the demo runs; the bot's login, as a real tracker "
        "refuses any other token):",
        f"  Jira          {stack.sandbox.jira_url}   user {jira_user}   token {jira_token}",
        f"  Azure DevOps  {stack.sandbox.azure_url}   project {AZURE_PROJECT}   "
        f"user {AZURE_BOT}   PAT {azure_pat}",
        f"  read an item: curl -s -u {jira_user}:{jira_token} {issue}",
        "",
        f"Config for the commands: {config_path} (secrets in {env_path}). In another terminal:",
        f"  {audit_command(config_path, env_path)}",
        f"The dashboard ({stack.url}/portfolio) opens from this machine without a viewer token.",
    ]


def _sourceable(path: Path) -> str:
    """`.` looks a bare file name up on PATH: a relative path must start with ./"""
    text = str(path)
    return text if path.is_absolute() or text.startswith(".") else f"./{text}"
