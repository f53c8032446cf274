"""The async facade over SQLite: one sqlite-utils ``Database`` owned by one worker thread.

sqlite3 connections are bound to the thread that created them
(https://docs.python.org/3/library/sqlite3.html#sqlite3.threadsafety), so the connection is created inside a
single-thread executor and every call runs there, serialised. Repositories are plain sync functions taking
the ``Database``; ``await store.run(fn, ...)`` and ``await store.atomic(fn, ...)`` run them off the event
loop. All times in the store are Unix seconds (REAL).

Durability (https://www.sqlite.org/pragma.html#pragma_synchronous, https://www.sqlite.org/wal.html): WAL,
and ``synchronous=FULL`` by default: every commit fsyncs the WAL, so what a user was told (a subscription
saved) and what the watch decided (an alert and its outbox rows) survive a power loss. ``Store.bookkeeping``
commits with ``synchronous=NORMAL`` instead, no fsync: safe against a killed process (the commit is in the
WAL before it returns), but a power loss may roll back the last such commits; only a suffix of them, since
WAL recovery stops at the last intact commit and the next FULL commit syncs everything before it. The
outbox's claims and sent marks and the fan-out's chunks use it: rolled back, a message goes out again (sent
twice) or a chunk is written again (deduplicated), never lost.

The file is guarded: before every call the path's device and inode are compared with those opened. A file
deleted or replaced while the bot runs would swallow every later write (the open descriptor still points at
the old inode, so writes "succeed" and vanish at the next start); instead the connection turns
``query_only``, every write raises ``StorageUnavailable`` and ``Store.unavailable`` says why. Reads go on
from the open file. Only a restart (on a restored or fresh file) clears it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import sqlite3
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

import platformdirs
from sqlite_utils import Database

from bot.store.migrations import migrations

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

_STORAGE_FAILURES = ("readonly", "disk is full", "unable to open", "disk i/o error", "not a database")


class StoreError(Exception):
    """The database cannot be opened or written; the message is one line naming the path."""


class StorageUnavailable(StoreError):  # noqa: N818 (reads as the condition)
    """The database file was deleted or replaced while running: no change is accepted any more."""


def default_db_path(environ: Mapping[str, str] | None = None) -> Path:
    """``$MINERWATCH_DB`` if set, else ``minerwatch.db`` in the user's data directory."""
    env = os.environ if environ is None else environ
    if env.get("MINERWATCH_DB"):
        return Path(env["MINERWATCH_DB"]).expanduser()
    return Path(platformdirs.user_data_dir("minerwatch")) / "minerwatch.db"


def _storage_error(path: Path, exc: BaseException) -> StoreError:
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return StoreError(f"database {path}: {reason}")


def connect(path: str | os.PathLike[str]) -> Database:
    """Open (creating directories and file), configure and migrate the database at ``path``.

    Sync and thread-bound: call it in the thread that will use the connection. Raises ``StoreError``
    when the path cannot be created, opened or written.
    """
    db: Database | None = None
    path = Path(path).expanduser()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = Database(path, execute_plugins=False)
        db.execute("PRAGMA busy_timeout = 5000")
        db.execute("PRAGMA foreign_keys = ON")
        db.enable_wal()
        db.execute("PRAGMA synchronous = FULL")
        migrations.apply(db)
        # Prove the file is writable even when nothing needed migrating: BEGIN IMMEDIATE alone succeeds on
        # a read-only file, a write of the unchanged user_version does not.
        version = db.execute("PRAGMA user_version").fetchone()[0]
        db.execute("BEGIN IMMEDIATE")
        db.execute(f"PRAGMA user_version = {int(version)}")
        db.execute("ROLLBACK")
    except (OSError, sqlite3.Error) as exc:
        if db is not None:
            db.close()
        raise _storage_error(path, exc) from exc
    return db


class Store:
    """Async access to the database; create with ``await Store.open(path)``."""

    def __init__(
        self, path: Path, executor: ThreadPoolExecutor, db: Database, identity: tuple[int, int]
    ) -> None:
        self.path = path
        self._executor = executor
        self._db = db
        self._closed = False
        self._identity = identity
        self.unavailable: str | None = None
        """Why changes are refused (the file was deleted or replaced), or ``None`` while all is well."""

    @classmethod
    async def open(cls, path: str | os.PathLike[str]) -> Store:
        """Open the database at ``path`` in a fresh worker thread; raises ``StoreError``."""
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="minerwatch-db")
        full_path = Path(path).expanduser()  # noqa: ASYNC240 (string work, no file access)

        def connect_and_identify() -> tuple[Database, tuple[int, int]]:
            db = connect(full_path)
            return db, _identity(full_path)

        try:
            db, identity = await asyncio.get_running_loop().run_in_executor(executor, connect_and_identify)
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return cls(full_path, executor, db, identity)

    async def run(self, fn: Callable[Concatenate[Database, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(db, *args, **kwargs)`` in the worker thread; each statement commits on its own."""
        return await self._submit(functools.partial(fn, self._db, *args, **kwargs))

    async def atomic(self, fn: Callable[Concatenate[Database, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(db, *args, **kwargs)`` in the worker thread inside one transaction."""

        def in_transaction() -> T:
            with self._db.atomic():
                return fn(self._db, *args, **kwargs)

        return await self._submit(in_transaction)

    async def bookkeeping(
        self, fn: Callable[Concatenate[Database, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """As ``atomic``, committed without an fsync (``synchronous=NORMAL``): survives a killed process, a
        power loss may roll it back. Only for writes a rollback merely repeats."""

        def unsynced() -> T:
            self._db.execute("PRAGMA synchronous = NORMAL")
            try:
                with self._db.atomic():
                    return fn(self._db, *args, **kwargs)
            finally:
                self._db.execute("PRAGMA synchronous = FULL")

        return await self._submit(unsynced)

    async def close(self) -> None:
        """Close the connection and stop the worker thread; idempotent."""
        if self._closed:
            return
        self._closed = True
        await asyncio.get_running_loop().run_in_executor(self._executor, self._db.close)
        self._executor.shutdown(wait=True)

    async def _submit(self, call: Callable[[], T]) -> T:
        if self._closed:
            raise StoreError(f"database {self.path}: store is closed")
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._guarded, call)

    def _check_file(self) -> None:
        """Worker thread: turn the connection read-only, once, when the file is not the one opened."""
        if self.unavailable is not None:
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
        self._db.execute("PRAGMA query_only = ON")
        log.error("storage unavailable: %s; every change is refused until a restart", reason)

    def _guarded(self, call: Callable[[], T]) -> T:
        self._check_file()
        try:
            return call()
        except sqlite3.DatabaseError as exc:
            if self.unavailable is not None:
                raise StorageUnavailable(f"storage unavailable: {self.unavailable}") from exc
            if any(marker in str(exc).lower() for marker in _STORAGE_FAILURES):
                raise _storage_error(self.path, exc) from exc
            raise


def _identity(path: Path) -> tuple[int, int]:
    """``(st_dev, st_ino)`` of the file at ``path``: the same pair means the same file."""
    stat = os.stat(path)
    return stat.st_dev, stat.st_ino
