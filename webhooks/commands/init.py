"""`pmo-bridge init`: a config, a starter rules pack, its tests and a waivers file,
written from flags or answers, then the next steps. Nothing is written until every answer
is known and no file would be overwritten (unless --force)."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from config.settings import BUNDLED_PACKS, ConfigError, load_settings
from webhooks.commands.preflight import rules_loadable
from webhooks.commands.schema import modeline

CONFIG_NAME = "pmo-bridge.yaml"
RULES_DIR = "pmo-rules"  # not "rules": a path that exists in the cwd wins over the config folder
ENV_NAMES = {
    "jira": {
        "user_env": "JIRA_EMAIL",
        "token_env": "JIRA_API_TOKEN",
        "webhook_secret_env": "JIRA_WEBHOOK_SECRET",
    },
    "azure-devops": {
        "token_env": "AZURE_DEVOPS_PAT",
        "webhook_secret_env": "AZURE_DEVOPS_WEBHOOK_SECRET",
    },
}


@dataclass
class Answers:
    jira_url: str | None = None
    jira_deployment: str = "cloud"
    jira_projects: list[str] = field(default_factory=list)
    azure_url: str | None = None
    azure_project: str | None = None
    fields: dict[str, dict[str, str]] = field(default_factory=dict)
    pack: str = "pmo-standard"
    bots: dict[str, str] = field(default_factory=dict)


def answers_from(args: argparse.Namespace, ask: Callable[[str], str] | None) -> Answers:
    """Flags first; what is missing is asked when `ask` is given, else an error."""
    a = Answers(jira_url=args.jira_url, azure_url=args.azure_url, azure_project=args.azure_project)
    a.jira_deployment = args.jira_deployment or "cloud"
    a.jira_projects = _keys(args.jira_projects)
    a.pack = args.pack or "pmo-standard"
    a.bots = {k: v for k, v in (("jira", args.jira_bot_account),
                                ("azure-devops", args.azure_bot_account)) if v}  # fmt: skip
    for entry in args.field:
        tracker, _, rest = entry.partition(".")
        name, _, field_id = rest.partition("=")
        if tracker not in ("jira", "azure-devops") or not name or not field_id:
            raise ConfigError(
                f"--field {entry!r}: expected TRACKER.NAME=ID, e.g. jira.estimate=customfield_10016"
            )
        a.fields.setdefault(tracker, {})[name] = field_id
    if not a.jira_url and not a.azure_url and ask is not None:
        a.jira_url = ask("Jira site URL (empty: no Jira): ").strip() or None
        if a.jira_url:
            a.jira_deployment = (
                ask("Jira Cloud or Server/Data Center? [cloud/server] ").strip() or "cloud"
            )
            a.jira_projects = _keys(ask("Jira project keys, comma-separated: "))
        a.azure_url = ask("Azure DevOps organisation URL (empty: none): ").strip() or None
        if a.azure_url:
            a.azure_project = ask("Azure DevOps project: ").strip() or None
        choice = ask(f"Rules to start from [{a.pack}]: ").strip()
        a.pack = choice or a.pack
    if not a.jira_url and not a.azure_url:
        raise ConfigError("init: name a tracker: --jira-url and/or --azure-url")
    if a.jira_url and not a.jira_projects:
        raise ConfigError("init: --jira-projects: the Jira project keys, e.g. PAY,WEB")
    if a.azure_url and not a.azure_project:
        raise ConfigError("init: --azure-project: the Azure DevOps project")
    if a.jira_deployment not in ("cloud", "server"):
        raise ConfigError(f"init: Jira deployment {a.jira_deployment!r}: cloud or server")
    if not (BUNDLED_PACKS / f"{a.pack}.yaml").is_file():
        raise ConfigError(f"init: no bundled rules named {a.pack!r}")
    return a


def _keys(text: str | None) -> list[str]:
    return [k.strip() for k in (text or "").split(",") if k.strip()]


def config_document(a: Answers) -> dict[str, Any]:
    trackers: dict[str, Any] = {}
    if a.jira_url:
        names = ENV_NAMES["jira"]
        trackers["jira"] = {
            "kind": "jira",
            "url": a.jira_url.rstrip("/"),
            "deployment": a.jira_deployment,
            "auth": {"user_env": names["user_env"], "token_env": names["token_env"]},
            "webhook_secret_env": names["webhook_secret_env"],
            "projects": a.jira_projects,
            **({"bot_account": a.bots["jira"]} if "jira" in a.bots else {}),
            **({"fields": a.fields["jira"]} if a.fields.get("jira") else {}),
        }
    if a.azure_url:
        names = ENV_NAMES["azure-devops"]
        trackers["azure-devops"] = {
            "kind": "azure-devops",
            "url": a.azure_url.rstrip("/"),
            "project": a.azure_project,
            "auth": {"token_env": names["token_env"]},
            "webhook_secret_env": names["webhook_secret_env"],
            **({"bot_account": a.bots["azure-devops"]} if "azure-devops" in a.bots else {}),
            **({"fields": a.fields["azure-devops"]} if a.fields.get("azure-devops") else {}),
        }
    return {"trackers": trackers, "rules": [f"{RULES_DIR}/"]}


def _files(a: Answers, folder: Path) -> dict[Path, str]:
    """Every file init writes, with its text."""
    header = "# pmo-bridge config written by `pmo-bridge init`; secrets are env var names.\n"
    config_text = modeline("config") + header + yaml.safe_dump(config_document(a), sort_keys=False)
    out = {folder / CONFIG_NAME: config_text}
    for suffix, kind in ((".yaml", "rules"), (".tests.yaml", "tests")):
        source = BUNDLED_PACKS / f"{a.pack}{suffix}"
        body = [ln for ln in source.read_text(encoding="utf-8").splitlines(keepends=True)
                if not ln.startswith("# yaml-language-server:")]  # fmt: skip
        out[folder / RULES_DIR / f"{a.pack}{suffix}"] = modeline(kind) + "".join(body)
    out[folder / RULES_DIR / f"{a.pack}.waivers.yaml"] = waivers_text(a, dt.date.today())
    return out


WAIVERS_HEADER = """\
# Waivers: approved, dated exemptions of some items from one rule. A waived failure is
# reported as `waived` (no label; listed in the managed comment with the approver and the
# date) until the expiry day, when the item is flagged again. The service reads every
# `*.waivers.yaml` in the rules folder the config names (`rules: [{rules_dir}/]`), so this
# file is in force as soon as it lists a waiver; `pmo-bridge rules validate {rules_dir}`
# checks it, `pmo-bridge waivers list --rules {rules_dir}` lists what is waived.
version: 1
waivers: []
# To waive a rule, replace `waivers: []` above with a list like this one:
#
# waivers:
#   - rule: {rule}  # a rule id of the pack
#     items: [{item}]  # item keys; and/or projects: [...], and/or when: {{...}}
#     reason: Discovery spike, sized after the vendor workshop
#     approver: Dana Lee (PMO lead)
#     expires: {expires}  # the item is flagged again on this day
#     ticket: https://tracker.example/PMO-7  # optional
"""


def waivers_text(a: Answers, today: dt.date) -> str:
    """The starter waivers file: valid and empty, with a commented example that would
    load as it stands (a rule of the chosen pack, an item of the first tracker)."""
    pack = yaml.safe_load((BUNDLED_PACKS / f"{a.pack}.yaml").read_text(encoding="utf-8"))
    ids = [str(r.get("id")) for r in pack.get("rules") or () if isinstance(r, dict)]
    rule = "story-estimated" if "story-estimated" in ids else (ids[0] if ids else "RULE-ID")
    item = f"jira:{a.jira_projects[0]}-7" if a.jira_url else "azure-devops:1234"
    expires = (today + dt.timedelta(days=90)).isoformat()
    body = WAIVERS_HEADER.format(rules_dir=RULES_DIR, rule=rule, item=item, expires=expires)
    return modeline("waivers") + body


def next_steps(a: Answers, folder: Path) -> list[str]:
    config = folder / CONFIG_NAME
    env = []
    if a.jira_url:
        env += list(ENV_NAMES["jira"].values())
    if a.azure_url:
        env += list(ENV_NAMES["azure-devops"].values())
    tracker = "jira" if a.jira_url else "azure-devops"
    query = f"project = {a.jira_projects[0]}" if a.jira_url else "[System.State] <> 'Closed'"
    return [
        "Next steps:",
        "  1. set the secrets (the config names them, never holds them):",
        *(f"       export {name}=..." for name in env),
        f"  2. pmo-bridge rules test {folder / RULES_DIR}",
        f"     (exemptions go in {folder / RULES_DIR / (a.pack + '.waivers.yaml')}; "
        f"`pmo-bridge rules validate {folder / RULES_DIR}` checks them)",
        f"  3. pmo-bridge doctor --config {config} --url https://<where trackers reach this>",
        f'  4. pmo-bridge audit --config {config} --tracker {tracker} --query "{query}"',
        f"  5. pmo-bridge register --config {config} --tracker {tracker} --url https://<...>",
    ]


def init_command(args: argparse.Namespace) -> int:
    ask = None if args.no_input or not sys.stdin.isatty() else input
    answers = answers_from(args, ask)
    folder = Path(args.dir)
    files = _files(answers, folder)
    existing = [str(p) for p in files if p.exists()]
    if existing and not args.force:
        raise ConfigError(f"init: would overwrite {', '.join(existing)} (--force to do so)")
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    # what was written loads: the same checks every command makes
    settings = load_settings(folder / CONFIG_NAME, environ={})
    rules_loadable(settings.rules)
    print("\n".join(["", *next_steps(answers, folder)]))
    return 0
