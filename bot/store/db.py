"""The async facade over SQLite: one sqlite-utils ``Database`` owned by one worker thread.

sqlite3 connections are bound to the thread that created them, so the connection is created inside a
single-thread executor and every call runs there, serialised (reference/platforms.md §7). Repositories are
plain sync functions taking the ``Database``; ``await store.run(fn, ...)`` and ``await store.atomic(fn,
...)`` run them off the event loop. All times in the store are Unix seconds (REAL).
"""

from __future__ import annotations

import asyncio
import functools
import os
import sqlite3
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

import platformdirs
from sqlite_utils import Database

from bot.store.migrations import migrations

P = ParamSpec("P")
T = TypeVar("T")

_STORAGE_FAILURES = ("readonly", "disk is full", "unable to open", "disk i/o error", "not a database")


class StoreError(Exception):
    """The database cannot be opened or written; the message is one line naming the path."""


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

    def __init__(self, path: Path, executor: ThreadPoolExecutor, db: Database) -> None:
        self.path = path
        self._executor = executor
        self._db = db
        self._closed = False

    @classmethod
    async def open(cls, path: str | os.PathLike[str]) -> Store:
        """Open the database at ``path`` in a fresh worker thread; raises ``StoreError``."""
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="minerwatch-db")
        try:
            db = await asyncio.get_running_loop().run_in_executor(executor, connect, path)
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return cls(Path(path), executor, db)

    async def run(self, fn: Callable[Concatenate[Database, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(db, *args, **kwargs)`` in the worker thread; each statement commits on its own."""
        return await self._submit(functools.partial(fn, self._db, *args, **kwargs))

    async def atomic(self, fn: Callable[Concatenate[Database, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(db, *args, **kwargs)`` in the worker thread inside one transaction."""

        def in_transaction() -> T:
            with self._db.atomic():
                return fn(self._db, *args, **kwargs)

        return await self._submit(in_transaction)

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

    def _guarded(self, call: Callable[[], T]) -> T:
        try:
            return call()
        except sqlite3.DatabaseError as exc:
            if any(marker in str(exc).lower() for marker in _STORAGE_FAILURES):
                raise _storage_error(self.path, exc) from exc
            raise
