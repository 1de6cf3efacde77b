"""Check a recorded HTTP request against the vendors' published API descriptions.

`check_request(request, tracker, base_url)` returns a list of problems (empty = the
request is one the vendor documents) and `assert_documented` fails a test with them.
`request` is anything with `method`, `url`, `body` and `headers` (a `responses` call's
`request`, i.e. a `requests.PreparedRequest`).

What is checked, against tests/specs/:
- the path matches a path template (`{param}` matches one segment; ADO route segments are
  case-insensitive) and the method exists for it;
- every query parameter is declared for the operation, and required ones are present;
- the JSON body's keys are declared by the request-body schema (`$ref`s resolved), at the
  top level and, where the schema names properties, below it. This is stricter than the
  schemas, several of which allow additional properties: a misspelt key that the
  tracker would silently ignore is exactly what this should catch.
- Azure DevOps: `api-version` (query, or `Accept: ...;api-version=` as the Python library
  sends it) has the operation's version number, and is a preview where the operation is.
- Jira Cloud comments (`POST`/`PUT /rest/api/3/issue/{key}/comment[/{id}]`, and those an
  issue edit adds through `update.comment: [{"add": {"body": ...}}]`): the body is a
  valid document under Atlassian's ADF JSON schema (`sandbox.adf`), and every comment
  body (ADF as compact JSON, or wiki markup) is within Jira's 32,767 characters.

Normalisations, each a documented property of the vendor APIs rather than a leniency:
- Jira: the spec lists the Cloud v3 paths; `/rest/api/2/...` is checked against the same
  operation (v2 and v3 differ in body formats such as ADF, not in paths or parameters).
- Jira: `SUPPLEMENT` adds operations published after the stored spec snapshot
  (enhanced JQL search, bulk fetch of issues), transcribed from Atlassian's reference
  pages.
- Azure DevOps: the `{project}` and `{team}` route segments are optional (the reference
  pages list `project` as not required; the library drops missing optional segments).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from sandbox.adf import adf_problems
from tests.support.helpers import SPECS

JIRA_SPEC = SPECS / "jira" / "platform-swagger.v3.json"
ADO_SPEC = SPECS / "azure-devops" / "workItemTracking-7.1.json"
# Further Azure DevOps areas the code calls (excerpts of the published files: the
# operations used, copied as they are; see tests/specs/README.md).
ADO_MORE_SPECS = (
    SPECS / "azure-devops" / "security-7.1.excerpt.json",
    SPECS / "azure-devops" / "work-7.1.excerpt.json",
)
# identities live on the organisation's vssps host: check against base URL
# https://vssps.dev.azure.com/{org} with tracker "azure-devops-identities"
ADO_IDENTITIES_SPEC = SPECS / "azure-devops" / "identities-7.1.json"
# Each tracker's spec files; index 0 is the main one.
SPEC_FILES = {
    "jira": (JIRA_SPEC,),
    "azure-devops": (ADO_SPEC, *ADO_MORE_SPECS),
    "azure-devops-identities": (ADO_IDENTITIES_SPEC,),
}

# Operations newer than the stored Jira spec, from
# https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-search/
# (Search for issues using JQL enhanced search; Count issues using JQL).
_ENHANCED_SEARCH_BODY = {
    "type": "object",
    "properties": {
        name: {}
        for name in (
            "expand",
            "fields",
            "fieldsByKeys",
            "jql",
            "maxResults",
            "nextPageToken",
            "properties",
            "reconcileIssues",
        )
    },
}
_BULK_FETCH_BODY = {
    "type": "object",
    "required": ["issueIdsOrKeys"],
    "properties": {
        "expand": {"type": "array", "items": {"type": "string"}},
        "fields": {"type": "array", "items": {"type": "string"}},
        "fieldsByKeys": {"type": "boolean"},
        "issueIdsOrKeys": {"type": "array", "items": {"type": "string"}, "maxItems": 100},
        "properties": {"type": "array", "items": {"type": "string"}},
    },
}
SUPPLEMENT: dict[str, dict[str, Any]] = {
    "/rest/api/3/search/jql": {
        "get": {
            "parameters": [
                {"name": n, "in": "query"}
                for n in (
                    "jql",
                    "nextPageToken",
                    "maxResults",
                    "fields",
                    "expand",
                    "properties",
                    "fieldsByKeys",
                    "failFast",
                    "reconcileIssues",
                )
            ]
        },
        "post": {
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ENHANCED_SEARCH_BODY}},
            }
        },
    },
    # https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues/
    # (Bulk fetch issues): up to 100 issues by id or key, with the fields asked for.
    "/rest/api/3/issue/bulkfetch": {
        "post": {
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _BULK_FETCH_BODY}},
            }
        }
    },
    "/rest/api/3/search/approximate-count": {
        "post": {
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"type": "object", "properties": {"jql": {"type": "string"}}}
                    }
                },
            }
        }
    },
}

_OPTIONAL_ADO_SEGMENTS = ("{project}", "{team}")
JIRA_COMMENT = re.compile(r"^rest/api/3/issue/[^/]+/comment(/[^/]+)?$")
JIRA_EDIT = re.compile(r"^rest/api/3/issue/[^/]+$")
JIRA_COMMENT_LIMIT = 32_767
# What Jira Cloud answers (400) to a comment body that is not valid ADF.
INVALID_INPUT = {"errorMessages": ["INVALID_INPUT"], "errors": {}}


def comment_problems(version: str, body: Any) -> list[str]:
    """Problems with a Jira comment write's JSON body: ADF on v3, size on both."""
    value = body.get("body") if isinstance(body, Mapping) else None
    if version == "3":
        problems = [f"comment body is not valid ADF: {p}" for p in adf_problems(value)]
        size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False))
    else:
        problems = [] if isinstance(value, str) else ["comment body is not wiki markup text"]
        size = len(value) if isinstance(value, str) else 0
    if size > JIRA_COMMENT_LIMIT:
        problems.append(f"comment body has {size} characters, over {JIRA_COMMENT_LIMIT}")
    return problems


