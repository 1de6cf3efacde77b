"""`GET /openapi.json`: the OpenAPI 3.0 description of the service's own endpoints, served
from the file shipped in the package, so the document and the wheel cannot drift apart."""

from __future__ import annotations

import functools
from importlib import resources

from flask import Blueprint, Response

bp = Blueprint("openapi", __name__)

SPEC_FILE = "openapi.json"


@functools.cache
def spec_text() -> str:
    return resources.files("webhooks.http").joinpath(SPEC_FILE).read_text(encoding="utf-8")


@bp.get("/openapi.json")
def openapi_document():
    return Response(spec_text(), content_type="application/json")
