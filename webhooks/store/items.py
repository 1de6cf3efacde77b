"""The mirrored WorkItems: latest revision wins, deletions leave a tombstone."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from collections.abc import Iterable, Iterator
from typing import Any

import orjson
from sqlalchemy import and_, bindparam, false, func, or_, select, update

from connector.model import WorkItem
from rules.portfolio import person_key
from rules.rollup import ChildFacts
from webhooks.store.deliveries import MARK_ATTEMPT, MARK_DELIVERY
from webhooks.store.engine import StoreBase
from webhooks.store.models import ItemRow

_IN_CHUNK = 500  # keys per IN (...) list, well under every backend's parameter limit
_ITEM_COLUMNS = (
    *("key", "tracker", "project", "type", "status_category", "parent_key", "assignee_id"),
    *("assignee_name", "revision", "deleted", "updated_at", "stored_at", "content_hash"),
    *("data", "rollup_facts"),
)


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def content_hash(data: dict[str, Any]) -> str:
    """A digest of the item's stored form (keys sorted), to tell a repeated revision."""
    try:
        canonical = orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # what orjson refuses (integers past 64 bits, ...)
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(canonical).hexdigest()


def _assignee_id(item: WorkItem) -> str | None:
    if item.assignee is None:
        return None
    return item.assignee.account_id or item.assignee.display_name


