"""Settings: defaults, then the YAML config file, then `PMO_BRIDGE_*` environment, then
overrides (tests). Secrets are named by environment variable, never written inline, and are
read only when needed so they never sit in a settings dump or a log line."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml
from marshmallow import RAISE, Schema, ValidationError, fields, validate

from config.notify import NOTIFY_FIELDS, Notify, notify_from
from config.retention import Retention, RetentionSchema
from config.yamlsafe import SafeNoAliasLoader, TooLarge, read_yaml_text
from connector.labels import PREFIX_MAX, label_problem

PACKAGE_DIR = Path(__file__).resolve().parent
BUNDLED_PACKS = PACKAGE_DIR / "packs"
STANDARD_PACK = BUNDLED_PACKS / "pmo-standard.yaml"

TRACKER_KINDS = ("jira", "azure-devops")


class ConfigError(ValueError):
    """A configuration problem, phrased as one line a user can act on."""


@dataclass(frozen=True)
class TrackerConfig:
    name: str
    kind: str
    url: str | None = None
    deployment: str = "cloud"  # jira only: cloud (REST v3, ADF) | server (v2, wiki markup)
    user_env: str | None = None
    token_env: str | None = None
    webhook_secret_env: str | None = None
    bot_account: str | None = None
    # common-model or custom name -> tracker field id, e.g. estimate: customfield_10016.
    # Reserved names: estimate, start_date, due_date, epic_link, parent_link, portfolio_link.
    fields: Mapping[str, str] = field(default_factory=dict)
    state_map: Mapping[str, str] = field(default_factory=dict)  # status name -> category
    type_map: Mapping[str, str] = field(default_factory=dict)  # tracker type name -> ItemType
    project: str | None = None  # Azure DevOps: default project for audits and registration
    # Jira: the projects the webhook filter names (`project in (...)`) at registration.
    projects: tuple[str, ...] = ()
    # Ask the tracker not to notify watchers of the service's edits (Jira notifyUsers=false,
    # Azure DevOps suppressNotifications=true): both need admin-level permission.
    quiet_edits: bool = False
    # Audits: how many bulk reads (Jira issue/bulkfetch, Azure DevOps workitemsbatch) may
    # be in flight at once; a 429's Retry-After holds them all.
    read_concurrency: int = 4
    # Jira: ids found by name at the worker's start (name -> the site's field name, e.g.
    # estimate -> "Story Points"), so changelog items that carry only the name still map.
    field_labels: Mapping[str, str] = field(default_factory=dict)
    # How people know the fields, for hints ("Set Mitigation plan"): name as under
    # `fields:` -> display name. Configured ones are the fallback; the tracker's own
    # names (its field list, read once at a worker's start) win.
    field_names: Mapping[str, str] = field(default_factory=dict)
    # Without a secret, deliveries are refused (401) unless the config asks for this.
    allow_unsigned: bool = False

    def secret(self, environ: Mapping[str, str] | None = None) -> str | None:
        """The webhook secret, read from the environment at the moment it is needed."""
        env = os.environ if environ is None else environ
        if self.webhook_secret_env:
            return env.get(self.webhook_secret_env) or None
        return None

    def credentials(
        self, environ: Mapping[str, str] | None = None
    ) -> tuple[str | None, str | None]:
        """(user, token) for the tracker's API; user None means a bearer/PAT token."""
        env = os.environ if environ is None else environ
        user = env.get(self.user_env) if self.user_env else None
        token = env.get(self.token_env) if self.token_env else None
        return user, token


