"""`pmo-bridge doctor`: a config checked against the real trackers before going live.

One line per check, each failure with its fix: credentials, the bot account, read,
comment and label permission per project, the configured fields (by id, and by name when
an id was mistaken for one), the webhook registered and pointing here, and a signed ping
proving the service and the tracker share the secret. Creates nothing."""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import requests

from config.settings import ConfigError, TrackerConfig, load_settings
from connector.azure_devops.adapter import EVENT_PARSERS as AZURE_EVENTS
from connector.errors import TrackerError
from connector.subscriptions import AzureHooksAdmin
from webhooks.commands.doctor_probes import JIRA_PERMISSIONS, AzureProbe, JiraProbe, ping
from webhooks.commands.preflight import tracker_reachable
from webhooks.commands.register import webhook_url

TIMEOUT = 10.0


@dataclass(frozen=True)
class Check:
    tracker: str
    name: str
    ok: bool | None  # None: not checked, and why
    detail: str
    fix: str = ""

    def line(self) -> str:
        mark = {True: "ok  ", False: "FAIL", None: "skip"}[self.ok]
        fix = f"\n     fix: {self.fix}" if self.fix and self.ok is not True else ""
        return f"{mark} {self.tracker:<14} {self.name:<20} {self.detail}{fix}"


def _register_fix(tracker: TrackerConfig, public: str) -> str:
    return f"pmo-bridge register --tracker {tracker.name} --url {public}"


def check_tracker(
    tracker: TrackerConfig, public_url: str | None, environ: Mapping[str, str] | None = None
) -> Iterator[Check]:
    name = tracker.name
    try:
        tracker_reachable(tracker, environ)
    except ConfigError as exc:
        yield Check(name, "config", False, str(exc), "set it, then run doctor again")
        return
    if tracker.kind == "jira":
        yield from _jira(tracker, environ)
    else:
        yield from _azure(tracker, environ)
    yield from _delivery(tracker, public_url, environ)


def _credentials_fix(tracker: TrackerConfig) -> str:
    names = " and ".join(n for n in (tracker.user_env, tracker.token_env) if n)
    return f"check {names}: the tracker refused them (expired, revoked or mistyped token)"


def _bot(tracker: TrackerConfig, me: object) -> Check:
    account = getattr(me, "account_id", None) or ""
    if not tracker.bot_account:
        return Check(tracker.name, "bot account", False, "bot_account is not set",
                     f"set trackers.{tracker.name}.bot_account: {account}")  # fmt: skip
    if account and tracker.bot_account != account:
        return Check(tracker.name, "bot account", False,
                     f"bot_account {tracker.bot_account!r} is not the signed-in {account!r}",
                     f"set trackers.{tracker.name}.bot_account: {account}")  # fmt: skip
    return Check(tracker.name, "bot account", True, f"{account or tracker.bot_account}")


def _jira(tracker: TrackerConfig, environ: Mapping[str, str] | None) -> Iterator[Check]:
    name = tracker.name
    probe = JiraProbe(tracker, timeout=TIMEOUT, environ=environ)
    try:
        me = probe.whoami()
    except TrackerError as exc:
        yield Check(name, "credentials", False, str(exc), _credentials_fix(tracker))
        return
    yield Check(name, "credentials", True, f"signed in as {me.display_name}")
    yield _bot(tracker, me)
    for key in tracker.projects or ((tracker.project,) if tracker.project else ()):
        try:
            probe.project(key)
        except TrackerError as exc:
            yield Check(name, f"read {key}", False, str(exc),
                        f"give the bot 'Browse projects' in {key}, or fix the key")  # fmt: skip
            continue
        for what, keys in JIRA_PERMISSIONS.items():
            try:
                missing = probe.missing_permissions(key, keys)
            except TrackerError as exc:
                yield Check(name, f"{what} {key}", False, str(exc), "")
                continue
            detail = "allowed" if not missing else f"missing {', '.join(missing)}"
            fix = f"grant the bot {', '.join(missing)} in {key}'s permission scheme"
            yield Check(name, f"{what} {key}", not missing, detail, fix)
    yield from _fields(tracker, probe, "see GET /rest/api/3/field")


def _fields(tracker: TrackerConfig, probe: JiraProbe | AzureProbe, where: str) -> Iterator[Check]:
    """Each configured field id exists; one given by its name is told the id to use."""
    if not tracker.fields:
        return
    try:
        known = probe.list_fields()
    except TrackerError as exc:
        yield Check(tracker.name, "fields", False, str(exc), "")
        return
    by_id = {str(f.get("id")): str(f.get("name")) for f in known}
    by_name = {str(f.get("name")).casefold(): str(f.get("id")) for f in known}
    for common, field_id in tracker.fields.items():
        label = f"field {common}"
        if field_id in by_id:
            yield Check(tracker.name, label, True, f"{field_id} ({by_id[field_id]})")
        elif field_id.casefold() in by_name:
            real = by_name[field_id.casefold()]
            yield Check(tracker.name, label, False, f"{field_id!r} is a field name, not an id",
                        f"fields.{common}: {real}")  # fmt: skip
        else:
            hint = [f"{i} ({n})" for i, n in by_id.items() if common.casefold() in n.casefold()]
            fix = f"use one of: {', '.join(hint[:3])}" if hint else where
            yield Check(tracker.name, label, False, f"no field {field_id!r} on the site", fix)


