"""Helpers for service tests: settings on a temporary folder, signed deliveries."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

from config.settings import Settings, TrackerConfig
from tests.support.helpers import PACKS

SERVICE_PACK = PACKS / "service.yaml"
JIRA_SECRET_ENV = "TEST_JIRA_WEBHOOK_SECRET"
AZURE_SECRET_ENV = "TEST_AZURE_WEBHOOK_SECRET"


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    trackers = overrides.pop(
        "trackers",
        {
            "jira": TrackerConfig(
                name="jira",
                kind="jira",
                webhook_secret_env=JIRA_SECRET_ENV,
                bot_account="pmo-bot",
            ),
            "azure-devops": TrackerConfig(
                name="azure-devops",
                kind="azure-devops",
                webhook_secret_env=AZURE_SECRET_ENV,
                bot_account="pmo-bot@fabrikam.com",
            ),
        },
    )
    values: dict[str, Any] = {
        "trackers": trackers,
        "database_url": f"sqlite:///{tmp_path / 'store.db'}",
        "queue_path": str(tmp_path / "queue.db"),
        "retry_base_seconds": 0.05,
        "rules": (str(SERVICE_PACK),),
        "dashboard_cache_seconds": 0,  # tests read their own writes at once
    }
    values.update(overrides)
    return Settings(**values)


def jira_headers(body: bytes, secret: str | None, delivery: str | None = None) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        headers["X-Hub-Signature"] = f"sha256={digest}"
    if delivery:
        headers["X-Atlassian-Webhook-Identifier"] = delivery
    return headers


def azure_headers(secret: str | None, user: str = "pmo") -> dict[str, str]:
    headers = {"Content-Type": "application/json; charset=utf-8"}
    if secret is not None:
        token = base64.b64encode(f"{user}:{secret}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    return headers


def as_body(payload: Any) -> bytes:
    return json.dumps(payload).encode()
