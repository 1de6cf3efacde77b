"""Structured JSON logs: one object per line, a stable dotted event name in `event`, context
as fields. Secrets never reach a log call; as a second line of defence, configured secret
values are masked in every formatted line."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterable

from config.settings import Settings

_STANDARD = set(vars(logging.makeLogRecord({})))  # attributes every LogRecord has


class JsonFormatter(logging.Formatter):
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if s and len(s) >= 4]

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "event": record.getMessage(),
            "logger": record.name,
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key != "message" and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        line = json.dumps(entry, default=str)
        for secret in self._secrets:
            line = line.replace(secret, "***")
        return line


def configure_logging(secret_env_names: Iterable[str] = (), level: str | None = None) -> None:
    """Send JSON lines to stderr. Idempotent, so the app factory may call it again."""
    secrets = [os.environ.get(name, "") for name in secret_env_names]
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(secrets))
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "_pmo_bridge", False):
            root.removeHandler(existing)
    handler._pmo_bridge = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level or os.environ.get("PMO_BRIDGE_LOG_LEVEL", "INFO"))


def secret_env_names(settings: Settings) -> list[str]:
    """Every environment variable the configuration reads a secret from: each tracker's
    webhook secret and API token, the admin token and the viewer token. The one list every
    process masks."""
    names = [t.webhook_secret_env for t in settings.trackers.values() if t.webhook_secret_env]
    names += [t.token_env for t in settings.trackers.values() if t.token_env]
    names += [settings.admin_token_env, settings.viewer_token_env]
    return names
