"""Test helpers shared across the suite."""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SPECS = Path(__file__).resolve().parent / "specs"


@functools.cache
def _read_fixture(tracker: str, name: str) -> Any:
    return json.loads((FIXTURES / tracker / f"{name}.json").read_text(encoding="utf-8"))


def load_fixture(tracker: str, name: str) -> Any:
    """A fixture payload by tracker folder and `<event>__<variant>` name, deep-copied so a
    test may change it freely."""
    return copy.deepcopy(_read_fixture(tracker, name))


def fixture_bytes(tracker: str, name: str) -> bytes:
    return (FIXTURES / tracker / f"{name}.json").read_bytes()


def fixture_names(tracker: str) -> list[str]:
    return sorted(p.stem for p in (FIXTURES / tracker).glob("*.json"))


def sent(call: Any) -> tuple[str, str, dict[str, str], Any]:
    """(method, path, query, JSON body) of a recorded `responses` call."""
    split = urlsplit(call.request.url)
    body = call.request.body
    if isinstance(body, bytes):
        body = body.decode()
    return (
        call.request.method,
        split.path,
        dict(parse_qsl(split.query)),
        json.loads(body) if body else None,
    )
