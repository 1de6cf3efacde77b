"""WIQL in pages of ids: Azure DevOps refuses a query whose answer would hold more than
20,000 work items (400, "VS402337: The number of work items returned exceeds the size
limit of 20000", `WorkItemTrackingQueryResultSizeLimitExceededException`; reported
by people auditing large organisations: nkdAgility/azure-devops-migration-tools#1005,
microsoft/azure-devops-node-api#393). Tools that read such organisations ask for at
most 19,999 at a time (`$top`, in the Query By Wiql API's parameters) ordered by id,
and ask again for the ids above the last one (Rabobank's compliancy tool:
`QueryByWiqlAsync(..., batchSize = 20_000 - 1)`)."""

from __future__ import annotations

import re

PAGE = 19_999  # ids per WIQL call, below the service's 20,000
_QUERY = re.compile(
    r"^\s*select\s+.+?\s+from\s+workitems\b(?P<rest>.*)$", re.IGNORECASE | re.DOTALL
)
_STRING = re.compile(r"'(?:[^']|'')*'")
_WHERE = re.compile(r"\bwhere\b", re.IGNORECASE)
_ORDER_BY = re.compile(r"\border\s+by\b", re.IGNORECASE)
_ASOF = re.compile(r"\basof\b", re.IGNORECASE)


def paged_query(query: str, after: int) -> str | None:
    """The ids of `query`'s work items above `after`, in id order; None for a query that
    is not a flat `FROM WorkItems` query (a links query is sent as written)."""
    m = _QUERY.match(query)
    if m is None:
        return None
    rest = m.group("rest")
    # the clause keywords, looked for outside 'strings' (whose text may hold them)
    masked = _STRING.sub(lambda s: "'" + " " * (len(s.group()) - 2) + "'", rest)
    ends = [len(rest)]
    asof = _ASOF.search(masked)
    if asof is not None:
        ends.append(asof.start())
    order = _ORDER_BY.search(masked)
    if order is not None:
        ends.append(order.start())
    where = _WHERE.search(masked)
    condition = rest[where.end() : min(ends)].strip() if where is not None else ""
    paged = "SELECT [System.Id] FROM WorkItems WHERE "
    if condition:
        paged += f"({condition}) AND "
    paged += f"[System.Id] > {int(after)} ORDER BY [System.Id] ASC"
    if asof is not None:
        paged += " " + rest[asof.start() :].strip()
    return paged
