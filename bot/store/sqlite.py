"""The SQLite adapter: a sqlite-utils ``Database`` (one file, one thread) behind the ``Connection`` protocol.

Durability (https://www.sqlite.org/pragma.html#pragma_synchronous, https://www.sqlite.org/wal.html): WAL,
and ``synchronous=FULL`` by default: every commit fsyncs the WAL. ``bookkeeping`` commits with
``synchronous=NORMAL`` instead, no fsync: safe against a killed process (the commit is in the WAL before it
returns), but a power loss may roll back the last such commits; only a suffix of them, since WAL recovery
stops at the last intact commit and the next FULL commit syncs everything before it.

The file is guarded: before every call the path's device and inode are compared with those opened. A file
deleted or replaced while the bot runs would swallow every later write (the open descriptor still points at
the old inode, so writes "succeed" and vanish at the next start); instead the connection turns
``query_only``, every write raises ``StorageUnavailable`` and ``unavailable`` says why. Reads go on from the
open file. Only a restart (on a restored or fresh file) clears it.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from bot.store.connection import Backend, Params, Result
from bot.store.errors import StorageUnavailable, StoreError, first_line
from bot.store.migrations import apply_sqlite

log = logging.getLogger(__name__)

_STORAGE_FAILURES = ("readonly", "disk is full", "unable to open", "disk i/o error", "not a database")


class SqliteConnection:
    """``Connection`` over a sqlite-utils ``Database`` (``sqlite``, for SQLite-only tools)."""

    backend: Backend = "sqlite"

    def __init__(self, db: Database, path: Path) -> None:
        self.sqlite = db
        self.path = path
        self.unavailable: str | None = None
        self._identity = _identity(path) if path.name != ":memory:" else None

    def execute(self, sql: str, params: Params = ()) -> Result:
        conn = self.sqlite.conn
        was_in_transaction = conn.in_transaction
        cursor = self.sqlite.execute(sql, dict(params) if isinstance(params, Mapping) else params)
        if cursor.description is None:
            return Result([], (), cursor.rowcount)
        rows = cursor.fetchall()
        if not was_in_transaction and conn.in_transaction:
            # A write with RETURNING opened an implicit transaction that sqlite-utils leaves open (it commits
            # only statements without rows); commit it, as any other statement outside ``atomic``.
            conn.execute("COMMIT")
        return Result(rows, tuple(column[0] for column in cursor.description), cursor.rowcount)

    def executemany(self, sql: str, params: Iterable[Sequence[Any]]) -> int:
        with self.sqlite.atomic():  # executemany alone would leave a transaction open
            return max(self.sqlite.conn.executemany(sql, params).rowcount, 0)

    def fetch(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        return self.execute(sql, params).dicts()

    @contextmanager
    def atomic(self) -> Iterator[None]:
        with self.sqlite.atomic():
            yield

    @property
    def in_transaction(self) -> bool:
        return self.sqlite.conn.in_transaction

    def indexed_by(self, index: str) -> str:
        return f" INDEXED BY {index}"

    def for_update(self, *, skip_locked: bool = False) -> str:
        return ""

    def describe(self) -> str:
        return str(self.path)

    @contextmanager
    def bookkeeping(self) -> Iterator[None]:
        self.sqlite.execute("PRAGMA synchronous = NORMAL")
        try:
            with self.sqlite.atomic():
                yield
        finally:
            self.sqlite.execute("PRAGMA synchronous = FULL")

    def before_call(self) -> None:
        """Turn the connection read-only, once, when the file is not the one opened."""
        if self.unavailable is not None or self._identity is None:
            return
        try:
            if _identity(self.path) == self._identity:
                return
            reason = f"database file {self.path} was replaced while the bot was running"
        except FileNotFoundError:
            reason = f"database file {self.path} was deleted while the bot was running"
        except OSError as exc:
            reason = f"database file {self.path} cannot be checked ({exc.strerror or exc})"
        self.unavailable = reason
        self.sqlite.execute("PRAGMA query_only = ON")
        log.error("storage unavailable: %s; every change is refused until a restart", reason)

    def store_error(self, exc: Exception) -> Exception | None:
        if not isinstance(exc, sqlite3.DatabaseError):
            return None
        if self.unavailable is not None:
            return StorageUnavailable(f"storage unavailable: {self.unavailable}")
        if any(marker in str(exc).lower() for marker in _STORAGE_FAILURES):
            return _storage_error(self.path, exc)
        return None

    def close(self) -> None:
        self.sqlite.close()


def _storage_error(path: Path, exc: BaseException) -> StoreError:
    return StoreError(f"database {path}: {first_line(exc)}")


def _identity(path: Path) -> tuple[int, int]:
    """``(st_dev, st_ino)`` of the file at ``path``: the same pair means the same file."""
    stat = os.stat(path)
    return stat.st_dev, stat.st_ino


def connect(path: str | os.PathLike[str]) -> SqliteConnection:
    """Open (creating directories and file), configure and migrate the database at ``path``.

    Sync and thread-bound: call it in the thread that will use the connection. Raises ``StoreError``
    when the path cannot be created, opened or written.
    """
    db: Database | None = None
    path = Path(path).expanduser()
    try:
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
        db = Database(path, execute_plugins=False)
        db.execute("PRAGMA busy_timeout = 5000")
        db.execute("PRAGMA foreign_keys = ON")
        db.enable_wal()
        db.execute("PRAGMA synchronous = FULL")
        apply_sqlite(db)
        # Prove the file is writable even when nothing needed migrating: BEGIN IMMEDIATE alone succeeds on
        # a read-only file, a write of the unchanged user_version does not.
        version = db.execute("PRAGMA user_version").fetchone()[0]
        db.execute("BEGIN IMMEDIATE")
        db.execute(f"PRAGMA user_version = {int(version)}")
        db.execute("ROLLBACK")
        return SqliteConnection(db, path)
    except (OSError, sqlite3.Error) as exc:
        if db is not None:
            db.close()
        raise _storage_error(path, exc) from exc
