"""Field access for rules: names from the common model, resolved once to getters.

Every getter has the signature `get(item, ctx)` and is built when a pack is compiled, so
evaluation never looks a name up again. Derived fields: `status_age` (now - status_changed,
falling back to updated, then created), `age` (now - created, falling back to updated),
`parent.<field>` (read from `ctx.parent`), `custom.<name>` (from `item.custom`).
People (`assignee`, `reporter`) read as their display name; `links` as the linked keys.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from connector.model import parse_date, parse_datetime

Getter = Callable[[Any, Any], Any]

# kind of each common-model field: decides which operators make sense on it
TEXT, ENUM, PERSON, LIST, NUMBER, DATE, DATETIME, DURATION, ANY = (
    "text",
    "enum",
    "person",
    "list",
    "number",
    "date",
    "datetime",
    "duration",
    "any",
)
MODEL_FIELDS: dict[str, str] = {
    "key": TEXT, "tracker": TEXT, "native_id": TEXT, "project": TEXT, "type": ENUM,
    "title": TEXT, "description": TEXT, "status": TEXT, "status_category": ENUM,
    "assignee": PERSON, "reporter": PERSON, "priority": TEXT, "labels": LIST,
    "estimate": NUMBER, "start_date": DATE, "due_date": DATE, "parent": TEXT, "links": LIST,
    "created": DATETIME, "updated": DATETIME, "status_changed": DATETIME, "revision": NUMBER,
    "url": TEXT, "area": TEXT,
}  # fmt: skip
DERIVED_FIELDS: dict[str, str] = {"status_age": DURATION, "age": DURATION}
_CUSTOM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]*$")


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    kind: str
    get: Getter
    # plain model attributes: a C-level `attrgetter` (item only) for the hot paths; people
    # read as Person here (None when missing), so use it only for presence
    attr: Callable[[Any], Any] | None = None


def field_names() -> list[str]:
    """The allowed names, for error messages."""
    return [*MODEL_FIELDS, *DERIVED_FIELDS, "custom.<name>", "parent.<field>"]


def field_kind(name: str) -> str | None:
    """The kind of a field name, or None when the name is not a field."""
    if name in MODEL_FIELDS:
        return MODEL_FIELDS[name]
    if name in DERIVED_FIELDS:
        return DERIVED_FIELDS[name]
    head, dot, rest = name.partition(".")
    if dot and head == "custom" and _CUSTOM_NAME.match(rest):
        return ANY
    if dot and head == "parent" and rest != "parent" and "." not in rest:
        return field_kind(rest)
    if dot and head == "parent" and rest.startswith("custom."):
        return field_kind(rest)
    return None


def compile_field(name: str) -> FieldSpec:
    """A getter for a valid field name (call `field_kind` first to validate)."""
    kind = field_kind(name)
    if kind is None:
        raise KeyError(name)
    plain = name in MODEL_FIELDS and name != "links"
    return FieldSpec(name, kind, _getter(name), attrgetter(name) if plain else None)


def _getter(name: str) -> Getter:
    if name in ("assignee", "reporter"):
        person = attrgetter(name)

        def get_person(item: Any, ctx: Any) -> Any:
            who = person(item)
            return None if who is None else who.display_name

        return get_person
    if name == "links":
        return lambda item, ctx: tuple(link.key for link in item.links)
    if name == "status_age":

        def get_status_age(item: Any, ctx: Any) -> Any:
            since = item.status_changed or item.updated or item.created
            return None if since is None else ctx.now - since

        return get_status_age
    if name == "age":

        def get_age(item: Any, ctx: Any) -> Any:
            since = item.created or item.updated
            return None if since is None else ctx.now - since

        return get_age
    if name.startswith("custom."):
        custom_name = name[len("custom.") :]
        return lambda item, ctx: item.custom.get(custom_name)
    if name.startswith("parent."):
        inner = _getter(name[len("parent.") :])

        def get_parent_field(item: Any, ctx: Any) -> Any:
            parent = ctx.parent
            return None if parent is None else inner(parent, ctx)

        return get_parent_field
    attribute = attrgetter(name)
    return lambda item, ctx: attribute(item)


def is_present(value: Any) -> bool:
    """Missing means None, empty or blank text, or an empty list or mapping."""
    if value is None:
        return False
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, tuple | list | dict | set | frozenset) or hasattr(value, "keys"):
        return len(value) > 0
    return True


_DURATION = re.compile(r"^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?$")


def parse_duration(value: Any) -> dt.timedelta | None:
    """`2w`, `5d`, `12h`, `30m` or combinations such as `1d12h`; None when not one."""
    if not isinstance(value, str):
        return None
    match = _DURATION.match(value.strip())
    if not match or not any(match.groups()):
        return None
    weeks, days, hours, minutes = (int(g or 0) for g in match.groups())
    return dt.timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes)


def parse_moment(value: Any) -> dt.timedelta | dt.date | dt.datetime | None:
    """A date bound: relative (`+30d`, `-7d`, `+0d` = today) as a timedelta, or an ISO
    date / timestamp. None when the value is neither."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text[:1] in "+-" and len(text) > 1:
        delta = parse_duration(text[1:])
        if delta is None:
            return None
        return -delta if text[0] == "-" else delta
    try:
        return parse_date(text) if len(text) == 10 else parse_datetime(text)
    except ValueError:
        return None


