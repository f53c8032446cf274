"""Leader election among replicas sharing one PostgreSQL: a session advisory lock on a dedicated connection.

Each replica keeps one connection of its own (never the store's pool) and asks
``pg_try_advisory_lock(LOCK_KEY)`` on it every ``retry_s``; the one that gets it leads for as long as that
session lives (https://www.postgresql.org/docs/current/explicit-locking.html#ADVISORY-LOCKS). The leader
renews every ``renew_s`` with a heartbeat query that checks ``pg_locks`` that its session still holds the
lock, and between heartbeats waits on the connection's socket, so a server that closes the session
(``pg_terminate_backend``, a restart) is noticed at once. A heartbeat that fails, times out or finds the lock
gone, or a connection that drops, ends the leadership at once: ``lost`` is set and the app stops sending.

The server frees the lock when the session ends, and this connection asks the server to end it quickly
(session settings: https://www.postgresql.org/docs/current/runtime-config-client.html,
https://www.postgresql.org/docs/current/runtime-config-connection.html):

* ``idle_session_timeout``: a leader that stops renewing (hung, frozen, its host gone without a word) is
  disconnected after ``IDLE_SESSION_TIMEOUT_S`` without a heartbeat;
* ``tcp_keepalives_*`` and ``tcp_user_timeout`` on both ends: a dead peer is noticed within seconds, not
  the kernel's default two hours.

A process killed outright closes its socket; the server sees that at once and a standby leads at its next
try. Worst cases: ``retry_s`` after the leader's process died; ``IDLE_SESSION_TIMEOUT_S + retry_s`` after
it stopped renewing. With SQLite there is one process: ``SoleLeader`` leads from the start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from enum import StrEnum
from typing import Protocol

import psycopg

from bot.transports.lifecycle import pause

log = logging.getLogger(__name__)

LOCK_KEY = int.from_bytes(b"minerwat", "big")
"""The advisory lock's bigint key ("minerwat" in ASCII); one per database, so one leader per database."""
RENEW_S = 2.0
"""The leader's heartbeat period."""
RETRY_S = 2.0
"""How often a standby asks for the lock."""
HEARTBEAT_TIMEOUT_S = 3.0
"""A heartbeat (or a standby's try) not answered within this long counts as a lost connection."""
CONNECT_TIMEOUT_S = 3
"""libpq ``connect_timeout`` (whole seconds)."""
IDLE_SESSION_TIMEOUT_S = 6.0
"""The server ends the lock's session after this long without a query: three missed heartbeats."""
KEEPALIVE_IDLE_S, KEEPALIVE_INTERVAL_S, KEEPALIVE_COUNT = 2, 1, 3
"""TCP keepalives on both ends: probe after 2 s of silence, every 1 s, give up after 3 unanswered."""
TCP_USER_TIMEOUT_MS = 5000
"""Unacknowledged data for this long closes the connection (Linux ``TCP_USER_TIMEOUT``)."""


class Role(StrEnum):
    LEADER = "leader"
    STANDBY = "standby"


class Leadership(Protocol):
    """What the app needs of an election: the role, an event when it leads, one when it lost the lead."""

    @property
    def role(self) -> Role: ...

    @property
    def problem(self) -> str | None:
        """Why the election cannot go on (the database unreachable), or ``None``."""
        ...

    @property
    def lost_reason(self) -> str | None:
        """Why this replica lost the lead, once ``lost`` is set."""
        ...

    elected: asyncio.Event
    lost: asyncio.Event

    async def run(self, stop: asyncio.Event) -> None: ...


class SoleLeader:
    """One process on SQLite: the leader from the start, never deposed."""

    problem: str | None = None
    lost_reason: str | None = None

    def __init__(self) -> None:
        self.elected = asyncio.Event()
        self.elected.set()
        self.lost = asyncio.Event()

    @property
    def role(self) -> Role:
        return Role.LEADER

    async def run(self, stop: asyncio.Event) -> None:
        return None


TRY_LOCK = "SELECT pg_try_advisory_lock(%s)"
HOLDS_LOCK = (
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() "
    "AND granted AND objsubid = 1 AND classid::bigint = %s AND objid::bigint = %s)"
)
"""Whether this session holds the lock: ``pg_locks`` shows a bigint key as classid (high 32 bits), objid
(low 32 bits) and objsubid 1."""
SESSION_SETTINGS = {
    "idle_session_timeout": f"{int(IDLE_SESSION_TIMEOUT_S * 1000)}ms",
    "tcp_keepalives_idle": str(KEEPALIVE_IDLE_S),
    "tcp_keepalives_interval": str(KEEPALIVE_INTERVAL_S),
    "tcp_keepalives_count": str(KEEPALIVE_COUNT),
    "tcp_user_timeout": str(TCP_USER_TIMEOUT_MS),
}
"""The server's side of the connection (all settable by any user, per session)."""


