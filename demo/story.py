"""What the demo tells: a snapshot of the portfolio as the PMO sees it (open findings, the
service's comments and labels in the trackers, rollups, tracker API calls) and the
difference between two snapshots, phrased for someone new to the PMO."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from demo.seed import AZURE_BOT, JIRA_BOT

PREFIX = "pmo-"
TRACKER_NAMES = {"jira": "Jira", "azure-devops": "Azure DevOps"}


def show(key: str) -> str:
    """`jira:PAY-6` -> `PAY-6`; `azure-devops:17` -> `#17` (as each tracker writes it)."""
    tracker, _, native = key.partition(":")
    return native if tracker == "jira" else f"#{native}"


@dataclass
class Snapshot:
    findings: dict[tuple[str, str], str] = field(default_factory=dict)  # (key, rule) -> sev
    comments: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    labels: dict[str, frozenset[str]] = field(default_factory=dict)  # managed labels only
    rollups: dict[str, tuple[str, float, tuple[str, ...], int, int]] = field(
        default_factory=dict
    )  # key -> (rag, progress, reasons, children done, children)
    calls: Counter = field(default_factory=Counter)  # (tracker, method, route) -> n
    deliveries: dict[str, int] = field(default_factory=dict)


def take(stack: Any) -> Snapshot:
    snap = Snapshot()
    store, sandbox = stack.runtime.store, stack.sandbox
    for finding in store.open_findings():
        snap.findings[(finding.item_key, finding.rule)] = finding.severity
    with sandbox.jira_state.lock:
        for issue in sandbox.jira_state.issues.values():
            key = f"jira:{issue.key}"
            mine = [c for c in issue.comments if c["author"] == JIRA_BOT]
            snap.comments[key] = tuple((c["id"], str(c["updated"])) for c in mine)
            snap.labels[key] = frozenset(
                lb for lb in issue.fields.get("labels") or () if lb.startswith(PREFIX)
            )
    with sandbox.azure_state.lock:
        for item in sandbox.azure_state.items.values():
            key = f"azure-devops:{item.id}"
            mine = [c for c in item.comments if c["createdBy"] == AZURE_BOT and not c["isDeleted"]]
            snap.comments[key] = tuple((str(c["id"]), str(c["version"])) for c in mine)
            tags = str(item.fields.get("System.Tags") or "").split(";")
            snap.labels[key] = frozenset(t.strip() for t in tags if t.strip().startswith(PREFIX))
    keys = [item.key for item in store.iter_items()]
    for key, rollup in store.get_rollups(keys).items():
        snap.rollups[key] = (
            rollup.rag,
            rollup.progress,
            rollup.rag_reasons,
            rollup.done,
            rollup.children,
        )
    snap.calls = sandbox.api_calls()
    snap.deliveries = store.delivery_counts()
    return snap


@dataclass
class Change:
    """The difference between two snapshots, in counts and in lines to print."""

    raised: list[tuple[str, str]]
    resolved: list[tuple[str, str]]
    comments_new: list[str]
    comments_edited: list[str]
    labels_added: list[tuple[str, str]]
    labels_removed: list[tuple[str, str]]
    rollups: list[tuple[str, Any, Any]]  # key, before (or None), after
    calls: Counter  # (tracker, "read"|"write") -> n
    webhooks: int  # deliveries the service received
    skipped: int  # of which recognised as its own edits (or events it does not act on)

    @property
    def rag_changes(self) -> list[tuple[str, Any, Any]]:
        return [(k, b, a) for k, b, a in self.rollups if b is None or b[0] != a[0]]


WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
READ_POSTS = ("search", "wiql", "workitemsbatch", "approximate-count")


def _kind(method: str, route: str) -> str:
    if method in ("GET", "OPTIONS", "HEAD"):
        return "read"
    if method == "POST" and any(part in route.lower() for part in READ_POSTS):
        return "read"  # searches are POSTs that change nothing
    return "write"


def compare(before: Snapshot, after: Snapshot) -> Change:
    calls: Counter = Counter()
    for (tracker, method, route), n in (after.calls - before.calls).items():
        calls[(tracker, _kind(method, route))] += n
    new, edited = [], []
    for key, now in after.comments.items():
        was = before.comments.get(key, ())
        if len(now) > len(was):
            new.append(key)
        elif now != was:
            edited.append(key)
    added, removed = [], []
    for key, now in after.labels.items():
        was = before.labels.get(key, frozenset())
        added += [(key, lb) for lb in sorted(now - was)]
        removed += [(key, lb) for lb in sorted(was - now)]
    rollups = [
        (key, before.rollups.get(key), value)
        for key, value in sorted(after.rollups.items())
        if before.rollups.get(key) != value
    ]
    return Change(
        raised=sorted(set(after.findings) - set(before.findings)),
        resolved=sorted(set(before.findings) - set(after.findings)),
        comments_new=sorted(new),
        comments_edited=sorted(edited),
        labels_added=added,
        labels_removed=removed,
        rollups=rollups,
        calls=calls,
        webhooks=sum(after.deliveries.values()) - sum(before.deliveries.values()),
        skipped=after.deliveries.get("ignored", 0) - before.deliveries.get("ignored", 0),
    )


def plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def describe(change: Change, after: Snapshot, titles: dict[str, str]) -> list[str]:
    """The lines of one step's outcome, most important first."""
    lines = []
    for key, rule in change.raised:
        lines.append(f"flagged   {show(key):<7} {rule} ({after.findings[(key, rule)]})")
    for key, rule in change.resolved:
        lines.append(f"resolved  {show(key):<7} {rule}")
    rolled = {key for key, _, _ in change.rollups}
    for key in change.comments_new:
        if key not in rolled:
            lines.append(f"comment   {show(key):<7} written: what fails and how to fix it")
    for key in change.comments_edited:
        if key not in rolled:
            count = len(after.comments[key])
            lines.append(f"comment   {show(key):<7} edited in place (still {count} on the item)")
    labels: dict[str, list[str]] = {}
    for key, label in change.labels_added:
        labels.setdefault(key, []).append(f"+ {label}")
    for key, label in change.labels_removed:
        labels.setdefault(key, []).append(f"- {label}")
    for key, edits in labels.items():
        lines.append(f"label     {show(key):<7} {', '.join(edits)}")
    touched = set(change.comments_new) | set(change.comments_edited)
    for key, was, now in change.rollups:
        lines.append(rollup_line(key, was, now, titles, key in touched))
    lines.append(calls_line(change))
    return lines


def rollup_line(key: str, was: Any, now: Any, titles: dict[str, str], commented: bool) -> str:
    rag, progress, reasons, _done, _children = now
    title = titles.get(key.partition(":")[2], "")
    moved = was is not None and was[0] != rag
    status = f"{was[0].upper()} -> {rag.upper()}" if moved else rag.upper()
    why = f" ({'; '.join(reasons)})" if reasons and rag != "green" else ""
    note = "; comment updated" if commented else ""
    return f"rollup    {show(key):<7} {title}: {status}, {round(progress * 100)}% done{why}{note}"


def calls_line(change: Change) -> str:
    parts = []
    for tracker, name in TRACKER_NAMES.items():
        reads, writes = change.calls[(tracker, "read")], change.calls[(tracker, "write")]
        if reads or writes:
            parts.append(f"{name} {reads + writes} ({plural(writes, 'write')})")
    spent = ", ".join(parts) or "none"
    hooks = plural(change.webhooks, "webhook")
    skipped = f", {change.skipped} of them its own edits echoing back" if change.skipped else ""
    return f"cost      {hooks} in{skipped}; tracker API calls: {spent}"
