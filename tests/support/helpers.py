"""Test helpers shared across the suite."""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent
FIXTURES = TESTS / "fixtures"
SPECS = TESTS / "specs"
PACKS = TESTS / "packs"  # the suite's own rules files
RULES_FILES = TESTS / "rules_files"  # rules files with known errors
CONFIG_PACKS = ROOT / "config" / "packs"


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
