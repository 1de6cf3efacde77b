"""Where a portfolio node is found for the facets matched by more than one value: its
owner, team and area (`webhooks.dashboard.filter`, `webhooks.dashboard.index`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def facet_keys(name: str, node: Mapping[str, Any]) -> list[str]:
    """The folded values under which `node` is found for the facet `name` (owner, team,
    area): an owner by their id, their name and the tracker's display name; an area by
    itself and each parent area path (Fabrikam\\Payments is in Fabrikam) or by each of its
    Jira components ("Payments, Checkout")."""
    if name == "owner":
        owner = node.get("owner") if isinstance(node.get("owner"), Mapping) else {}
        names = (owner.get("id"), owner.get("name"), node.get("assignee"))
        return list(dict.fromkeys(_fold(v) for v in names if isinstance(v, str) and v.strip()))
    value = node.get(name)
    if not isinstance(value, str) or not value.strip():
        return []
    if name != "area":
        return [_fold(value)]
    keys = [_fold(value)]
    if "\\" in value:
        parts = value.split("\\")
        keys += [_fold("\\".join(parts[:n])) for n in range(1, len(parts))]
    elif ", " in value:
        keys += [_fold(part) for part in value.split(", ")]
    return list(dict.fromkeys(k for k in keys if k))


def _fold(value: str) -> str:
    return " ".join(value.split()).casefold()
