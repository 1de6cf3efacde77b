"""`pmo-bridge register`: point a tracker's webhooks at this service, idempotently.

The subscriptions we own are the ones whose target URL is `PUBLIC_URL/webhooks/<tracker>`;
nothing registered for any other URL is read closely, changed or deleted. Per wanted
subscription the outcome is one of: created, updated (settings differed, or it was
disabled), unchanged. Extra copies at our URL would deliver every event twice, so they
are removed.

The tracker-side calls (Jira admin webhooks, Azure DevOps service hook subscriptions) and
the secret fingerprint live in `connector.subscriptions`, reached through the tracker
registry (`connector.trackers.subscription_admin`).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterator, Mapping
from urllib.parse import quote, urlsplit

from config.settings import ConfigError, TrackerConfig, load_settings
from connector.clients import DEFAULT_TIMEOUT
from connector.errors import TrackerError
from connector.subscriptions import Outcome
from connector.trackers import subscription_admin, subscription_config_problem

# Azure DevOps refuses a webHooks consumer whose basicAuthPassword has whitespace or is
# longer than this; checked here, before any call, so nothing is left half-registered.

log = logging.getLogger(__name__)


def webhook_url(public_url: str, tracker_name: str) -> str:
    """`PUBLIC_URL/webhooks/<tracker>`; a URL that already ends so is taken as it is."""
    raw = (public_url or "").strip()
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ConfigError(
            f"--url {public_url!r}: give the service's public http(s) address, "
            "e.g. https://pmo.example.com"
        )
    suffix = f"/webhooks/{quote(tracker_name, safe='-._~')}"
    base = raw.rstrip("/")
    return base if base.endswith(suffix) else base + suffix


def register_command(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    tracker = settings.tracker(args.tracker)
    target = webhook_url(args.url, tracker.name)
    all_projects = bool(getattr(args, "all_projects", False))
    check_config(tracker, all_projects=all_projects)
    if target.startswith("http://"):
        print(
            f"pmo-bridge: warning: {target} is plain http; Jira Cloud and Azure DevOps "
            "deliver only to https",
            file=sys.stderr,
        )
    if not tracker.secret():
        where = tracker.webhook_secret_env or "webhook_secret_env"
        print(
            f"pmo-bridge: warning: no webhook secret for tracker {tracker.name!r} "
            f"({where} is not set): registering unsigned deliveries, which the service "
            "accepts unchecked",
            file=sys.stderr,
        )
    try:
        # printed as they happen, so a failure part-way still shows what was done
        for outcome in register(
            tracker, target, all_projects=all_projects, secret_changed=args.secret_changed
        ):
            print(outcome.line(), flush=True)
    except TrackerError as exc:
        print(f"pmo-bridge: register {tracker.name}: {exc}", file=sys.stderr)
        return 1
    return 0


def register(
    tracker: TrackerConfig,
    target: str,
    *,
    environ: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    all_projects: bool = False,
    secret_changed: bool = False,
) -> Iterator[Outcome]:
    """Make the tracker's subscriptions for `target` what the config says, one outcome
    at a time. A Jira webhook is filtered to the tracker's `projects` unless
    `all_projects`; `secret_changed` sends the current secret to every subscription (the
    trackers never show a stored secret, so a change cannot be seen). Raises ConfigError
    for what the config lacks and TrackerError for what the tracker refuses."""
    check_config(tracker, environ, all_projects=all_projects)
    secret = tracker.secret(environ)
    admin = subscription_admin(tracker, timeout=timeout, environ=environ)
    yield from admin.reconcile(
        target, secret, all_projects=all_projects, secret_changed=secret_changed
    )


def check_config(
    tracker: TrackerConfig,
    environ: Mapping[str, str] | None = None,
    *,
    all_projects: bool = False,
) -> None:
    """What registration needs from the config, each missing piece as one ConfigError."""
    if not tracker.url:
        raise ConfigError(f"tracker {tracker.name!r} has no url: nothing to register with")
    _, token = tracker.credentials(environ)
    if not token:
        name = tracker.token_env or "auth.token_env"
        raise ConfigError(f"tracker {tracker.name!r}: no API token ({name} is not set)")
    problem = subscription_config_problem(
        tracker, tracker.secret(environ), all_projects=all_projects
    )
    if problem:
        raise ConfigError(f"tracker {tracker.name!r}: {problem}")
