"""Findings history: which rules fail on which item, since when, and when they were fixed."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.exc import IntegrityError

from webhooks.store.engine import StoreBase
from webhooks.store.models import FindingRow, ItemRow
from webhooks.store.records import FindingRecord, TrendPoint

MAX_TREND_DAYS = 366


def _as_mapping(finding: Any) -> Mapping[str, Any]:
    if isinstance(finding, Mapping):
        return finding
    return finding.to_dict()  # a rules.Finding


def _record(row: FindingRow) -> FindingRecord:
    return FindingRecord(
        item_key=row.item_key,
        rule=row.rule,
        severity=row.severity,
        enforcement=row.enforcement,
        message=row.message,
        status=row.status,
        first_seen=row.first_seen,
        last_seen=row.last_seen,
        resolved_at=row.resolved_at,
    )


class FindingStore(StoreBase):
    def save_findings(
        self, item_key: str, findings: Iterable[Mapping[str, Any]], now: dt.datetime
    ) -> tuple[list[str], list[str]]:
        """Record the item's current findings (`{"rule", "severity", "enforcement",
        "message", "status"}` each). Returns (newly raised rule ids, resolved rule ids), both
        sorted. An empty list resolves everything still open on the item."""
        current: dict[str, Mapping[str, Any]] = {}
        for finding in findings:
            data = _as_mapping(finding)
            current.setdefault(str(data["rule"]), data)
        try:
            return self._save_findings(item_key, current, now)
        except IntegrityError:
            # Another process opened the same finding between our read and insert: its
            # row is committed now, so a second pass updates it instead.
            return self._save_findings(item_key, current, now)

    def _save_findings(
        self, item_key: str, current: Mapping[str, Mapping[str, Any]], now: dt.datetime
    ) -> tuple[list[str], list[str]]:
        raised: list[str] = []
        resolved: list[str] = []
        with self._session(write=True) as session:
            open_rows = {
                row.rule: row
                for row in session.scalars(
                    select(FindingRow).where(
                        FindingRow.item_key == item_key, FindingRow.resolved_at.is_(None)
                    )
                )
            }
            for rule, data in current.items():
                row = open_rows.pop(rule, None)
                if row is None:
                    row = FindingRow(item_key=item_key, rule=rule, first_seen=now)
                    session.add(row)
                    raised.append(rule)
                row.severity = str(data.get("severity") or "medium")
                row.enforcement = str(data.get("enforcement") or "advise")
                row.message = str(data.get("message") or "")
                row.status = str(data.get("status") or "fail")
                row.last_seen = now
            for rule, row in open_rows.items():
                row.resolved_at = now
                resolved.append(rule)
        return sorted(raised), sorted(resolved)

    def open_findings(self, item_key: str | None = None) -> list[FindingRecord]:
        """Open findings of one item, or of all items, by item key then rule."""
        query = select(FindingRow).where(FindingRow.resolved_at.is_(None))
        if item_key is not None:
            query = query.where(FindingRow.item_key == item_key)
        with self._session() as session:
            rows = session.scalars(query.order_by(FindingRow.item_key, FindingRow.rule))
            return [_record(row) for row in rows]

    def open_findings_of_rule(self, rule: str, limit: int) -> list[FindingRecord]:
        """Up to `limit` open findings of one rule, oldest first."""
        query = (
            select(FindingRow)
            .where(FindingRow.resolved_at.is_(None), FindingRow.rule == rule)
            .order_by(FindingRow.first_seen, FindingRow.item_key)
            .limit(limit)
        )
        with self._session() as session:
            return [_record(row) for row in session.scalars(query)]

    def data_since(self) -> dt.date | None:
        """The first UTC day the store holds anything from (its oldest item or finding):
        before it the service was not listening, so a trend has no data there, not zero."""
        with self._session() as session:
            firsts = [
                session.scalar(select(func.min(FindingRow.first_seen))),
                session.scalar(select(func.min(ItemRow.stored_at))),
            ]
        days = [
            (f if f.tzinfo else f.replace(tzinfo=dt.UTC)).astimezone(dt.UTC).date()
            for f in firsts
            if isinstance(f, dt.datetime)
        ]
        return min(days) if days else None

    def open_finding_counts(self) -> dict[str, int]:
        """Open findings per severity, for the dashboard and metrics."""
        query = (
            select(FindingRow.severity, func.count())
            .where(FindingRow.resolved_at.is_(None))
            .group_by(FindingRow.severity)
        )
        with self._session() as session:
            return {str(severity): int(n) for severity, n in session.execute(query)}

    def findings_trend(self, days: int, *, now: dt.datetime | None = None) -> list[TrendPoint]:
        """One point per UTC day for the last `days` days, oldest first, ending today.

        Computed from first_seen / resolved_at in one query, so no snapshot job is needed.
        """
        if not 1 <= days <= MAX_TREND_DAYS:
            raise ValueError(f"days must be between 1 and {MAX_TREND_DAYS}, not {days}")
        now = (now or self.now()).astimezone(dt.UTC)
        first_day = now.date() - dt.timedelta(days=days - 1)
        bounds = [
            dt.datetime.combine(first_day + dt.timedelta(days=n), dt.time(), dt.UTC)
            for n in range(days + 1)
        ]
        seen, fixed = FindingRow.first_seen, FindingRow.resolved_at

        def count(condition: Any) -> Any:
            return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

        columns = []
        for start, end in itertools.pairwise(bounds):
            columns += [
                count(and_(seen < end, or_(fixed.is_(None), fixed >= end))),
                count(and_(seen >= start, seen < end)),
                count(and_(fixed >= start, fixed < end)),
            ]
        query = select(*columns).where(seen < bounds[-1], or_(fixed.is_(None), fixed >= bounds[0]))
        with self._session() as session:
            totals = session.execute(query).one()
        return [
            TrendPoint(
                day=bounds[n].date(),
                open=int(totals[3 * n]),
                raised=int(totals[3 * n + 1]),
                resolved=int(totals[3 * n + 2]),
            )
            for n in range(days)
        ]
