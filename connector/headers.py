"""HTTP header lookup for webhook adapters and clients alike."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def header_value(headers: Mapping[str, Any] | None, name: str) -> str | None:
    """The value of header `name`, matched without regard to case as HTTP requires (a
    plain dict is case-sensitive, a `requests` or `werkzeug` one is not). Anything not
    a string, a key or a value, counts as absent."""
    wanted = name.casefold()
    for key, value in getattr(headers, "items", lambda: ())():
        if isinstance(key, str) and key.casefold() == wanted and isinstance(value, str):
            return value
    return None
