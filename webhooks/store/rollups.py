"""Stored rollups of portfolio parents, and the group lookups that rollups and portfolio
rules read."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Connection, Select, bindparam, case, exists, literal_column, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased

from connector.model import WorkItem
from rules.portfolio import group_key
from rules.rollup import ChildFacts, Rollup
from webhooks.store.engine import StoreBase
from webhooks.store.items import live_items
from webhooks.store.models import FindingRow, ItemRow, RollupRow

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


RollupInputs = tuple[list[ChildFacts], dict[str, Rollup], set[str], Rollup | None]
ChildInputs = tuple[list[ChildFacts], dict[str, Rollup], set[str]]

_MAX_HOPS = 64  # bounds the SQL climb through a parent cycle; Python cuts it at the repeat


def _ancestors_query() -> Select:
    """Each ancestor of :key with its stored rollup, nearest first, numbered by hops."""
    first = select(ItemRow.parent_key.label("key"), literal_column("1").label("hops")).where(
        ItemRow.key == bindparam("key"), ItemRow.parent_key.is_not(None)
    )
    chain = first.cte("chain", recursive=True)
    above = aliased(ItemRow)
    chain = chain.union_all(
        select(above.parent_key, chain.c.hops + 1)
        .join_from(chain, above, above.key == chain.c.key)
        .where(above.parent_key.is_not(None), chain.c.hops < _MAX_HOPS)
    )
    return (
        select(chain.c.hops, ItemRow.data, RollupRow.data)
        .join_from(chain, ItemRow, ItemRow.key == chain.c.key)
        .outerjoin(RollupRow, RollupRow.item_key == ItemRow.key)
        .where(live_items())
        .order_by(chain.c.hops)
    )


def _children_query() -> Select:
    """The live children of the :parents, with what their parent's rollup reads: their
    facts (the whole item only for a row written without facts), their stored rollup,
    and whether they have an open finding."""
    open_finding = exists().where(
        FindingRow.item_key == ItemRow.key, FindingRow.resolved_at.is_(None)
    )
    # a lookup per child, not a join: PostgreSQL would hash the whole rollups table
    stored_rollup = select(RollupRow.data).where(RollupRow.item_key == ItemRow.key)
    return (
        select(
            ItemRow.parent_key,
            ItemRow.key,
            ItemRow.rollup_facts,
            case((ItemRow.rollup_facts.is_(None), ItemRow.data)),
            stored_rollup.scalar_subquery(),
            open_finding,
        )
        .where(ItemRow.parent_key.in_(bindparam("parents", expanding=True)), live_items())
        .order_by(ItemRow.parent_key, ItemRow.key)
    )


# Built once: SQLAlchemy then finds their compiled SQL in its cache on every call.
_ANCESTORS = _ancestors_query()
_CHILDREN = _children_query()
_OWN_ROLLUP = select(RollupRow.data).where(RollupRow.item_key == bindparam("key"))


def _children_inputs(conn: Connection, parents: list[str]) -> dict[str, ChildInputs]:
    """Per parent key: its live children's facts (key order), their stored rollups, and
    which of them have an open finding."""
    out: dict[str, ChildInputs] = {key: ([], {}, set()) for key in parents}
    for parent_key, key, facts, data, rollup, has_finding in conn.execute(
        _CHILDREN, {"parents": parents}
    ).all():
        children, stored, noncompliant = out[parent_key]
        children.append(ChildFacts.from_dict(key, facts if facts is not None else data))
        if rollup is not None:
            stored[key] = Rollup.from_dict(rollup)
        if has_finding:
            noncompliant.add(key)
    return out


@functools.cache
def _rollup_upsert(dialect: str) -> Any:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(RollupRow.__table__)
    return stmt.on_conflict_do_update(
        index_elements=[RollupRow.item_key],
        set_={name: stmt.excluded[name] for name in ("content_hash", "data", "computed_at")},
    )


_GET_ROLLUP = select(RollupRow.data).where(RollupRow.item_key == bindparam("item_key"))


class RollupStore(StoreBase):
    def get_rollup(self, item_key: str) -> Rollup | None:
        with self._hot() as run:
            row = run.first(_GET_ROLLUP, {"item_key": item_key})
        return Rollup.from_dict(row[0]) if row is not None and row[0] is not None else None

    def get_rollups(self, keys: Iterable[str]) -> dict[str, Rollup]:
        found: dict[str, Rollup] = {}
        with self._session() as session:
            for batch in _chunks(keys):
                rows = session.scalars(select(RollupRow).where(RollupRow.item_key.in_(batch)))
                found.update({row.item_key: Rollup.from_dict(row.data) for row in rows})
        return found

    def rollup_inputs(self, parent_key: str) -> RollupInputs:
        """What a parent's rollup is computed from: its live direct children's rollup facts
        (key order), their stored rollups, which of them have an open finding, and the
        parent's own stored rollup. Two queries on one connection (`_reading`)."""
        with self._reading() as conn:
            inputs = _children_inputs(conn, [parent_key])[parent_key]
            own = conn.execute(_OWN_ROLLUP, {"key": parent_key}).scalar()
        return (*inputs, Rollup.from_dict(own) if own else None)

    def chain_inputs(
        self, key: str, wanted: Callable[[WorkItem], bool], max_depth: int = 10
    ) -> list[tuple[WorkItem, RollupInputs]]:
        """The ancestors of `key`, nearest first, each with its `rollup_inputs` when
        `wanted(ancestor)`, in two queries on one connection (one child event's
        recompute): the ancestors, then the children of all the wanted ones. The climb
        stops at an unknown or deleted ancestor, before a repeated one (parent cycles),
        and at `max_depth` wanted ones."""
        found: list[tuple[WorkItem, Rollup | None]] = []
        seen = {key}
        with self._reading() as conn:
            for expected, (hops, data, own) in enumerate(
                conn.execute(_ANCESTORS, {"key": key}).all(), start=1
            ):
                # a gap in the hops: the ancestor before this one is unknown or deleted
                if hops != expected or len(found) >= max_depth:
                    break
                item = WorkItem.from_dict(data)
                if item.key in seen:
                    break
                seen.add(item.key)
                if wanted(item):
                    found.append((item, Rollup.from_dict(own) if own else None))
            children = _children_inputs(conn, [item.key for item, _ in found]) if found else {}
        return [(item, (*children[item.key], own)) for item, own in found]

    def save_rollup(self, item_key: str, rollup: Rollup) -> None:
        self._write_rollups([(item_key, rollup)])

    def save_rollups(self, rollups: Iterable[Rollup]) -> None:
        """Store several rollups in one transaction (a recomputed chain of ancestors)."""
        self._write_rollups([(rollup.parent_key, rollup) for rollup in rollups])

    def _write_rollups(self, rollups: list[tuple[str, Rollup]]) -> None:
        if not rollups:
            return
        now = self.now()
        rows = [
            {
                "item_key": key,
                "content_hash": rollup.content_hash(),
                "data": rollup.to_dict(),
                "computed_at": now,
            }
            for key, rollup in rollups
        ]
        with self._writing(), self._write_engine.begin() as conn:
            conn.execute(_rollup_upsert(self.dialect), rows)

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
            return [
                item
                for item in self.iter_items()  # type: ignore[attr-defined]
                if group_key(field, item, self.people) == value
            ]
        query = select(ItemRow.data).where(condition, live_items()).order_by(ItemRow.key)
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
