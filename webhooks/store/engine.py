"""Engine, transactions and schema migration for the store.

SQLite (the default) runs in WAL mode with a busy timeout so a web process and a worker
process can share one file; SQLAlchemy, not the sqlite3 module, emits BEGIN, and writing
transactions use BEGIN IMMEDIATE so two writers queue on the lock instead of failing
with "database is locked" when a read turns into a write, and take a `WriteTurn` first
(a thread lock plus flock(2) of `<database>-writelock`) so waiting writers are woken at
once instead of polling. PostgreSQL runs as is.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import functools
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, Table, create_engine, event, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError, SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from config.people import Directory
from webhooks.store.direct import CompiledSqlite, Direct, Through, sqlite_transaction
from webhooks.store.jsoncodec import decode_json, encode_json

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "pmo_bridge_version"  # keep in step with migrations/env.py
SQLITE_BUSY_SECONDS = 30
SQLITE_MMAP_BYTES = 1 << 30  # address space only; the OS pages in what is read
# pg_advisory_lock key for schema upgrades: any fixed bigint, the same in every process
MIGRATION_LOCK_KEY = 0x706D6F2D6272  # "pmo-br"

_BEGIN_OPTION = "pmo_sqlite_begin"


def normalise_url(url: str) -> str:
    """Accept the plain `postgresql://` / `postgres://` forms for the psycopg 3 driver."""
    for plain in ("postgres://", "postgresql://"):
        if url.startswith(plain):
            return "postgresql+psycopg://" + url[len(plain) :]
    return url


def make_engine(url: str) -> Engine:
    sa_url = make_url(normalise_url(url))
    backend = sa_url.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(sa_url)
    if backend == "postgresql":
        return _postgres_engine(sa_url)
    raise ValueError(
        f"unsupported database URL {sa_url.render_as_string()!r}: use sqlite or postgresql"
    )


# A pooled PostgreSQL connection unused this long is pinged when checked out; one in
# steady use is not (a ping per checkout was a quarter of a busy worker's round trips).
# A connection the server closed while in steady use fails its first statement; the
# pool then drops it and every caller retries (the worker's retry policy, the
# trackers' redelivery of a webhook answered 5xx).
PING_IDLE_SECONDS = 1.0


def _postgres_engine(sa_url: Any) -> Engine:
    engine = create_engine(
        sa_url,
        connect_args={"connect_timeout": 5},
        json_serializer=encode_json,
        json_deserializer=decode_json,
    )

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is not None and time.monotonic() - since < PING_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:  # the pool drops it and checks out another
            raise DisconnectionError(str(exc)[:200]) from exc

    return engine


def _sqlite_engine(sa_url: Any) -> Engine:
    in_memory = sa_url.database in (None, "", ":memory:")
    engine = create_engine(
        sa_url,
        json_serializer=encode_json,
        json_deserializer=decode_json,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_SECONDS},
        poolclass=StaticPool if in_memory else None,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves, see below
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_SECONDS * 1000}")
        if not in_memory:
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")  # durable enough under WAL
            # Pages read through a mapping, not copied by read(2): each write by another
            # connection drops this one's page cache, and it is read again.
            cursor.execute(f"PRAGMA mmap_size = {SQLITE_MMAP_BYTES}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(conn.get_execution_options().get(_BEGIN_OPTION, "BEGIN"))

    return engine


def _write_turn_for(engine: Engine) -> WriteTurn:
    database = engine.url.database
    on_disk = database not in (None, "", ":memory:") and not database.startswith("file:")
    return WriteTurn(f"{database}-writelock" if on_disk else None)


class WriteTurn:
    """Whose turn it is to write an SQLite file. SQLite has one writer at a time, and a
    writer that finds it busy polls with sleeps of 1 to 100 ms, which made intake's tail
    latency. Here threads queue on a lock and processes on flock(2) of a file next to
    the database, and both hand over at once. Writers that do not use it (another tool)
    still meet SQLite's own locking, so this only decides who goes first."""

    def __init__(self, lock_path: str | None) -> None:
        self._path = lock_path
        self._lock = threading.RLock()
        self._depth = 0
        self._fd: int | None = None
        self._pid = 0

    # A plain context manager, not a generator: intake takes a turn on every request.
    def __enter__(self) -> WriteTurn:
        self._lock.acquire()
        self._depth += 1
        if self._depth == 1:
            try:
                self._flock(fcntl.LOCK_EX)
            except BaseException:
                self._depth -= 1
                self._lock.release()
                raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self._depth == 1:
                self._flock(fcntl.LOCK_UN)
        finally:
            self._depth -= 1
            self._lock.release()

    def _flock(self, operation: int) -> None:
        if self._path is None:
            return
        try:
            if self._pid != os.getpid():  # a forked child must not share its parent's lock
                if self._fd is not None:
                    os.close(self._fd)
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
                self._pid = os.getpid()
            fcntl.flock(self._fd, operation)
        except OSError as exc:  # e.g. a filesystem without flock: SQLite's locking remains
            log.warning("store.write_turn.unavailable", extra={"error": str(exc)})
            self._path = None


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """flock(2) of `<database>-migratelock` for an SQLite file; nothing otherwise (an
    in-memory database has one process, PostgreSQL takes an advisory lock)."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or database in (None, "", ":memory:"):
        yield
        return
    if database.startswith("file:"):
        yield
        return
    fd = os.open(f"{database}-migratelock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


class StoreBase:
    """Connection handling shared by the parts of `webhooks.store.Store`."""

    # who each account belongs to (the people file), for the assignee group column;
    # the runtime sets it, None groups people by display name
    people: Directory | None = None

    def __init__(self, url: str, *, clock: Callable[[], dt.datetime] | None = None) -> None:
        self.url = normalise_url(url)
        self._engine = make_engine(self.url)
        self.dialect = self._engine.dialect.name
        self._write_engine = self._engine.execution_options(**{_BEGIN_OPTION: "BEGIN IMMEDIATE"})
        self._write_turn = _write_turn_for(self._engine) if self.dialect == "sqlite" else None
        # PostgreSQL's READ COMMITTED gives each statement its own snapshot even inside a
        # transaction, so short reads skip BEGIN and ROLLBACK (two round trips)
        self._read_engine = (
            self._engine.execution_options(isolation_level="AUTOCOMMIT")
            if self.dialect == "postgresql"
            else self._engine
        )
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._engine.url.render_as_string()!r})"

    def now(self) -> dt.datetime:
        return self._clock()

    @contextmanager
    def _session(self, *, write: bool = False) -> Iterator[Session]:
        """One short transaction; commits on success, rolls back on error."""
        if write:
            with self._writing(), Session(self._write_engine, expire_on_commit=False) as session:
                with session.begin():
                    yield session
            return
        with Session(self._engine, expire_on_commit=False) as session, session.begin():
            yield session

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        """A connection for a few read-only statements: one transaction on SQLite (one
        snapshot), autocommit on PostgreSQL (see `_read_engine`)."""
        with self._read_engine.connect() as conn:
            yield conn

    @contextmanager
    def _hot(self, *, write: bool = False) -> Iterator[Direct | Through]:
        """The worker's prebuilt statements, on the driver directly on SQLite
        (`webhooks.store.direct`): a write is one transaction and takes the write turn;
        a read runs each statement on its own, as PostgreSQL's autocommit reads do (the
        worker reads an item and its ledger under the item's lock, so no one writes
        them between its statements)."""
        if self.dialect == "sqlite":
            begin = "BEGIN IMMEDIATE" if write else None
            with self._writing() if write else nullcontext():
                with sqlite_transaction(self._engine, self._compiled, begin=begin) as run:
                    yield run
            return
        if write:
            with self._write_engine.begin() as conn:
                yield Through(conn)
            return
        with self._read_engine.connect() as conn:
            yield Through(conn)

    @functools.cached_property
    def _compiled(self) -> dict[int, CompiledSqlite]:
        return {}

    def _writing(self) -> AbstractContextManager[Any]:
        """The SQLite write turn, see `WriteTurn` (nothing to wait for on PostgreSQL)."""
        return self._write_turn if self._write_turn is not None else nullcontext()

    def _insert(self, table: Any) -> Any:
        """The dialect's INSERT, which has `on_conflict_do_update` on both backends."""
        target = table.__table__ if not isinstance(table, Table) else table
        return (postgresql.insert if self.dialect == "postgresql" else sqlite.insert)(target)

    def close(self) -> None:
        self._engine.dispose()

    def ping(self) -> bool:
        """True when the database answers a trivial query."""
        try:
            with self._engine.connect() as conn:
                conn.execute(select(1))
            return True
        except SQLAlchemyError as exc:
            log.warning("store.ping.failed", extra={"error": type(exc).__name__})
            return False

    def schema_revision(self) -> str | None:
        """The applied Alembic revision, or None before `migrate()`."""
        with self._engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
            return ctx.get_current_revision()

    def migrate(self) -> None:
        """Upgrade the schema to the newest revision. Idempotent, and safe when several
        processes start at once: PostgreSQL serialises them on an advisory lock, SQLite on
        flock(2) of `<database>-migratelock` held for the whole upgrade (and the write
        lock BEGIN IMMEDIATE takes), so a second process finds the schema made."""
        config = AlembicConfig()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        postgres = self.dialect == "postgresql"
        with _migration_lock(self._engine), self._write_engine.connect() as conn:
            if postgres:
                conn.execute(select(func.pg_advisory_lock(MIGRATION_LOCK_KEY)))
                conn.commit()
            try:
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
                conn.commit()
            finally:
                if postgres:
                    conn.rollback()
                    conn.execute(select(func.pg_advisory_unlock(MIGRATION_LOCK_KEY)))
                    conn.commit()
        log.info("store.migrated", extra={"dialect": self.dialect})
