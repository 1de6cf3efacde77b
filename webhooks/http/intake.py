"""Webhook intake: verify, parse, dedupe and persist (the store is the queue's outbox),
answer. Nothing slow happens here; the workers' relay queues it, the worker does the rest."""

from __future__ import annotations

import hashlib
import json
import logging

from flask import Blueprint, Response, current_app, request

from config.settings import TrackerConfig
from connector import trackers
from connector.errors import PayloadError
from connector.model import Ignored
from connector.texts import rich_text_skipped
from webhooks.http.bodies import read_body
from webhooks.http.errors import ApiError
from webhooks.http.jsonbody import BodyError, decode_body
from webhooks.telemetry.metrics import EVENTS
from webhooks.worker.runtime import Runtime

log = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__)


def _reply(code: int, **body: str) -> Response:
    """A small JSON answer, made directly: `jsonify` costs more than the rest of it."""
    return Response(json.dumps(body), code, mimetype="application/json")


def _runtime() -> Runtime:
    return current_app.extensions["pmo_bridge"]


def _tracker_for(name: str) -> TrackerConfig:
    """`/webhooks/jira` and `/webhooks/azure-devops` name a kind and take the first
    tracker of that kind; any configured tracker name works too."""
    settings = _runtime().settings
    if name in settings.trackers:
        return settings.trackers[name]
    of_kind = settings.trackers_of_kind(name)
    if of_kind:
        return of_kind[0]
    raise ApiError(404, f"no tracker named {name!r} is configured")


def _event_label(adapter, name: str) -> str:
    """The event name as a metrics label: names the adapter knows, else "unknown", so a
    sender cannot make one time series per name it invents."""
    return name if name in adapter.EVENT_PARSERS or name in adapter.IGNORED_EVENTS else "unknown"


@bp.post("/webhooks/<name>")
def receive(name: str):
    tracker = _tracker_for(name)
    adapter = trackers.adapter(tracker)
    raw = read_body(request, current_app.config["MAX_CONTENT_LENGTH"])
    # One pass over the WSGI environ; the adapters look headers up case-insensitively.
    headers = dict(request.headers.items())

    # Authenticate the raw bytes before anything looks inside them. No secret fails
    # closed: a misspelt variable must not open the endpoint to anyone.
    secret = tracker.secret()
    if secret is None and not tracker.allow_unsigned:
        EVENTS.labels(tracker.name, "unknown", "unauthorized").inc()
        log.warning("webhook.no_secret_refused", extra={"tracker": tracker.name})
        raise ApiError(401, "missing or invalid signature or credentials")
    if not adapter.verify_request(headers, raw, secret):
        EVENTS.labels(tracker.name, "unknown", "unauthorized").inc()
        log.warning("webhook.unauthorized", extra={"tracker": tracker.name})
        raise ApiError(401, "missing or invalid signature or credentials")

    # The media type is what precedes any parameters (werkzeug's `mimetype`, unparsed).
    mimetype = headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
    if not (mimetype == "application/json" or mimetype.endswith("+json")):
        raise ApiError(415, "expected a JSON body (Content-Type: application/json)")
    try:
        payload = decode_body(raw)
    except BodyError as exc:
        raise ApiError(400, str(exc)) from None

    try:
        with rich_text_skipped():  # intake needs no descriptions; the worker converts them
            event = adapter.parse_event(payload, tracker)
    except PayloadError as exc:
        EVENTS.labels(tracker.name, "unknown", "rejected").inc()
        raise ApiError(400, str(exc)) from None

    if isinstance(event, Ignored):
        EVENTS.labels(tracker.name, _event_label(adapter, event.native_event), "ignored").inc()
        return _reply(202, status="ignored", reason=event.reason)

    delivery = adapter.delivery_id(headers, payload) or hashlib.sha256(raw).hexdigest()
    row_id = _runtime().accept(tracker.name, delivery, event, raw)
    if row_id is None:
        EVENTS.labels(tracker.name, event.native_event, "duplicate").inc()
        return _reply(200, status="duplicate", delivery=delivery)
    EVENTS.labels(tracker.name, event.native_event, "accepted").inc()
    return _reply(202, status="accepted", delivery=delivery)