def as_comparable(left: Any, right: Any) -> tuple[Any, Any]:
    """Dates meet timestamps on the calendar day; text that looks like a date is parsed."""
    left, right = _as_value(left), _as_value(right)
    left_dt, right_dt = isinstance(left, dt.datetime), isinstance(right, dt.datetime)
    if left_dt != right_dt and isinstance(left, dt.date) and isinstance(right, dt.date):
        return (left.date() if left_dt else left), (right.date() if right_dt else right)
    return left, right


def _as_value(value: Any) -> Any:
    if isinstance(value, str):
        moment = parse_moment(value)
        if isinstance(moment, dt.date):
            return moment
        try:
            return float(value)
        except ValueError:
            return value
    return value


# A field named in a check's hint is written as a reference, shown at evaluation with the
# name the item's tracker gives the field (`Context.field_names`), else `display_name`.
_REF = "\x1f"
_REFERENCE = re.compile(_REF + "([^" + _REF + "]{1,200})" + _REF)


def field_ref(name: str) -> str:
    """A field in a hint, to be shown by `show_fields` as the tracker names it."""
    return f"{_REF}{name}{_REF}"


def show_fields(text: str, names: Mapping[str, str] | None = None) -> str:
    """`text` with each field reference shown as the tracker names the field: `names`
    maps configured names (the keys of a tracker's `fields:`, e.g. `mitigation` for
    `custom.mitigation`) to the tracker's display name; others as `display_name`."""
    if _REF not in text:
        return text
    return _REFERENCE.sub(lambda m: shown_name(m.group(1), names or {}), text)


def shown_name(name: str, names: Mapping[str, str]) -> str:
    if name.startswith("parent."):
        return f"the parent's {shown_name(name[len('parent.') :], names)}"
    key = name[len("custom.") :] if name.startswith("custom.") else name
    label = names.get(key)
    return label if isinstance(label, str) and label.strip() else display_name(name)


def display_name(name: str) -> str:
    """A field as people read it in hints: `custom.risk_owner` -> "Risk owner" (the name
    the configuration gives the tracker field), `parent.due_date` -> "the parent's
    due_date"; common fields keep their model names."""
    if name.startswith("custom."):
        words = name[len("custom.") :].replace("_", " ").strip()
        return words[:1].upper() + words[1:]
    if name.startswith("parent."):
        return f"the parent's {display_name(name[len('parent.') :])}"
    return name


def show(value: Any) -> str:
    """A value as a PMO reads it in a message."""
    if value is None:
        return "missing"
    if isinstance(value, dt.timedelta):
        return show_duration(value)
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, tuple | list):
        return ", ".join(show(v) for v in value) or "none"
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def show_duration(value: dt.timedelta) -> str:
    total_minutes = int(value.total_seconds() // 60)
    days, rest = divmod(total_minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    return (
        f"{hours}h {minutes}m" if hours and minutes else (f"{hours}h" if hours else f"{minutes}m")
    )