@dataclass(frozen=True)
class Settings:
    trackers: Mapping[str, TrackerConfig]
    rules: tuple[str, ...] = (str(STANDARD_PACK),)
    label_prefix: str = "pmo-"
    database_url: str = "sqlite:///pmo-bridge.db"
    redis_url: str | None = None
    queue_path: str = "pmo-bridge-queue.db"
    host: str = "127.0.0.1"
    port: int = 8080
    max_body_bytes: int = 5 * 1024 * 1024
    admin_token_env: str = "PMO_BRIDGE_ADMIN_TOKEN"
    # Who may read the dashboard, /api/portfolio, /metrics and /readyz detail
    # (`webhooks.http.viewer`): holders of this token; with none, loopback clients only.
    viewer_token_env: str = "PMO_BRIDGE_VIEWER_TOKEN"
    trusted_proxy_header: str | None = None  # e.g. X-Auth-Request-Email from oauth2-proxy
    # The same body from the same tracker within this window is a replay, whatever its
    # delivery id says.
    replay_window_seconds: int = 24 * 3600
    dashboard_cache_seconds: float = 5.0  # a portfolio snapshot is reused this long
    # `serve`: a request not received whole this long after it began is dropped
    request_read_timeout_seconds: float = 30.0
    sweep_interval_minutes: int = 60
    escalation_interval_minutes: int = 1  # escalation, notifications, scheduled reports; 0: off
    worker_threads: int = 2
    max_retries: int = 6
    retry_base_seconds: float = 2.0
    rollup_delay_seconds: float = 2.0  # coalescing window for parent rollups
    # A delivery left queued or processing this long lost its task (a killed worker):
    # recovery at worker start and the periodic recovery queue it again.
    recover_after_seconds: float = 300.0
    # how often an idle worker looks for received deliveries to queue (the outbox relay)
    relay_interval_seconds: float = 0.1
    item_lock_seconds: float = 300.0  # a dead worker's per-item lock expires after this
    retention: Retention = field(default_factory=Retention)
    notify: Notify = field(default_factory=Notify)  # channels, owners, people, reports
    source: str | None = None  # the config file these settings came from
    # where people reach this service (the dashboard link in long comments)
    public_url: str | None = None
    # the people file (`config.people`); unset: `people.yaml` beside the config, if any
    people_file: str | None = None

    def tracker(self, name: str) -> TrackerConfig:
        try:
            return self.trackers[name]
        except KeyError:
            known = ", ".join(sorted(self.trackers)) or "none"
            raise ConfigError(f"unknown tracker {name!r} (configured: {known})") from None

    def trackers_of_kind(self, kind: str) -> list[TrackerConfig]:
        return [t for t in self.trackers.values() if t.kind == kind]

    def admin_token(self, environ: Mapping[str, str] | None = None) -> str | None:
        env = os.environ if environ is None else environ
        return env.get(self.admin_token_env) or None

    def viewer_token(self, environ: Mapping[str, str] | None = None) -> str | None:
        env = os.environ if environ is None else environ
        return env.get(self.viewer_token_env) or None

    @property
    def embedded_queue(self) -> bool:
        return not self.redis_url


class _AuthSchema(Schema):
    class Meta:
        unknown = RAISE

    user_env = fields.String()
    token_env = fields.String()


class _TrackerSchema(Schema):
    class Meta:
        unknown = RAISE

    kind = fields.String(required=True, validate=validate.OneOf(TRACKER_KINDS))
    url = fields.Url(require_tld=False, schemes={"http", "https"})
    deployment = fields.String(validate=validate.OneOf(("cloud", "server")))
    auth = fields.Nested(_AuthSchema)
    webhook_secret_env = fields.String()
    bot_account = fields.String()
    fields_ = fields.Dict(
        data_key="fields", keys=fields.String(), values=fields.String(), attribute="fields"
    )
    state_map = fields.Dict(
        keys=fields.String(),
        values=fields.String(validate=validate.OneOf(("todo", "in_progress", "done", "removed"))),
    )
    type_map = fields.Dict(keys=fields.String(), values=fields.String())
    field_names = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=200)),
        values=fields.String(validate=validate.Length(min=1, max=200)),
    )
    project = fields.String()
    projects = fields.List(fields.String(validate=validate.Length(min=1)))
    quiet_edits = fields.Boolean()
    read_concurrency = fields.Integer(strict=True, validate=validate.Range(min=1, max=16))
    allow_unsigned = fields.Boolean(truthy={True}, falsy={False})


