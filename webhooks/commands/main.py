"""The `pmo-bridge` command line: the parser, and one module per command in this package
(`demo` lives in the top-level `demo` package, beside the sandboxes). Each subcommand's
module is imported only when it runs, so `pmo-bridge rules validate` starts fast and
needs no database or queue, and `serve` can prepare the metrics folder before anything
imports prometheus_client."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from config.settings import TRACKER_KINDS, ConfigError
from webhooks.commands.first_hour_parsers import add_first_hour_commands

# subcommand -> "module:function"; the function takes the parsed args and returns an exit code
HANDLERS = {
    "demo": "demo.run:run",
    "serve": "webhooks.commands.serve:serve",
    "worker": "webhooks.commands.worker:worker",
    "rules validate": "rules.commands:validate_command",
    "rules test": "rules.commands:test_command",
    "rules explain": "rules.policy_commands:explain_command",
    "waivers list": "rules.policy_commands:waivers_list_command",
    "evaluate": "webhooks.commands.evaluate:evaluate_command",
    "audit": "webhooks.commands.audit:audit_command",
    "deadletters list": "webhooks.commands.deadletters:deadletters_list",
    "deadletters replay": "webhooks.commands.deadletters:deadletters_replay",
    "register": "webhooks.commands.register:register_command",
    "people list": "webhooks.commands.people:people_list",
    "report": "webhooks.commands.report:report_command",
    "notifications list": "webhooks.commands.notifications:notifications_list",
    "schema": "webhooks.commands.schema:schema_command",
    "init": "webhooks.commands.init:init_command",
    "doctor": "webhooks.commands.doctor:doctor_command",
    "completion": "webhooks.commands.completion:completion_command",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pmo-bridge",
        description="PMO governance for Jira and Azure DevOps: compliance rules, "
        "managed comments and labels, portfolio rollups.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def config_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--config",
            metavar="FILE",
            help="config file (default: $PMO_BRIDGE_CONFIG, else built-in defaults)",
        )

    demo = sub.add_parser("demo", help="run the whole product on local sandbox trackers")
    demo.add_argument(
        "--keep-running",
        action="store_true",
        help="leave everything up to browse (the default on a terminal)",
    )
    demo.add_argument("--exit", action="store_true", help="end after the story, even on a terminal")
    demo.add_argument(
        "--dir",
        metavar="FOLDER",
        default=".",
        help="where a demo that stays up writes pmo-bridge.demo.yaml and its env file",
    )
    demo.add_argument(
        "--port", type=int, default=0, help="port for the service (default: a free one)"
    )

    serve = sub.add_parser("serve", help="run the webhook service (and the embedded worker)")
    config_arg(serve)
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8080)")
    serve.add_argument("--workers", type=int, default=2, help="web worker processes (default 2)")
    serve.add_argument(
        "--no-worker", action="store_true", help="do not run the embedded queue worker"
    )

    worker = sub.add_parser("worker", help="run queue workers only (scale-out)")
    config_arg(worker)
    worker.add_argument("--threads", type=int, help="worker threads (default from config, 2)")

    rules = sub.add_parser("rules", help="check and test rules files")
    rules_sub = rules.add_subparsers(dest="rules_command", required=True, metavar="ACTION")
    validate = rules_sub.add_parser("validate", help="check rules files; PATH:LINE:COL errors")
    validate.add_argument("paths", nargs="+", metavar="PATH", help="rules files or folders")
    validate.add_argument(
        "--config", metavar="FILE", help="also check this config file (labels.prefix, trackers)"
    )
    test = rules_sub.add_parser("test", help="run the *.tests.yaml cases next to rules files")
    test.add_argument("paths", nargs="+", metavar="PATH", help="rules or tests files, or folders")

    def rules_arg(p: argparse.ArgumentParser) -> None:
        config_arg(p)
        p.add_argument(
            "--rules", action="append", metavar="PATH",
            help="rules file or folder (default: the config's rules)",
        )  # fmt: skip

    explain = rules_sub.add_parser("explain", help="the rule in force for a project or tracker")
    explain.add_argument("rule", metavar="RULE", help="rule id")
    explain.add_argument("--project", metavar="P", help="project key (default: any)")
    explain.add_argument("--tracker", metavar="NAME", help="tracker name (default: any)")
    rules_arg(explain)

    waivers = sub.add_parser("waivers", help="approved exemptions from rules")
    waivers_sub = waivers.add_subparsers(dest="waivers_command", required=True, metavar="ACTION")
    waivers_list = waivers_sub.add_parser("list", help="list waivers, soonest expiry first")
    waivers_list.add_argument(
        "--expiring", metavar="SPAN", help="only those expiring within SPAN, e.g. 14d"
    )
    waivers_list.add_argument("--format", choices=("table", "json", "csv"), default="table")
    rules_arg(waivers_list)

    evaluate = sub.add_parser("evaluate", help="evaluate one webhook payload offline, print JSON")
    evaluate.add_argument(
        "--rules", required=True, action="append", metavar="PATH", help="rules file or folder"
    )
    evaluate.add_argument("--tracker", required=True, choices=TRACKER_KINDS)
    evaluate.add_argument(
        "--payload", required=True, metavar="FILE", help="payload file, - for stdin"
    )
    evaluate.add_argument("--config", metavar="FILE", help="config file for field maps")
    evaluate.add_argument("--now", metavar="ISO", help="evaluate as of this time (default: now)")

    audit = sub.add_parser("audit", help="dry-run the rules over existing tracker items")
    config_arg(audit)
    audit.add_argument("--tracker", required=True, metavar="NAME", help="configured tracker")
    audit.add_argument("--query", required=True, metavar="JQL_OR_WIQL", help="which items")
    audit.add_argument(
        "--rules",
        action="append",
        metavar="PATH",
        help="rules file or folder instead of the config's `rules` (repeatable)",
    )
    audit.add_argument("--format", choices=("table", "json", "csv"), default="table")
    audit.add_argument("--apply", action="store_true", help="also write back to the tracker")
    audit.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    dead = sub.add_parser("deadletters", help="events that failed after all retries")
    dead_sub = dead.add_subparsers(dest="dead_command", required=True, metavar="ACTION")
    dead_list = dead_sub.add_parser("list", help="list dead letters")
    config_arg(dead_list)
    dead_list.add_argument("--format", choices=("table", "json"), default="table")
    replay = dead_sub.add_parser("replay", help="queue dead letters again")
    config_arg(replay)
    replay.add_argument("ids", nargs="*", type=int, metavar="ID", help="which (default: all)")

    people = sub.add_parser("people", help="the people file and accounts it does not map")
    people_sub = people.add_subparsers(dest="people_command", required=True, metavar="ACTION")
    people_list = people_sub.add_parser("list", help="list mapped people, or --unmapped accounts")
    config_arg(people_list)
    people_list.add_argument(
        "--unmapped", action="store_true", help="accounts seen on items that no person maps"
    )
    people_list.add_argument("--format", choices=("table", "json"), default="table")

    register = sub.add_parser("register", help="create the tracker's webhook subscriptions")
    config_arg(register)
    register.add_argument("--tracker", required=True, metavar="NAME", help="configured tracker")
    register.add_argument(
        "--url",
        required=True,
        metavar="PUBLIC_URL",
        help="where the tracker reaches this service, e.g. https://pmo.example.com",
    )
    register.add_argument(
        "--all-projects",
        action="store_true",
        help="Jira: send issue events of every project, not only the configured `projects`",
    )
    register.add_argument(
        "--secret-changed",
        action="store_true",
        help="send the current webhook secret to every subscription (after a rotation)",
    )
    notes = sub.add_parser("notifications", help="escalation and report messages")
    notes_sub = notes.add_subparsers(dest="notes_command", required=True, metavar="ACTION")
    notes_list = notes_sub.add_parser("list", help="list the notification outbox")
    config_arg(notes_list)
    notes_list.add_argument("--status", choices=("pending", "queued", "sending", "sent", "dead"))
    notes_list.add_argument("--format", choices=("table", "json"), default="table")

    report = sub.add_parser("report", help="the PMO report: RAG changes, findings, escalations")
    config_arg(report)
    report.add_argument("--since", default="7d", help="the period, e.g. 7d or 2w (default 7d)")
    report.add_argument("--format", choices=("md", "html", "csv"), default="md")
    report.add_argument("--send", metavar="CHANNEL", help="send it on a configured channel")
    report.add_argument("--out", metavar="FILE", help="write it to a file")
    report.add_argument(
        "--project", action="append", metavar="KEY", help="only these projects (repeatable)"
    )
    add_first_hour_commands(sub, config_arg)
    return parser


def _handler(args: argparse.Namespace) -> Callable[[argparse.Namespace], int]:
    name = args.command
    for nested in (
        "rules_command",
        "dead_command",
        "notes_command",
        "waivers_command",
        "people_command",
    ):
        if getattr(args, nested, None):
            name = f"{name} {getattr(args, nested)}"
    module_name, func = HANDLERS[name].split(":")
    return getattr(importlib.import_module(module_name), func)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(_handler(args)(args) or 0)
    except ConfigError as exc:
        print(f"pmo-bridge: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
