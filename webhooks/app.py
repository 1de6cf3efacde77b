"""The Flask app factory. Layers: defaults -> config file -> PMO_BRIDGE_* environment ->
the `overrides` a test passes. Views stay thin; the work happens in the runtime."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask

from config.settings import Settings, load_settings
from webhooks.errors import register_error_handlers
from webhooks.logs import configure_logging

log = logging.getLogger(__name__)


def create_app(
    config_path: str | None = None,
    *,
    settings: Settings | None = None,
    overrides: Mapping[str, Any] | None = None,
    runtime: Any | None = None,
) -> Flask:
    from webhooks.runtime import Runtime

    settings = settings or load_settings(config_path, overrides=overrides)
    app = Flask(__name__, static_folder=None)  # the dashboard inlines its CSS and SVG
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]

    runtime = runtime or Runtime.from_settings(settings)
    app.extensions["pmo_bridge"] = runtime

    configure_logging(
        [t.webhook_secret_env for t in settings.trackers.values() if t.webhook_secret_env]
        + [t.token_env for t in settings.trackers.values() if t.token_env]
        + [settings.admin_token_env, settings.viewer_token_env]
    )
    _warn_unsigned(settings)

    register_error_handlers(app)
    from webhooks import openapi, ops, portfolio_pages, portfolio_views, views

    app.register_blueprint(views.bp)
    app.register_blueprint(ops.bp)
    app.register_blueprint(portfolio_views.bp)
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
