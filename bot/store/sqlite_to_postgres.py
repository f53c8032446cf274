"""Copy a SQLite store into a PostgreSQL store of the same schema version, resumably.

Every table the migrations created is copied with its primary keys, parents before children (the SQLite
foreign keys). The copy runs in two passes inside one read transaction on the SQLite file (a consistent
snapshot even if something writes it):

1. *verify*: every row already in PostgreSQL must equal the SQLite row with the same primary key; anything
   else (a row not in the file, or a different one) means the target holds other data, and nothing is
   written. Rows a previous, interrupted copy left are equal, so a rerun goes on.
2. *copy*: the file's rows in batches, each batch one transaction ``INSERT ... ON CONFLICT DO NOTHING``:
   a row already there is counted, not written, so a second run copies nothing. A table whose skipped
   rows outnumber those checked in pass 1 had rows written by someone else meanwhile: refused, not hidden.

Then each table's sequence (``serial``/identity columns) is moved past the largest copied id, or past
SQLite's AUTOINCREMENT counter where that is higher (ids of deleted rows are never reused,
https://www.sqlite.org/autoinc.html).

Values pass as stored: both schemas keep the same columns in the same types (0/1 integers for booleans,
Unix seconds as double precision, JSON as text, blobs as ``bytea``), so a row read back from PostgreSQL
equals the SQLite row as Python values.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from bot.store.migrations import migrations

SQLITE_BOOKKEEPING = ("_sqlite_migrations",)
"""SQLite tables that are not the bot's data (``sqlite_*`` internal tables are skipped too)."""

Progress = Callable[[str, int, int], None]
"""``progress(table, rows_done, rows_in_table)`` after each batch."""
Row = tuple[Any, ...]


class CopyRefusedError(Exception):
    """The copy cannot start: the one-line message says why (schema version, other data in the target)."""


@dataclass(frozen=True)
class TableCopy:
    """One table's outcome: rows in the SQLite file, copied now, already in PostgreSQL before."""

    table: str
    rows: int
    copied: int
    already_there: int


@dataclass(frozen=True)
class _Table:
    name: str
    columns: tuple[str, ...]
    key: tuple[str, ...]


def applied_migrations(source: sqlite3.Connection) -> list[str]:
    """Names of the migrations applied to the SQLite file, in order; empty if it has none."""
    found = source.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlite_migrations'"
    ).fetchone()
    if found is None:
        return []
    rows = source.execute(
        "SELECT name FROM _sqlite_migrations WHERE migration_set = ? ORDER BY id", (migrations.name,)
    )
    return [name for (name,) in rows]


def check_schema(applied: Sequence[str], expected: Sequence[str], holder: str = "the file") -> None:
    """Refuse a database whose applied migrations are not exactly ``expected`` (the code's, in order);
    ``holder`` names it in the message."""
    if not applied:
        raise CopyRefusedError(f"{holder} is not a minerwatch database (no schema migrations recorded)")
    unknown = [name for name in applied if name not in expected]
    if unknown:
        raise CopyRefusedError(
            f"{holder}'s schema is newer than this minerwatch ({unknown[-1]}; this version knows up to "
            f"{expected[-1]}): upgrade minerwatch, then migrate"
        )
    if list(applied) != list(expected):
        raise CopyRefusedError(
            f"{holder}'s schema is older than this minerwatch ({applied[-1]}; this version is at "
            f"{expected[-1]}): upgrade it first by opening it with this version, e.g. "
            "`minerwatch db prune --dry-run --db FILE` (changes no row)"
        )


