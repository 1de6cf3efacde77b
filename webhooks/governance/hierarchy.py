"""Cross-tracker portfolio links: a Jira initiative may own Azure DevOps features and the
other way round. Neither tracker can hold a parent link into the other, so the owning item
is named by convention, in this order:

1. the item's own parent in its tracker (Jira `parent`, Epic Link; Azure DevOps
   `System.Parent` / hierarchy relation) always wins;
2. else the field configured as `portfolio_link` in the tracker's field map
   (for example `Custom.PortfolioParent` in Azure DevOps);
3. else a label/tag `portfolio:<owner>`.

`<owner>` is a full item key (`portfolio:<tracker>:<id>`: `jira:PAY-1`,
`azure-devops:4711`, with the tracker's configured name) or a bare id, which means the
tracker of the other kind: `PAY-1` on an Azure DevOps item is the Jira issue PAY-1, `4711`
on a Jira issue is Azure DevOps work item 4711. With two trackers of that kind a bare id
is ambiguous: it links nothing, is logged, and the item gets an error finding
(`link_findings`) saying to write the tracker's name."""

from __future__ import annotations

import logging

from config.settings import Settings
from connector.bounds import MAX_STORED_TEXT
from connector.model import WorkItem
from connector.trackers import other_kind
from rules.engine import Finding

log = logging.getLogger(__name__)
LABEL_PREFIX = "portfolio:"
LINK_RULE = "portfolio-link"  # the id of findings about a link that names no single item


class AmbiguousLink(ValueError):
    """A bare id while several trackers of the other kind are configured."""


def owner_key(value: object, item: WorkItem, settings: Settings) -> str | None:
    """The owner's item key, or None; a name too long to be a key (the store keeps 255
    characters) names nothing. Raises AmbiguousLink for a bare id that several trackers
    could hold."""
    text = str(value or "").strip()
    if not text or len(text) > MAX_STORED_TEXT:
        return None
    name, sep, rest = text.partition(":")
    if sep and name in settings.trackers and rest:
        return f"{name}:{rest}"
    tracker = settings.trackers.get(item.tracker)
    other = other_kind(tracker.kind) if tracker else None
    candidates = settings.trackers_of_kind(other) if other else []
    if not candidates:
        return None
    if len(candidates) > 1:
        names = ", ".join(t.name for t in candidates)
        raise AmbiguousLink(
            f"portfolio link {text!r} is ambiguous: trackers {names} could hold it; "
            f"write portfolio:<tracker>:{text}, e.g. portfolio:{candidates[0].name}:{text}"
        )
    key = f"{candidates[0].name}:{text}"
    return key if len(key) <= MAX_STORED_TEXT else None


def _links(item: WorkItem) -> list[object]:
    """The link field first, then the portfolio labels, in the item's order."""
    labels = [lb[len(LABEL_PREFIX) :] for lb in item.labels if lb.lower().startswith(LABEL_PREFIX)]
    return [item.custom.get("portfolio_link"), *labels]


def with_portfolio_parent(item: WorkItem, settings: Settings) -> WorkItem:
    """The item with its cross-tracker owner as parent, when it has no parent of its own."""
    if item.parent:
        return item
    owner = None
    for value in _links(item):
        try:
            owner = owner_key(value, item, settings)
        except AmbiguousLink as exc:
            log.warning("hierarchy.ambiguous_link", extra={"item": item.key, "reason": str(exc)})
            continue
        if owner:
            break
    if owner is None or owner == item.key:
        return item
    return item.with_changes(parent=owner)


def link_findings(item: WorkItem, settings: Settings) -> list[Finding]:
    """An error finding per ambiguous portfolio link of an item without its own parent,
    so the PM sees in the managed comment why the item rolls up nowhere."""
    if item.parent:  # its own parent, or a link that resolved: nothing is lost
        return []
    found = []
    for value in _links(item):
        try:
            owner_key(value, item, settings)
        except AmbiguousLink as exc:
            found.append(
                Finding(
                    LINK_RULE, "medium", "advise", str(exc), "error", item.key, "Portfolio link"
                )
            )
    return found
