"""The worker's hot statements run on the database driver directly.

For the short statements of a delivery (read an item and its ledger, store the item and
mark the delivery done) SQLAlchemy's per-execution work (cache keys, execution
contexts, result wrappers) cost several times what SQLite itself did: 119 us against
12 us for the read, measured on the same file. On SQLite each statement is compiled
once per store, with SQLAlchemy's own type processing for its parameters and columns,
and run on a pooled DBAPI connection, in a transaction begun as the engine begins its
own (BEGIN, or BEGIN IMMEDIATE after the write turn). On PostgreSQL, where a round
trip costs more than that bookkeeping, the statements run through SQLAlchemy as usual.
Both give rows that read by column name.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine


class CompiledSqlite(NamedTuple):
    """A statement compiled for SQLite: its SQL, parameter names in order, and the
    type processing of each parameter and each result column."""

    sql: str
    order: tuple[str, ...]
    fixed: tuple[Any, ...]  # the values of the statement's own literals (`+ 1`)
    binds: tuple[Callable[[Any], Any] | None, ...]
    columns: tuple[Callable[[Any], Any] | None, ...]
    row: type

    @classmethod
    def of(cls, statement: Any, engine: Engine, column_keys: list[str] | None = None) -> Any:
        dialect = engine.dialect
        compiled = statement.compile(dialect=dialect, column_keys=column_keys)
        order = tuple(compiled.positiontup or ())
        params = [compiled.binds[name] for name in order]
        fixed = tuple(None if p.required else p.effective_value for p in params)
        binds = tuple(p.type.dialect_impl(dialect).bind_processor(dialect) for p in params)
        shown = list(statement.exported_columns)  # selected, or RETURNING
        columns = tuple(c.type.dialect_impl(dialect).result_processor(dialect, None) for c in shown)
        row = namedtuple("Row", [c.key for c in shown] or ["_"], rename=True)  # type: ignore[misc]
        return cls(str(compiled), order, fixed, binds, columns, row)

    def parameters(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        out = []
        for name, literal, process in zip(self.order, self.fixed, self.binds, strict=True):
            value = values[name] if name in values else literal
            out.append(process(value) if process else value)
        return tuple(out)

    def read(self, raw: tuple[Any, ...]) -> Any:
        return self.row(
            *(process(v) if process else v for v, process in zip(raw, self.columns, strict=True))
        )


class Direct:
    """Runs prebuilt statements in one transaction (see the module docstring). Each is
    compiled at its first run and kept by identity: module-level statements, or ones a
    store builds once, never a statement built per call."""

    def __init__(self, cursor: Any, cache: dict[int, CompiledSqlite], engine: Engine) -> None:
        self._cursor, self._cache, self._engine = cursor, cache, engine

    def _compiled(self, statement: Any) -> CompiledSqlite:
        compiled = self._cache.get(id(statement))
        if compiled is None:
            compiled = self._cache[id(statement)] = CompiledSqlite.of(statement, self._engine)
        return compiled

    def rows(self, statement: Any, values: Mapping[str, Any]) -> list[Any]:
        compiled = self._compiled(statement)
        self._cursor.execute(compiled.sql, compiled.parameters(values))
        if self._cursor.description is None:
            return []
        return [compiled.read(raw) for raw in self._cursor.fetchall()]

    def first(self, statement: Any, values: Mapping[str, Any]) -> Any:
        found = self.rows(statement, values)
        return found[0] if found else None

    def many(self, statement: Any, batch: list[Mapping[str, Any]]) -> None:
        """One statement (no result rows) for each of `batch`."""
        compiled = self._compiled(statement)
        self._cursor.executemany(compiled.sql, [compiled.parameters(v) for v in batch])

    def changed(self, statement: Any, values: Mapping[str, Any]) -> int:
        """Rows an UPDATE or DELETE changed."""
        self.rows(statement, values)
        return int(self._cursor.rowcount)


class Through:
    """The same, through a SQLAlchemy connection (PostgreSQL)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def rows(self, statement: Any, values: Mapping[str, Any]) -> list[Any]:
        result = self._conn.execute(statement, dict(values))
        return list(result) if result.returns_rows else []

    def first(self, statement: Any, values: Mapping[str, Any]) -> Any:
        result = self._conn.execute(statement, dict(values))
        return result.first() if result.returns_rows else None

    def many(self, statement: Any, batch: list[Mapping[str, Any]]) -> None:
        self._conn.execute(statement, [dict(v) for v in batch])

    def changed(self, statement: Any, values: Mapping[str, Any]) -> int:
        return int(self._conn.execute(statement, dict(values)).rowcount)


@contextmanager
def sqlite_transaction(
    engine: Engine, cache: dict[int, CompiledSqlite], *, begin: str | None
) -> Iterator[Direct]:
    """A transaction on a pooled SQLite connection (autocommit at the driver: the
    engine's connect hook), committed when the block ends, rolled back on error. With
    no `begin`, each statement is its own transaction (reads that need no one snapshot:
    one statement, or rows that the item's lock keeps still between them)."""
    pooled = engine.raw_connection()
    try:
        driver = pooled.driver_connection
        cursor = driver.cursor()
        if begin is None:
            yield Direct(cursor, cache, engine)
            return
        cursor.execute(begin)
        try:
            yield Direct(cursor, cache, engine)
        except BaseException:
            if driver.in_transaction:
                driver.rollback()
            raise
        cursor.execute("COMMIT")
    finally:
        pooled.close()