def copy_database(
    source: sqlite3.Connection,
    target: psycopg.Connection[Any],
    *,
    batch_rows: int = 1000,
    progress: Progress | None = None,
) -> list[TableCopy]:
    """Copy every table of ``source`` into ``target`` (already migrated to the same schema); returns the
    counts per table in copy order. Raises ``CopyRefusedError`` before writing when the target differs, and
    after a table whose rows were not all written because something else wrote the target meanwhile."""
    source.execute("BEGIN")  # one snapshot of the file for both passes
    try:
        tables = [_describe(source, target, name) for name in _tables_in_copy_order(source)]
        there = [_verify(source, target, table, batch_rows) for table in tables]
        results = [
            _copy(source, target, table, batch_rows, progress, already)
            for table, already in zip(tables, there, strict=True)
        ]
        for table in tables:
            _advance_sequences(source, target, table)
        target.commit()
    finally:
        source.execute("ROLLBACK")
    return results


def _tables_in_copy_order(source: sqlite3.Connection) -> list[str]:
    """The data tables, each after the tables its foreign keys point at."""
    names = [
        name
        for (name,) in source.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
        if name not in SQLITE_BOOKKEEPING
    ]
    parents = {
        name: {row[2] for row in source.execute(f'PRAGMA foreign_key_list("{name}")')} - {name}
        for name in names
    }
    ordered: list[str] = []
    while len(ordered) < len(names):
        ready = [name for name in names if name not in ordered and parents[name] <= set(ordered)]
        if not ready:
            raise CopyRefusedError(f"foreign keys form a cycle among {sorted(set(names) - set(ordered))}")
        ordered += ready
    return ordered


def _describe(source: sqlite3.Connection, target: psycopg.Connection[Any], name: str) -> _Table:
    info = source.execute(f'PRAGMA table_info("{name}")').fetchall()  # cid, name, type, notnull, dflt, pk
    columns = tuple(row[1] for row in info)
    key = tuple(row[1] for row in sorted((row for row in info if row[5]), key=lambda row: row[5]))
    found = {
        column
        for (column,) in target.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = %s",
            (name,),
        )
    }
    if not found:
        raise CopyRefusedError(f"table {name} is missing in PostgreSQL (a schema this version did not make)")
    missing = [column for column in columns if column not in found]
    if missing:
        raise CopyRefusedError(f"table {name} in PostgreSQL lacks the column(s) {', '.join(missing)}")
    if not key:
        raise CopyRefusedError(f"table {name} has no primary key: cannot copy it resumably")
    return _Table(name, columns, key)


def _key_text(table: _Table, row: Row) -> str:
    return ", ".join(f"{column}={row[table.columns.index(column)]!r}" for column in table.key)


