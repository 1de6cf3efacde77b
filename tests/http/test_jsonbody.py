"""Webhook bodies decode exactly as the standard library reads them, whichever decoder
ran: the fast one must never accept, refuse or read anything differently."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.helpers import fixture_bytes
from webhooks.http.jsonbody import MAX_JSON_DEPTH, BodyError, decode_body

values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.integers(min_value=-(2**64), max_value=2**64)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=25,
)


def standard(raw: bytes):
    def refuse(name: str):
        raise ValueError(name)

    return json.loads(raw, parse_constant=refuse)


def same(a, b) -> bool:
    """Equal, with types: 1 and 1.0 differ here, and -0.0 is not 0.0."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


@settings(max_examples=400, deadline=None)
@given(values, st.booleans())
def test_any_json_decodes_as_the_standard_library_reads_it(value, ascii_only) -> None:
    raw = json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    try:
        expected = standard(raw)
    except ValueError:
        with pytest.raises(BodyError):
            decode_body(raw)
        return
    if any(0xD800 <= ord(c) <= 0xDFFF for c in json.dumps(expected, ensure_ascii=False)):
        with pytest.raises(BodyError, match="surrogate"):
            decode_body(raw)
        return
    assert same(decode_body(raw), expected)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'{"id": 123456789012345678901234567890}', {"id": 123456789012345678901234567890}),
        (b'{"n": 18446744073709551616}', {"n": 18446744073709551616}),  # 2**64
        (b'{"n": -9223372036854775809}', {"n": -9223372036854775809}),  # below -2**63
        (b'\xef\xbb\xbf{"a": 1}', {"a": 1}),  # a UTF-8 byte order mark
        ('{"a": "é"}'.encode("utf-16"), {"a": "é"}),
        (b'{"a": 1e400}', {"a": float("inf")}),  # a number, read as the library reads it
        (b'{"a": 1, "a": 2}', {"a": 2}),
    ],
)
def test_what_the_fast_decoder_refuses_or_misreads_goes_to_the_standard_one(raw, expected):
    assert same(decode_body(raw), expected)


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b'{"a": NaN}', "NaN is not a JSON value"),
        (b'{"a": Infinity}', "Infinity is not a JSON value"),
        (b'{"a": "\\ud800"}', "unpaired UTF-16 surrogate"),
        (b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1), "nests deeper"),
        (b"[" * 100_000 + b"]" * 100_000, "nests deeper"),
        (b'{"a": 1', "not valid JSON"),
        (b"", "not valid JSON"),
        (b'{"a": "\xff"}', "not valid JSON"),
    ],
)
def test_unusable_bodies_are_refused_with_a_reason(raw, fragment) -> None:
    with pytest.raises(BodyError, match=fragment):
        decode_body(raw)


@pytest.mark.parametrize(
    ("tracker", "name"),
    [("jira", "issue_updated__status_cloud"), ("azure-devops", "workitem.updated__msdocs")],
)
def test_real_payloads_decode_as_before(tracker, name) -> None:
    raw = fixture_bytes(tracker, name)
    assert same(decode_body(raw), standard(raw))
