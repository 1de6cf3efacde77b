"""The dashboard's history: each portfolio parent's RAG per UTC day, and open findings
per day by project, rule and severity. Rollups and findings keep only the present (and
findings their first seen / resolved times); this is what lets the dashboard say what
turned red this week. Recording a day again replaces that day's rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select

from webhooks.store.engine import StoreBase
from webhooks.store.models import FindingsHistoryRow, RagHistoryRow

HISTORY_BATCH = 2000  # rows per insert statement


@dataclass(frozen=True, slots=True)
class RagDay:
    day: dt.date
    rag: str
    reasons: str


@dataclass(frozen=True, slots=True)
class RagChange:
    item_key: str
    before: str | None  # None: no RAG recorded on or before the day asked about
    now: str


class HistoryStore(StoreBase):
    def record_history(
        self,
        day: dt.date,
        rags: Mapping[str, tuple[str, str]],
        findings: Mapping[tuple[str, str, str, str], int],
    ) -> None:
        """Replace `day`'s rows: `rags` {parent key: (rag, reasons)}, `findings`
        {(tracker, project, rule, severity): open findings}."""
        rag_rows = [
            {"day": day, "item_key": key, "rag": rag, "reasons": reasons}
            for key, (rag, reasons) in rags.items()
        ]
        finding_rows = [
            {"day": day, "tracker": t, "project": p, "rule": r, "severity": s, "open_findings": n}
            for (t, p, r, s), n in findings.items()
        ]
        with self._session(write=True) as session:
            session.execute(delete(RagHistoryRow).where(RagHistoryRow.day == day))
            session.execute(delete(FindingsHistoryRow).where(FindingsHistoryRow.day == day))
            for table, rows in ((RagHistoryRow, rag_rows), (FindingsHistoryRow, finding_rows)):
                for start in range(0, len(rows), HISTORY_BATCH):
                    session.execute(insert(table), rows[start : start + HISTORY_BATCH])

    def rag_history(self, item_key: str, limit: int = 60) -> list[RagDay]:
        """The parent's recorded RAG, newest day first."""
        query = (
            select(RagHistoryRow)
            .where(RagHistoryRow.item_key == item_key)
            .order_by(RagHistoryRow.day.desc())
            .limit(limit)
        )
        with self._session() as session:
            return [RagDay(r.day, r.rag, r.reasons) for r in session.scalars(query)]

    def rag_changes(self, since: dt.date, current: Mapping[str, str]) -> list[RagChange]:
        """Parents whose RAG in `current` differs from their last recorded RAG on or
        before `since` (parents first recorded after it count as changed from nothing)."""
        latest = (
            select(RagHistoryRow.item_key, func.max(RagHistoryRow.day).label("day"))
            .where(RagHistoryRow.day <= since)
            .group_by(RagHistoryRow.item_key)
            .subquery()
        )
        query = select(RagHistoryRow.item_key, RagHistoryRow.rag).join(
            latest,
            (RagHistoryRow.item_key == latest.c.item_key) & (RagHistoryRow.day == latest.c.day),
        )
        with self._session() as session:
            before = {key: rag for key, rag in session.execute(query)}
            anything = session.scalar(select(func.min(RagHistoryRow.day)))
        if anything is None or anything > since:
            return []  # nothing recorded that far back: no data, not "all changed"
        return [
            RagChange(key, before.get(key), rag)
            for key, rag in sorted(current.items())
            if before.get(key) != rag
        ]

    def findings_history(self, since: dt.date) -> list[tuple[dt.date, str, str, str, str, int]]:
        """(day, tracker, project, rule, severity, open findings) rows from `since` on."""
        query = (
            select(
                FindingsHistoryRow.day,
                FindingsHistoryRow.tracker,
                FindingsHistoryRow.project,
                FindingsHistoryRow.rule,
                FindingsHistoryRow.severity,
                FindingsHistoryRow.open_findings,
            )
            .where(FindingsHistoryRow.day >= since)
            .order_by(FindingsHistoryRow.day)
        )
        with self._session() as session:
            return [tuple(row) for row in session.execute(query)]

    def open_findings_per_day(self, since: dt.date) -> dict[dt.date, int]:
        """The recorded open findings (waived ones never are) of each recorded day from
        `since` on, all projects together; a day without a recording is absent."""
        query = (
            select(FindingsHistoryRow.day, func.sum(FindingsHistoryRow.open_findings))
            .where(FindingsHistoryRow.day >= since)
            .group_by(FindingsHistoryRow.day)
        )
        with self._session() as session:
            counts = {day: int(n or 0) for day, n in session.execute(query)}
        return {day: counts.get(day, 0) for day in self.recorded_days(since)}

    def recorded_days(self, since: dt.date) -> list[dt.date]:
        """The days from `since` on with a recording (any parent's RAG or any open
        findings): a day not among them has no data, which is not zero findings."""
        with self._session() as session:
            days = set(
                session.scalars(
                    select(RagHistoryRow.day).where(RagHistoryRow.day >= since).distinct()
                )
            )
            days |= set(
                session.scalars(
                    select(FindingsHistoryRow.day).where(FindingsHistoryRow.day >= since).distinct()
                )
            )
        return sorted(days)

    def forget_history_before(self, day: dt.date) -> int:
        with self._session(write=True) as session:
            gone = session.execute(delete(RagHistoryRow).where(RagHistoryRow.day < day))
            more = session.execute(delete(FindingsHistoryRow).where(FindingsHistoryRow.day < day))
            return int(gone.rowcount or 0) + int(more.rowcount or 0)
