"""One place that turns errors into JSON answers. Client mistakes are 4xx with a reason;
nothing a client sends can produce a 5xx or a stack trace."""

from __future__ import annotations

import logging

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class ApiError(Exception):
    """Raise from a view to answer `status` with `{"error": message}`."""

    def __init__(self, status: int, message: str, **extra: object) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra


def error_response(status: int, message: str, **extra: object):
    body = {"error": message, **extra}
    return jsonify(body), status


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return error_response(exc.status, exc.message, **exc.extra)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        message = {
            404: "no such endpoint",
            405: "method not allowed",
            413: "request body too large",
        }.get(exc.code or 500, exc.description or exc.name)
        response = error_response(exc.code or 500, message)
        if exc.code == 405 and exc.valid_methods:  # type: ignore[attr-defined]
            response[0].headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        # A bug or an outage on our side: log it with the trace, answer without one.
        log.exception("http.unhandled_error", extra={"error_type": type(exc).__name__})
        return error_response(500, "internal error; the event was not lost if it was accepted")
