"""One item's story in a replay, for `replay_bench.py --trace ITEM`: the deliveries
posted for it, the service's delivery rows and log lines about it, and every tracker
call on it, merged on one clock (seconds since the first post)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from bench.replay_run import _ITEM


def payload_item(tracker: str, payload: Any) -> tuple[str | None, int | None]:
    """(item key, revision) of a delivery body, as the service reads them."""
    if not isinstance(payload, dict):
        return None, None
    if tracker == "jira":
        issue = payload.get("issue") or {}
        updated = (issue.get("fields") or {}).get("updated")
        return f"jira:{issue.get('key')}", _jira_ms(updated)
    resource = payload.get("resource") or {}
    item_id = resource.get("workItemId") or resource.get("id")
    return f"azure-devops:{item_id}", resource.get("rev")


def _jira_ms(updated: Any) -> int | None:
    try:
        return int(dt.datetime.strptime(updated, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp() * 1000)
    except (TypeError, ValueError):
        return None


def trace(item: str, sent: list[Any], calls: list[Any], log_path: Path, store: Any) -> list[str]:
    """Lines describing `item`'s deliveries, store rows, log events and tracker calls."""
    events: list[tuple[float, str]] = []
    for s in sent:
        d = s.delivery
        if d.item != item:
            continue
        _, rev = payload_item(d.tracker, json.loads(d.body))
        flags = " reordered" if d.reordered else ""
        events.append(
            (
                s.sent_at,
                f"POST seq {d.seq} {d.kind}{flags} rev {rev} -> {s.status} "
                f"(tries {s.attempts}); failing after: {sorted(d.failing)}",
            )
        )
    tracker, pattern = next(p for p in _ITEM if item.startswith(p[0] + ":"))
    native = item.split(":", 1)[1]
    for name, call in calls:
        match = pattern.search(call.path)
        if name != tracker or match is None or match.group(1) != native:
            continue
        body = (getattr(call, "body", b"") or b"")[:160].decode("utf-8", "replace")
        events.append(
            (call.time, f"{tracker} {call.method} {call.path} -> {call.status} {call.actor} {body}")
        )
    if log_path.exists():
        for line in log_path.read_text(errors="replace").splitlines():
            if f'"{item}"' not in line:
                continue
            try:
                entry = json.loads(line)
                # the service logs local time (logging's default), whatever its suffix
                stamp = dt.datetime.fromisoformat(entry["ts"].rstrip("Z")).timestamp()
            except (ValueError, KeyError):
                continue
            rest = {k: v for k, v in entry.items() if k not in ("ts", "logger", "event")}
            events.append((stamp, f"log {entry['event']} {rest}"))
    if store is not None:
        for row in _delivery_rows(store):
            key, rev = payload_item(row.tracker, json.loads(row.payload))
            if key == item:
                events.append(
                    (
                        row.received_at.timestamp(),
                        f"store row {row.id} rev {rev} {row.status} attempts {row.attempts} "
                        f"error {row.error!r} (last touched {row.updated_at:%H:%M:%S.%f})",
                    )
                )
    if not events:
        return [f"{item}: nothing posted, stored or called"]
    start = min(t for t, _ in events)
    return [f"{t - start:8.3f}  {text}" for t, text in sorted(events, key=lambda e: e[0])]


def _delivery_rows(store: Any) -> list[Any]:
    from sqlalchemy import select

    from webhooks.store.models import DeliveryRow

    with store._session() as session:
        return list(session.scalars(select(DeliveryRow).order_by(DeliveryRow.id)))


def stuck(store: Any, log_path: Path, limit: int = 10) -> list[str]:
    """Deliveries still unfinished after the drain timeout, each with the service's log
    lines about its row."""
    from webhooks.store.records import UNFINISHED_STATUSES

    rows = [r for r in _delivery_rows(store) if r.status in UNFINISHED_STATUSES]
    lines = log_path.read_text(errors="replace").splitlines() if log_path.exists() else []
    out = []
    for row in rows[:limit]:
        key, rev = payload_item(row.tracker, json.loads(row.payload))
        out.append(
            f"row {row.id} {key} rev {rev}: {row.status}, attempts {row.attempts}, "
            f"error {row.error!r}, last touched {row.updated_at:%H:%M:%S.%f}"
        )
        needle = f'"delivery_row": {row.id}'
        out += [f"  {line[:300]}" for line in lines if needle in line][-6:]
    if len(rows) > limit:
        out.append(f"... and {len(rows) - limit} more")
    return out
