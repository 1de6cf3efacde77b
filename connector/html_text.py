"""HTML to plain text for tracker rich-text fields (Azure DevOps descriptions, comments).

Built on the standard library parser, which never rejects markup: tracker HTML is often
malformed (a stray `</li>`, unclosed `<p>`), and a description must still become text.
Block elements and `<br>` start new lines (blank lines are dropped), list items get a "- "
bullet, table cells are separated by " | ", and script/style content is dropped.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from connector.texts import converting_rich_text

_BLOCK_TAGS = frozenset(
    {
        "address", "article", "blockquote", "div", "dl", "dt", "dd", "fieldset", "figure",
        "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "main", "nav",
        "ol", "p", "pre", "section", "table", "thead", "tbody", "tfoot", "tr", "ul",
    }
)  # fmt: skip
_SKIPPED_TAGS = frozenset({"script", "style", "head", "title"})
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0
        self._cells_in_row = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS:
            self._skipping += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag in ("td", "th"):
            if self._cells_in_row:
                self.parts.append(" | ")
            self._cells_in_row += 1
        elif tag in _BLOCK_TAGS:
            if tag == "tr":
                self._cells_in_row = 0
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br" or tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS:
            self._skipping = max(0, self._skipping - 1)
        elif tag == "li" or tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(html: str | None) -> str:
    """Readable plain text from an HTML fragment; "" for None or empty input (and while
    rich text is skipped, see `connector.texts`). Never raises."""
    if not html or not converting_rich_text():
        return ""
    text = str(html)
    try:
        parts = _collect(text)
    except AssertionError:
        # The standard parser still asserts on a few malformed declarations (`<![foo[`,
        # an unknown marked section): read again with every "<!" as text, which leaves
        # the parser no declarations to choke on and keeps the rest of the markup.
        parts = _collect(text.replace("<!", "&lt;!"))
    lines = [_SPACES.sub(" ", line).strip() for line in "".join(parts).split("\n")]
    return "\n".join(line for line in lines if line)


def _collect(html: str) -> list[str]:
    collector = _TextCollector()
    collector.feed(html)
    collector.close()
    return collector.parts
