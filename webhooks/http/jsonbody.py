"""A webhook body's bytes to JSON values, with the answers intake gives for bad ones.

orjson decodes first (several times faster on real payloads); whatever it refuses or
might read differently goes to the standard library, whose reading decides: a BOM,
UTF-16/32, NaN and Infinity (refused), numbers past 64 bits (orjson would make floats of
integers), unpaired surrogates. Then two checks the decoders do not make: nesting depth
and unpaired surrogates.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

from webhooks.store.jsoncodec import has_long_digit_run


class BodyError(ValueError):
    """Why a body is not usable JSON, in one line for the 400 answer."""


def decode_body(raw: bytes) -> Any:
    if not has_long_digit_run(raw):
        try:
            payload = orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass  # the standard library decides, and words the error
        else:  # orjson refuses unpaired surrogates itself: only the depth is left
            if _too_deep(payload, raw):
                raise BodyError(TOO_DEEP)
            return payload
    try:
        payload = json.loads(raw, parse_constant=_reject_constant)
    except RecursionError:
        raise BodyError(TOO_DEEP) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BodyError(f"body is not valid JSON: {exc}") from None
    problem = _json_problem(payload, raw)
    if problem:
        raise BodyError(problem)
    return payload


# Real payloads nest a few dozen levels (ADF lists in lists); far deeper bodies would
# exhaust the stack of the recursive readers downstream.
MAX_JSON_DEPTH = 128
TOO_DEEP = f"body nests deeper than {MAX_JSON_DEPTH} levels"
# After decoding, surrogate pairs are single code points: any surrogate left is unpaired
# and cannot be encoded as UTF-8 (the store and the trackers would reject it later).
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON value")


def _json_problem(payload: object, raw: bytes) -> str | None:
    """Why a decoded body is unusable though it parsed, or None. Iterative on purpose.
    Cheap byte-level bounds on `raw` skip the walks for nearly every real delivery."""
    if _too_deep(payload, raw):
        return TOO_DEEP
    if _may_hold_surrogates(raw) and _has_lone_surrogate(payload):
        return "body contains an unpaired UTF-16 surrogate (\\ud800-\\udfff)"
    return None


def _too_deep(payload: object, raw: bytes) -> bool:
    """Is there a container at depth MAX_JSON_DEPTH or more (the root is depth 0)?"""
    # Each level needs its own "{" or "[", which is a 7B or 5B byte in any JSON encoding.
    if raw.count(b"{") + raw.count(b"[") <= MAX_JSON_DEPTH:
        return False
    level = [payload] if type(payload) is dict or type(payload) is list else []
    depth = 0
    while level:
        if depth >= MAX_JSON_DEPTH:
            return True
        below: list = []
        for value in level:
            children = value.values() if type(value) is dict else value
            below += [c for c in children if type(c) is dict or type(c) is list]
        level = below
        depth += 1
    return False


# A surrogate can only come from a \uD800-\uDFFF escape or, as json.loads decodes bytes
# with "surrogatepass", from its UTF-8 form ED A0..BF xx.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _may_hold_surrogates(raw: bytes) -> bool:
    if json.detect_encoding(raw) not in ("utf-8", "utf-8-sig"):
        return True  # UTF-16/32 bodies: no shortcut
    return b"\xed" in raw or _SURROGATE_ESCAPE.search(raw) is not None


def _has_lone_surrogate(payload: object) -> bool:
    stack = [payload]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            if _LONE_SURROGATE.search(value):
                return True
        elif isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return False
