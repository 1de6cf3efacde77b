"""Operations endpoints: liveness, readiness, metrics, and the token-protected admin API
(dead letters, rules reload)."""

from __future__ import annotations

import hmac
import logging

from flask import Blueprint, Response, current_app, jsonify, request

from webhooks.http.errors import ApiError
from webhooks.http.viewer import require_viewer, viewer_allowed
from webhooks.telemetry.metrics import QUEUE_DEPTH, render_metrics
from webhooks.worker.runtime import Runtime

log = logging.getLogger(__name__)
bp = Blueprint("ops", __name__)


def _runtime() -> Runtime:
    return current_app.extensions["pmo_bridge"]


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    checks = _runtime().readiness()
    ready = all(check["ok"] for check in checks.values())
    status = "ready" if ready else "not ready"
    code = 200 if ready else 503
    # The bare status is for load balancers; paths and errors are for viewers.
    if not viewer_allowed():
        return jsonify(status=status), code
    return jsonify(status=status, checks=checks), code


@bp.get("/metrics")
def metrics():
    refusal = require_viewer()
    if refusal is not None:
        return refusal
    try:
        QUEUE_DEPTH.set(_runtime().queue_depth())
    except Exception:  # the queue being down must not hide every other metric
        log.warning("metrics.queue_depth_unavailable")
    body, content_type = render_metrics()
    return Response(body, content_type=content_type)


def require_admin() -> None:
    """Admin endpoints need `Authorization: Bearer <token>` matching the configured token.
    With no token configured they are closed, not open."""
    expected = _runtime().settings.admin_token()
    if not expected:
        raise ApiError(403, "admin API disabled: set the admin token environment variable")
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), expected.encode()
    ):
        raise ApiError(401, "admin token missing or wrong")


@bp.get("/admin/deadletters")
def list_dead_letters():
    require_admin()
    return jsonify(deadletters=[d.to_dict() for d in _runtime().dead_letters()])


@bp.post("/admin/deadletters/replay")
def replay_dead_letters():
    require_admin()
    # An empty body replays everything; a body that is not the documented JSON is refused
    # rather than read as "replay all".
    body: dict = {}
    if request.get_data(cache=True).strip():
        parsed = request.get_json(silent=True)
        if not isinstance(parsed, dict):
            raise ApiError(400, 'body must be JSON like {"ids": [1, 2]} or empty')
        body = parsed
    ids = body.get("ids")
    if ids is not None and not (
        isinstance(ids, list) and all(isinstance(i, int) and not isinstance(i, bool) for i in ids)
    ):
        raise ApiError(400, "ids must be a list of integers")
    replayed = _runtime().replay_dead_letters(ids)
    return jsonify(replayed=replayed)


@bp.post("/admin/reload")
def reload_rules():
    require_admin()
    result = _runtime().reload_rules()
    return jsonify(result), (200 if result["ok"] else 422)
