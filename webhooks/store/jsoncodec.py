"""JSON as the service reads and writes it: orjson first (several times faster on real
payloads), the standard library for what orjson refuses (NaN, integers past 64 bits,
non-string keys) or reads differently (a number of 19 digits or more, which may be an
integer past 64 bits: orjson makes it a float). Used for webhook bodies at intake, stored
bodies in the worker, and the store's JSON columns."""

from __future__ import annotations

import json
from typing import Any

import orjson

# 19 digits in a row: possibly an integer past 64 bits (below -2**63 already has 19).
# Such a run inside a string (a hash, say) only costs the slower decoder. Found by
# mapping every digit to "0" and searching for the run: a regular expression takes
# several times as long as decoding the body.
_DIGIT_BYTES_AS_ZERO = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_DIGITS_AS_ZERO = str.maketrans({str(d): "0" for d in range(1, 10)})
_LONG_RUN = "0" * 19


def has_long_digit_run(raw: str | bytes) -> bool:
    """True when orjson could read a number in `raw` differently from the standard library."""
    if isinstance(raw, str):
        return _LONG_RUN in raw.translate(_DIGITS_AS_ZERO)
    return _LONG_RUN.encode() in bytes(raw).translate(_DIGIT_BYTES_AS_ZERO)


def decode_json(raw: str | bytes) -> Any:
    """JSON decoded as the standard library would, at orjson's speed where they agree."""
    if not has_long_digit_run(raw):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    return json.loads(raw)


def encode_json(value: Any) -> str:
    """JSON text: orjson, the standard library for what orjson refuses."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return json.dumps(value)
