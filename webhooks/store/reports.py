"""What the PMO report reads beyond items and findings: finding activity per project and
rule over a period, and the reports already sent (the last RAG snapshot, the schedule)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.exc import IntegrityError

from webhooks.store.engine import StoreBase
from webhooks.store.models import FindingRow, ItemRow, ReportRow
from webhooks.store.notifications import NewNotification, outbox_row


@dataclass(frozen=True)
class FindingActivity:
    project: str
    rule: str
    new: int  # raised within the period
    resolved: int  # fixed within the period
    open_then: int  # open at the period's start
    open_now: int


@dataclass(frozen=True)
class SentReport:
    schedule: str
    sent_at: dt.datetime
    destination: str
    rag: Mapping[str, str]


class ReportStore(StoreBase):
    def finding_activity(self, since: dt.datetime, until: dt.datetime) -> list[FindingActivity]:
        """Per project and rule: findings raised, resolved, open at `since` and at `until`."""
        seen, fixed = FindingRow.first_seen, FindingRow.resolved_at

        def count(condition: Any) -> Any:
            return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

        query = (
            select(
                func.coalesce(ItemRow.project, "?"),
                FindingRow.rule,
                count(and_(seen >= since, seen < until)),
                count(and_(fixed >= since, fixed < until)),
                count(and_(seen < since, or_(fixed.is_(None), fixed >= since))),
                count(and_(seen < until, or_(fixed.is_(None), fixed >= until))),
            )
            .select_from(FindingRow)
            .outerjoin(ItemRow, ItemRow.key == FindingRow.item_key)
            .where(seen < until, or_(fixed.is_(None), fixed >= since))
            .group_by(ItemRow.project, FindingRow.rule)
            .order_by(ItemRow.project, FindingRow.rule)
        )
        with self._session() as session:
            return [
                FindingActivity(str(p), str(r), int(n), int(f), int(a), int(b))
                for p, r, n, f, a, b in session.execute(query)
            ]

    def open_by_project(self, moments: list[dt.datetime]) -> dict[str, list[int]]:
        """Open findings per project at each of `moments` (at most 31), in one query: the
        report's trend line per project."""
        seen, fixed = FindingRow.first_seen, FindingRow.resolved_at
        columns = [
            func.coalesce(
                func.sum(case((and_(seen <= m, or_(fixed.is_(None), fixed > m)), 1), else_=0)), 0
            )
            for m in moments[:31]
        ]
        query = (
            select(func.coalesce(ItemRow.project, "?"), *columns)
            .select_from(FindingRow)
            .outerjoin(ItemRow, ItemRow.key == FindingRow.item_key)
            .where(seen <= moments[-1], or_(fixed.is_(None), fixed > moments[0]))
            .group_by(ItemRow.project)
        )
        with self._session() as session:
            return {str(row[0]): [int(n) for n in row[1:]] for row in session.execute(query)}

    def last_report(self, schedule: str) -> SentReport | None:
        query = (
            select(ReportRow)
            .where(ReportRow.schedule == schedule)
            .order_by(ReportRow.sent_at.desc(), ReportRow.id.desc())
            .limit(1)
        )
        with self._session() as session:
            row = session.scalars(query).first()
            if row is None:
                return None
            return SentReport(row.schedule, row.sent_at, row.destination, dict(row.rag or {}))

    def queue_report(
        self, message: NewNotification, *, schedule: str, at: dt.datetime,
        destination: str, rag: Mapping[str, str],
    ) -> int | None:  # fmt: skip
        """A scheduled report's message in the notification outbox and the report's
        record, in one commit; returns the message's id. None when its key (schedule and
        slot) is taken: another worker, or an earlier run, queued this slot's report."""
        row = outbox_row(message, at)
        try:
            with self._session(write=True) as session:
                session.add(row)
                session.flush()  # the slot's claim first: a second one fails here
                session.add(
                    ReportRow(
                        schedule=schedule[:128], sent_at=at,
                        destination=f"{destination}, notification {row.id}"[:1024],
                        rag=dict(rag),
                    )
                )  # fmt: skip
                session.flush()
                return int(row.id)
        except IntegrityError:
            return None

    def record_report(
        self, schedule: str, sent_at: dt.datetime, destination: str, rag: Mapping[str, str]
    ) -> None:
        with self._session(write=True) as session:
            session.add(
                ReportRow(
                    schedule=schedule[:128],
                    sent_at=sent_at,
                    destination=destination[:1024],
                    rag=dict(rag),
                )
            )
