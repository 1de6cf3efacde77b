"""Validation of a rules file: marshmallow schemas for the shape (strict: unknown keys
are rejected with the allowed ones listed), then semantic checks for what a schema cannot
express (fields, operators, enums, regexes, durations, dates, templates, duplicates).
Every problem becomes a RuleError pointing at the offending key or value; the semantic
checks are in rules.semantics."""

from __future__ import annotations

import re
from collections.abc import Hashable, Mapping
from typing import Any

from marshmallow import RAISE, Schema, fields, validate

from connector.model import ItemType, StatusCategory
from rules.errors import RuleError
from rules.escalate import STEPS_FIELD
from rules.rollup import METRICS
from rules.yamlpos import Positions

SEVERITIES = ("info", "low", "medium", "high", "critical")
ENFORCEMENTS = ("audit", "advise", "enforce")
ACROSS_FIELDS = ("assignee", "reporter", "project", "parent", "tracker", "person")
DISTINCT_FIELDS = ("project", "tracker", "parent", "type", "assignee")  # count: {distinct: F}
SETTABLE_FIELDS = ("priority", "assignee", "estimate", "start_date", "due_date", "custom.<name>")
ENUM_VALUES = {"type": tuple(ItemType), "status_category": tuple(StatusCategory)}
RULE_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")


def _one_of(choices: tuple[str, ...], what: str) -> validate.OneOf:
    return validate.OneOf(choices, error=f"unknown {what} {{input!r}} (allowed: {{choices}})")


class StrictSchema(Schema):
    """Rejects unknown keys, naming the allowed ones."""

    class Meta:
        unknown = RAISE

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        allowed = ", ".join(f.data_key or name for name, f in self.fields.items())
        self.error_messages = {
            **self.error_messages,
            "unknown": f"unknown key (allowed: {allowed})",
        }


_Bool = fields.Boolean(truthy={True}, falsy={False})


class _Actions(StrictSchema):
    set = fields.Dict(keys=fields.String())


class Owner(StrictSchema):
    """Who answers questions about a rule: a person or team, and how to reach them."""

    name = fields.String(required=True, validate=validate.Length(min=1))
    contact = fields.String(required=True, validate=validate.Length(min=1))


class _Rule(StrictSchema):
    id = fields.String(required=True)
    title = fields.String()
    description = fields.String()
    severity = fields.String(validate=_one_of(SEVERITIES, "severity"))
    enforcement = fields.String(validate=_one_of(ENFORCEMENTS, "enforcement"))
    when = fields.Dict(keys=fields.String())
    across = fields.String(validate=_one_of(ACROSS_FIELDS, "across field"))
    require = fields.List(fields.Raw(), required=True, validate=validate.Length(min=1))
    message = fields.String()
    hint = fields.String()
    labels = fields.List(fields.String())
    actions = fields.Nested(_Actions)
    escalate = STEPS_FIELD  # rules.escalate
    owner = fields.Nested(Owner)


class _Override(StrictSchema):
    """One rule of the extended pack, changed for a scope (the pack's scope by default)."""

    rule = fields.String(required=True)
    scope = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))
    severity = fields.String(validate=_one_of(SEVERITIES, "severity"))
    enforcement = fields.String(validate=_one_of(ENFORCEMENTS, "enforcement"))
    when = fields.Dict(keys=fields.String())
    require = fields.List(fields.Raw(), validate=validate.Length(min=1))
    message = fields.String()
    hint = fields.String()
    owner = fields.Nested(Owner)
    disabled = fields.Boolean(truthy={True}, falsy={False})


_AT_LEAST_0 = validate.Range(min=0, error="must be 0 or more (got {input})")


class _Threshold(StrictSchema):
    slip_days = fields.Integer(strict=True, validate=_AT_LEAST_0)
    blocked_children = fields.Integer(strict=True, validate=_AT_LEAST_0)
    overdue_children = fields.Integer(strict=True, validate=_AT_LEAST_0)
    noncompliant_children = fields.Integer(strict=True, validate=_AT_LEAST_0)
    progress_behind = fields.Float(
        validate=validate.Range(min=0, max=1, error="must be a fraction from 0 to 1 (got {input})")
    )


