"""Jira rich text and field values as plain values for the common model.

Cloud REST v3 returns descriptions and comments as Atlassian Document Format (a JSON
tree); webhooks and REST v2 (Cloud and Server) return wiki markup strings. Rules only
need the words, so both become plain text. Custom field values (options, users, arrays
of options) are flattened to what a person would read in the issue view.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from connector.texts import converting_rich_text

# ADF nodes that end a line of text; everything else is inline or a container.
_ADF_BLOCKS = frozenset(
    {
        "paragraph",
        "heading",
        "codeBlock",
        "blockquote",
        "panel",
        "rule",
        "mediaSingle",
        "mediaGroup",
        "expand",
        "nestedExpand",
        "decisionItem",
        "taskItem",
    }
)
# Inline ADF nodes whose visible text lives in an attribute.
_ADF_ATTR_TEXT = {
    "mention": "text",
    "emoji": "text",
    "status": "text",
    "inlineCard": "url",
    "blockCard": "url",
}
# Real documents nest a dozen levels; deeper input is junk and is cut off rather than
# allowed to exhaust the interpreter's recursion limit.
MAX_DEPTH = 64


def adf_to_text(document: Any) -> str:
    """Plain text of an ADF document: one line per block, list items as `- item`,
    table rows as `a | b`. Unknown nodes contribute their children's text."""
    text = _render(document)
    lines = [line.rstrip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _render(node: Any, depth: int = 0) -> str:
    if depth > MAX_DEPTH:
        return ""
    if isinstance(node, list):
        return "".join(_render(child, depth + 1) for child in node)
    if not isinstance(node, Mapping):
        return ""
    kind = node.get("type")
    if not isinstance(kind, str):
        kind = None  # a list or object here would not even be a dictionary key
    attrs = node.get("attrs") if isinstance(node.get("attrs"), Mapping) else {}
    if kind == "text":
        text = node.get("text")
        return text if isinstance(text, str) else ""
    if kind == "hardBreak":
        return "\n"
    if kind in _ADF_ATTR_TEXT:
        value = attrs.get(_ADF_ATTR_TEXT[kind]) or attrs.get("shortName") or ""
        return str(value)
    children = node.get("content")
    if kind == "listItem":
        return f"- {_render(children, depth + 1).strip()}\n"
    if kind == "tableRow":
        cells = children if isinstance(children, list) else []
        return " | ".join(_render(cell, depth + 1).strip() for cell in cells) + "\n"
    inner = _render(children, depth + 1)
    if kind in _ADF_BLOCKS:
        return inner.rstrip("\n") + "\n"
    return inner


_WIKI_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^h[1-6]\.\s*", re.MULTILINE), ""),  # h1. Heading
    (re.compile(r"^bq\.\s*", re.MULTILINE), ""),  # bq. quote
    (re.compile(r"\{(?:code|noformat|quote|panel|color)(?::[^}]*)?\}"), ""),  # macros
    (re.compile(r"^[ \t]*[*#-]+[ \t]+", re.MULTILINE), "- "),  # * bullets, # numbered
    (re.compile(r"\[~(?:accountid:)?([^\]]+)\]"), r"@\1"),  # [~user] mentions
    (re.compile(r"\[([^|\]]+)\|[^\]]+\]"), r"\1"),  # [text|url]
    (re.compile(r"^-{4,}\s*$", re.MULTILINE), ""),  # ---- rule
    (re.compile(r"\|\|?"), " | "),  # table cells
    (re.compile(r"[ \t]+\|[ \t]+"), " | "),
)


def wiki_to_text(markup: str) -> str:
    """Wiki markup with its structure markers removed; emphasis marks are kept because
    they are easily confused with ordinary `*` and `_` in prose."""
    text = markup.replace("\r\n", "\n").replace("\r", "\n")
    for pattern, replacement in _WIKI_RULES:
        text = pattern.sub(replacement, text)
    lines = [
        line.strip().strip("|").strip() if "|" in line else line.rstrip()
        for line in text.split("\n")
    ]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def rich_text(value: Any) -> str:
    """Description or comment body as plain text, whichever form Jira sent ("" while rich
    text is skipped, see `connector.texts`). Never raises."""
    if value is None or not converting_rich_text():
        return ""
    if isinstance(value, Mapping):
        return adf_to_text(value)
    if isinstance(value, str):
        return wiki_to_text(value)
    return str(value)


def plain_value(value: Any, depth: int = 0) -> Any:
    """A custom field value as JSON-ready plain data: options `{value: ...}` to their
    value, users to their display name, ADF to text, arrays element by element."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if depth > MAX_DEPTH:
        return None
    if isinstance(value, list | tuple):
        return [plain_value(element, depth + 1) for element in value]
    if isinstance(value, Mapping):
        if value.get("type") == "doc":
            return adf_to_text(value)
        for name in ("value", "displayName", "name", "key"):
            if name in value:
                return plain_value(value[name], depth + 1)
        return {str(k): plain_value(v, depth + 1) for k, v in value.items()}
    return str(value)