class LeaderElection:
    """``await run(stop)``: stand by until this replica holds the lock, then lead until ``stop`` or until
    the lock is lost (then ``lost`` is set and ``run`` returns; the app exits so a fresh start stands by)."""

    def __init__(
        self,
        url: str,
        *,
        key: int = LOCK_KEY,
        renew_s: float = RENEW_S,
        retry_s: float = RETRY_S,
        heartbeat_timeout_s: float = HEARTBEAT_TIMEOUT_S,
        idle_session_timeout_s: float = IDLE_SESSION_TIMEOUT_S,
    ) -> None:
        self._url = url
        self._key = key
        self._renew_s = renew_s
        self._retry_s = retry_s
        self._timeout_s = heartbeat_timeout_s
        self._settings = {
            **SESSION_SETTINGS,
            "idle_session_timeout": f"{int(idle_session_timeout_s * 1000)}ms",
        }
        self._connection: psycopg.AsyncConnection[tuple[object, ...]] | None = None
        self._role = Role.STANDBY
        self.elected = asyncio.Event()
        self.lost = asyncio.Event()
        self.problem: str | None = None
        self.lost_reason: str | None = None

    @property
    def role(self) -> Role:
        return self._role

    @property
    def backend_pid(self) -> int | None:
        """The server process of the lock's session (for ``pg_terminate_backend`` in tests), or ``None``."""
        connection = self._connection
        return None if connection is None or connection.closed else connection.info.backend_pid

    async def run(self, stop: asyncio.Event) -> None:
        try:
            told = False
            while not stop.is_set() and not await self._try_lock():
                if not told and self.problem is None:
                    log.info("cluster: another replica leads; this one stands by")
                    told = True
                await pause(stop, self._retry_s)
            if stop.is_set():
                return
            self._role = Role.LEADER
            self.elected.set()
            log.info("cluster: this replica leads (advisory lock %d)", self._key)
            while True:
                reason = await self._watch(stop)
                if stop.is_set():
                    return
                reason = reason or await self._heartbeat()
                if reason is not None:
                    self._lose(reason)
                    return
        finally:
            await self._close()  # ends the session: a stopping leader hands the lock on at once

    async def _connect(self) -> psycopg.AsyncConnection[tuple[object, ...]]:
        connection = await psycopg.AsyncConnection.connect(
            self._url,
            autocommit=True,
            connect_timeout=CONNECT_TIMEOUT_S,
            keepalives=1,
            keepalives_idle=KEEPALIVE_IDLE_S,
            keepalives_interval=KEEPALIVE_INTERVAL_S,
            keepalives_count=KEEPALIVE_COUNT,
            tcp_user_timeout=TCP_USER_TIMEOUT_MS,
            application_name="minerwatch-leader-election",
        )
        for name, value in self._settings.items():
            await connection.execute("SELECT set_config(%s, %s, false)", (name, value))
        return connection

    async def _try_lock(self) -> bool:
        """One try: connect if need be, ask for the lock; a failure is remembered in ``problem``."""
        try:
            async with asyncio.timeout(self._timeout_s + CONNECT_TIMEOUT_S):
                if self._connection is None or self._connection.closed:
                    self._connection = await self._connect()
                cursor = await self._connection.execute(TRY_LOCK, (self._key,))
                row = await cursor.fetchone()
        except (psycopg.Error, TimeoutError, OSError) as error:
            self.problem = f"cannot reach the database for the leader election: {_describe(error)}"
            await self._close()
            return False
        self.problem = None
        return bool(row and row[0])

    async def _watch(self, stop: asyncio.Event) -> str | None:
        """Wait ``renew_s`` (or until ``stop``) on the lock's connection: a server that closes it (terminated,
        shutting down) is noticed at once, not at the next heartbeat. Returns why the connection failed."""
        connection = self._connection
        if connection is None or connection.closed:
            return "the lock's connection is closed"

        async def drained() -> None:
            async for _ in connection.notifies(timeout=self._renew_s):
                pass  # nothing LISTENs: the wait only watches the socket

        watching = asyncio.ensure_future(drained())
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({watching, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            watching.cancel()
        if watching.cancelled() or not watching.done():
            return None
        error = watching.exception()
        return None if error is None else f"connection lost: {_describe(error)}"

    async def _heartbeat(self) -> str | None:
        """``None`` while the lock is held, else why it is not."""
        connection = self._connection
        if connection is None or connection.closed:
            return "the lock's connection is closed"
        try:
            async with asyncio.timeout(self._timeout_s):
                cursor = await connection.execute(HOLDS_LOCK, (self._key >> 32, self._key & 0xFFFFFFFF))
                row = await cursor.fetchone()
        except (psycopg.Error, TimeoutError, OSError) as error:
            return f"heartbeat failed: {_describe(error)}"
        if not (row and row[0]):
            return "the advisory lock is no longer held"
        return None

    def _lose(self, reason: str) -> None:
        self._role = Role.STANDBY
        self.lost_reason = reason
        self.problem = f"lost the lead: {reason}"
        self.lost.set()
        log.error("cluster: this replica no longer leads: %s", reason)

    async def _close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), self._timeout_s)


def _describe(error: BaseException) -> str:
    """One line, no connection string (psycopg's messages name host and port, never the password)."""
    if isinstance(error, TimeoutError):
        return "no answer in time"
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__
