"""The PostgreSQL adapter: one psycopg 3 connection (sync, autocommit outside ``atomic``) behind the
``Connection`` protocol.

Placeholders: the repositories' SQL uses SQLite's ``?`` and ``:name``; psycopg wants ``%s`` and
``%(name)s`` and reads every ``%`` as the start of one (https://www.psycopg.org/psycopg3/docs/basic/params.html),
so ``to_pyformat`` rewrites the placeholders outside quoted text and doubles every literal ``%``.

Durability: every commit waits for the WAL flush (the server's ``synchronous_commit``, ``on`` by default).
``bookkeeping`` commits with ``SET LOCAL synchronous_commit = off``
(https://www.postgresql.org/docs/current/wal-async-commit.html): the transaction is visible and atomic at
once, but a server crash may lose the last such commits (never corrupt them), the same trade as SQLite's
``synchronous=NORMAL``.

The link: a dropped connection (server restarted, ``pg_terminate_backend``) is noticed before the next call
(the idle socket has something to read) or by the failing statement; either way the next call opens a new
connection. Failures become ``StoreError`` with one line naming the URL without its password.
"""

from __future__ import annotations

import functools
import re
import select
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import pq
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.errors import ReadOnlySqlTransaction

from bot.store.connection import Backend, Params, Result
from bot.store.errors import StoreError, first_line
from bot.store.migrations import apply_postgresql

LINK_DEFAULTS = {
    "connect_timeout": "10",
    "application_name": "minerwatch",
    # A peer that vanished without closing (host down, network cut) is noticed after about 10 + 3 x 5 s
    # instead of the kernel's two hours (https://www.postgresql.org/docs/current/libpq-connect.html).
    "keepalives": "1",
    "keepalives_idle": "10",
    "keepalives_interval": "5",
    "keepalives_count": "3",
}
"""Connection parameters used unless the URL sets them."""
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@functools.lru_cache(maxsize=2048)
def to_pyformat(sql: str) -> str:
    """``sql`` with ``?`` → ``%s``, ``:name`` → ``%(name)s`` (not inside quotes, not a ``::`` cast) and every
    literal ``%`` → ``%%``."""
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        char = sql[i]
        if char in "'\"":
            end = sql.find(char, i + 1)
            end = n - 1 if end < 0 else end
            out.append(sql[i : end + 1].replace("%", "%%"))
            i = end + 1
            continue
        if sql.startswith("--", i):
            end = sql.find("\n", i)
            end = n if end < 0 else end
            out.append(sql[i:end].replace("%", "%%"))
            i = end
            continue
        if sql.startswith("::", i):
            out.append("::")
            i += 2
            continue
        name = _NAME.match(sql, i + 1) if char == ":" else None
        if name is not None:
            out.append(f"%({name.group()})s")
            i = name.end()
            continue
        out.append({"%": "%%", "?": "%s"}.get(char, char))
        i += 1
    return "".join(out)


def redacted(url: str) -> str:
    """``url`` with its password (if any) replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port is not None else ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}{port}"))


class PostgresConnection:
    """``Connection`` over one psycopg connection, reopened on the next call after it drops."""

    backend: Backend = "postgresql"

    def __init__(self, url: str) -> None:
        self._url = url
        self._password = urlsplit(url).password
        given = conninfo_to_dict(url)
        self._defaults = {name: value for name, value in LINK_DEFAULTS.items() if name not in given}
        self.unavailable: str | None = None
        self._conn: psycopg.Connection[tuple[Any, ...]] | None = None

    @property
    def raw(self) -> psycopg.Connection[tuple[Any, ...]]:
        """The live psycopg connection, (re)opened when there is none or it dropped."""
        conn = self._conn
        if conn is None or conn.closed or conn.broken:
            if conn is not None:
                conn.close()
            self._conn = None
            try:
                conn = psycopg.connect(make_conninfo(self._url, **self._defaults), autocommit=True)
            except psycopg.Error as exc:
                raise self._error(exc) from None
            self._conn = conn
        return conn

    def execute(self, sql: str, params: Params = ()) -> Result:
        with self.raw.cursor() as cursor:
            cursor.execute(to_pyformat(sql), params)
            if cursor.description is None:
                return Result([], (), cursor.rowcount)
            return Result(cursor.fetchall(), tuple(c.name for c in cursor.description), cursor.rowcount)

    def executemany(self, sql: str, params: Iterable[Sequence[Any]]) -> int:
        with self.atomic(), self.raw.cursor() as cursor:
            cursor.executemany(to_pyformat(sql), params)
            return max(cursor.rowcount, 0)

    def fetch(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        return self.execute(sql, params).dicts()

    @contextmanager
    def atomic(self) -> Iterator[None]:
        with self.raw.transaction():  # nested: a savepoint
            yield

    @property
    def in_transaction(self) -> bool:
        conn = self._conn
        return conn is not None and conn.info.transaction_status != pq.TransactionStatus.IDLE

    def indexed_by(self, index: str) -> str:
        return ""

    def for_update(self, *, skip_locked: bool = False) -> str:
        return " FOR UPDATE SKIP LOCKED" if skip_locked else " FOR UPDATE"

    def describe(self) -> str:
        return redacted(self._url)

    @contextmanager
    def bookkeeping(self) -> Iterator[None]:
        with self.atomic():
            self.execute("SET LOCAL synchronous_commit = off")
            yield

    def before_call(self) -> None:
        """Replace a connection the server dropped while it was idle, so the call opens a new one.

        An idle connection has nothing to read; bytes waiting (the server's "terminating connection" and
        its close, or a restart) mean it is gone. Replacing it costs one connect, and is only ever done
        between calls, when no transaction is open."""
        conn = self._conn
        if conn is None or conn.closed or conn.broken or self.in_transaction:
            return
        readable, _, _ = select.select([conn.fileno()], [], [], 0)
        if readable:
            conn.close()

    def store_error(self, exc: Exception) -> Exception | None:
        if isinstance(exc, StoreError):
            return exc
        # Connection lost or refused, server shutting down, disk full, lock or statement timeouts, and a
        # read-only server (a hot standby named by mistake): the database's condition, not a bug here.
        if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError | ReadOnlySqlTransaction):
            return self._error(exc)
        return None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _error(self, exc: BaseException) -> StoreError:
        reason = first_line(exc)
        if self._password:
            reason = reason.replace(self._password, "***")
        return StoreError(f"database {self.describe()}: {reason}")


def connect_postgresql(url: str) -> PostgresConnection:
    """Connect to ``url`` and migrate (once, however many replicas start together); raises ``StoreError``."""
    connection = PostgresConnection(url)
    try:
        apply_postgresql(connection)
    except psycopg.Error as exc:
        connection.close()
        raise connection.store_error(exc) or connection._error(exc) from None
    except BaseException:
        connection.close()
        raise
    return connection
