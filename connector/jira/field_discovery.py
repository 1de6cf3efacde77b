"""Jira custom field ids found by name. Sites differ: Epic Link is customfield_10014 on
many Cloud sites and something else on most Data Center ones; Story Points and Story
point estimate are two different fields, and either or both may exist. Where the
configuration names no id for one of these, the site's field list (GET
/rest/api/{2,3}/field) is asked once at the worker's start."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

log = logging.getLogger(__name__)

# common-model name -> field names, in order of preference. "Story point estimate" first:
# it is the Cloud field behind the default id (customfield_10016); Data Center sites have
# only "Story Points".
FIELD_NAMES: Mapping[str, tuple[str, ...]] = {
    "epic_link": ("Epic Link",),
    "parent_link": ("Parent Link",),
    "estimate": ("Story point estimate", "Story Points"),
    "start_date": ("Start date",),
}


def wanted(configured: Mapping[str, str]) -> list[str]:
    """The names the configuration leaves to discovery."""
    return [name for name in FIELD_NAMES if name not in configured]


def field_ids_by_name(fields: Iterable[Any], names: Iterable[str]) -> dict[str, tuple[str, str]]:
    """Common-model name -> (custom field id, the site's field name), for `names` the
    site has a field for. A name several custom fields share (Jira allows it) is taken
    from the first listed."""
    by_name: dict[str, list[str]] = {}
    for field in fields:
        if not isinstance(field, Mapping) or not field.get("custom"):
            continue
        name, ident = field.get("name"), field.get("id")
        if isinstance(name, str) and isinstance(ident, str) and ident:
            by_name.setdefault(name.strip().casefold(), []).append(ident)
    found: dict[str, tuple[str, str]] = {}
    for name in names:
        for label in FIELD_NAMES.get(name, ()):
            ids = by_name.get(label.casefold())
            if ids:
                if len(ids) > 1:
                    log.warning(
                        "jira.fields.ambiguous",
                        extra={"field": name, "field_name": label, "ids": ids, "taken": ids[0]},
                    )
                found[name] = (ids[0], label)
                break
    return found
