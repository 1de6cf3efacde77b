"""Findings history: which rules fail on which item, since when, and when they were fixed."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import and_, bindparam, case, func, or_, select, update
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


def finding_values(data: Mapping[str, Any]) -> dict[str, str]:
    return {
        "severity": str(data.get("severity") or "medium"),
        "enforcement": str(data.get("enforcement") or "advise"),
        "message": str(data.get("message") or ""),
        "status": str(data.get("status") or "fail"),
    }


# The worker saves findings for every event: its statements are built once.
_FINDINGS = FindingRow.__table__
_OPEN = and_(_FINDINGS.c.item_key == bindparam("item_key"), _FINDINGS.c.resolved_at.is_(None))
_ANY_OPEN = select(_FINDINGS.c.id).where(_OPEN).limit(1)
OPEN_FINDINGS = select(  # also read by Store.governed_state
    *(_FINDINGS.c[name] for name in ("id", "rule", "severity", "enforcement", "message", "status"))
).where(_OPEN)
_UPDATE_FINDING = (
    update(_FINDINGS)
    .where(_FINDINGS.c.id == bindparam("row_id"))
    .values(
        {
            name: bindparam(name)
            for name in ("severity", "enforcement", "message", "status", "last_seen")
        }
    )
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
        wanted = {rule: finding_values(data) for rule, data in current.items()}
        if not wanted:  # an item that passes: a write only when something was open
            with self._hot() as run:
                if run.first(_ANY_OPEN, {"item_key": item_key}) is None:
                    return [], []
        with self._writing(), self._write_engine.begin() as conn:
            open_rows = {
                row.rule: row for row in conn.execute(OPEN_FINDINGS, {"item_key": item_key})
            }
            raised = sorted(set(wanted) - set(open_rows))
            resolved = sorted(set(open_rows) - set(wanted))
            if raised:
                conn.execute(
                    _FINDINGS.insert(),
                    [
                        {"item_key": item_key, "rule": rule, **wanted[rule]}
                        | {"first_seen": now, "last_seen": now, "resolved_at": None}
                        for rule in raised
                    ],
                )
            changed, seen_again = [], []
            for rule, values in wanted.items():
                row = open_rows.get(rule)
                if row is None:
                    continue
                if any(getattr(row, name) != value for name, value in values.items()):
                    changed.append({"row_id": row.id, **values, "last_seen": now})
                else:
                    seen_again.append(row.id)
            if changed:
                conn.execute(_UPDATE_FINDING, changed)
            if seen_again:  # one statement for the findings that were only seen again
                conn.execute(
                    update(_FINDINGS).where(_FINDINGS.c.id.in_(seen_again)).values(last_seen=now)
                )
            if resolved:
                ids = [open_rows[rule].id for rule in resolved]
                conn.execute(
                    update(_FINDINGS).where(_FINDINGS.c.id.in_(ids)).values(resolved_at=now)
                )
        return raised, resolved

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
        Waived findings are not open: they are left out (a finding's status has no date,
        so one waived now is left out of the days before its waiver too; the dashboard
        takes those days from the daily history, which counted it then).
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
        query = select(*columns).where(
            seen < bounds[-1],
            or_(fixed.is_(None), fixed >= bounds[0]),
            FindingRow.status != "waived",
        )
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