def _azure(tracker: TrackerConfig, environ: Mapping[str, str] | None) -> Iterator[Check]:
    name = tracker.name
    probe = AzureProbe(tracker, timeout=TIMEOUT, environ=environ)
    try:
        me = probe.whoami()
    except TrackerError as exc:
        yield Check(name, "credentials", False, str(exc), _credentials_fix(tracker))
        return
    yield Check(name, "credentials", True, f"signed in as {me.display_name}")
    yield _bot(tracker, me)
    if tracker.project:
        try:
            probe.project_id(tracker.project)
            yield Check(name, f"read {tracker.project}", True, "allowed")
        except TrackerError as exc:
            yield Check(name, f"read {tracker.project}", False, str(exc),
                        "give the PAT 'Work Items (read & write)' and project access")  # fmt: skip
    # Azure DevOps tells of a work item write permission only by refusing a write.
    yield Check(name, "comment, tags", None, "Azure DevOps answers only on a write",
                "the first write-back reports a refusal as a dead letter")  # fmt: skip
    yield from _fields(tracker, probe, "see GET {org}/{project}/_apis/wit/fields")


def _delivery(
    tracker: TrackerConfig, public_url: str | None, environ: Mapping[str, str] | None
) -> Iterator[Check]:
    name = tracker.name
    if not public_url:
        why = "no --url and no public_url in the config"
        yield Check(name, "webhook", None, why, "pass --url https://<this service>")
        return
    target = webhook_url(public_url, name)
    yield _registered(tracker, target, public_url, environ)
    secret = tracker.secret(environ)
    if secret is None and not tracker.allow_unsigned:
        yield Check(name, "secret", False, f"{tracker.webhook_secret_env or 'no secret env'} "
                    "is not set: the service refuses every delivery",
                    "set the env var for serve, then register --secret-changed")  # fmt: skip
        return
    try:
        status = ping(tracker, target, secret, TIMEOUT)
    except requests.RequestException as exc:
        yield Check(name, "secret (ping)", False, f"{target} unreachable ({type(exc).__name__})",
                    "start `pmo-bridge serve`, or check --url")  # fmt: skip
        return
    if status == 401:
        yield Check(name, "secret (ping)", False, "the service refused the signed ping (401)",
                    f"give serve the same {tracker.webhook_secret_env} as this shell, then "
                    f"{_register_fix(tracker, public_url)} --secret-changed")  # fmt: skip
    elif status >= 500 or status == 404:
        yield Check(name, "secret (ping)", False, f"{target} answered {status}",
                    "is this the service's public URL?")  # fmt: skip
    else:
        yield Check(name, "secret (ping)", True, f"signed ping accepted ({status})")


def _registered(
    tracker: TrackerConfig, target: str, public: str, environ: Mapping[str, str] | None
) -> Check:
    name = tracker.name
    try:
        if tracker.kind == "jira":
            hooks = JiraProbe(tracker, timeout=TIMEOUT, environ=environ).list_webhooks()
            urls = [str(h.get("url") or "") for h in hooks if h.get("enabled", True)]
            here = any(u.rstrip("/") == target for u in urls)
            ours = [u for u in urls if u.rstrip("/").endswith(f"/webhooks/{name}")]
        else:
            subs = AzureHooksAdmin(tracker, timeout=TIMEOUT, environ=environ).list_subscriptions()
            pairs = [((s.consumer_inputs or {}).get("url") or "", s.event_type) for s in subs]
            events = {e for u, e in pairs if u.rstrip("/") == target}
            here = set(AZURE_EVENTS) <= events
            ours = [u for u, _ in pairs if u.rstrip("/").endswith(f"/webhooks/{name}")]
    except TrackerError as exc:
        fix = "listing needs admin rights (Jira) or 'Service hooks (read)' (PAT)"
        return Check(name, "webhook", False, f"cannot list webhooks: {exc}", fix)
    if here:
        return Check(name, "webhook", True, f"registered for {target}")
    detail = f"points to {ours[0]}" if ours else "not registered"
    return Check(name, "webhook", False, f"{detail}, not {target}", _register_fix(tracker, public))


def doctor_command(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    names = [args.tracker] if args.tracker else list(settings.trackers)
    public = args.url or settings.public_url
    failed = 0
    for tracker_name in names:
        for check in check_tracker(settings.tracker(tracker_name), public):
            print(check.line(), flush=True)
            failed += check.ok is False
    print(f"\n{failed} problem{'s' if failed != 1 else ''}" if failed else "\nall checks passed")
    return 1 if failed else 0
