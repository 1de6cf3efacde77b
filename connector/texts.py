"""Whether parsing converts rich text (descriptions, comment bodies) to plain text.

Intake parses a delivery only to know what it is and that it is usable, then stores the
body; the worker parses it again and needs the text. The converters accept every value
(they never reject a payload), so intake skips them: `with rich_text_skipped(): ...`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_CONVERTING = ContextVar("pmo_bridge_converting_rich_text", default=True)


def converting_rich_text() -> bool:
    return _CONVERTING.get()


@contextmanager
def rich_text_skipped() -> Iterator[None]:
    """Rich text parsed in this block comes out empty."""
    token = _CONVERTING.set(False)
    try:
        yield
    finally:
        _CONVERTING.reset(token)
