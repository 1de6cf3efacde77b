"""The small JQL and WIQL subsets the sandboxes understand.

JQL: clauses `field = v`, `field != v`, `field in (a, b)`, `field not in (...)` joined by
AND; `ORDER BY` is accepted and ignored. Fields: project, key, issuetype/type, status,
statusCategory, labels, assignee, parent.
WIQL: `SELECT ... FROM WorkItems [WHERE [Ref] (=|<>|>|IN|NOT IN) value AND ...] [ORDER BY ...]`
with values as 'strings', numbers or @project; `>` compares numbers; clauses may be
grouped in parentheses (AND only).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

Matcher = Callable[[Mapping[str, Sequence[str]]], bool]


class QueryError(ValueError):
    pass


JQL_FIELDS = {
    "project": "project",
    "key": "key",
    "issuekey": "key",
    "issuetype": "issuetype",
    "type": "issuetype",
    "status": "status",
    "statuscategory": "statuscategory",
    "labels": "labels",
    "assignee": "assignee",
    "parent": "parent",
}

_VALUE = r"(?:\"[^\"]*\"|'[^']*'|[^\s,()]+)"
_JQL_CLAUSE = re.compile(
    rf"^\s*(?P<field>[A-Za-z]+)\s*(?P<op>!=|=|not\s+in|in)\s*"
    rf"(?P<value>\(\s*{_VALUE}(?:\s*,\s*{_VALUE})*\s*\)|{_VALUE})\s*$",
    re.IGNORECASE,
)
_ORDER_BY = re.compile(r"\border\s+by\b.*$", re.IGNORECASE | re.DOTALL)
_AND = re.compile(r"\s+and\s+", re.IGNORECASE)


def _unquote(token: str) -> str:
    token = token.strip()
    if len(token) >= 2 and token[0] == token[-1] and token[0] in "\"'":
        return token[1:-1]
    return token


def _values(raw: str) -> list[str]:
    raw = raw.strip()
    if raw.startswith("("):
        return [_unquote(v).lower() for v in re.findall(_VALUE, raw[1:-1])]
    return [_unquote(raw).lower()]


def _split_and(text: str) -> list[str]:
    # quoted values may contain " and "; split only outside quotes
    parts, depth, quote, start = [], 0, "", 0
    lowered = text.lower()
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0 and _AND.match(lowered, i) and lowered[i].isspace():
            m = _AND.match(lowered, i)
            parts.append(text[start:i])
            start = i = m.end()
            continue
        i += 1
    parts.append(text[start:])
    return [p for p in (s.strip() for s in parts) if p]


def _clause(field: str, op: str, values: list[str]) -> Matcher:
    if op == ">":
        return lambda doc: any(_number(v) > _number(values[0]) for v in doc.get(field, ()))
    negate = op.startswith("not") or op == "!=" or op == "<>"

    def match(doc: Mapping[str, Sequence[str]]) -> bool:
        have = {v.lower() for v in doc.get(field, ())}
        hit = any(v in have for v in values)
        return not hit if negate else hit

    return match


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise QueryError(f"TF51005: '{text}' is not a number.") from None


def _all(matchers: list[Matcher]) -> Matcher:
    return lambda doc: all(m(doc) for m in matchers)


def compile_jql(jql: str | None) -> Matcher:
    text = _ORDER_BY.sub("", jql or "").strip()
    matchers: list[Matcher] = []
    for part in _split_and(text) if text else []:
        m = _JQL_CLAUSE.match(part)
        if not m:
            raise QueryError(f"Error in the JQL Query: cannot parse '{part}'.")
        name = m.group("field").lower()
        if name not in JQL_FIELDS:
            raise QueryError(
                f"Field '{m.group('field')}' does not exist or you do not have permission "
                "to view it."
            )
        op = " ".join(m.group("op").lower().split())
        matchers.append(_clause(JQL_FIELDS[name], op, _values(m.group("value"))))
    return _all(matchers)


_WIQL = re.compile(
    r"^\s*select\s+.+?\s+from\s+workitems\s*(?:where\s+(?P<where>.+?))?\s*"
    r"(?:order\s+by\s+.+)?$",
    re.IGNORECASE | re.DOTALL,
)
_WIQL_VALUE = r"(?:'(?:[^']|'')*'|@\w+|-?\d+(?:\.\d+)?)"
_WIQL_CLAUSE = re.compile(
    rf"^\s*\[(?P<field>[\w.]+)\]\s*(?P<op><>|=|>|not\s+in|in)\s*"
    rf"(?P<value>\(\s*{_WIQL_VALUE}(?:\s*,\s*{_WIQL_VALUE})*\s*\)|{_WIQL_VALUE})\s*$",
    re.IGNORECASE,
)


def _wiql_values(raw: str, macros: Mapping[str, str]) -> list[str]:
    raw = raw.strip()
    tokens = re.findall(_WIQL_VALUE, raw[1:-1] if raw.startswith("(") else raw)
    out = []
    for tok in tokens:
        if tok.startswith("@"):
            if tok.lower() not in macros:
                raise QueryError(f"TF51006: The query statement contains an unknown macro {tok}.")
            out.append(macros[tok.lower()].lower())
        elif tok.startswith("'"):
            out.append(tok[1:-1].replace("''", "'").lower())
        else:
            out.append(tok.lower())
    return out


def compile_wiql(wiql: str, macros: Mapping[str, str] | None = None) -> Matcher:
    """A matcher over documents keyed by field reference name (values as strings)."""
    m = _WIQL.match(wiql or "")
    if not m:
        raise QueryError(
            "TF51005: The query references a field that does not exist or is malformed."
        )
    where = (m.group("where") or "").strip()
    matchers: list[Matcher] = []
    parts = _split_and(where) if where else []
    while any(p.startswith("(") and p.endswith(")") for p in parts):  # (a AND b) AND c
        parts = [q for p in parts for q in (_split_and(p[1:-1]) if p[0] == "(" else [p])]
    for part in parts:
        c = _WIQL_CLAUSE.match(part)
        if not c:
            raise QueryError(f"TF51005: Expecting a field clause. The error is near '{part}'.")
        op = " ".join(c.group("op").lower().split())
        values = _wiql_values(c.group("value"), {k.lower(): v for k, v in (macros or {}).items()})
        matchers.append(_clause(c.group("field").lower(), op, values))
    return _all(matchers)
