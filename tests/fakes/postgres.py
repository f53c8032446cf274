"""A throwaway PostgreSQL: ``initdb`` into a temporary directory, ``pg_ctl start`` on a free loopback port.

Not a fake: the real server binaries (Debian's ``postgresql`` package, ``/usr/lib/postgresql/*/bin``;
``.ci/run`` installs it where missing). ``initdb`` refuses to run as root, so a root test run starts the
server as the ``postgres`` system user. ``fsync=off``: a test server need not survive a power loss
(``durable=True`` keeps the defaults, for benchmarks that compare with a durable SQLite file). Each
test gets its own database (``PostgresServer.create_database``), so tests never see each other's rows.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

import psycopg

from tests.fakes import free_port

SUPERUSER = "minerwatch"


class PostgresUnavailableError(RuntimeError):
    """The server binaries are missing or the server did not start; the message says which and how to fix."""


def find_bindir() -> Path:
    """Where ``initdb`` and ``pg_ctl`` are: ``$PG_BINDIR``, the newest ``/usr/lib/postgresql/*/bin``, PATH."""
    if os.environ.get("PG_BINDIR"):
        return Path(os.environ["PG_BINDIR"])
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parent.parent.name)
    )
    if versions:
        return Path(versions[-1]).parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    raise PostgresUnavailableError(
        "PostgreSQL server binaries not found (initdb, pg_ctl): install the Debian package `postgresql` "
        "(`.ci/run` does) or set PG_BINDIR"
    )


def _server_account() -> pwd.struct_passwd | None:
    """The ``postgres`` system user when running as root (``initdb`` refuses root), else ``None``."""
    return pwd.getpwnam("postgres") if os.geteuid() == 0 else None


class PostgresServer:
    """``with PostgresServer() as server: server.create_database()`` → a ``postgresql://`` URL."""

    def __init__(self, *, durable: bool = False) -> None:
        self.bindir = find_bindir()
        self.durable = durable
        self.port = 0
        self._root = Path(tempfile.mkdtemp(prefix="minerwatch-pg-"))
        self._data = self._root / "data"
        self._log = self._root / "server.log"
        account = _server_account()
        # Server tools run as the account owning the data directory (None: this process's own).
        self._uid = account.pw_uid if account else None
        self._gid = account.pw_gid if account else None
        self._names = itertools.count(1)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        if self._uid is not None and self._gid is not None:
            os.chown(self._root, self._uid, self._gid)
        self._run("initdb", "-D", str(self._data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--no-sync")
        for _attempt in range(5):
            self.port = free_port()
            options = f"-p {self.port} -k {self._root} -c listen_addresses=127.0.0.1 -c max_connections=200"
            if not self.durable:
                options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            started = subprocess.run(
                [self.bindir / "pg_ctl", "-D", self._data, "-l", self._log, "-o", options, "-w", "start"],
                user=self._uid,
                group=self._gid,
                capture_output=True,
                check=False,
            )
            if started.returncode == 0:
                return
        log = self._log.read_text(errors="replace")[-2000:]
        raise PostgresUnavailableError(f"PostgreSQL did not start: {log}")

    def create_database(self) -> str:
        """A new empty database; returns its URL."""
        name = f"test_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        if self.port:
            subprocess.run(
                [self.bindir / "pg_ctl", "-D", self._data, "-m", "immediate", "stop"],
                user=self._uid,
                group=self._gid,
                capture_output=True,
                check=False,
            )
        shutil.rmtree(self._root, ignore_errors=True)

    def _run(self, tool: str, *args: str) -> None:
        done = subprocess.run(
            [self.bindir / tool, *args],
            user=self._uid,
            group=self._gid,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise PostgresUnavailableError(f"{tool} failed: {done.stderr.strip()[-2000:]}")

    def __enter__(self) -> PostgresServer:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
