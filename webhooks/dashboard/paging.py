"""Pages of the portfolio for `/api/portfolio` (JSON) and the rows of the CSV export.

A view's rows are its tree in page order (parents before their children), as the
dashboard lists them: for a filtered view, the matching nodes and their ancestors as
context. JSON comes in pages of `limit` rows from `offset` (default DEFAULT_LIMIT, at most
MAX_LIMIT): the page's rows nested as a tree, a row whose parent is on an earlier page
under a copy of its ancestors marked `"continued": true` (children: only those on this
page), and `paging` {offset, limit, rows, next} where `next` is the query of the next
page, or null on the last. The CSV is every matching row of the view unless the query
asks for a page: it is written as it is read, so exporting 100,000 rows holds no copy of
them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from webhooks.dashboard.export import COLUMNS, export_row, row_cells
from webhooks.dashboard.filter import FilterError, PortfolioFilter, filter_summary
from webhooks.dashboard.index import PortfolioIndex

DEFAULT_LIMIT = 500
MAX_LIMIT = 5000
MAX_OFFSET = 10_000_000
CSV_CHUNK = 1000  # rows per piece of the streamed CSV


@dataclass(frozen=True)
class Paging:
    offset: int = 0
    limit: int | None = None  # None: every row (the CSV without a page asked for)

    def query(self) -> list[tuple[str, str]]:
        pairs = [("offset", str(self.offset))] if self.offset else []
        return pairs + ([("limit", str(self.limit))] if self.limit is not None else [])


def parse_paging(args: Any, *, default: int | None) -> Paging:
    """`offset` and `limit` from a request's query; `default` is the limit when none is
    given (None: no limit). A limit above MAX_LIMIT, or anything not a whole number, is a
    FilterError saying so."""
    offset = _whole(args, "offset", 0, MAX_OFFSET)
    limit = _whole(args, "limit", 1, MAX_LIMIT)
    return Paging(offset or 0, limit if limit is not None else default)


def _whole(args: Any, name: str, low: int, high: int) -> int | None:
    raw = args.get(name)
    if raw is None or str(raw).strip() == "":
        return None
    text = str(raw).strip()
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        raise FilterError(f"{name}: expected a whole number, got {text[:40]!r}")
    value = int(text)
    if not low <= value <= high:
        raise FilterError(f"{name}: must be between {low} and {high}, got {value}")
    return value


def view_rows(
    data: Mapping[str, Any], flt: PortfolioFilter, index: PortfolioIndex
) -> tuple[dict[str, Any], list[int], set[int]]:
    """(the view's figures without its tree, its rows as index positions in page order,
    the matching ones among them)."""
    if not flt.active:
        everything = list(range(len(index.nodes)))
        return _without_tree(data), everything, set(everything)
    summary, kept, matched = filter_summary(data, flt, index)
    return _without_tree(summary), kept, matched


def json_page(
    data: Mapping[str, Any], flt: PortfolioFilter, index: PortfolioIndex, paging: Paging
) -> dict[str, Any]:
    """One page of the view, as `/api/portfolio` answers it (see the module doc)."""
    summary, kept, matched = view_rows(data, flt, index)
    limit = paging.limit if paging.limit is not None else len(kept)
    rows = kept[paging.offset : paging.offset + limit]
    on_page = set(rows)
    continued: list[int] = []
    seen: set[int] = set()
    for i in rows:
        parent = index.parents[i]
        while parent >= 0 and parent not in on_page and parent not in seen:
            seen.add(parent)
            continued.append(parent)
            parent = index.parents[parent]
    copies: dict[int, dict[str, Any]] = {}
    roots: list[dict[str, Any]] = []
    for i in sorted(on_page | seen):  # page order: parents before their children
        copy = {**index.nodes[i], "children": []}
        if flt.active:
            copy["matched"] = i in matched
        if i in seen:
            copy["continued"] = True
        copies[i] = copy
        parent = index.parents[i]
        (copies[parent]["children"] if parent >= 0 else roots).append(copy)
    end = paging.offset + len(rows)
    following = Paging(end, paging.limit) if end < len(kept) else None
    return {
        **summary,
        "tree": roots,
        "paging": {
            "offset": paging.offset,
            "limit": limit,
            "rows": len(kept),
            "next": urlencode(flt.pairs() + following.query()) if following else None,
        },
    }


def csv_chunks(
    data: Mapping[str, Any], flt: PortfolioFilter, index: PortfolioIndex, paging: Paging
) -> Iterator[str]:
    """The CSV of the view's matching rows (context ancestors left out), in pieces."""
    _summary, kept, matched = view_rows(data, flt, index)
    rows = [i for i in kept if i in matched]
    limit = paging.limit if paging.limit is not None else len(rows)
    rows = rows[paging.offset : paging.offset + limit]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for n, i in enumerate(rows, 1):
        writer.writerow(row_cells(export_row(index.nodes[i])))
        if n % CSV_CHUNK == 0:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()


def _without_tree(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != "tree"}
