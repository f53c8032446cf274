"""What the repositories see of a database: the ``Connection`` protocol, met by SQLite and PostgreSQL.

Repositories are sync functions ``fn(db: Connection, ...)`` run in the store's worker thread. SQL is written
once, portable between SQLite (3.35+) and PostgreSQL: ``?`` or ``:name`` placeholders (the PostgreSQL adapter
translates them), ``ON CONFLICT``, ``INSERT ... RETURNING id`` instead of a last-row id, 0/1 integers for
booleans, ``REAL`` times in Unix seconds (``DOUBLE PRECISION`` there), JSON as text. What differs per backend
is asked of the connection: ``indexed_by`` (an SQLite planner hint, nothing on PostgreSQL) and
``for_update`` (row locks against concurrent replicas on PostgreSQL, nothing on SQLite's single writer).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Literal, Protocol

Backend = Literal["sqlite", "postgresql"]
Params = Sequence[Any] | Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Result:
    """A statement's outcome, read in full: its rows (tuples), column names and affected-row count."""

    rows: list[tuple[Any, ...]]
    columns: tuple[str, ...]
    rowcount: int

    def fetchone(self) -> tuple[Any, ...] | None:
        return self.rows[0] if self.rows else None

    def one(self) -> tuple[Any, ...]:
        """The only row (an aggregate's, say); ``LookupError`` when there is none."""
        if not self.rows:
            raise LookupError("the statement returned no row")
        return self.rows[0]

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self.rows

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self.rows)

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


class Connection(Protocol):
    """A database connection as the repositories use it (one thread at a time)."""

    backend: Backend

    def execute(self, sql: str, params: Params = ()) -> Result:
        """Run one statement; outside ``atomic`` it commits on its own."""
        ...

    def executemany(self, sql: str, params: Iterable[Sequence[Any]]) -> int:
        """Run one statement per parameter row, all in one transaction; returns the rows affected."""
        ...

    def fetch(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        """The rows of a query as dicts keyed by column name."""
        ...

    def atomic(self) -> AbstractContextManager[None]:
        """A transaction; nested inside another, a savepoint. Rolled back when the block raises."""
        ...

    @property
    def in_transaction(self) -> bool: ...

    def indexed_by(self, index: str) -> str:
        """SQL to put after a table name to make SQLite's planner use ``index`` (empty elsewhere)."""
        ...

    def for_update(self, *, skip_locked: bool = False) -> str:
        """SQL ending a ``SELECT`` that locks its rows against concurrent writers until the transaction ends
        (``skip_locked``: rows another transaction holds are left out); empty on single-writer SQLite."""
        ...


class Adapter(Connection, Protocol):
    """A connection as the ``Store`` drives it: the repository interface plus what differs per backend."""

    unavailable: str | None
    """Why changes are refused (SQLite: the file was deleted or replaced), or ``None`` while all is well."""

    def describe(self) -> str:
        """Where the data lives, for logs and errors: a path, or a URL without its password."""
        ...

    def before_call(self) -> None:
        """Worker thread, before each store call: check the file (SQLite) or the link (PostgreSQL)."""
        ...

    def bookkeeping(self) -> AbstractContextManager[None]:
        """A transaction whose commit does not wait for durable storage (see ``Store.bookkeeping``)."""
        ...

    def store_error(self, exc: Exception) -> Exception | None:
        """The store's one-line error for a driver exception (``None``: not a storage failure)."""
        ...

    def close(self) -> None: ...
