"""A small document model for the managed compliance comment, rendered per tracker.

Jira Cloud (REST v3) takes Atlassian Document Format, Jira Server/Data Center (v2) wiki
markup, Azure DevOps HTML. Every renderer escapes the text it is given: rule messages
carry item titles and assignee names that people typed.

The heading always ends with `MARKER` so the comment can be found again and edited in
place (`find_managed_comment`); `contains_marker` recognises it in any rendered form.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MARKER = "PMO compliance (pmo-bridge)"
_SAFE_SCHEMES = ("http://", "https://", "mailto:")


@dataclass(frozen=True, slots=True)
class Link:
    """Link text inside a paragraph, list item or table cell."""

    text: str
    href: str

    @property
    def safe_href(self) -> str | None:
        """The target when it is a web or mail link; anything else (javascript:, data:)
        is rendered as plain text."""
        href = self.href.strip()
        return href if href.lower().startswith(_SAFE_SCHEMES) else None


@dataclass(frozen=True, slots=True)
class Mention:
    """A person named so the tracker notifies them: `account` is the Jira Cloud accountId,
    the Jira Data Center user name or the Azure DevOps identity id. Without an account the
    name is written as plain text (a mention nobody receives is worse than none)."""

    name: str
    account: str | None = None


Inline = str | Link | Mention


def _inlines(value: Inline | Iterable[Inline]) -> tuple[Inline, ...]:
    if isinstance(value, str | Link | Mention):
        return (value,)
    return tuple(value)


@dataclass(frozen=True, slots=True, init=False)
class Paragraph:
    parts: tuple[Inline, ...]

    def __init__(self, *parts: Inline) -> None:
        object.__setattr__(self, "parts", tuple(parts))


@dataclass(frozen=True, slots=True, init=False)
class BulletList:
    items: tuple[tuple[Inline, ...], ...]

    def __init__(self, items: Iterable[Inline | Iterable[Inline]]) -> None:
        object.__setattr__(self, "items", tuple(_inlines(item) for item in items))


@dataclass(frozen=True, slots=True, init=False)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[tuple[Inline, ...], ...], ...]

    def __init__(
        self, header: Iterable[str], rows: Iterable[Iterable[Inline | Iterable[Inline]]]
    ) -> None:
        object.__setattr__(self, "header", tuple(header))
        cells = (tuple(_inlines(c) for c in row) for row in rows)
        object.__setattr__(self, "rows", tuple(row for row in cells if row))


Block = Paragraph | BulletList | Table


def _shown(block: Block) -> bool:
    """Whether a block renders at all: ADF has no empty list (`bulletList` needs one
    `listItem`) and no row without cells, so an empty list or table is left out."""
    if isinstance(block, BulletList):
        return bool(block.items)
    if isinstance(block, Table):
        return bool(block.header or block.rows)
    return True


@dataclass(frozen=True, slots=True)
class Document:
    title: str
    blocks: tuple[Block, ...] = ()
    marker: str = MARKER

    def __post_init__(self) -> None:
        object.__setattr__(self, "blocks", tuple(b for b in self.blocks if _shown(b)))

    @property
    def heading(self) -> str:
        title = self._title_only()
        return f"{title} · {self.marker}" if title else self.marker

    def _title_only(self) -> str:
        """The title without a trailing marker: the marker is added exactly once."""
        title = _one_line(self.title)
        if title.endswith(self.marker):
            title = title[: -len(self.marker)].rstrip(" ·-")
        if self.marker.startswith(title):
            return ""  # "PMO compliance" adds nothing to "PMO compliance (pmo-bridge)"
        return title

    # -- Atlassian Document Format (Jira Cloud, REST v3) --------------------------------

    def to_adf(self) -> dict[str, Any]:
        content: list[dict[str, Any]] = [
            {
                "type": "heading",
                "attrs": {"level": 3},
                "content": [{"type": "text", "text": self.heading}],
            }
        ]
        for block in self.blocks:
            content.append(_adf_block(block))
        return {"version": 1, "type": "doc", "content": content}

    # -- Jira wiki markup (Server / Data Center, REST v2) -------------------------------

    def to_wiki(self) -> str:
        # The marker is our own constant and safe in wiki markup; it stays unescaped so a
        # plain substring search finds it in the stored body.
        title = self._title_only()
        head = f"{wiki_escape(title)} · {self.marker}" if title else self.marker
        lines = [f"h3. {head}"]
        for block in self.blocks:
            lines.append("")
            if isinstance(block, Paragraph):
                lines.append(_wiki_line_start(_wiki_inlines(block.parts)))
            elif isinstance(block, BulletList):
                lines.extend(f"* {_wiki_inlines(item) or ' '}" for item in block.items)
            else:
                if block.header:
                    head = "||".join(wiki_escape(h) or " " for h in block.header)
                    lines.append(f"||{head}||")
                for row in block.rows:
                    lines.append("|" + "|".join(_wiki_inlines(c) or " " for c in row) + "|")
        return "\n".join(lines)

    # -- HTML (Azure DevOps comments) ----------------------------------------------------

    def to_html(self) -> str:
        out = [f"<h3>{html.escape(self.heading)}</h3>"]
        for block in self.blocks:
            if isinstance(block, Paragraph):
                out.append(f"<p>{_html_inlines(block.parts)}</p>")
            elif isinstance(block, BulletList):
                items = "".join(f"<li>{_html_inlines(item)}</li>" for item in block.items)
                out.append(f"<ul>{items}</ul>")
            else:
                head = "".join(f"<th>{html.escape(h)}</th>" for h in block.header)
                thead = f"<thead><tr>{head}</tr></thead>" if head else ""
                body = "".join(
                    "<tr>" + "".join(f"<td>{_html_inlines(c)}</td>" for c in row) + "</tr>"
                    for row in block.rows
                )
                out.append(f"<table>{thead}<tbody>{body}</tbody></table>")
        return "".join(out)

    # -- plain text (logs, CLI, tests) ---------------------------------------------------

    def to_text(self) -> str:
        lines = [self.heading]
        for block in self.blocks:
            lines.append("")
            if isinstance(block, Paragraph):
                lines.append(_text_inlines(block.parts))
            elif isinstance(block, BulletList):
                lines.extend(f"- {_text_inlines(item)}" for item in block.items)
            else:
                if block.header:
                    lines.append(" | ".join(_one_line(h) for h in block.header))
                lines.extend(" | ".join(_text_inlines(c) for c in row) for row in block.rows)
        return "\n".join(lines)


# -- helpers ---------------------------------------------------------------------------

_WS = re.compile(r"\s+")


def _one_line(text: str) -> str:
    """Inline text never spans lines: a newline would end a wiki table row or list item."""
    return _WS.sub(" ", str(text)).strip()


def _text_inlines(parts: Sequence[Inline]) -> str:
    out = []
    for part in parts:
        if isinstance(part, Link):
            out.append(f"{_one_line(part.text)} <{part.href.strip()}>")
        elif isinstance(part, Mention):
            out.append(f"@{_one_line(part.name)}")
        else:
            out.append(_one_line(part))
    return " ".join(p for p in out if p)


def _adf_text(part: Inline) -> dict[str, Any] | None:
    if isinstance(part, Mention):
        if part.account:  # ADF `mention` node: attrs.id is the accountId (required)
            return {"type": "mention", "attrs": {"id": part.account, "text": f"@{part.name}"}}
        part = _one_line(part.name)
    text = _one_line(part.text if isinstance(part, Link) else part)
    if not text:
        return None  # ADF rejects empty text nodes
    node: dict[str, Any] = {"type": "text", "text": text}
    if isinstance(part, Link) and part.safe_href:
        node["marks"] = [{"type": "link", "attrs": {"href": part.safe_href}}]
    return node


def _adf_paragraph(parts: Sequence[Inline]) -> dict[str, Any]:
    nodes: list[dict[str, Any]] = []
    for part in parts:
        node = _adf_text(part)
        if node is None:
            continue
        if nodes:
            nodes.append({"type": "text", "text": " "})
        nodes.append(node)
    return {"type": "paragraph", "content": nodes}


def _adf_block(block: Block) -> dict[str, Any]:
    if isinstance(block, Paragraph):
        return _adf_paragraph(block.parts)
    if isinstance(block, BulletList):
        return {
            "type": "bulletList",
            "content": [
                {"type": "listItem", "content": [_adf_paragraph(item)]} for item in block.items
            ],
        }
    rows = []
    if block.header:
        header = [{"type": "tableHeader", "content": [_adf_paragraph((h,))]} for h in block.header]
        rows.append({"type": "tableRow", "content": header})
    for row in block.rows:
        rows.append(
            {
                "type": "tableRow",
                "content": [{"type": "tableCell", "content": [_adf_paragraph(c)]} for c in row],
            }
        )
    return {
        "type": "table",
        "attrs": {"isNumberColumnEnabled": False, "layout": "default"},
        "content": rows,
    }


# Characters the Jira wiki renderer can read as markup: text effects, links, macros, tables,
# lists, emoticons (`:D`, `;)`, `(y)`), autolinks (`https://`, `mailto:`) and entities.
# Each becomes a numeric character reference, shown as the character itself. A backslash
# escape is not enough: `\\` is a forced line break, a table splits cells at `\|`, and
# emoticons and bare URLs are not markup characters at all.
_WIKI_SPECIAL = re.compile(r"[\\*_+\-^~?{}\[\]|!#()&:;]")
# Block markers a line may start with once the characters above are inert: headings and
# quotes (`h1.`, `bq.`, in any case).
_WIKI_BLOCK_START = re.compile(r"^(h[1-6]|bq)\.", re.IGNORECASE)


def _reference(match: re.Match[str]) -> str:
    return f"&#{ord(match.group())};"


def wiki_escape(text: str) -> str:
    """Item text for wiki markup: one line, nothing in it read as markup."""
    return _WIKI_SPECIAL.sub(_reference, _one_line(text))


def _wiki_line_start(line: str) -> str:
    return _WIKI_BLOCK_START.sub(lambda m: f"{m.group(1)}&#46;", line)


# Jira Data Center user names: anything that cannot end the `[~name]` token early.
_WIKI_USER = re.compile(r"^[^\]\[|\s{}]+$")


def _wiki_inlines(parts: Sequence[Inline]) -> str:
    out = []
    for part in parts:
        if isinstance(part, Mention):
            if part.account and _WIKI_USER.match(part.account):
                out.append(f"[~{part.account}]")  # wiki mention by user name
            else:
                out.append(wiki_escape(part.name))
        elif isinstance(part, Link):
            text = wiki_escape(part.text)
            href = part.safe_href
            # "|" and "]" would end the link early; safe hrefs are URL-encoded anyway.
            if href and not re.search(r"[|\]\s]", href):
                out.append(f"[{text}|{href}]")
            else:
                out.append(text)
        else:
            out.append(wiki_escape(part))
    return " ".join(p for p in out if p)


def _html_inlines(parts: Sequence[Inline]) -> str:
    out = []
    for part in parts:
        if isinstance(part, Mention):
            name = html.escape(_one_line(part.name))
            if part.account:  # the Azure DevOps mention anchor, by identity id
                ident = html.escape(f"version:2.0,{part.account}", quote=True)
                out.append(f'<a href="#" data-vss-mention="{ident}">@{name}</a>')
            else:
                out.append(name)
        elif isinstance(part, Link):
            text = html.escape(_one_line(part.text))
            if part.safe_href:
                out.append(f'<a href="{html.escape(part.safe_href, quote=True)}">{text}</a>')
            else:
                out.append(text)
        else:
            out.append(html.escape(_one_line(part)))
    return " ".join(p for p in out if p)


# -- recognising the managed comment in a stored body ------------------------------------


def adf_text(node: Any) -> str:
    """All text of an ADF document (or node), one line per block."""
    if isinstance(node, Mapping):
        if node.get("type") == "text":
            return str(node.get("text") or "")
        children = node.get("content") or []
        joined = "".join(adf_text(child) for child in children)
        if node.get("type") in {"paragraph", "heading", "tableCell", "tableHeader", "listItem"}:
            return joined + "\n"
        return joined
    if isinstance(node, list):
        return "".join(adf_text(child) for child in node)
    return ""


_TAG = re.compile(r"<[^>]*>")


def body_text(body: Any) -> str:
    """Plain text of a stored comment body: ADF (a JSON document), HTML (Azure DevOps
    stores what it was sent, starting with a tag) or wiki markup (left as it is)."""
    if isinstance(body, Mapping | list):
        return adf_text(body)
    text = str(body or "")
    if text.lstrip().startswith("<"):
        text = html.unescape(_TAG.sub(" ", text))
    return text


def contains_marker(body: Any, marker: str = MARKER) -> bool:
    text = body_text(body)
    return marker in text or marker in text.replace("\\", "")  # wiki escapes
