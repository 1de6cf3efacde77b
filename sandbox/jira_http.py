"""Request and error helpers shared by the Jira sandbox's route modules."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request

from sandbox.validation import FieldError

ISSUE_MISSING = "Issue does not exist or you do not have permission to see it."


def jira_error(status: int, *messages: str, errors: dict[str, str] | None = None):
    return jsonify({"errorMessages": list(messages), "errors": errors or {}}), status


def request_body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise FieldError({}, ["No content to map to Object due to end of input"])
    return data


def fields_param(value: Any) -> list[str] | None:
    if value is None:
        return None
    return value if isinstance(value, list) else str(value).split(",")
