"""Cross-tracker portfolio links: a Jira initiative may own Azure DevOps features and the
other way round. Neither tracker can hold a parent link into the other, so the owning item
is named by convention, in this order:

1. the item's own parent in its tracker (Jira `parent`, Epic Link; Azure DevOps
   `System.Parent` / hierarchy relation) always wins;
2. else the field configured as `portfolio_link` in the tracker's field map
   (for example `Custom.PortfolioParent` in Azure DevOps);
3. else a label/tag `portfolio:<owner>`.

`<owner>` is a full item key (`jira:PAY-1`, `azure-devops:4711`) or a bare id, which
means the first tracker of the other kind: `PAY-1` on an Azure DevOps item is the Jira
issue PAY-1, `4711` on a Jira issue is Azure DevOps work item 4711."""

from __future__ import annotations

from config.settings import Settings
from connector.bounds import MAX_STORED_TEXT
from connector.model import WorkItem
from connector.trackers import other_kind

LABEL_PREFIX = "portfolio:"


def owner_key(value: object, item: WorkItem, settings: Settings) -> str | None:
    """The owner's item key, or None; a name too long to be a key (the store keeps 255
    characters) names nothing."""
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
    key = f"{candidates[0].name}:{text}"
    return key if len(key) <= MAX_STORED_TEXT else None


def with_portfolio_parent(item: WorkItem, settings: Settings) -> WorkItem:
    """The item with its cross-tracker owner as parent, when it has no parent of its own."""
    if item.parent:
        return item
    owner = owner_key(item.custom.get("portfolio_link"), item, settings)
    if owner is None:
        for label in item.labels:
            if label.lower().startswith(LABEL_PREFIX):
                owner = owner_key(label[len(LABEL_PREFIX) :], item, settings)
                if owner:
                    break
    if owner is None or owner == item.key:
        return item
    return item.with_changes(parent=owner)
