"""The managed compliance comment: which rules fail and how to fix them, the rollup on
portfolio parents, and a plain "all pass" once everything is fixed.

Nothing time-dependent goes in, so the same state always renders the same text and the
ledger's content hash can tell that nothing needs writing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from connector.document import MARKER, Document, Paragraph, Table
from connector.model import WorkItem
from rules import Finding
from rules.rollup import Rollup, rollup_document_rows

__all__ = ["MARKER", "compliance_document"]

_SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}


def compliance_document(
    item: WorkItem, findings: Sequence[Finding], rollup: Rollup | None = None
) -> Document:
    blocks: list[Any] = []
    if rollup is not None:
        blocks.append(Paragraph(f"Portfolio rollup: {rollup.rag.upper()}"))
        blocks.append(Table(("Measure", "Value"), rollup_document_rows(rollup)))

    failing = sorted(findings, key=lambda f: (_SEVERITY_ORDER.get(f.severity, 9), f.rule))
    if failing:
        noun = "rule needs" if len(failing) == 1 else "rules need"
        blocks.append(
            Paragraph(
                f"{len(failing)} PMO {noun} attention. Fix the item as described; "
                "this comment updates itself when it is re-checked."
            )
        )
        rows = []
        for finding in failing:
            status = " (rule error)" if finding.status == "error" else ""
            hint = getattr(finding, "hint", "")
            fix = f"{finding.message} ({hint})" if hint else finding.message
            rows.append((finding.rule, f"{finding.severity}{status}", fix))
        blocks.append(Table(("Rule", "Severity", "What is wrong, how to fix it"), rows))
    else:
        blocks.append(Paragraph("All PMO rules pass on this item. Nothing to do."))
    return Document(title="PMO compliance", blocks=blocks, marker=MARKER)
