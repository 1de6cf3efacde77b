"""Who may read the PMO's views: the dashboard, `/api/portfolio`, `/metrics` and the
detail of `/readyz`. Titles, assignees and rule file paths are not for the internet,
though the webhook endpoints beside them must be.

In order, a request is let in when:
1. `trusted_proxy_header` is configured and the request carries it (an authenticating
   reverse proxy, e.g. oauth2-proxy's `X-Auth-Request-Email`, vouches for the user);
2. a viewer token is configured and the request gives it, as `Authorization: Bearer` or
   as the password of HTTP Basic (any user name), so a browser can log in with its own
   prompt; compared in constant time;
3. no viewer token is configured and the client is on loopback, with no forwarding
   header: a reverse proxy on the same machine forwards strangers from 127.0.0.1.
Anything else is 401 with a Basic challenge (token configured) or 403 with the reason.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
import json

from flask import Request, Response, current_app, request
from markupsafe import escape

REALM = "pmo-bridge"
FORWARDING_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Real-IP")
LOOPBACK_ONLY = (
    "the dashboard, its API and metrics answer only loopback clients while no viewer "
    "token is set (PMO_BRIDGE_VIEWER_TOKEN or viewer_token_env)"
)
REFUSED_CREDENTIAL = "viewer token missing or wrong"


def viewer_allowed(req: Request | None = None) -> bool:
    """May this request see the PMO's views?"""
    return _refusal(req or request) is None


def require_viewer() -> Response | None:
    """A `before_request` hook: None lets the request through, else the refusal."""
    refusal = _refusal(request)
    if refusal is None:
        return None
    status, reason = refusal
    response = _answer(status, reason)
    if status == 401:
        response.headers["WWW-Authenticate"] = f'Basic realm="{REALM}", charset="UTF-8"'
    return response


def _refusal(req: Request) -> tuple[int, str] | None:
    settings = current_app.extensions["pmo_bridge"].settings
    header = settings.trusted_proxy_header
    if header and req.headers.get(header, "").strip():
        return None
    expected = settings.viewer_token()
    if expected:
        given = _presented_token(req.headers.get("Authorization", ""))
        if given is not None and hmac.compare_digest(given, expected.encode()):
            return None
        return 401, REFUSED_CREDENTIAL
    if _is_loopback(req.remote_addr) and not any(h in req.headers for h in FORWARDING_HEADERS):
        return None
    return 403, LOOPBACK_ONLY


def _presented_token(authorization: str) -> bytes | None:
    scheme, _, value = authorization.strip().partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer":
        return value.strip().encode()
    if scheme == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True)
        except (binascii.Error, ValueError):
            return None
        _, colon, password = decoded.partition(b":")
        return password if colon else None
    return None


def _is_loopback(address: str | None) -> bool:
    try:
        return ipaddress.ip_address((address or "").split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _answer(status: int, reason: str) -> Response:
    """HTML for a browser asking for the dashboard, JSON for everything else."""
    if request.path == "/portfolio" and request.accept_mimetypes.accept_html:
        page = (
            "<!doctype html><meta charset=utf-8><title>pmo-bridge: not allowed</title>"
            f"<h1>Not allowed</h1><p>{escape(reason)}.</p>"
        )
        return Response(page, status, content_type="text/html; charset=utf-8")
    return Response(json.dumps({"error": reason}), status, mimetype="application/json")
