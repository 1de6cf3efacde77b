"""Secrets in logs: every process masks the same list, the admin token included."""

from __future__ import annotations

import argparse
import logging

import pytest
from sqlalchemy.exc import OperationalError

from config.settings import ConfigError
from tests.support.service import JIRA_SECRET_ENV, make_settings
from webhooks.commands import worker as worker_command
from webhooks.telemetry.logs import JsonFormatter, secret_env_names

ADMIN_TOKEN = "admin-token-s3cret"
JIRA_SECRET = "jira-webhook-s3cret"


def masking_formatter() -> JsonFormatter:
    root = logging.getLogger()
    (handler,) = [h for h in root.handlers if getattr(h, "_pmo_bridge", False)]
    assert isinstance(handler.formatter, JsonFormatter)
    return handler.formatter


def line_with(*secrets: str) -> logging.LogRecord:
    return logging.makeLogRecord({"msg": "leak " + " ".join(secrets), "name": "test"})


def test_the_list_names_every_secret_the_config_reads(tmp_path):
    settings = make_settings(tmp_path)
    names = secret_env_names(settings)
    assert settings.admin_token_env in names
    assert settings.viewer_token_env in names
    assert JIRA_SECRET_ENV in names
    for tracker in settings.trackers.values():
        assert tracker.webhook_secret_env in names


def test_the_worker_masks_the_admin_token(tmp_path, monkeypatch):
    """The worker built its own list, without the admin token, and logged it in clear."""
    settings = make_settings(tmp_path)
    monkeypatch.setenv(settings.admin_token_env, ADMIN_TOKEN)
    monkeypatch.setenv(JIRA_SECRET_ENV, JIRA_SECRET)
    monkeypatch.setattr(worker_command, "load_settings", lambda _config: settings)

    def no_database(_settings):  # stop once logging is configured
        raise OperationalError("connect", {}, Exception("down"))

    monkeypatch.setattr(worker_command.Runtime, "from_settings", no_database)
    root = logging.getLogger()
    kept = (list(root.handlers), root.level)
    try:
        with pytest.raises(ConfigError):
            worker_command.worker(argparse.Namespace(config=None, threads=1))
        line = masking_formatter().format(line_with(ADMIN_TOKEN, JIRA_SECRET))
    finally:
        root.handlers[:] = kept[0]
        root.setLevel(kept[1])
    assert ADMIN_TOKEN not in line and JIRA_SECRET not in line
    assert line.count("***") == 2
