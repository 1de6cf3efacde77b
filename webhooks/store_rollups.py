"""Stored rollups of portfolio parents, and the group lookups that rollups and portfolio
rules read."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from connector.model import WorkItem
from rules.rollup import Rollup
from webhooks.store_engine import StoreBase
from webhooks.store_items import _live
from webhooks.store_models import FindingRow, ItemRow, RollupRow

_CHUNK = 500  # keys per IN (...) query: well inside every database's parameter limit


def _chunks(keys: Iterable[str]) -> Iterable[list[str]]:
    batch: list[str] = []
    for key in keys:
        batch.append(key)
        if len(batch) == _CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


RollupInputs = tuple[list[WorkItem], dict[str, Rollup], set[str], Rollup | None]


def _rollup_inputs(session: Session, parent_key: str) -> RollupInputs:
    open_finding = exists().where(
        FindingRow.item_key == ItemRow.key, FindingRow.resolved_at.is_(None)
    )
    query = (
        select(ItemRow.data, RollupRow.data, open_finding)
        .outerjoin(RollupRow, RollupRow.item_key == ItemRow.key)
        .where(ItemRow.parent_key == parent_key, _live())
        .order_by(ItemRow.key)
    )
    children: list[WorkItem] = []
    stored: dict[str, Rollup] = {}
    noncompliant: set[str] = set()
    for data, rollup, has_finding in session.execute(query):
        child = WorkItem.from_dict(data)
        children.append(child)
        if rollup is not None:
            stored[child.key] = Rollup.from_dict(rollup)
        if has_finding:
            noncompliant.add(child.key)
    own = session.scalar(select(RollupRow.data).where(RollupRow.item_key == parent_key))
    return children, stored, noncompliant, Rollup.from_dict(own) if own else None


class RollupStore(StoreBase):
    def get_rollup(self, item_key: str) -> Rollup | None:
        with self._session() as session:
            row = session.get(RollupRow, item_key)
            return Rollup.from_dict(row.data) if row is not None else None

    def get_rollups(self, keys: Iterable[str]) -> dict[str, Rollup]:
        found: dict[str, Rollup] = {}
        with self._session() as session:
            for batch in _chunks(keys):
                rows = session.scalars(select(RollupRow).where(RollupRow.item_key.in_(batch)))
                found.update({row.item_key: Rollup.from_dict(row.data) for row in rows})
        return found

    def rollup_inputs(self, parent_key: str) -> RollupInputs:
        """What a parent's rollup is computed from, read in one transaction: its live direct
        children (key order), their stored rollups, which of them have an open finding, and
        the parent's own stored rollup. One round trip per parent instead of four."""
        with self._session() as session:
            return _rollup_inputs(session, parent_key)

    def chain_inputs(
        self, key: str, wanted: Callable[[WorkItem], bool], max_depth: int = 10
    ) -> list[tuple[WorkItem, RollupInputs]]:
        """The ancestors of `key`, nearest first, each with its `rollup_inputs` when
        `wanted(ancestor)`, all read in one transaction (one child event's recompute)."""
        out: list[tuple[WorkItem, RollupInputs]] = []
        seen = {key}
        with self._session() as session:
            parent = session.scalar(select(ItemRow.parent_key).where(ItemRow.key == key))
            while parent and parent not in seen and len(out) < max_depth:
                seen.add(parent)
                data = session.scalar(select(ItemRow.data).where(ItemRow.key == parent, _live()))
                if not data:
                    break
                item = WorkItem.from_dict(data)
                if wanted(item):
                    out.append((item, _rollup_inputs(session, item.key)))
                parent = item.parent
        return out

    def save_rollup(self, item_key: str, rollup: Rollup) -> None:
        values = {
            "item_key": item_key,
            "content_hash": rollup.content_hash(),
            "data": rollup.to_dict(),
            "computed_at": self.now(),
        }
        stmt = self._insert(RollupRow).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[RollupRow.item_key],
            set_={name: stmt.excluded[name] for name in values if name != "item_key"},
        )
        with self._session(write=True) as session:
            session.execute(stmt)

    def save_rollups(self, rollups: Iterable[Rollup]) -> None:
        """Store several rollups in one transaction (a recomputed chain of ancestors)."""
        now = self.now()
        with self._session(write=True) as session:
            for rollup in rollups:
                values = {
                    "item_key": rollup.parent_key,
                    "content_hash": rollup.content_hash(),
                    "data": rollup.to_dict(),
                    "computed_at": now,
                }
                stmt = self._insert(RollupRow).values(**values)
                stmt = stmt.on_conflict_do_update(
                    index_elements=[RollupRow.item_key],
                    set_={name: stmt.excluded[name] for name in values if name != "item_key"},
                )
                session.execute(stmt)

    def keys_with_open_findings(self, keys: Iterable[str]) -> set[str]:
        """Which of `keys` have at least one open finding (non-compliant children)."""
        found: set[str] = set()
        with self._session() as session:
            for batch in _chunks(keys):
                query = (
                    select(FindingRow.item_key)
                    .where(FindingRow.item_key.in_(batch), FindingRow.resolved_at.is_(None))
                    .distinct()
                )
                found.update(session.scalars(query))
        return found

    def group_members(self, field: str, value: str) -> list[WorkItem]:
        """Live items of one `across:` group (see `rules.portfolio.group_key`)."""
        if field == "assignee":
            condition = ItemRow.assignee_name == value
        elif field == "project":
            tracker, _, project = value.partition(":")
            condition = (ItemRow.tracker == tracker) & (ItemRow.project == project)
        elif field == "parent":
            condition = ItemRow.parent_key == value
        elif field == "tracker":
            condition = ItemRow.tracker == value
        else:  # no column for it: filter in Python (reporter)
            from rules.portfolio import group_key

            return [
                item
                for item in self.iter_items()  # type: ignore[attr-defined]
                if group_key(field, item) == value
            ]
        query = select(ItemRow.data).where(condition, _live()).order_by(ItemRow.key)
        with self._session() as session:
            return [WorkItem.from_dict(d) for d in session.scalars(query)]

    def keys_with_open_finding(self, rule: str, keys: Iterable[str]) -> set[str]:
        """Which of `keys` have an open finding of `rule`."""
        found: set[str] = set()
        with self._session() as session:
            for batch in _chunks(keys):
                query = select(FindingRow.item_key).where(
                    FindingRow.item_key.in_(batch),
                    FindingRow.rule == rule,
                    FindingRow.resolved_at.is_(None),
                )
                found.update(session.scalars(query))
        return found
