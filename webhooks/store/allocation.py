"""The allocation rows of the store: each item's shares of work (`rules.allocation`),
replaced item by item, read back person by person."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update

from connector.model import Person
from rules.allocation import Share
from rules.portfolio import person_key
from webhooks.store.engine import StoreBase
from webhooks.store.models import AllocationRow, ItemRow

READ_CHUNK = 500  # people per IN (...) query


def _assignee(value: Any) -> Person | None:
    if isinstance(value, dict) and value.get("display_name") is not None:
        return Person(value["display_name"], value.get("account_id"))
    return Person(value) if isinstance(value, str) else None


_COLUMNS = (
    AllocationRow.item_key,
    AllocationRow.person,
    AllocationRow.week,
    AllocationRow.unit,
    AllocationRow.amount,
)


_SHARES_OF_ITEM = select(*_COLUMNS).where(AllocationRow.item_key == bindparam("item_key"))
_DELETE_SHARES_OF_ITEM = delete(AllocationRow).where(
    AllocationRow.item_key == bindparam("item_key")
)
_INSERT_SHARE = insert(AllocationRow).values(
    {name: bindparam(name) for name in ("item_key", "person", "week", "unit", "amount")}
)


def _share_values(share: Share) -> dict[str, Any]:
    return {"item_key": share.item, "person": share.person, "week": share.week,
            "unit": share.unit, "amount": share.amount}  # fmt: skip


def _share(row: Any) -> Share:
    return Share(*row)


class AllocationStore(StoreBase):
    def replace_shares(self, item_key: str, shares: Iterable[Share]) -> set[str]:
        """The item's shares become `shares`; returns the people whose load changed
        (those it had work with before and those it has now). Read first: shares as
        stored already (most events move no one's load) take no write turn."""
        new = list(shares)
        with self._hot() as run:
            stored = [_share(row) for row in run.rows(_SHARES_OF_ITEM, {"item_key": item_key})]
        if Counter(stored) == Counter(new):
            return set()
        before = {s.person for s in stored}
        with self._hot(write=True) as run:
            run.rows(_DELETE_SHARES_OF_ITEM, {"item_key": item_key})
            if new:
                run.many(_INSERT_SHARE, [_share_values(s) for s in new])
        return before | {s.person for s in new}

    def replace_shares_of(self, changes: Mapping[str, Iterable[Share]], batch: int = 500) -> None:
        """`replace_shares` for many items (item key -> its shares now), `batch` items a
        transaction: what a sweep found moved."""
        keys = list(changes)
        for start in range(0, len(keys), batch):
            chunk = keys[start : start + batch]
            rows = [
                {"item_key": s.item, "person": s.person, "week": s.week, "unit": s.unit,
                 "amount": s.amount}
                for key in chunk
                for s in changes[key]
            ]  # fmt: skip
            with self._session(write=True) as session:
                session.execute(delete(AllocationRow).where(AllocationRow.item_key.in_(chunk)))
                if rows:
                    session.execute(insert(AllocationRow), rows)

    def add_shares(self, shares: Iterable[Share], batch: int = 5000) -> int:
        """Insert shares of items that have none yet (a first build), in batches."""
        rows = [
            {"item_key": s.item, "person": s.person, "week": s.week, "unit": s.unit,
             "amount": s.amount}
            for s in shares
        ]  # fmt: skip
        for start in range(0, len(rows), batch):
            with self._session(write=True) as session:
                session.execute(insert(AllocationRow), rows[start : start + batch])
        return len(rows)

    def shares_of(self, people: Iterable[str], since: dt.date | None = None) -> list[Share]:
        """The shares of these people, from the week of `since` on."""
        wanted = sorted(set(people))
        out: list[Share] = []
        with self._session() as session:
            for start in range(0, len(wanted), READ_CHUNK):
                query = select(*_COLUMNS).where(
                    AllocationRow.person.in_(wanted[start : start + READ_CHUNK])
                )
                if since is not None:
                    query = query.where(AllocationRow.week >= since)
                out.extend(_share(row) for row in session.execute(query))
        return out

    def all_shares(self, since: dt.date | None = None) -> list[Share]:
        query = select(*_COLUMNS)
        if since is not None:
            query = query.where(AllocationRow.week >= since)
        with self._session() as session:
            return [_share(row) for row in session.execute(query)]

    def regroup_people(self, batch: int = 1000) -> int:
        """The assignee group column of every item follows the current people file (a
        mapping added since the item's last event). Returns how many rows changed."""
        changed, after = 0, ""
        while True:
            query = (
                select(ItemRow.key, ItemRow.assignee_name, ItemRow.data)
                .where(ItemRow.key > after, ItemRow.data.is_not(None))
                .order_by(ItemRow.key)
                .limit(batch)
            )
            with self._session() as session:
                rows = session.execute(query).all()
            moved = {}
            for key, current, data in rows:
                tracker = key.split(":", 1)[0]
                wanted = person_key(_assignee(data.get("assignee")), self.people, tracker)
                if wanted != current:
                    moved[key] = wanted
            if moved:
                with self._session(write=True) as session:
                    for key, wanted in moved.items():
                        session.execute(
                            update(ItemRow).where(ItemRow.key == key).values(assignee_name=wanted)
                        )
                changed += len(moved)
            if len(rows) < batch:
                return changed
            after = rows[-1][0]

    def forget_shares(self, before: dt.date) -> int:
        """Retention: shares of weeks before `before` are history nobody reads."""
        with self._session(write=True) as session:
            done = session.execute(delete(AllocationRow).where(AllocationRow.week < before))
        return done.rowcount