@functools.cache
def load_spec(tracker: str, index: int = 0) -> dict[str, Any]:
    """The tracker's spec; Azure DevOps has one per area (0: work item tracking)."""
    path = SPEC_FILES[tracker][index]
    return json.loads(path.read_text(encoding="utf-8-sig"))


@functools.cache
def _templates(tracker: str) -> tuple[tuple[tuple[str, ...], str, str, int], ...]:
    """(segments, original template, source, spec index) for every path template,
    variants included."""
    out: list[tuple[tuple[str, ...], str, str, int]] = []
    if tracker == "jira":
        for template in [*load_spec(tracker)["paths"], *SUPPLEMENT]:
            out.append((tuple(template.strip("/").split("/")), template, "jira", 0))
        return tuple(out)
    for index in range(len(SPEC_FILES[tracker])):
        spec = load_spec(tracker, index)
        sources = [("paths", t) for t in spec["paths"]] + [
            ("x-ms-paths", t) for t in spec.get("x-ms-paths", {})
        ]
        for source, template in sources:
            segments = template.split("?", 1)[0].strip("/").split("/")
            assert segments[0] == "{organization}", template
            segments = segments[1:]  # the organisation is the tracker's base URL
            optional = [i for i, s in enumerate(segments) if s in _OPTIONAL_ADO_SEGMENTS]
            for mask in range(1 << len(optional)):
                drop = {optional[b] for b in range(len(optional)) if mask & (1 << b)}
                variant = tuple(s for i, s in enumerate(segments) if i not in drop)
                out.append((variant, template, source, index))
    return tuple(out)


def _matches(template: tuple[str, ...], actual: list[str], *, fold: bool) -> bool:
    if len(template) != len(actual):
        return False
    for want, got in zip(template, actual, strict=True):
        if want.startswith("{") and want.endswith("}"):
            if not got:
                return False
        elif (want.lower() != got.lower()) if fold else (want != got):
            return False
    return True


def _resolve(spec: Mapping[str, Any], node: Any) -> Any:
    while isinstance(node, Mapping) and "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), ref
        target: Any = spec
        for part in ref[2:].split("/"):
            target = target[part]
        node = target
    return node


