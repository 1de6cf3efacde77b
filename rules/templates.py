"""Safe message templates: `{name}` placeholders only, parsed once when a pack compiles.

Allowed names: `key`, `title`, `assignee` (item), `rule`, `severity`, `enforcement`,
`rule_title`, and any field name a rule can check (`estimate`, `status_age`,
`parent.due_date`, `custom.risk_owner`, ...). There is no attribute access, indexing,
conversion or format spec: `{key.__class__}` or `{labels[0]}` is a validation error.
An unknown name such as `{team}` or `{owner}` is a validation error too: printed literally
it would only show the PMO's typo to every team.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Sequence
from typing import Any

from rules.fields import compile_field, field_kind, show

RULE_NAMES = ("rule", "severity", "enforcement", "rule_title")
Part = str | Callable[[Any, Any], Any]


def template_errors(template: str) -> list[str]:
    """Problems with a message template (empty when it is fine)."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        return [f"bad message template: {exc} (write {{{{ and }}}} for literal braces)"]
    errors = []
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        shown = (
            "{"
            + name
            + (f"!{conversion}" if conversion else "")
            + (f":{spec}" if spec else "")
            + "}"
        )
        if conversion or spec:
            errors.append(
                f"bad message template {shown}: conversions and format specs are not allowed"
            )
        elif not name:
            errors.append("bad message template {}: name the value, e.g. {key}")
        elif "[" in name or ("." in name and field_kind(name) is None):
            errors.append(
                f"bad message template {shown}: only plain names such as {{key}} or field names "
                "such as {parent.due_date} are allowed (no attribute access or indexing)"
            )
        elif name not in RULE_NAMES and field_kind(name) is None:
            errors.append(
                f"unknown placeholder {shown} (allowed: {', '.join(RULE_NAMES)} or a field "
                "name such as {key}, {title}, {assignee}, {due_date}; {{ and }} for braces)"
            )
    return errors


def compile_template(template: str, rule_values: dict[str, str]) -> list[Part]:
    """Literal strings and getters; unknown names stay literal text."""
    parts: list[Part] = []
    for literal, name, _spec, _conversion in string.Formatter().parse(template):
        if literal:
            parts.append(literal)
        if name is None:
            continue
        if name in rule_values:
            parts.append(rule_values[name])
        elif field_kind(name) is not None:
            parts.append(_shown(compile_field(name).get))
        else:
            parts.append("{" + name + "}")
    return parts


def _shown(get: Callable[[Any, Any], Any]) -> Callable[[Any, Any], str]:
    return lambda item, ctx: show(get(item, ctx))


def render(parts: Sequence[Part], item: Any, ctx: Any) -> str:
    return "".join(p if isinstance(p, str) else p(item, ctx) for p in parts)