def _source_rows_by_key(source: sqlite3.Connection, table: _Table, keys: Sequence[Row]) -> dict[Row, Row]:
    """The file's rows with these primary keys, by key; asked in groups within SQLite's variable limit
    (32,766 by default, lower in some builds: https://www.sqlite.org/limits.html#max_variable_number)."""
    columns = ", ".join(f'"{c}"' for c in table.columns)
    key = ", ".join(f'"{c}"' for c in table.key)
    positions = [table.columns.index(c) for c in table.key]
    group = max(1, source.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // len(table.key))
    found: dict[Row, Row] = {}
    for start in range(0, len(keys), group):
        part = keys[start : start + group]
        values = ", ".join(["(" + ", ".join("?" * len(table.key)) + ")"] * len(part))
        query = f'SELECT {columns} FROM "{table.name}" WHERE ({key}) IN (VALUES {values})'
        rows = source.execute(query, [value for each in part for value in each]).fetchall()
        found |= {tuple(row[p] for p in positions): row for row in rows}
    return found


def _verify(
    source: sqlite3.Connection, target: psycopg.Connection[Any], table: _Table, batch_rows: int
) -> int:
    """How many rows ``target`` holds already; raises ``CopyRefusedError`` unless each equals the file's."""
    columns = sql.SQL(", ").join(sql.Identifier(c) for c in table.columns)
    query = sql.SQL("SELECT {} FROM {}").format(columns, sql.Identifier(table.name))
    positions = [table.columns.index(c) for c in table.key]
    seen = 0
    # A server-side cursor: the table is never all in memory.
    with target.cursor(name=f"verify_{table.name}") as cursor:
        cursor.itersize = batch_rows
        cursor.execute(query)
        while batch := cursor.fetchmany(batch_rows):
            seen += len(batch)
            keys = [tuple(row[p] for p in positions) for row in batch]
            found = _source_rows_by_key(source, table, keys)
            for key, row in zip(keys, batch, strict=True):
                mine = found.get(key)
                if mine != row:
                    what = "is not in the SQLite file" if mine is None else "differs from the SQLite file"
                    raise CopyRefusedError(
                        f"PostgreSQL already holds other data: {table.name} row {_key_text(table, row)} "
                        f"{what}; migrate into an empty database"
                    )
    target.rollback()  # end the read transaction the named cursor needed
    return seen


def _batches(source: sqlite3.Connection, table: _Table, batch_rows: int) -> Iterator[list[Row]]:
    columns = ", ".join(f'"{c}"' for c in table.columns)
    key = ", ".join(f'"{c}"' for c in table.key)
    cursor = source.execute(f'SELECT {columns} FROM "{table.name}" ORDER BY {key}')
    while batch := cursor.fetchmany(batch_rows):
        yield batch


def _copy(
    source: sqlite3.Connection,
    target: psycopg.Connection[Any],
    table: _Table,
    batch_rows: int,
    progress: Progress | None,
    already: int,
) -> TableCopy:
    """Insert the file's rows; ``already`` rows were there (checked equal), so every other row must be
    written: one skipped means another writer took its key (a unique column) after the check."""
    total = int(source.execute(f'SELECT COUNT(*) FROM "{table.name}"').fetchone()[0])
    statement = sql.SQL(
        "INSERT INTO {} ({}) OVERRIDING SYSTEM VALUE VALUES ({}) ON CONFLICT DO NOTHING"
    ).format(
        sql.Identifier(table.name),
        sql.SQL(", ").join(sql.Identifier(c) for c in table.columns),
        sql.SQL(", ").join(sql.Placeholder() * len(table.columns)),
    )
    done = copied = 0
    if progress is not None:
        progress(table.name, 0, total)
    for batch in _batches(source, table, batch_rows):
        with target.transaction(), target.cursor() as cursor:
            cursor.executemany(statement, batch)
            copied += max(cursor.rowcount, 0)
        done += len(batch)
        if progress is not None:
            progress(table.name, done, total)
    if done - copied != already:
        raise CopyRefusedError(
            f"PostgreSQL changed during the copy: {done - copied - already} row(s) of {table.name} were not "
            "written, other rows took their keys; is a bot running on it? Stop it and migrate into an "
            "empty database"
        )
    return TableCopy(table.name, total, copied, done - copied)


def _advance_sequences(source: sqlite3.Connection, target: psycopg.Connection[Any], table: _Table) -> None:
    """Move each sequence of ``table`` past its largest id and SQLite's AUTOINCREMENT counter."""
    counter = None
    has_counter = source.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'"
    ).fetchone()
    if has_counter:
        found = source.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (table.name,)).fetchone()
        counter = None if found is None else int(found[0])
    for column in table.columns:
        sequence = _one(target, sql.SQL("SELECT pg_get_serial_sequence(%s, %s)"), table.name, column)
        if sequence is None:
            continue
        query = sql.SQL("SELECT max({}) FROM {}").format(sql.Identifier(column), sql.Identifier(table.name))
        candidates = [int(value) for value in (_one(target, query), counter) if value is not None]
        if candidates:
            target.execute("SELECT setval(%s, %s)", (sequence, max(candidates)))


def _one(target: psycopg.Connection[Any], query: sql.SQL | sql.Composed, *params: Any) -> Any:
    """The single value of a query returning one row."""
    row = target.execute(query, params).fetchone()
    assert row is not None, "an aggregate or function query returns one row"
    return row[0]