class _ConfigSchema(Schema):
    class Meta:
        unknown = RAISE

    trackers = fields.Dict(keys=fields.String(), values=fields.Nested(_TrackerSchema))
    rules = fields.List(fields.String())
    people_file = fields.String()
    labels = fields.Dict(
        keys=fields.String(validate=validate.OneOf(("prefix",))), values=fields.String()
    )
    database_url = fields.String()
    redis_url = fields.String()
    queue_path = fields.String()
    server = fields.Dict(
        keys=fields.String(validate=validate.OneOf(("host", "port"))), values=fields.Raw()
    )
    max_body_bytes = fields.Integer(validate=validate.Range(min=1024))
    admin_token_env = fields.String()
    viewer_token_env = fields.String()
    trusted_proxy_header = fields.String(
        validate=validate.Regexp(r"^[A-Za-z0-9-]{1,64}$", error="an HTTP header name")
    )
    replay_window_seconds = fields.Integer(validate=validate.Range(min=0, max=30 * 24 * 3600))
    dashboard_cache_seconds = fields.Float(validate=validate.Range(min=0, max=300))
    request_read_timeout_seconds = fields.Float(validate=validate.Range(min=1, max=600))
    sweep_interval_minutes = fields.Integer(validate=validate.Range(min=0))
    escalation_interval_minutes = fields.Integer(validate=validate.Range(min=0, max=60))
    worker_threads = fields.Integer(validate=validate.Range(min=1, max=64))
    max_retries = fields.Integer(validate=validate.Range(min=0, max=20))
    retry_base_seconds = fields.Float(validate=validate.Range(min=0))
    rollup_delay_seconds = fields.Float(validate=validate.Range(min=0, max=600))
    recover_after_seconds = fields.Float(validate=validate.Range(min=0))
    relay_interval_seconds = fields.Float(validate=validate.Range(min=0.005, max=10))
    item_lock_seconds = fields.Float(validate=validate.Range(min=1))
    public_url = fields.Url(require_tld=False, schemes={"http", "https"})
    retention = fields.Nested(RetentionSchema)
    channels = NOTIFY_FIELDS["channels"]  # config.notify: who to reach and how
    owners = NOTIFY_FIELDS["owners"]
    people = NOTIFY_FIELDS["people"]
    quiet_hours = NOTIFY_FIELDS["quiet_hours"]
    reports = NOTIFY_FIELDS["reports"]


# The config file's schema by a public name: the editors' JSON Schema is generated from it.
ConfigFileSchema = _ConfigSchema


def default_trackers() -> dict[str, TrackerConfig]:
    """Without a config file: one tracker of each kind, secrets from the documented env."""
    return {
        "jira": TrackerConfig(
            name="jira", kind="jira", webhook_secret_env="PMO_BRIDGE_JIRA_WEBHOOK_SECRET"
        ),
        "azure-devops": TrackerConfig(
            name="azure-devops",
            kind="azure-devops",
            webhook_secret_env="PMO_BRIDGE_AZURE_DEVOPS_WEBHOOK_SECRET",
        ),
    }


