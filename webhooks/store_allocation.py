"""The allocation rows of the store: each item's shares of work (`rules.allocation`),
replaced item by item, read back person by person."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import delete, insert, select

from rules.allocation import Share
from webhooks.store_engine import StoreBase
from webhooks.store_models import AllocationRow

READ_CHUNK = 500  # people per IN (...) query


def _share(row: AllocationRow) -> Share:
    return Share(row.item_key, row.person, row.week, row.unit, row.amount)


class AllocationStore(StoreBase):
    def replace_shares(self, item_key: str, shares: Iterable[Share]) -> set[str]:
        """The item's shares become `shares`; returns the people whose load changed
        (those it had work with before and those it has now)."""
        new = list(shares)
        with self._session(write=True) as session:
            before = set(
                session.scalars(
                    select(AllocationRow.person).where(AllocationRow.item_key == item_key)
                )
            )
            session.execute(delete(AllocationRow).where(AllocationRow.item_key == item_key))
            if new:
                session.execute(
                    insert(AllocationRow),
                    [
                        {"item_key": s.item, "person": s.person, "week": s.week,
                         "unit": s.unit, "amount": s.amount}
                        for s in new
                    ],
                )  # fmt: skip
        return before | {s.person for s in new}

    def shares_of(self, people: Iterable[str], since: dt.date | None = None) -> list[Share]:
        """The shares of these people, from the week of `since` on."""
        wanted = sorted(set(people))
        out: list[Share] = []
        with self._session() as session:
            for start in range(0, len(wanted), READ_CHUNK):
                query = select(AllocationRow).where(
                    AllocationRow.person.in_(wanted[start : start + READ_CHUNK])
                )
                if since is not None:
                    query = query.where(AllocationRow.week >= since)
                out.extend(_share(row) for row in session.scalars(query))
        return out

    def all_shares(self, since: dt.date | None = None) -> list[Share]:
        query = select(AllocationRow)
        if since is not None:
            query = query.where(AllocationRow.week >= since)
        with self._session() as session:
            return [_share(row) for row in session.scalars(query)]

    def forget_shares(self, before: dt.date) -> int:
        """Retention: shares of weeks before `before` are history nobody reads."""
        with self._session(write=True) as session:
            done = session.execute(delete(AllocationRow).where(AllocationRow.week < before))
        return done.rowcount
