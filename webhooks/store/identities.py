"""Tracker identities found by a user search (an Azure DevOps identity id, a Jira account),
kept so that a person is searched for once, not once per process or per escalation.
Retention (`identities_days`) forgets them, so a renamed or removed account is found
again."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, select

from webhooks.store.engine import StoreBase
from webhooks.store.models import TrackerIdentityRow


@dataclass(frozen=True)
class KnownIdentity:
    identity: str | None  # None: the search found nobody
    display_name: str | None
    looked_up_at: dt.datetime


class IdentityStore(StoreBase):
    def known_identity(self, tracker: str, query: str) -> KnownIdentity | None:
        query_key = query.casefold()[:255]
        with self._session() as session:
            row = session.get(TrackerIdentityRow, (tracker[:64], query_key))
            if row is None:
                return None
            return KnownIdentity(row.identity, row.display_name, row.looked_up_at)

    def remember_identity(
        self, tracker: str, query: str, identity: str | None, display_name: str | None,
        now: dt.datetime,
    ) -> None:  # fmt: skip
        values = {
            "tracker": tracker[:64], "query": query.casefold()[:255],
            "identity": identity[:255] if identity else None,
            "display_name": display_name[:255] if display_name else None, "looked_up_at": now,
        }  # fmt: skip
        stmt = self._insert(TrackerIdentityRow).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[TrackerIdentityRow.tracker, TrackerIdentityRow.query],
            set_={k: stmt.excluded[k] for k in ("identity", "display_name", "looked_up_at")},
        )
        with self._session(write=True) as session:
            session.execute(stmt)

    def forget_identities(self, before: dt.datetime) -> int:
        with self._session(write=True) as session:
            done = session.execute(
                delete(TrackerIdentityRow).where(TrackerIdentityRow.looked_up_at < before)
            )
            return int(done.rowcount)

    def identities(self, tracker: str) -> list[tuple[str, KnownIdentity]]:
        query = (
            select(TrackerIdentityRow)
            .where(TrackerIdentityRow.tracker == tracker)
            .order_by(TrackerIdentityRow.query)
            .limit(10_000)
        )
        with self._session() as session:
            return [
                (r.query, KnownIdentity(r.identity, r.display_name, r.looked_up_at))
                for r in session.scalars(query)
            ]
