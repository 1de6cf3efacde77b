"""Findings a rollup raises on its parent, beside its RAG: a parent marked done while
children under it are still open. The rollup makes it amber (or red, with the spec's
`closed_with_open_children: red`) with the reason; this makes it a finding too, so it is
listed in the parent's managed comment, counted on the dashboard and can be escalated
like any rule's. Pure: the parent as it is now and its rollup."""

from __future__ import annotations

from connector.model import StatusCategory, WorkItem
from rules.engine import Finding
from rules.rollup.figures import Rollup
from rules.rollup.schedule import plural
from rules.rollup.spec import RED, RollupSpec

CLOSED_WITH_OPEN_CHILDREN = "rollup-closed-with-open-children"
CLOSED_TITLE = "Done with open children"
# the finding weighs as the RAG the spec gives such a parent
_SEVERITY = {RED: "high"}
DEFAULT_SEVERITY = "medium"


def rollup_findings(spec: RollupSpec, parent: WorkItem, rollup: Rollup | None) -> list[Finding]:
    """The parent's rollup findings: one when it is done and its rollup counts open
    (not done, not removed) direct children."""
    if rollup is None or parent.status_category is not StatusCategory.DONE:
        return []
    still_open = rollup.children - rollup.done
    if still_open <= 0:
        return []
    message = (
        f"done with {plural(still_open, 'open child', 'open children')} "
        f"of {rollup.children}; RAG {spec.closed_with_open_children}"
    )
    return [
        Finding(
            rule=CLOSED_WITH_OPEN_CHILDREN,
            severity=_SEVERITY.get(spec.closed_with_open_children, DEFAULT_SEVERITY),
            enforcement="advise",
            message=message,
            status="fail",
            item_key=parent.key,
            title=CLOSED_TITLE,
            hint="reopen the item, or finish or remove its open children",
        )
    ]
