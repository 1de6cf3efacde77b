"""What the trackers accept as a label (Jira) or a tag (Azure DevOps), checked before a
write so a bad one is a clear error here rather than a refusal there.

- Jira: a label may not contain spaces ("The label '...' contains spaces which is
  invalid." / "can't contain spaces.") nor exceed 255 characters ("... exceeds the
  maximum length for a single label of 255 characters").
- Azure DevOps (naming restrictions, work item tags): at most 400 Unicode characters, not
  empty, no separator `,` or `;`, no control or format characters.

Managed labels are written to both kinds of tracker, so the rules and the configured
prefix are held to both: no whitespace, `,` or `;`, at most 255 characters in all.
"""

from __future__ import annotations

import unicodedata

from connector.errors import PermanentTrackerError

JIRA_LABEL_MAX = 255
AZURE_TAG_MAX = 400
LABEL_MAX = min(JIRA_LABEL_MAX, AZURE_TAG_MAX)
PREFIX_MAX = 32  # the configured prefix (`labels.prefix`)
NAME_MAX = LABEL_MAX - PREFIX_MAX  # a rule id or a rule's label, before the prefix


def label_problem(label: str, kind: str | None = None) -> str | None:
    """Why `label` would be refused by a tracker of `kind` (jira | azure-devops; None:
    either), or None when both accept it."""
    if not label:
        return "is empty"
    if kind in (None, "jira") and any(ch.isspace() for ch in label):
        return "contains whitespace (Jira labels cannot)"
    if kind in (None, "azure-devops"):
        if any(ch in ",;" for ch in label):
            return "contains ',' or ';' (Azure DevOps tag separators)"
        if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs") for ch in label):
            return "contains control or format characters (Azure DevOps tags cannot)"
    limit = {"jira": JIRA_LABEL_MAX, "azure-devops": AZURE_TAG_MAX}.get(kind or "", LABEL_MAX)
    if len(label) > limit:
        return f"is {len(label)} characters long, over {limit}"
    return None


def refuse_invalid_labels(kind: str, native_id: str, labels: set[str] | frozenset[str]) -> None:
    """Raise before writing labels the tracker would refuse (the write would fail the same
    way on every retry)."""
    refused = [f"{lb!r} {why}" for lb in sorted(labels) if (why := label_problem(lb, kind))]
    if refused:
        noun = "label" if kind == "jira" else "tag"
        raise PermanentTrackerError(
            f"{kind} update_labels {native_id}: {noun} refused before writing: "
            + "; ".join(refused)
        )
