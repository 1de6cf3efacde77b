"""Request checks shared by the sandbox trackers: credentials, Jira field values, ADF."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Credentials:
    scheme: str  # "basic" | "bearer"
    user: str
    secret: str


def parse_authorization(header: str | None) -> Credentials | None:
    """Basic or Bearer credentials from an Authorization header; None when absent or malformed."""
    if not header or " " not in header:
        return None
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    value = value.strip()
    if scheme == "bearer" and value:
        return Credentials("bearer", "", value)
    if scheme != "basic":
        return None
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, secret = decoded.partition(":")
    if not sep or not secret:
        return None
    return Credentials("basic", user, secret)


class FieldError(Exception):
    """A Jira-style field validation failure: `errors` maps field id to message."""

    def __init__(self, errors: Mapping[str, str], messages: list[str] | None = None) -> None:
        super().__init__("; ".join(errors.values()) or "; ".join(messages or []))
        self.errors = dict(errors)
        self.messages = list(messages or [])

    def body(self) -> dict[str, Any]:
        return {"errorMessages": self.messages, "errors": self.errors}


def check_labels(labels: Any, field_id: str = "labels") -> list[str]:
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise FieldError({field_id: "Data was not an array"})
    for label in labels:
        if not label or any(ch.isspace() for ch in label):
            # Jira refuses whitespace inside a label rather than splitting it
            raise FieldError({field_id: f"The label '{label}' contains spaces which is invalid."})
        if len(label) > 255:
            raise FieldError(
                {
                    field_id: f"The label '{label}' exceeds the maximum length for a single "
                    "label of 255 characters."
                }
            )
    return list(dict.fromkeys(labels))


def check_date(value: Any, field_id: str) -> str | None:
    if value is None or value == "":
        return None
    try:
        return dt.date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise FieldError({field_id: f"Error parsing date string: {value}"}) from None


def check_number(value: Any, field_id: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FieldError({field_id: "Operation value must be a number"})
    return value


# -- Atlassian Document Format ---------------------------------------------------------
def is_adf_doc(value: Any) -> bool:
    return (
        isinstance(value, Mapping)
        and value.get("type") == "doc"
        and value.get("version") == 1
        and isinstance(value.get("content"), list)
    )


def text_to_adf(text: str) -> dict[str, Any]:
    paragraphs = [p for p in text.split("\n\n")] if text else []
    return {
        "type": "doc",
        "version": 1,
        "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": p}] if p else []}
            for p in paragraphs
        ],
    }


def adf_to_text(node: Any) -> str:
    """Plain text of an ADF tree: blocks on their own lines, list items and cells kept."""
    if isinstance(node, str):
        return node
    if not isinstance(node, Mapping):
        return ""
    kind = node.get("type")
    if kind == "text":
        return str(node.get("text", ""))
    if kind == "hardBreak":
        return "\n"
    children = [adf_to_text(c) for c in node.get("content", []) or []]
    if kind in ("doc", "bulletList", "orderedList", "table"):
        return "\n".join(c for c in children if c != "")
    if kind == "tableRow":
        return " | ".join(children)
    if kind == "listItem":
        return "- " + " ".join(children)
    return "".join(children)


def adf_required(value: Any, field_id: str) -> Any:
    """v3 rich-text fields take an ADF document (or null), never a bare string."""
    if value is None or is_adf_doc(value):
        return value
    if field_id == "comment":
        raise FieldError({"comment": "Comment body is not valid!"})
    message = "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
    raise FieldError({field_id: message})


def string_required(value: Any, field_id: str) -> Any:
    """v2 rich-text fields take wiki-markup strings."""
    if value is None or isinstance(value, str):
        return value
    if field_id == "comment":
        raise FieldError({"comment": "Comment body is not valid!"})
    raise FieldError({field_id: "Operation value must be a string"})
