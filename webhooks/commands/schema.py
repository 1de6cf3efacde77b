"""JSON Schemas of the files a PMO edits (rules, tests, config), for editors' YAML support.

Generated from the very marshmallow schemas the loaders use (marshmallow-jsonschema does
the translation), then given titles, descriptions and the key-name limits marshmallow
keeps in `Dict(keys=...)`. What a schema cannot say (field names in checks, regexes,
durations, rule ids that must exist, label prefixes) stays the loader's: `rules validate`
reports it with PATH:LINE:COL. The generated files ship in config/schemas/; a test keeps
them equal to what this module generates."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from marshmallow import Schema, fields, validate
from marshmallow_jsonschema import JSONSchema

from config.settings import PACKAGE_DIR, ConfigFileSchema
from rules.casefile import CaseFileSchema
from rules.schema import PackSchema
from rules.waivers import WaiverFileSchema

SCHEMA_DIR = PACKAGE_DIR / "schemas"
SOURCES: dict[str, tuple[type[Schema] | None, str]] = {
    "rules": (PackSchema, "pmo-bridge rules file (a rule pack)"),
    "tests": (CaseFileSchema, "pmo-bridge rule-pack tests file (<pack>.tests.yaml)"),
    "config": (ConfigFileSchema, "pmo-bridge configuration file"),
    "waivers": (WaiverFileSchema, "pmo-bridge waivers file"),
}

DESCRIPTIONS: dict[str, dict[str, str]] = {
    "PackSchema": {
        "version": "Format version of this rules file: 1.",
        "name": "The pack's name, shown in comments and the dashboard.",
        "enforcement": "Default for every rule: audit (record only), advise (managed "
        "comment), enforce (comment and labels).",
        "scope": "Which items the pack applies to, e.g. {project: [PAY, WEB]}.",
        "rules": "The compliance rules; each has an id and `require` checks.",
        "rollups": "Portfolio rollups computed on parents (epics, initiatives).",
    },
    "_Rule": {
        "id": "Unique rule id: lower case letters, digits, '-' and '_'.",
        "severity": "info | low | medium | high | critical",
        "enforcement": "audit | advise | enforce; overrides the pack's default.",
        "when": "Conditions selecting the items the rule is about (all must match).",
        "across": "Group items by this field and check the group (e.g. assignee).",
        "require": "Checks that must all hold, else the rule fails.",
        "message": "Text of the finding; may use {item.field} placeholders.",
        "hint": "How to fix it, shown under the message.",
        "labels": "Labels an enforce rule adds while it fails (prefix added).",
        "actions": "Field values the service sets while the rule fails.",
    },
    "_CaseFile": {
        "rules": "Rules file(s) under test, relative to this file (text or list).",
        "now": "Evaluation time (ISO timestamp), so ages and relative dates are stable.",
        "defaults": "Fields every case's item starts from.",
        "cases": "Items with the rules they must fail.",
    },
    "_Case": {
        "item": "The work item, common-model fields; dates may be relative (-6d).",
        "parent": "Optional parent item.",
        "expect_fail": "Exactly the rules that must fail; [] means all pass.",
        "only": "Compare just these rules, ignore the others.",
        "group": "The other items of the item's groups, for across: rules (same fields "
        "as item); each rule counts those in the item's own group.",
    },
    "_ConfigSchema": {
        "trackers": "Trackers by name; item keys start with it, webhooks arrive at "
        "/webhooks/<name>.",
        "rules": "Rule packs: files or folders, relative to this file.",
        "labels": "{prefix: pmo-}: the prefix of every label the service manages.",
        "database_url": "SQLAlchemy URL of the store (SQLite or PostgreSQL).",
        "redis_url": "Redis URL of the queue; unset: the embedded SQLite queue.",
        "server": "{host, port} that `serve` listens on.",
        "public_url": "Where people and trackers reach this service.",
        "viewer_token_env": "Env var holding the dashboard's viewer token; unset: loopback only.",
        "admin_token_env": "Env var holding the bearer token of /admin/*.",
    },
    "_TrackerSchema": {
        "kind": "jira | azure-devops",
        "url": "Site (Jira) or organisation (Azure DevOps) URL; unset: intake only.",
        "deployment": "Jira: cloud (REST v3, ADF) or server (Data Center, REST v2).",
        "auth": "Names of the env vars holding the API credentials.",
        "webhook_secret_env": "Env var holding the webhook secret deliveries are signed with.",
        "allow_unsigned": "true accepts unsigned deliveries when no secret is set (tests only).",
        "bot_account": "The service's own account, whose edits never trigger another round.",
        "fields": "Common or custom name -> tracker field id (customfield_10016, "
        "Microsoft.VSTS.Scheduling.StoryPoints).",
        "field_names": "Name as under fields -> the name people know the field by, for "
        "hints; the tracker's own field names win once the worker has read them.",
        "project": "Azure DevOps: the project audits and registration use.",
        "projects": "Jira: the projects the webhook filter names.",
    },
}


def _key_limits(schema: Schema) -> dict[str, list[str]]:
    """Dict fields whose keys are a closed set (labels: prefix; server: host, port)."""
    out = {}
    for name, field in schema.fields.items():
        keys = getattr(field, "key_field", None)
        if isinstance(field, fields.Dict) and keys is not None:
            for check in keys.validators:
                if isinstance(check, validate.OneOf):
                    out[field.data_key or name] = list(check.choices)
    return out


def _schemas(schema: Schema) -> dict[str, Schema]:
    """The schema and every nested one, by class name (marshmallow-jsonschema's naming)."""
    found = {type(schema).__name__: schema}
    for field in schema.fields.values():
        inner = getattr(field, "inner", None) or getattr(field, "value_field", None) or field
        if isinstance(inner, fields.Nested):
            nested = inner.schema
            if type(nested).__name__ not in found:
                found.update(_schemas(nested))
    return found


def _tidy(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _tidy(v) for k, v in node.items() if not (k == "enumNames" and not v)}
    if isinstance(node, list):
        return [_tidy(v) for v in node]
    return node


def generate(kind: str) -> dict[str, Any]:
    source, title = SOURCES[kind]
    if source is None:
        raise LookupError(f"no {kind} schema in this version")
    schema = source()
    doc = _tidy(JSONSchema().dump(schema))
    for name, instance in _schemas(schema).items():
        definition = doc["definitions"].get(name)
        if definition is None:
            continue
        for key, text in DESCRIPTIONS.get(name, {}).items():
            definition["properties"][key]["description"] = text
        for key, allowed in _key_limits(instance).items():
            definition["properties"][key]["propertyNames"] = {"enum": allowed}
    top = doc["definitions"][type(schema).__name__]
    if kind == "config":
        top["properties"]["trackers"]["minProperties"] = 1
    if kind == "rules":  # a pack has rules of its own, or extends one that has
        top["anyOf"] = [{"required": ["rules"]}, {"required": ["extend"]}]
    return {"$schema": doc["$schema"], "title": title, **doc}


def shipped_path(kind: str) -> Path:
    return SCHEMA_DIR / f"{kind}.json"


def render(kind: str) -> str:
    return json.dumps(generate(kind), indent=2, sort_keys=True) + "\n"


def modeline(kind: str) -> str:
    """The comment VS Code / JetBrains YAML support reads to find the schema."""
    return f"# yaml-language-server: $schema={shipped_path(kind).as_uri()}\n"


def schema_command(args: Any) -> int:
    """`pmo-bridge schema rules|tests|config|waivers`: the JSON Schema on stdout."""
    try:
        text = render(args.kind)
    except LookupError as exc:
        print(f"pmo-bridge: schema: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0
