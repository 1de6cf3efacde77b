"""Parsers of the commands that take a PMO from the demo to its own trackers: `schema`,
`init`, `doctor` and `completion`. Kept apart from cli.py so each stays short."""

from __future__ import annotations

import argparse
from collections.abc import Callable

SCHEMA_KINDS = ("rules", "tests", "config", "waivers")
BUNDLED_PACKS = ("pmo-standard",)


def add_first_hour_commands(
    sub: argparse._SubParsersAction, config_arg: Callable[[argparse.ArgumentParser], None]
) -> None:
    schema = sub.add_parser("schema", help="print the JSON Schema of a file kind (for editors)")
    schema.add_argument("kind", choices=SCHEMA_KINDS, help="which file's schema")

    init = sub.add_parser(
        "init", help="write a config, a starter rules pack and its tests (asks what is missing)"
    )
    init.add_argument("--dir", default=".", metavar="FOLDER", help="where to write (default .)")
    init.add_argument(
        "--jira-url", metavar="URL", help="Jira site, e.g. https://acme.atlassian.net"
    )
    init.add_argument(
        "--jira-deployment", choices=("cloud", "server"), default=None, help="default cloud"
    )
    init.add_argument("--jira-projects", metavar="KEYS", help="comma-separated, e.g. PAY,WEB")
    init.add_argument(
        "--azure-url", metavar="URL", help="organisation, e.g. https://dev.azure.com/org"
    )
    init.add_argument("--azure-project", metavar="NAME", help="Azure DevOps project")
    init.add_argument("--azure-bot-account", metavar="NAME", help="the bot's unique name")
    init.add_argument("--jira-bot-account", metavar="ID", help="the bot's account id (Cloud)")
    init.add_argument(
        "--field",
        action="append",
        default=[],
        metavar="TRACKER.NAME=ID",
        help="a field map entry, e.g. jira.estimate=customfield_10016 (repeatable)",
    )
    init.add_argument("--pack", choices=BUNDLED_PACKS, help="bundled rules to start from")
    init.add_argument("--force", action="store_true", help="overwrite files that exist")
    init.add_argument(
        "--no-input", action="store_true", help="never ask; missing answers are errors"
    )

    doctor = sub.add_parser("doctor", help="check a config against the real trackers")
    config_arg(doctor)
    doctor.add_argument("--tracker", metavar="NAME", help="only this tracker (default: all)")
    doctor.add_argument(
        "--url",
        metavar="PUBLIC_URL",
        help="where the trackers reach this service (default: the config's public_url)",
    )

    completion = sub.add_parser("completion", help="print a shell completion script")
    completion.add_argument("shell", choices=("bash", "zsh"))
