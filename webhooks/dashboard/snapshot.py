"""The portfolio snapshot behind `/api/portfolio` and the dashboard: the tree of
initiatives, epics and their children with rollups, compliance by project and rule, the
items most out of line, and the trend of open findings."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from config.people import Directory, resolve_person
from config.settings import TrackerConfig
from connector.model import WorkItem
from rules import Context
from rules.rollup import schedule_of, spec_for
from rules.rollup.findings import CLOSED_TITLE, CLOSED_WITH_OPEN_CHILDREN
from rules.waivers import expiring_within, waiver_for
from webhooks.dashboard.history import history_section
from webhooks.resources import Resources
from webhooks.store import Store

_SEVERITY_RANK = {"critical": 5, "high": 4, "medium": 3, "low": 2, "info": 1}
MAX_CHILDREN_SHOWN = 200
TREND_DAYS = 14
WORST_ITEMS = 10
# Text a tracker holds may be megabytes long; the dashboard shows this much of it (a 4 MB
# title made a 14 MB page).
MAX_TEXT = 200
SERVICE_RULE_TITLES = {CLOSED_WITH_OPEN_CHILDREN: CLOSED_TITLE}
EXPIRING_DAYS = 14  # the dashboard lists waivers expiring within this many days
MAX_WAIVED_SHOWN = 200


def build_portfolio(runtime: Resources) -> dict[str, Any]:
    store = runtime.store
    trackers = runtime.settings.trackers
    ruleset = runtime.rules.current()
    items = {item.key: item for item in store.iter_items()}
    findings_by_item: dict[str, list[Any]] = defaultdict(list)
    waived: list[Any] = []  # waived findings are listed apart, never counted as open
    for finding in store.open_findings():
        if finding.item_key in items:
            if finding.status == "waived":
                waived.append(finding)
            else:
                findings_by_item[finding.item_key].append(finding)
    rollups = store.get_rollups(list(items))
    people = runtime.people

    children: dict[str, list[WorkItem]] = defaultdict(list)
    for item in items.values():
        if item.parent and item.parent in items:
            children[item.parent].append(item)

    def node(item: WorkItem, depth: int) -> dict[str, Any]:
        rollup = rollups.get(item.key)
        kids = sorted(children.get(item.key, ()), key=lambda i: (i.type.value, i.key))
        return {
            "key": item.key,
            "title": clip(item.title),
            "type": item.type.value,
            "tracker": item.tracker,
            "project": clip(item.project),
            "url": item_link(trackers, item),
            "status": clip(item.status),
            "status_category": item.status_category.value,
            "assignee": clip(item.assignee.display_name) if item.assignee else None,
            **owner_facts(people, item),
            "area": clip(item.area),
            "due_date": item.due_date.isoformat() if item.due_date else None,
            "rollup": rollup.to_dict() if rollup is not None else None,
            "schedule": schedule_of(rollup).to_dict() if rollup is not None else None,
            "open_findings": len(findings_by_item.get(item.key, ())),
            "findings": [
                {
                    "rule": f.rule,
                    "severity": f.severity,
                    "since": f.first_seen.isoformat(),
                    "message": clip(f.message),
                }
                for f in findings_by_item.get(item.key, ())
            ],
            "children": [node(k, depth + 1) for k in kids[:MAX_CHILDREN_SHOWN]]
            if depth < 8
            else [],
        }

    roots = [
        item
        for item in items.values()
        if spec_for(ruleset.rollups, item) is not None
        and not (item.parent and item.parent in items)
    ]
    roots.sort(key=lambda i: (i.type.value != "initiative", i.tracker, i.key))
    tree = [node(root, 0) for root in roots]

    rag = Counter(r.rag for key, r in rollups.items() if key in items)
    noncompliant = {key for key, found in findings_by_item.items() if found}
    open_count = sum(len(found) for found in findings_by_item.values())
    by_project: dict[tuple[str, str], dict[str, Any]] = {}
    for item in items.values():
        row = by_project.setdefault(
            (item.tracker, item.project),
            {
                "tracker": item.tracker,
                "project": clip(item.project),
                "items": 0,
                "noncompliant_items": 0,
                "open_findings": 0,
            },
        )
        row["items"] += 1
        found = findings_by_item.get(item.key, ())
        row["open_findings"] += len(found)
        row["noncompliant_items"] += 1 if found else 0
    for row in by_project.values():
        row["compliant_pct"] = _pct(row["items"] - row["noncompliant_items"], row["items"])

    rule_counts = Counter(f.rule for found in findings_by_item.values() for f in found)
    # findings of no rules file (a rollup's, a portfolio link's) carry their own severity
    seen_severity = {f.rule: f.severity for found in findings_by_item.values() for f in found}
    by_rule = []
    for rule_id, count in rule_counts.most_common():
        rule = ruleset.rule(rule_id) if hasattr(ruleset, "rule") else None
        by_rule.append(
            {
                "rule": rule_id,
                "title": clip(rule.title) if rule else SERVICE_RULE_TITLES.get(rule_id, rule_id),
                "severity": rule.severity if rule else seen_severity.get(rule_id, "medium"),
                "open_findings": count,
            }
        )

    worst = sorted(
        findings_by_item.items(),
        key=lambda kv: (
            -max(_SEVERITY_RANK.get(f.severity, 0) for f in kv[1]),
            -len(kv[1]),
            kv[0],
        ),
    )[:WORST_ITEMS]
    worst_items = []
    for key, found in worst:
        item = items[key]
        top = max(found, key=lambda f: _SEVERITY_RANK.get(f.severity, 0))
        worst_items.append(
            {
                "key": key,
                "title": clip(item.title),
                "url": item_link(trackers, item),
                "tracker": item.tracker,
                "project": clip(item.project),
                "open_findings": len(found),
                "max_severity": top.severity,
                "rules": sorted(f.rule for f in found),
            }
        )

    return {
        "generated_at": runtime.clock().isoformat(),
        "totals": {
            "items": len(items),
            "open_findings": open_count,
            "noncompliant_items": len(noncompliant),
            "compliant_pct": _pct(len(items) - len(noncompliant), len(items)),
            "rag": {level: rag.get(level, 0) for level in ("green", "amber", "red")},
        },
        "tree": tree,
        "compliance_by_project": sorted(
            by_project.values(), key=lambda r: (r["tracker"], r["project"])
        ),
        "compliance_by_rule": by_rule,
        "worst_items": worst_items,
        "trend": trend(store, runtime.clock()),
        "waivers": waivers_section(ruleset, items, waived, trackers, runtime.clock()),
        **history_section(
            store, runtime.clock(), {k: r.rag for k, r in rollups.items() if k in items}
        ),
    }


def waivers_section(
    ruleset: Any,
    items: Mapping[str, WorkItem],
    waived: list[Any],
    trackers: Mapping[str, TrackerConfig],
    now: dt.datetime,
) -> dict[str, Any]:
    """The findings waived now, each with the waiver that covers it (per-item and
    portfolio rules alike), and the waivers expiring within EXPIRING_DAYS days."""
    waivers = tuple(getattr(ruleset, "waivers", ()))
    context = Context(now)
    rows = []
    for finding in sorted(waived, key=lambda f: (f.rule, f.item_key))[:MAX_WAIVED_SHOWN]:
        item = items[finding.item_key]
        waiver = waiver_for(waivers, finding.rule, item, context)
        rows.append(
            {
                "key": item.key,
                "title": clip(item.title),
                "url": item_link(trackers, item),
                "rule": finding.rule,
                "expires": waiver.expires.isoformat() if waiver else None,
                "approver": clip(waiver.approver) if waiver else None,
                "reason": clip(waiver.reason) if waiver else None,
            }
        )
    expiring = [
        {
            "rule": w.rule,
            "expires": w.expires.isoformat(),
            "approver": clip(w.approver),
            "reason": clip(w.reason),
            "items": clip(", ".join(sorted(w.items or ()))),
            "projects": clip(", ".join(sorted(w.projects or ()))),
            "when": clip(w.when_text),
        }
        for w in expiring_within(waivers, context.today, EXPIRING_DAYS)
    ]
    return {"waived_findings": len(waived), "waived": rows, "expiring": expiring}


def trend(store: Store, now: dt.datetime) -> list[dict[str, Any]]:
    """Open findings per day for the last TREND_DAYS days, from the first day the service
    held data: the days before it are no data, not days without findings. Waived
    findings are not open, as in the daily history: a past day the history recorded
    shows the recorded count (it knew which findings were waived that day), the other
    days (today among them) count the findings open and not waived."""
    since = store.data_since()
    if since is None:
        return []
    points = [p for p in store.findings_trend(TREND_DAYS, now=now) if p.day >= since]
    today = now.astimezone(dt.UTC).date()
    recorded = store.open_findings_per_day(points[0].day) if points else {}
    return [
        {
            "date": p.day.isoformat(),
            "open_findings": recorded[p.day] if p.day in recorded and p.day < today else p.open,
        }
        for p in points
    ]


def owner_facts(people: Directory, item: WorkItem) -> dict[str, Any]:
    """The item's owner as one person across trackers (`config.people.resolve_person`):
    `owner` {id, name}, the people file's id and name for a mapped person, else
    `name:<display name, case-folded>` and the display name; `team` the mapped person's
    team (None for an unmapped owner or one without a team)."""
    member = resolve_person(people, item.tracker, item.assignee)
    if member is None:
        return {"owner": None, "team": None}
    return {
        "owner": {"id": clip(member.id), "name": clip(member.name)},
        "team": clip(member.team) if member.mapped else None,
    }


def clip(text: str | None, limit: int = MAX_TEXT) -> str | None:
    """At most `limit` characters, an ellipsis marking the cut."""
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 1] + "\u2026"


def item_link(trackers: Mapping[str, TrackerConfig], item: WorkItem) -> str | None:
    """The item's page, built from the configured tracker URL: a delivery's own links
    (`_links.html.href`, `self`) are whatever its sender wrote. No URL, no link."""
    tracker = trackers.get(item.tracker)
    if tracker is None or not tracker.url:
        return None
    native = item.key.split(":", 1)[-1]
    if tracker.kind == "jira":
        return f"{tracker.url}/browse/{quote(native, safe='')}"
    return f"{tracker.url}/{quote(item.project, safe='')}/_workitems/edit/{quote(native, safe='')}"


def _pct(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 1) if whole else 100.0
