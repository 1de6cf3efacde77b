"""Request helpers and URL pieces shared by the Azure DevOps sandbox's route modules."""

from __future__ import annotations

import re
from typing import Any

from flask import request

from sandbox.azure_catalog import AzureError
from sandbox.azure_state import AzureState

WI = '<any("workitems", "workItems", "WorkItems"):_wi>'
BATCH = '<any("workitemsbatch", "workItemsBatch"):_wb>'
_VERSION = re.compile(r"api-version\s*=\s*([\w.\-]+)", re.IGNORECASE)
PATCH_MEDIA = "application/json-patch+json"
WEB_API = "Microsoft.VisualStudio.Services.WebApi.{0}, Microsoft.VisualStudio.Services.WebApi"


def api_version() -> str | None:
    if request.args.get("api-version"):
        return request.args["api-version"]
    match = _VERSION.search(request.headers.get("Accept", ""))
    return match.group(1) if match else None


def json_patch_body() -> list[Any]:
    media = (request.mimetype or "").lower()
    if media != PATCH_MEDIA:
        raise AzureError(
            415,
            f'The request indicated a Content-Type of "{request.mimetype}" for '
            f'method type "{request.method}" which is not supported. Valid content '
            f"types for this method are: {PATCH_MEDIA}.",
            "VssRequestContentTypeNotSupportedException",
            WEB_API.format("VssRequestContentTypeNotSupportedException"),
        )
    body = request.get_json(silent=True, force=True)
    if not isinstance(body, list):
        raise AzureError(
            400,
            "You must pass a valid patch document in the body of the request.",
            "VssPropertyValidationException",
            WEB_API.format("VssPropertyValidationException"),
        )
    return body


def check_project(state: AzureState, project: str | None) -> None:
    """A project-scoped route names a project that exists (AzureError 404 otherwise)."""
    if project is not None:
        state.project(project)
