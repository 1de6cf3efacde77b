"""The managed compliance comment: which rules fail and how to fix them, the rollup on
portfolio parents, and a plain "all pass" once everything is fixed.

Only `advise` and `enforce` findings are shown: `audit` means record only. Nothing
time-dependent goes in, so the same state always renders the same text and the ledger's
content hash can tell that nothing needs writing.

Jira refuses a comment over 32,767 characters ("The entered text is too long"). The
comment stays under that in the form its tracker is written in (ADF as compact JSON for
Jira Cloud, wiki markup for Server/Data Center, HTML for Azure DevOps; every form when
not told): when all findings would not fit, the most severe are listed and the rest are
counted, with a link to the dashboard."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from connector.document import MARKER, BulletList, Document, Link, Mention, Paragraph, Table
from connector.model import WorkItem
from rules import Finding
from rules.rollup import Rollup, rollup_document_rows

__all__ = ["COMMENT_LIMIT", "MARKER", "compliance_document", "rendered_size"]

COMMENT_LIMIT = 32_767
# Kept free below the limit: Jira may store a document with attributes it adds itself.
_HEADROOM = 767
# A finding's text in the comment (messages can quote long item text).
_TEXT_LIMIT = 1_000
_SHOWN = ("advise", "enforce")
_SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}


def compliance_document(
    item: WorkItem,
    findings: Sequence[Finding],
    rollup: Rollup | None = None,
    *,
    dashboard_url: str | None = None,
    form: str | None = None,
    limit: int = COMMENT_LIMIT - _HEADROOM,
    escalations: Sequence[Any] = (),
) -> Document:
    """`escalations`: steps fired in the item's open episodes (`store.open_escalations`);
    those reaching people by `mention` are listed, each person mentioned."""
    shown = [f for f in findings if f.enforcement in _SHOWN]
    ordered = sorted(shown, key=lambda f: (_SEVERITY_ORDER.get(f.severity, 9), f.rule))
    failing = [f for f in ordered if f.status != "waived"]
    waived: tuple[Any, ...] = tuple(f for f in ordered if f.status == "waived")
    notes = escalation_notes(escalations, {f.rule for f in failing})

    def document(listed: Sequence[Any], waived: Sequence[Any] = waived) -> Document:
        doc = _document(listed, len(failing), rollup, dashboard_url, waived)
        if notes is None:
            return doc
        return Document(title=doc.title, blocks=(*doc.blocks, notes), marker=doc.marker)

    doc = document(failing)
    if rendered_size(doc, form) <= limit:
        return doc
    fits, too_many = 0, len(failing)  # the most rows that fit, the fewest that do not
    while too_many - fits > 1:
        middle = (fits + too_many) // 2
        if rendered_size(document(failing[:middle]), form) <= limit:
            fits = middle
        else:
            too_many = middle
    # the waivers are dropped too when not one failing row fits: counted, not listed
    return document(failing[:fits], waived if fits else ())


def escalation_notes(escalations: Sequence[Any], failing: set[str]) -> BulletList | None:
    """ "Escalated to @Priya Shah (programme lead) on 3 Dec: rule", one line per step fired
    by mention while its rule is listed; dates only, so the text stays the same all day."""
    lines = []
    for fired in escalations:
        if "mention" not in fired.via or fired.rule not in failing:
            continue
        role = f" ({fired.role})" if fired.role else ""
        when = f"{fired.fired_at.day} {fired.fired_at:%b}"
        lines.append(
            (
                "Escalated to",
                Mention(fired.person, fired.account),
                f"{role} on {when}: {fired.rule}",
            )
        )
    return BulletList(lines[:20]) if lines else None


def rendered_size(doc: Document, form: str | None = None) -> int:
    """Characters of the comment in `form` (None: the largest of all forms)."""
    sizes = {
        "adf": lambda: len(json.dumps(doc.to_adf(), separators=(",", ":"), ensure_ascii=False)),
        "wiki": lambda: len(doc.to_wiki()),
        "html": lambda: len(doc.to_html()),
    }
    if form in sizes:
        return sizes[form]()
    return max(size() for size in sizes.values())


def _document(
    listed: Sequence[Any],
    total: int,
    rollup: Any,
    dashboard_url: str | None,
    waived: Sequence[Any] = (),
) -> Document:
    blocks: list[Any] = []
    if rollup is not None:
        blocks.append(Paragraph(f"Portfolio rollup: {rollup.rag.upper()}"))
        blocks.append(Table(("Measure", "Value"), rollup_document_rows(rollup)))
    if not total:
        text = "All PMO rules pass on this item. Nothing to do."
        if waived:
            text = "No PMO rule needs attention on this item; the waived rules are listed."
        blocks.append(Paragraph(text))
        blocks += _waived_blocks(waived)
        return Document(title="PMO compliance", blocks=blocks, marker=MARKER)
    noun = "rule needs" if total == 1 else "rules need"
    blocks.append(
        Paragraph(
            f"{total} PMO {noun} attention. Fix the item as described; "
            "this comment updates itself when it is re-checked."
        )
    )
    rows = []
    for finding in listed:
        status = " (rule error)" if finding.status == "error" else ""
        hint = getattr(finding, "hint", "")
        fix = f"{finding.message} ({hint})" if hint else finding.message
        if getattr(finding, "owner", ""):
            fix += f" Questions: {finding.owner}"
        rows.append((finding.rule, f"{finding.severity}{status}", _shortened(fix)))
    if rows:
        blocks.append(Table(("Rule", "Severity", "What is wrong, how to fix it"), rows))
    if len(listed) < total:
        rest = total - len(listed)
        where: Any = "the PMO dashboard"
        if dashboard_url:
            where = Link("the PMO dashboard", f"{dashboard_url.rstrip('/')}/portfolio")
        blocks.append(
            Paragraph(
                f"{rest} more {'finding is' if rest == 1 else 'findings are'} not listed here "
                "(a comment holds at most 32,767 characters): see",
                where,
            )
        )
    blocks += _waived_blocks(waived)
    return Document(title="PMO compliance", blocks=blocks, marker=MARKER)


def _waived_blocks(waived: Sequence[Any]) -> list[Any]:
    """Waived rules: not to fix now, but visible with who approved it and until when."""
    if not waived:
        return []
    rows = [(f.rule, f.severity, _shortened(_waiver_text(f))) for f in waived]
    return [Table(("Waived rule", "Severity", "Waiver"), rows)]


def _waiver_text(finding: Any) -> str:
    waiver = finding.waiver
    text = waiver.note()
    if waiver.ticket:
        text += f" {waiver.ticket}"
    if getattr(finding, "owner", ""):
        text += f" Questions: {finding.owner}"
    return text


def _shortened(text: str) -> str:
    return text if len(text) <= _TEXT_LIMIT else text[: _TEXT_LIMIT - 1].rstrip() + "…"
