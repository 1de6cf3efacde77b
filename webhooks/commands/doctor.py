"""`pmo-bridge doctor`: a config checked against the real trackers before going live.

One line per check, each failure with its fix: credentials, the bot account, read,
comment and label/tag permission per project (Jira's mypermissions, Azure DevOps'
Security API), the configured fields (by id, and by name when
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
from webhooks.commands.doctor_probes import (
    CSS_NAMESPACE,
    JIRA_PERMISSIONS,
    TAGGING_NAMESPACE,
    AzureProbe,
    JiraProbe,
    Wanted,
    ping,
)
from webhooks.commands.preflight import tracker_reachable
from webhooks.commands.register import webhook_url

TIMEOUT = 10.0


@dataclass(frozen=True)
class Check:
    tracker: str
    name: str
    ok: bool | None  # None: could not be checked, and why
    detail: str
    fix: str = ""

    def line(self) -> str:
        mark = {True: "ok  ", False: "FAIL", None: "warn"}[self.ok]
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
    refused = False
    for check in _jira(tracker, environ) if tracker.kind == "jira" else _azure(tracker, environ):
        refused |= check.name == "credentials" and check.ok is False
        yield check
    yield from _delivery(tracker, public_url, environ, credentials_refused=refused)


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
    if not tracker.project:
        yield Check(name, "project", False, "no project is set",
                    f"set trackers.{name}.project: <the Azure DevOps project>")  # fmt: skip
    else:
        try:
            project_id = probe.project_id(tracker.project)
        except TrackerError as exc:
            yield Check(name, f"read {tracker.project}", False, str(exc),
                        "give the PAT 'Work Items (read & write)' and project access")  # fmt: skip
        else:
            yield Check(name, f"read {tracker.project}", True, "allowed")
            yield from _azure_writes(probe, tracker.project, project_id, name)
    yield from _fields(tracker, probe, "see GET {org}/{project}/_apis/wit/fields")


# What the service writes in Azure DevOps, as (check, [(namespace, action)] that allow it
# all, alternatives): the managed comment needs "Edit work items in this node" or, for
# comments alone, "Edit work item comments in this node"; labels are System.Tags, a field
# ("Edit work items"), and a tag name the project has not seen yet needs "Create tag
# definition" (a project-level Tagging permission).
AZURE_WRITES: dict[str, tuple[tuple[tuple[str, str], ...], ...]] = {
    "comment": (((CSS_NAMESPACE, "WORK_ITEM_WRITE"),),
                ((CSS_NAMESPACE, "WORK_ITEM_SAVE_COMMENT"),)),
    "tags": (((CSS_NAMESPACE, "WORK_ITEM_WRITE"), (TAGGING_NAMESPACE, "Create")),),
}  # fmt: skip
WHERE = {CSS_NAMESPACE: "the project's root area (Project settings > Boards > Areas > "
         "Security)", TAGGING_NAMESPACE: "the project's permissions (Project settings > "
         "Permissions)"}  # fmt: skip


def _azure_writes(probe: AzureProbe, project: str, project_id: str, name: str) -> Iterator[Check]:
    """The bot's comment and tag permissions, from the Security API's own evaluation of
    the caller; "could not check" (with why) only where that API does not answer."""
    try:
        tokens = {CSS_NAMESPACE: probe.area_token(project), TAGGING_NAMESPACE: f"/{project_id}"}
        actions = {ns: probe.action_bits(ns) for ns in tokens}
        wanted = sorted({(ns, action) for alts in AZURE_WRITES.values()
                         for alt in alts for ns, action in alt})  # fmt: skip
        missing = [(ns, a) for ns, a in wanted if a not in actions[ns]]
        if missing:
            raise LookupError(", ".join(f"{a} in namespace {ns}" for ns, a in missing))
        bits = {ns: {a: bit for a, (bit, _) in found.items()} for ns, found in actions.items()}
        held = dict(zip(wanted, probe.evaluate([Wanted(ns, a, tokens[ns]) for ns, a in wanted],
                                               bits), strict=True))  # fmt: skip
    except (TrackerError, LookupError) as exc:
        why = f"the Azure DevOps Security API did not answer ({exc})"
        if isinstance(exc, LookupError):
            why = f"the Azure DevOps Security API does not describe {exc}"
        fix = ("check by hand: the bot needs 'Edit work items in this node' on the project's "
               "areas and 'Create tag definition' in the project; or run doctor with a token "
               "the Security API answers")  # fmt: skip
        for check in AZURE_WRITES:
            yield Check(name, f"{check} {project}", None, f"could not check: {why}", fix)
        return
    for check, alternatives in AZURE_WRITES.items():
        if any(all(held[p] for p in alt) for alt in alternatives):
            yield Check(name, f"{check} {project}", True, "allowed")
            continue
        lacking = [p for p in alternatives[0] if not held[p]]
        detail = "missing " + ", ".join(f"'{actions[ns][a][1]}'" for ns, a in lacking)
        fix = "; ".join(f"allow the bot '{actions[ns][a][1]}' in {WHERE[ns]}" for ns, a in lacking)
        yield Check(name, f"{check} {project}", False, detail, fix)


def _delivery(
    tracker: TrackerConfig,
    public_url: str | None,
    environ: Mapping[str, str] | None,
    *,
    credentials_refused: bool = False,
) -> Iterator[Check]:
    name = tracker.name
    if not public_url:
        why = "could not check: no --url and no public_url in the config"
        yield Check(name, "webhook", None, why, "pass --url https://<this service>")
        return
    target = webhook_url(public_url, name)
    if credentials_refused:  # listing would fail the same way: one red line is enough
        yield Check(name, "webhook", None, "could not check: the tracker refused the "
                    "credentials", "fix the credentials, then run doctor again")  # fmt: skip
    else:
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
    failed = unsure = 0
    for tracker_name in names:
        for check in check_tracker(settings.tracker(tracker_name), public):
            print(check.line(), flush=True)
            failed += check.ok is False
            unsure += check.ok is None
    unchecked = f"{unsure} could not be checked (the warn lines)" if unsure else ""
    if failed:
        print(f"\n{failed} problem{'s' if failed != 1 else ''}" + (f"; {unchecked}" * bool(unsure)))
    else:
        print(f"\nno problems found; {unchecked}" if unsure else "\nall checks passed")
    return 1 if failed else 0
