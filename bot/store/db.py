"""The async facade over the database: one connection owned by one worker thread.

The database is SQLite (a file, the embedded default) or PostgreSQL (``MINERWATCH_DATABASE_URL``, shared by
replicas); ``open_store(settings)`` picks it. Repositories are plain sync functions taking a ``Connection``
(``bot.store.connection``); ``await store.run(fn, ...)`` and ``await store.atomic(fn, ...)`` run them off
the event loop in the store's one worker thread, serialised. All times in the store are Unix seconds.

One thread on PostgreSQL too: sqlite3 connections are bound to the thread that created them
(https://docs.python.org/3/library/sqlite3.html#sqlite3.threadsafety), and on PostgreSQL one serialised
connection keeps each process's calls in the order they were made, exactly as on SQLite; what replicas do
concurrently is made safe in SQL (row locks, ``ON CONFLICT``), not by the thread.

Durability: what a user was told (a subscription saved) and what the watch decided (an alert and its outbox
rows) is committed durably (SQLite: ``synchronous=FULL``; PostgreSQL: ``synchronous_commit`` on).
``Store.bookkeeping`` commits without waiting for the disk (SQLite ``synchronous=NORMAL``, PostgreSQL
``SET LOCAL synchronous_commit = off``): it survives a killed process, a power loss (or server crash) may
roll back the last such commits. The outbox's claims and sent marks and the fan-out's chunks use it: rolled
back, a message goes out again (sent twice) or a chunk is written again (deduplicated), never lost.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

import platformdirs

from bot.config import Settings
from bot.store.connection import Adapter, Backend, Connection
from bot.store.errors import StorageUnavailable, StoreError
from bot.store.sqlite import connect

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

__all__ = ["StorageUnavailable", "Store", "StoreError", "connect", "default_db_path", "open_store"]


def default_db_path(environ: Mapping[str, str] | None = None) -> Path:
    """``$MINERWATCH_DB`` if set, else ``minerwatch.db`` in the user's data directory."""
    env = os.environ if environ is None else environ
    if env.get("MINERWATCH_DB"):
        return Path(env["MINERWATCH_DB"]).expanduser()
    return Path(platformdirs.user_data_dir("minerwatch")) / "minerwatch.db"


async def open_store(settings: Settings) -> Store:
    """The store the settings name: PostgreSQL at ``database_url`` when set, else the SQLite file ``db``
    (default: ``default_db_path()``). Raises ``StoreError``."""
    if settings.database_url is not None:
        return await Store.open_url(settings.database_url.get_secret_value())
    return await Store.open(settings.db or default_db_path())


class Store:
    """Async access to the database; create with ``await open_store(settings)`` (or ``Store.open(path)``)."""

    def __init__(self, executor: ThreadPoolExecutor, connection: Adapter, path: Path | None = None) -> None:
        self.path = path
        """The SQLite file, ``None`` on PostgreSQL."""
        self._executor = executor
        self._db = connection
        self._closed = False

    @property
    def backend(self) -> Backend:
        return self._db.backend

    @property
    def unavailable(self) -> str | None:
        """Why changes are refused (the SQLite file was deleted or replaced), or ``None``: all is well."""
        return self._db.unavailable

    def describe(self) -> str:
        """Where the data lives: the SQLite path, or the PostgreSQL URL with its password hidden."""
        return self._db.describe()

    @classmethod
    async def open(cls, path: str | os.PathLike[str]) -> Store:
        """Open the SQLite database at ``path`` in a fresh worker thread; raises ``StoreError``."""
        full_path = Path(path).expanduser()  # noqa: ASYNC240 (string work, no file access)
        return await cls._start(functools.partial(connect, full_path), full_path)

    @classmethod
    async def open_url(cls, url: str) -> Store:
        """Connect to the PostgreSQL database at ``url`` (``postgresql://...``) and migrate it; raises
        ``StoreError`` (one line, password hidden)."""
        from bot.store.postgres import connect_postgresql  # psycopg loads only for PostgreSQL

        return await cls._start(functools.partial(connect_postgresql, url), None)

    @classmethod
    async def _start(cls, opener: Callable[[], Adapter], path: Path | None) -> Store:
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="minerwatch-db")
        try:
            connection = await asyncio.get_running_loop().run_in_executor(executor, opener)
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return cls(executor, connection, path)

    async def run(self, fn: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(db, *args, **kwargs)`` in the worker thread; each statement commits on its own."""
        return await self._submit(functools.partial(fn, self._db, *args, **kwargs))

    async def atomic(
        self, fn: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run ``fn(db, *args, **kwargs)`` in the worker thread inside one transaction."""

        def in_transaction() -> T:
            with self._db.atomic():
                return fn(self._db, *args, **kwargs)

        return await self._submit(in_transaction)

    async def bookkeeping(
        self, fn: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """As ``atomic``, committed without waiting for the disk: survives a killed process, a power loss
        may roll it back. Only for writes a rollback merely repeats."""

        def unsynced() -> T:
            with self._db.bookkeeping():
                return fn(self._db, *args, **kwargs)

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
            raise StoreError(f"database {self.describe()}: store is closed")
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._guarded, call)

    def _guarded(self, call: Callable[[], T]) -> T:
        try:
            self._db.before_call()
            return call()
        except Exception as exc:
            error = self._db.store_error(exc)
            if error is None or error is exc:
                raise
            raise error from exc
