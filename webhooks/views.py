"""Webhook intake: verify, parse, dedupe, persist, enqueue, answer. Nothing slow happens
here; the worker does the rest."""

from __future__ import annotations

import hashlib
import json
import logging
import re

from flask import Blueprint, Response, current_app, request

from connector import azure_devops, jira
from connector.errors import PayloadError
from connector.model import Ignored
from webhooks.errors import ApiError
from webhooks.metrics import EVENTS

log = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__)

ADAPTERS = {"jira": jira, "azure-devops": azure_devops}

# Real payloads nest a few dozen levels (ADF lists in lists); far deeper bodies would
# exhaust the stack of the recursive readers downstream.
MAX_JSON_DEPTH = 128
# After decoding, surrogate pairs are single code points: any surrogate left is unpaired
# and cannot be encoded as UTF-8 (the store and the trackers would reject it later).
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON value")


def _json_problem(payload: object, raw: bytes) -> str | None:
    """Why a decoded body is unusable though it parsed, or None. Iterative on purpose.
    Cheap byte-level bounds on `raw` skip the walks for nearly every real delivery."""
    if _too_deep(payload, raw):
        return f"body nests deeper than {MAX_JSON_DEPTH} levels"
    if _may_hold_surrogates(raw) and _has_lone_surrogate(payload):
        return "body contains an unpaired UTF-16 surrogate (\\ud800-\\udfff)"
    return None


def _too_deep(payload: object, raw: bytes) -> bool:
    """Is there a container at depth MAX_JSON_DEPTH or more (the root is depth 0)?"""
    # Each level needs its own "{" or "[", which is a 7B or 5B byte in any JSON encoding.
    if raw.count(b"{") + raw.count(b"[") <= MAX_JSON_DEPTH:
        return False
    level = [payload] if type(payload) is dict or type(payload) is list else []
    depth = 0
    while level:
        if depth >= MAX_JSON_DEPTH:
            return True
        below: list = []
        for value in level:
            children = value.values() if type(value) is dict else value
            below += [c for c in children if type(c) is dict or type(c) is list]
        level = below
        depth += 1
    return False


# A surrogate can only come from a \uD800-\uDFFF escape or, as json.loads decodes bytes
# with "surrogatepass", from its UTF-8 form ED A0..BF xx.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _may_hold_surrogates(raw: bytes) -> bool:
    if json.detect_encoding(raw) not in ("utf-8", "utf-8-sig"):
        return True  # UTF-16/32 bodies: no shortcut
    return b"\xed" in raw or _SURROGATE_ESCAPE.search(raw) is not None


def _has_lone_surrogate(payload: object) -> bool:
    stack = [payload]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            if _LONE_SURROGATE.search(value):
                return True
        elif isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return False


def _reply(code: int, **body: str) -> Response:
    """A small JSON answer, made directly: `jsonify` costs more than the rest of it."""
    return Response(json.dumps(body), code, mimetype="application/json")


def _runtime():
    return current_app.extensions["pmo_bridge"]


def _tracker_for(name: str):
    """`/webhooks/jira` and `/webhooks/azure-devops` name a kind and take the first
    tracker of that kind; any configured tracker name works too."""
    settings = _runtime().settings
    if name in settings.trackers:
        return settings.trackers[name]
    of_kind = settings.trackers_of_kind(name)
    if of_kind:
        return of_kind[0]
    raise ApiError(404, f"no tracker named {name!r} is configured")


@bp.post("/webhooks/<name>")
def receive(name: str):
    tracker = _tracker_for(name)
    adapter = ADAPTERS[tracker.kind]
    raw = request.get_data(cache=True)
    # One pass over the WSGI environ; the adapters look headers up case-insensitively.
    headers = dict(request.headers.items())

    # Authenticate the raw bytes before anything looks inside them.
    if not adapter.verify_request(headers, raw, tracker.secret()):
        EVENTS.labels(tracker.name, "unknown", "unauthorized").inc()
        log.warning("webhook.unauthorized", extra={"tracker": tracker.name})
        raise ApiError(401, "missing or invalid signature or credentials")

    if not request.mimetype or not (
        request.mimetype == "application/json" or request.mimetype.endswith("+json")
    ):
        raise ApiError(415, "expected a JSON body (Content-Type: application/json)")
    try:
        payload = json.loads(raw, parse_constant=_reject_constant)
    except RecursionError:
        raise ApiError(400, f"body nests deeper than {MAX_JSON_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"body is not valid JSON: {exc}") from None
    problem = _json_problem(payload, raw)
    if problem:
        raise ApiError(400, problem)

    try:
        event = adapter.parse_event(payload, tracker)
    except PayloadError as exc:
        EVENTS.labels(tracker.name, "unknown", "rejected").inc()
        raise ApiError(400, str(exc)) from None

    if isinstance(event, Ignored):
        EVENTS.labels(tracker.name, event.native_event[:64], "ignored").inc()
        return _reply(202, status="ignored", reason=event.reason)

    delivery = adapter.delivery_id(headers, payload) or hashlib.sha256(raw).hexdigest()
    row_id = _runtime().accept(tracker.name, delivery, event, raw)
    if row_id is None:
        EVENTS.labels(tracker.name, event.native_event, "duplicate").inc()
        return _reply(200, status="duplicate", delivery=delivery)
    EVENTS.labels(tracker.name, event.native_event, "accepted").inc()
    return _reply(202, status="accepted", delivery=delivery)
