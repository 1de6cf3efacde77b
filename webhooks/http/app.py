"""The Flask app factory. Layers: defaults -> config file -> PMO_BRIDGE_* environment ->
the `overrides` a test passes. Views stay thin; the work happens in the runtime."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask

from config.settings import Settings, load_settings
from webhooks.http import admin, intake, openapi, people, portfolio, portfolio_pages
from webhooks.http.errors import register_error_handlers
from webhooks.telemetry.logs import configure_logging, secret_env_names
from webhooks.worker.runtime import Runtime

log = logging.getLogger(__name__)


def create_app(
    config_path: str | None = None,
    *,
    settings: Settings | None = None,
    overrides: Mapping[str, Any] | None = None,
    runtime: Runtime | None = None,
) -> Flask:
    settings = settings or load_settings(config_path, overrides=overrides)
    app = Flask(__name__, static_folder=None)  # the dashboard inlines its CSS and SVG
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]

    runtime = runtime or Runtime.from_settings(settings)
    app.extensions["pmo_bridge"] = runtime

    configure_logging(secret_env_names(settings))
    _warn_unsigned(settings)

    register_error_handlers(app)
    app.register_blueprint(intake.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(portfolio.bp)
    app.register_blueprint(people.bp)
    app.register_blueprint(portfolio_pages.bp)
    app.register_blueprint(openapi.bp)
    return app


def _warn_unsigned(settings: Settings) -> None:
    for tracker in settings.trackers.values():
        if tracker.secret():
            continue
        if tracker.allow_unsigned:
            detail = "allow_unsigned: unsigned deliveries are accepted unchecked"
        else:
            detail = (
                f"no secret in ${tracker.webhook_secret_env}: every delivery is refused "
                "(set the secret, or allow_unsigned: true for a test setup)"
            )
        log.warning(
            "config.webhook_secret_missing", extra={"tracker": tracker.name, "detail": detail}
        )
