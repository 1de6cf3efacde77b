"""Recording the dashboard's history once a day (the day's last recording wins), and
reading it back for the snapshot: RAG changes since a day, open findings per project."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Mapping
from typing import Any

from webhooks.store import Store

CHANGES_DAYS = 7  # "what turned red this week"
PROJECT_TREND_DAYS = 30  # days of open findings per project on the dashboard


def record_history(store: Store, now: dt.datetime) -> dict[str, int]:
    """Record today's RAG of every portfolio parent and open findings per project, rule
    and severity; returns how many rows of each."""
    day = now.astimezone(dt.UTC).date()
    where = {item.key: (item.tracker, item.project) for item in store.iter_items()}
    rollups = store.get_rollups(list(where))
    rags = {key: (r.rag, "; ".join(r.rag_reasons)) for key, r in rollups.items()}
    counts: Counter[tuple[str, str, str, str]] = Counter()
    for finding in store.open_findings():
        if finding.item_key in where and finding.status != "waived":
            counts[(*where[finding.item_key], finding.rule, finding.severity)] += 1
    store.record_history(day, rags, counts)
    return {"parents": len(rags), "finding_groups": len(counts)}


def history_section(store: Store, now: dt.datetime, rags: Mapping[str, str]) -> dict[str, Any]:
    """What the snapshot carries of the history: parents whose RAG changed in the last
    CHANGES_DAYS days, and open findings per project and day."""
    today = now.astimezone(dt.UTC).date()
    since = today - dt.timedelta(days=CHANGES_DAYS)
    changes = [
        {"key": c.item_key, "before": c.before, "now": c.now}
        for c in store.rag_changes(since, rags)
    ]
    first = today - dt.timedelta(days=PROJECT_TREND_DAYS - 1)
    per_project: dict[tuple[str, str], Counter[dt.date]] = defaultdict(Counter)
    for day, tracker, project, _rule, _severity, count in store.findings_history(first):
        per_project[(tracker, project)][day] += count
    return {
        "rag_changes_since": since.isoformat(),
        "rag_changes": changes,
        "project_trend": project_trend(per_project, store.recorded_days(first)),
    }


def project_trend(
    per_project: Mapping[tuple[str, str], Mapping[dt.date, int]], recorded: list[dt.date]
) -> list[dict[str, Any]]:
    """Open findings per project for every day from the first recorded day to the last:
    a recorded day without a row for the project is 0 (it had no open findings), a day
    with no recording at all is null (no data: the chart leaves a gap)."""
    if not recorded:
        return []
    done = set(recorded)
    days = [
        recorded[0] + dt.timedelta(days=n) for n in range((recorded[-1] - recorded[0]).days + 1)
    ]
    return [
        {
            "tracker": tracker,
            "project": project,
            "points": [
                {"date": d.isoformat(), "open_findings": counts.get(d, 0) if d in done else None}
                for d in days
            ],
        }
        for (tracker, project), counts in sorted(per_project.items())
    ]