def _flatten_errors(messages: Any, prefix: str = "") -> list[str]:
    if isinstance(messages, Mapping):
        out: list[str] = []
        for key, value in messages.items():
            out.extend(_flatten_errors(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return [f"{prefix}: {' '.join(messages)}"]
    return [f"{prefix}: {messages}"]


def _tracker_from(name: str, data: Mapping[str, Any]) -> TrackerConfig:
    auth = data.get("auth") or {}
    return TrackerConfig(
        name=name,
        kind=data["kind"],
        url=(data.get("url") or "").rstrip("/") or None,
        deployment=data.get("deployment", "cloud"),
        user_env=auth.get("user_env"),
        token_env=auth.get("token_env"),
        webhook_secret_env=data.get("webhook_secret_env"),
        bot_account=data.get("bot_account"),
        fields=dict(data.get("fields") or {}),
        field_names=dict(data.get("field_names") or {}),
        state_map=dict(data.get("state_map") or {}),
        type_map={k.casefold(): v for k, v in (data.get("type_map") or {}).items()},
        project=data.get("project"),
        projects=tuple(data.get("projects") or ()),
        quiet_edits=bool(data.get("quiet_edits", False)),
        read_concurrency=data.get("read_concurrency", 4),
        allow_unsigned=data.get("allow_unsigned", False),
    )


def load_settings(
    path: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build settings in layers. Raises `ConfigError` with one readable line."""
    env = os.environ if environ is None else environ
    path = path or env.get("PMO_BRIDGE_CONFIG") or None
    settings = Settings(trackers=default_trackers())

    if path:
        settings = _apply_file(settings, Path(path))

    env_layer: dict[str, Any] = {}
    if env.get("PMO_BRIDGE_DATABASE_URL"):
        env_layer["database_url"] = env["PMO_BRIDGE_DATABASE_URL"]
    if env.get("PMO_BRIDGE_REDIS_URL"):
        env_layer["redis_url"] = env["PMO_BRIDGE_REDIS_URL"]
    if env.get("PMO_BRIDGE_QUEUE_PATH"):
        env_layer["queue_path"] = env["PMO_BRIDGE_QUEUE_PATH"]
    if env.get("PMO_BRIDGE_RULES"):
        env_layer["rules"] = tuple(p for p in env["PMO_BRIDGE_RULES"].split(os.pathsep) if p)
    settings = replace(settings, **env_layer)
    if overrides:
        settings = replace(settings, **dict(overrides))
    return settings


_PREFIX = re.compile(r"^[A-Za-z0-9_.:-]+$")


def prefix_problem(prefix: str) -> str | None:
    """Why a label prefix cannot be used: every managed label starts with it, on Jira
    (no spaces) and Azure DevOps (no ',' or ';') alike."""
    if not prefix:
        return "is empty: every label on an item would count as the service's own"
    if not _PREFIX.match(prefix):
        why = (
            label_problem(prefix) or "has characters other than letters, digits, '.', '_', ':', '-'"
        )
        return f"{why}: use letters, digits, '.', '_', ':' and '-' only"
    if len(prefix) > PREFIX_MAX:
        return f"is {len(prefix)} characters: at most {PREFIX_MAX}"
    return None


def _position(path: Path, keys: tuple[str, ...]) -> str:
    """`:LINE:COL` of the value at `keys` in a YAML file, or "" when it cannot be found."""
    try:
        node = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, yaml.YAMLError):
        return ""
    for key in keys:
        if not isinstance(node, yaml.MappingNode):
            return ""
        node = next((v for k, v in node.value if getattr(k, "value", None) == key), None)
        if node is None:
            return ""
    return f":{node.start_mark.line + 1}:{node.start_mark.column + 1}"


def _apply_file(settings: Settings, path: Path) -> Settings:
    try:
        raw = yaml.load(read_yaml_text(path), Loader=SafeNoAliasLoader)  # noqa: S506
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError, TooLarge) as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        raise ConfigError(
            f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})"
        ) from None
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    try:
        data = _ConfigSchema().load(raw)
    except ValidationError as exc:
        first = _flatten_errors(exc.messages)[0]
        raise ConfigError(f"{path}: {first}") from None

    base = path.resolve().parent
    changes: dict[str, Any] = {"source": str(path)}
    if "trackers" in data:
        if not data["trackers"]:
            raise ConfigError(f"{path}: trackers: name at least one tracker")
        changes["trackers"] = {
            name: _tracker_from(name, spec) for name, spec in data["trackers"].items()
        }
    if "rules" in data:
        # Relative pack paths are read from the config file's folder, unless they exist
        # as given (run from the project root with `config/packs/...`).
        changes["rules"] = tuple(
            p if Path(p).is_absolute() or Path(p).exists() else str(base / p) for p in data["rules"]
        )
    if "people_file" in data:
        changes["people_file"] = str(base / data["people_file"])
    if "retention" in data:
        changes["retention"] = Retention(**data["retention"])
    if any(key in data for key in NOTIFY_FIELDS):
        try:
            changes["notify"] = notify_from(data)
        except ValueError as exc:
            raise ConfigError(f"{path}: {exc}") from None
    if "labels" in data and "prefix" in data["labels"]:
        prefix = data["labels"]["prefix"]
        problem = prefix_problem(prefix)
        if problem:
            where = _position(path, ("labels", "prefix"))
            raise ConfigError(f"{path}{where}: labels.prefix: {prefix!r} {problem}")
        changes["label_prefix"] = prefix
    server = data.get("server") or {}
    if "host" in server:
        changes["host"] = str(server["host"])
    if "port" in server:
        changes["port"] = int(server["port"])
    for key in (
        "database_url",
        "redis_url",
        "queue_path",
        "max_body_bytes",
        "admin_token_env",
        "viewer_token_env",
        "trusted_proxy_header",
        "replay_window_seconds",
        "dashboard_cache_seconds",
        "request_read_timeout_seconds",
        "sweep_interval_minutes",
        "worker_threads",
        "max_retries",
        "retry_base_seconds",
        "rollup_delay_seconds",
        "recover_after_seconds",
        "relay_interval_seconds",
        "item_lock_seconds",
        "public_url",
    ):
        if key in data:
            changes[key] = data[key]
    return replace(settings, **changes)