class _Rag(StrictSchema):
    red = fields.Nested(_Threshold)
    amber = fields.Nested(_Threshold)


class _WriteBack(StrictSchema):
    comment = fields.Boolean(truthy={True}, falsy={False})
    labels = fields.Boolean(truthy={True}, falsy={False})
    fields_ = fields.Dict(data_key="fields", keys=fields.String(), values=fields.String())


class _Parents(StrictSchema):
    type = fields.Raw(required=True)


class _Rollup(StrictSchema):
    """The keys rules.rollup.rollup_spec_from_dict understands."""

    id = fields.String(required=True)
    parents = fields.Nested(_Parents, required=True)
    metrics = fields.List(
        fields.String(validate=_one_of(METRICS, "metric")), validate=validate.Length(min=1)
    )
    rag = fields.Nested(_Rag)
    write_back = fields.Nested(_WriteBack)
    blocked_statuses = fields.List(fields.String(), validate=validate.Length(min=1))
    blocked_labels = fields.List(fields.String(), validate=validate.Length(min=1))
    throughput_window_days = fields.Integer(
        strict=True, validate=validate.Range(min=1, error="must be 1 or more (got {input})")
    )
    closed_with_open_children = fields.String(validate=_one_of(("amber", "red"), "RAG"))


class PackSchema(StrictSchema):
    version = fields.Integer(
        strict=True, required=True,
        validate=validate.OneOf((1,), error="unsupported version {input!r} (allowed: 1)"),
    )  # fmt: skip
    name = fields.String()
    description = fields.String()
    enforcement = fields.String(validate=_one_of(ENFORCEMENTS, "enforcement"))
    scope = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))
    owner = fields.Nested(Owner)
    extend = fields.String(validate=validate.Length(min=1))
    overrides = fields.List(fields.Nested(_Override))
    rules = fields.List(fields.Nested(_Rule))  # required unless the pack extends another
    rollups = fields.List(fields.Nested(_Rollup))
    escalate = STEPS_FIELD  # the default chain of the pack's rules that name none


_PLAIN = {
    "Not a valid string.": "expected text",
    "Not a valid integer.": "expected a whole number",
    "Not a valid list.": "expected a list",
    "Invalid input type.": "expected a mapping",
    "Not a valid mapping type.": "expected a mapping",
    "Not a valid boolean.": "expected true or false",
    "Not a valid number.": "expected a number",
    "Shorter than minimum length 1.": "must not be empty",
}


def _label(path: tuple[Hashable, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "file"


def _child(data: Any, key: Any) -> Any:
    if isinstance(data, Mapping):
        return data.get(key)
    if isinstance(data, list) and isinstance(key, int) and 0 <= key < len(data):
        return data[key]
    return None


def schema_errors(
    messages: Any, path: tuple[Hashable, ...], data: Any, pos: Positions
) -> list[RuleError]:
    if isinstance(messages, Mapping):
        out: list[RuleError] = []
        for key, value in messages.items():
            if key == "_schema":
                out.extend(schema_errors(value, path, data, pos))
            elif key in ("key", "value") and not (isinstance(data, Mapping) and key in data):
                # marshmallow Dict errors: the path already names the entry
                out.extend(schema_errors(value, path, data, pos))
            else:
                child = _child(data, key)
                out.extend(schema_errors(value, (*path, key), child, pos))
        return out
    out = []
    for message in messages if isinstance(messages, list) else [messages]:
        if isinstance(message, Mapping | list):
            out.extend(schema_errors(message, path, data, pos))
        elif message.startswith("unknown key (allowed:"):
            out.append(
                pos.error(
                    path, f"unknown key {path[-1]!r}{message[len('unknown key') :]}", at_key=True
                )
            )
        elif message == "Missing data for required field.":
            where = f"{_label(path[:-1])}: " if path[:-1] else ""
            out.append(pos.error(path[:-1], f"{where}missing required key {path[-1]!r}"))
        elif message.startswith("unknown ") or message.startswith("unsupported "):
            out.append(pos.error(path, message))
        else:
            out.append(pos.error(path, f"{_label(path)}: {_PLAIN.get(message, message)}"))
    return out