def _schema_problems(spec: Mapping[str, Any], schema: Any, value: Any, where: str) -> list[str]:
    schema = _resolve(spec, schema)
    if not isinstance(schema, Mapping):
        return []
    problems: list[str] = []
    for part in schema.get("allOf") or []:
        problems += _schema_problems(spec, part, value, where)
    if isinstance(value, list) and len(value) > schema.get("maxItems", len(value)):
        problems.append(f"body {where}: {len(value)} items, at most {schema['maxItems']}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            problems += _schema_problems(spec, schema["items"], item, f"{where}[{i}]")
        return problems
    if not isinstance(value, Mapping):
        if schema.get("enum") and value not in schema["enum"]:
            problems.append(f"body {where}: {value!r} not one of {schema['enum']}")
        return problems
    for key in schema.get("required") or () if schema.get("type") == "object" else ():
        if key not in value:
            problems.append(f"body {where or '/'}: required key {key!r} missing")
    properties = schema.get("properties")
    if properties is not None:
        for key, item in value.items():
            if key not in properties:
                problems.append(f"body {where or '/'}: key {key!r} not in schema")
            else:
                problems += _schema_problems(spec, properties[key], item, f"{where}.{key}")
    extra = schema.get("additionalProperties")
    if properties is None and isinstance(extra, Mapping) and extra:
        for key, item in value.items():
            problems += _schema_problems(spec, extra, item, f"{where}.{key}")
    return problems


def _api_version(request: Any, query: Mapping[str, str]) -> str | None:
    if "api-version" in query:
        return query["api-version"]
    accept = (request.headers or {}).get("Accept", "")
    found = re.search(r"api-version=([\w.\-]+)", accept)
    return found.group(1) if found else None


def _version_problems(
    spec: Mapping[str, Any], op: Mapping[str, Any], sent: str | None
) -> list[str]:
    if not sent:
        return ["api-version missing (query or Accept header)"]
    expected = op.get("x-ms-docs-override-version")
    if not expected:
        return []
    want_num, preview, _ = expected.partition("-preview")
    got_num = sent.partition("-preview")[0]
    problems = []
    if got_num != want_num:
        problems.append(f"api-version {sent} is not {expected}")
    if preview and "-preview" not in sent:
        problems.append(f"api-version {sent}: the operation is a preview ({expected})")
    return problems


def _operation_problems(
    tracker: str, op: Mapping[str, Any], path_params: list[Any], request: Any, index: int = 0
) -> list[str]:
    spec = load_spec(tracker, index)
    split = urlsplit(request.url)
    query = dict(parse_qsl(split.query, keep_blank_values=True))
    params = [_resolve(spec, p) for p in [*path_params, *(op.get("parameters") or [])]]
    declared = {p["name"]: p for p in params if p.get("in") == "query"}
    problems = []
    for name in query:
        if name not in declared:
            problems.append(f"query parameter {name!r} not declared")
    for name, param in declared.items():
        if param.get("required") and name not in query and name != "api-version":
            problems.append(f"required query parameter {name!r} missing")

    body_text = request.body.decode() if isinstance(request.body, bytes) else request.body
    body = json.loads(body_text) if body_text else None
    if tracker == "jira":
        request_body = op.get("requestBody")
        schema = None
        if request_body:
            content = request_body.get("content") or {}
            schema = (content.get("application/json") or {}).get("schema")
            if request_body.get("required") and body is None:
                problems.append("request body required")
    else:
        problems += _version_problems(spec, op, _api_version(request, query))
        body_params = [p for p in params if p.get("in") == "body"]
        schema = body_params[0].get("schema") if body_params else None
        if body_params and body_params[0].get("required") and body is None:
            problems.append("request body required")
        consumes = op.get("consumes") or []
        sent_type = (request.headers or {}).get("Content-Type", "").split(";")[0].strip()
        if body is not None and consumes and sent_type not in consumes:
            problems.append(f"Content-Type {sent_type!r} not in {consumes}")
    if body is not None:
        if schema is None:
            problems.append("operation takes no request body")
        else:
            problems += _schema_problems(spec, schema, body, "")
    return problems


def check_request(request: Any, tracker: str, base_url: str) -> list[str]:
    """Problems with one recorded request; [] when the vendor documents it."""
    path = urlsplit(request.url).path
    base_path = urlsplit(base_url).path.rstrip("/")
    same_host = urlsplit(request.url).netloc.lower() == urlsplit(base_url).netloc.lower()
    if not same_host or not path.lower().startswith(base_path.lower()):
        return [f"{path} is not under the tracker URL {base_url}"]
    relative = path[len(base_path) :].strip("/")
    if tracker == "jira":
        relative = re.sub(r"^rest/api/2/", "rest/api/3/", relative)
    actual = relative.split("/")
    fold = tracker != "jira"
    candidates = [c for c in _templates(tracker) if _matches(c[0], actual, fold=fold)]
    if not candidates:
        return [f"{request.method} {path}: no such path in the {tracker} spec"]
    problems = _operations_problems(tracker, candidates, request)
    comment = JIRA_COMMENT.match(relative) if tracker == "jira" else None
    edit = JIRA_EDIT.match(relative) if tracker == "jira" else None
    if (comment and request.method in ("POST", "PUT")) or (edit and request.method == "PUT"):
        body_text = request.body.decode() if isinstance(request.body, bytes) else request.body
        version = "2" if path[len(base_path) :].strip("/").startswith("rest/api/2/") else "3"
        body = json.loads(body_text or "null")
        if comment:
            problems += comment_problems(version, body)
        else:  # an edit adding a comment: `update.comment: [{"add": {"body": ...}}]`
            update = body.get("update") if isinstance(body, Mapping) else None
            added = update.get("comment") if isinstance(update, Mapping) else None
            for op in added if isinstance(added, list) else []:
                if not (isinstance(op, Mapping) and set(op) == {"add"}):
                    problems.append(f"update.comment operation {op!r} is not an add")
                    continue
                problems += comment_problems(version, op["add"])
    return problems


def _operations_problems(tracker: str, candidates: list[Any], request: Any) -> list[str]:
    method = request.method.lower()
    # The most literal template wins (".../comment/{id}" over "{a}/{b}/{c}/{d}").
    best = max(sum(not s.startswith("{") for s in c[0]) for c in candidates)
    candidates = [c for c in candidates if sum(not s.startswith("{") for s in c[0]) == best]
    results = []
    for _, template, source, index in candidates:
        spec = load_spec(tracker, index)
        if tracker == "jira":
            item = SUPPLEMENT.get(template) or spec["paths"][template]
        else:
            item = spec[source][template]
        op = item.get(method)
        if op is None:
            results.append([f"{request.method} not documented for {template}"])
            continue
        problems = _operation_problems(tracker, op, item.get("parameters") or [], request, index)
        if not problems:
            return []
        results.append([f"{template}: {p}" for p in problems])
    return min(results, key=len)


def assert_documented(request: Any, tracker: str, base_url: str) -> None:
    problems = check_request(request, tracker, base_url)
    assert not problems, f"{request.method} {request.url}: " + "; ".join(problems)