class ItemStore(StoreBase):
    def upsert_item(
        self, item: WorkItem, *, done_delivery: int | None = None, attempt: bool = False
    ) -> bool:
        """Store `item` unless the stored copy is newer, or the same revision with the same
        content (a stale or repeated event). True when the row was written. `done_delivery`:
        a delivery row marked done in the same commit (counting an attempt with `attempt`,
        when it was never marked "processing").

        One atomic INSERT .. ON CONFLICT DO UPDATE .. WHERE, so concurrent writers of the
        same key end with the highest revision whatever the order. The deleted flag is
        left alone: only `restore()` brings a deleted item back.
        """
        data = item.to_dict()
        values = {
            "key": item.key,
            "tracker": item.tracker,
            "project": item.project,
            "type": item.type.value,
            "status_category": item.status_category.value,
            "parent_key": item.parent,
            "assignee_id": _assignee_id(item),
            "assignee_name": person_key(item.assignee, self.people, item.tracker),
            "revision": item.revision,
            "deleted": False,
            "updated_at": _utc(item.updated),
            "stored_at": self.now(),
            "content_hash": content_hash(data),
            "data": data,
            "rollup_facts": ChildFacts.of(item).to_dict(),
        }
        with self._hot(write=True) as run:
            written = run.first(self._upsert_item, values) is not None
            if done_delivery is not None:  # the delivery's last step, in the same commit
                done = {"row_id": done_delivery, "status": "done", "error": None}
                mark = MARK_ATTEMPT if attempt else MARK_DELIVERY
                run.rows(mark, {**done, "updated_at": values["stored_at"]})
        return written

    @functools.cached_property
    def _upsert_item(self) -> Any:
        """The item upsert, built once per store (its dialect) with a parameter per column.
        One atomic INSERT .. ON CONFLICT DO UPDATE .. WHERE; RETURNING, not rowcount:
        drivers disagree on rowcount for INSERT .. ON CONFLICT."""
        stmt = self._insert(ItemRow).values({name: bindparam(name) for name in _ITEM_COLUMNS})
        new = stmt.excluded
        return stmt.on_conflict_do_update(
            index_elements=[ItemRow.key],
            set_={name: new[name] for name in _ITEM_COLUMNS if name not in ("key", "deleted")},
            where=or_(
                ItemRow.revision < new.revision,
                and_(
                    ItemRow.revision == new.revision,
                    ItemRow.content_hash.is_distinct_from(new.content_hash),
                ),
            ),
        ).returning(ItemRow.key)

    def get_item(self, key: str) -> WorkItem | None:
        """The stored item, or None when unknown or deleted."""
        with self._reading() as conn:
            data = conn.execute(GET_ITEM_DATA, {"key": key}).scalar()
        return WorkItem.from_dict(data) if data else None

    def get_items(self, keys: Iterable[str]) -> dict[str, WorkItem]:
        """Stored live items by key; unknown and deleted keys are absent."""
        wanted = list(dict.fromkeys(keys))
        out: dict[str, WorkItem] = {}
        with self._session() as session:
            for start in range(0, len(wanted), _IN_CHUNK):
                chunk = wanted[start : start + _IN_CHUNK]
                rows = session.scalars(
                    select(ItemRow.data).where(ItemRow.key.in_(chunk), live_items())
                )
                for data in rows:
                    out[data["key"]] = WorkItem.from_dict(data)
        return out

    def children(self, parent_key: str) -> list[WorkItem]:
        with self._session() as session:
            rows = session.scalars(
                select(ItemRow.data)
                .where(ItemRow.parent_key == parent_key, live_items())
                .order_by(ItemRow.key)
            )
            return [WorkItem.from_dict(data) for data in rows]

    def ancestors(self, key: str, max_depth: int = 10) -> list[WorkItem]:
        """Parent, grandparent, ... nearest first. Stops at an unknown or deleted item, at
        `max_depth`, and before any item already seen (parent cycles exist in the wild)."""
        found: list[WorkItem] = []
        seen = {key}
        with self._session() as session:
            parent = session.scalar(select(ItemRow.parent_key).where(ItemRow.key == key))
            while parent and parent not in seen and len(found) < max_depth:
                seen.add(parent)
                data = session.scalar(
                    select(ItemRow.data).where(ItemRow.key == parent, live_items())
                )
                if not data:
                    break
                item = WorkItem.from_dict(data)
                found.append(item)
                parent = item.parent
        return found

    def mark_deleted(self, key: str, revision: int | None = None) -> bool:
        """Mark an item deleted. An unknown key gets a tombstone, so a late-arriving older
        event cannot bring it back. Ignored (False) when already deleted, or when
        `revision` is older than the stored one (the item lived on after it)."""
        tracker = key.split(":", 1)[0]
        stmt = self._insert(ItemRow).values(
            key=key,
            tracker=tracker,
            project="",
            type="other",
            status_category="removed",
            revision=revision or 0,
            deleted=True,
            stored_at=self.now(),
        )
        condition = ItemRow.deleted == false()
        if revision is not None:
            condition = and_(condition, ItemRow.revision <= revision)
        stmt = stmt.on_conflict_do_update(
            index_elements=[ItemRow.key],
            set_={
                "deleted": True,
                "revision": func.max(ItemRow.revision, stmt.excluded.revision)
                if self.dialect == "sqlite"
                else func.greatest(ItemRow.revision, stmt.excluded.revision),
                "stored_at": stmt.excluded.stored_at,
            },
            where=condition,
        )
        with self._session(write=True) as session:
            return session.execute(stmt.returning(ItemRow.key)).first() is not None

    def restore(self, key: str) -> bool:
        """Undo `mark_deleted` (Azure DevOps restores from the recycle bin)."""
        with self._session(write=True) as session:
            result = session.execute(
                update(ItemRow)
                .where(ItemRow.key == key, ItemRow.deleted)
                .values(deleted=False, stored_at=self.now())
            )
            return result.rowcount > 0

    def iter_items(
        self,
        *,
        status_categories: Iterable[str] | None = None,
        tracker: str | None = None,
        batch: int = 1000,
    ) -> Iterator[WorkItem]:
        """Every live item in key order, one short transaction per batch, for sweeps."""
        categories = None if status_categories is None else [str(c) for c in status_categories]
        after = ""
        while True:
            query = select(ItemRow.key, ItemRow.data).where(ItemRow.key > after, live_items())
            if categories is not None:
                query = query.where(ItemRow.status_category.in_(categories))
            if tracker is not None:
                query = query.where(ItemRow.tracker == tracker)
            with self._session() as session:
                rows = session.execute(query.order_by(ItemRow.key).limit(batch)).all()
            for _key, data in rows:
                yield WorkItem.from_dict(data)
            if len(rows) < batch:
                return
            after = rows[-1][0]

    def items_by_assignee(
        self, assignee_id: str, *, status_categories: Iterable[str] | None = None
    ) -> list[WorkItem]:
        """Live items whose assignee account id (or display name without one) matches."""
        query = select(ItemRow.data).where(ItemRow.assignee_id == assignee_id, live_items())
        if status_categories is not None:
            query = query.where(ItemRow.status_category.in_([str(c) for c in status_categories]))
        with self._session() as session:
            return [WorkItem.from_dict(d) for d in session.scalars(query.order_by(ItemRow.key))]

    def assignee_counts(self, *, status_categories: Iterable[str] | None = None) -> dict[str, int]:
        """Live assigned items per assignee id, for portfolio rules such as WIP limits."""
        query = (
            select(ItemRow.assignee_id, func.count())
            .where(ItemRow.assignee_id.is_not(None), live_items())
            .group_by(ItemRow.assignee_id)
        )
        if status_categories is not None:
            query = query.where(ItemRow.status_category.in_([str(c) for c in status_categories]))
        with self._session() as session:
            return {str(who): int(n) for who, n in session.execute(query)}

    def count_items(self, *, include_deleted: bool = False) -> int:
        query = select(func.count()).select_from(ItemRow)
        if not include_deleted:
            query = query.where(live_items())
        with self._session() as session:
            return int(session.scalar(query) or 0)


def live_items() -> Any:
    return and_(ItemRow.deleted == false(), ItemRow.data.is_not(None))


GET_ITEM_DATA = select(ItemRow.data).where(ItemRow.key == bindparam("key"), live_items())
