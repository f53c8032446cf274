"""The store on a real PostgreSQL: chosen by the settings, migrated once by replicas starting together,
placeholders translated without eating a literal ``%``, errors one line without the password, a dropped
connection replaced on the next call."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from bot.chat.kinds import ChatKind
from bot.config import Settings
from bot.store import Connection, Store, StoreError, open_store
from bot.store.chats import find_chat, upsert_chat
from bot.store.migrations import POSTGRESQL, migrations
from bot.store.postgres import PostgresConnection, connect_postgresql, redacted, to_pyformat
from bot.store.snapshots import get_state, set_state
from tests.fakes import free_port

PASSWORD = "s3cr3t-pw"


def with_password(url: str, password: str = PASSWORD) -> str:
    """``url`` with a password (the test server trusts loopback, so any password connects)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{parts.username}:{password}@{parts.hostname}:{parts.port}"))


def test_placeholders_translate_outside_quotes_and_literal_percent_survives() -> None:
    assert to_pyformat("SELECT ? WHERE a = :name AND b::text = '?:x%' AND c LIKE 'a%'") == (
        "SELECT %s WHERE a = %(name)s AND b::text = '?:x%%' AND c LIKE 'a%%'"
    )
    assert to_pyformat('SELECT "we?rd" FROM t -- 100% sure?') == 'SELECT "we?rd" FROM t -- 100%% sure?'


def test_a_literal_percent_and_question_mark_reach_the_server_unchanged(postgres_url: str) -> None:
    db = connect_postgresql(postgres_url)
    assert db.execute("SELECT '50%', '?', 'a:b', ? LIKE 'x%'", ["xyz"]).one() == ("50%", "?", "a:b", True)
    assert db.execute("SELECT :n::text || '%'", {"n": 7}).one() == ("7%",)
    assert db.execute("SELECT '100%'").one() == ("100%",)
    db.close()


async def test_the_settings_choose_the_backend_and_describe_hides_the_password(
    postgres_url: str, tmp_path: Path
) -> None:
    settings = Settings.model_validate({"database_url": with_password(postgres_url), "db": tmp_path / "x.db"})
    store = await open_store(settings)
    try:
        assert store.backend == "postgresql"
        assert PASSWORD not in store.describe() and ":***@" in store.describe()
        assert store.path is None
        await store.run(set_state, "k", {"v": 1})
        assert await store.run(get_state, "k") == {"v": 1}
    finally:
        await store.close()
    sqlite = await open_store(Settings.model_validate({"db": tmp_path / "x.db"}))
    try:
        assert (sqlite.backend, sqlite.describe(), sqlite.path) == (
            "sqlite",
            str(tmp_path / "x.db"),
            tmp_path / "x.db",
        )
    finally:
        await sqlite.close()


def test_two_replicas_starting_together_migrate_once(postgres_url: str) -> None:
    """Both opens succeed; every migration ran once, in the numbered order SQLite uses."""
    start = threading.Barrier(2)
    opened: list[Any] = []
    failures: list[BaseException] = []

    def replica() -> None:
        start.wait()
        try:
            opened.append(connect_postgresql(postgres_url))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=replica) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == [] and len(opened) == 2
    names = [row[0] for row in opened[0].execute("SELECT name FROM schema_migrations ORDER BY name")]
    assert names == [name for name, _ in POSTGRESQL] == [m.name for m in migrations._migrations]
    for db in opened:
        db.close()


def test_the_schemas_hold_the_same_columns_in_the_same_order_and_the_same_indexes(
    postgres_url: str, tmp_path: Path
) -> None:
    """A copy between the backends can go table by table, column by column; the same indexes serve them."""
    from bot.store import connect

    sqlite = connect(tmp_path / "m.db")
    postgres = connect_postgresql(postgres_url)
    tables = sorted(
        name for name in sqlite.sqlite.table_names() if not name.startswith(("_sqlite", "sqlite_"))
    )
    for table in tables:
        sqlite_columns = [column.name for column in sqlite.sqlite[table].columns]
        postgres_columns = [
            row[0]
            for row in postgres.execute(
                """SELECT column_name FROM information_schema.columns WHERE table_name = ?
                   ORDER BY ordinal_position""",
                [table],
            )
        ]
        assert postgres_columns == sqlite_columns, table
        sqlite_indexes = {
            index.name for index in sqlite.sqlite.table(table).indexes if not index.name.startswith("sqlite_")
        }
        postgres_indexes = {
            row[0]
            for row in postgres.execute("SELECT indexname FROM pg_indexes WHERE tablename = ?", [table])
            if not row[0].endswith(("_pkey", "_key"))  # constraints' own indexes, unnamed in SQLite
        }
        assert postgres_indexes == sqlite_indexes, table
    sqlite.close()
    postgres.close()


async def test_a_server_that_is_down_is_one_line_without_the_password() -> None:
    url = f"postgresql://minerwatch:{PASSWORD}@127.0.0.1:{free_port()}/nothing"
    with pytest.raises(StoreError) as caught:
        await Store.open_url(url)
    message = str(caught.value)
    assert "\n" not in message and PASSWORD not in message
    assert message.startswith(f"database {redacted(url)}: ")
    assert "refused" in message or "failed" in message


def _terminate(url: str, pid: int) -> None:
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        for _ in range(100):  # until the server has dropped it
            row = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()
            if row == (0,):
                return
            admin.execute("SELECT pg_sleep(0.02)")
    raise AssertionError(f"backend {pid} still there")


def _backend_pid(db: Connection) -> int:
    pid: int = db.execute("SELECT pg_backend_pid()").one()[0]
    return pid


async def test_a_dropped_connection_is_replaced_on_the_next_call(postgres_url: str) -> None:
    store = await Store.open_url(with_password(postgres_url))
    try:
        await store.run(upsert_chat, "telegram", "1", ChatKind.PRIVATE, 0.0)
        first = await store.run(_backend_pid)
        await asyncio.to_thread(_terminate, postgres_url, first)
        assert await store.run(find_chat, "telegram", "1") is not None  # the next call works
        assert await store.run(_backend_pid) != first
    finally:
        await store.close()


def _kill_own_backend(db: Connection) -> None:
    db.execute("SELECT pg_terminate_backend(pg_backend_pid())")


async def test_a_connection_dropped_mid_call_fails_that_call_in_one_line_and_the_next_works(
    postgres_url: str,
) -> None:
    store = await Store.open_url(with_password(postgres_url))
    try:
        with pytest.raises(StoreError) as caught:
            await store.atomic(_kill_own_backend)
        message = str(caught.value)
        assert "\n" not in message and PASSWORD not in message
        assert message.startswith(f"database {redacted(with_password(postgres_url))}: ")
        await store.run(set_state, "after", 1)
        assert await store.run(get_state, "after") == 1
    finally:
        await store.close()


async def test_bookkeeping_commits_without_waiting_for_the_wal_flush(postgres_url: str) -> None:
    store = await Store.open_url(postgres_url)

    def synchronous_commit(db: Connection) -> str:
        value: str = db.execute("SHOW synchronous_commit").one()[0]
        return value

    try:
        # The test server runs with synchronous_commit=off for speed: this session asks for the default.
        await store.run(lambda db: db.execute("SET synchronous_commit = on"))
        assert await store.run(synchronous_commit) == "on"
        assert await store.bookkeeping(synchronous_commit) == "off"
        assert await store.run(synchronous_commit) == "on"  # SET LOCAL: only that transaction
    finally:
        await store.close()


async def test_a_read_only_server_refuses_a_change_in_one_line(postgres_url: str) -> None:
    """As a hot standby would: the change is refused with the store's error, nothing is written."""
    store = await Store.open_url(with_password(postgres_url))
    try:
        await store.run(lambda db: db.execute("SET default_transaction_read_only = on"))
        with pytest.raises(StoreError) as caught:
            await store.run(set_state, "k", 1)
        assert "read-only transaction" in str(caught.value) and PASSWORD not in str(caught.value)
        await store.run(lambda db: db.execute("SET default_transaction_read_only = off"))
        assert await store.run(get_state, "k") is None
    finally:
        await store.close()


def _keepalive_idle_s(db: PostgresConnection) -> int:
    link = socket.socket(fileno=os.dup(db.raw.fileno()))
    try:
        assert link.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        return link.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE)
    finally:
        link.close()


def test_the_link_has_keepalives_and_a_name_unless_the_url_says_otherwise(postgres_url: str) -> None:
    db = connect_postgresql(postgres_url)
    assert db.raw.info.parameter_status("application_name") == "minerwatch"
    assert _keepalive_idle_s(db) == 10
    db.close()
    own = connect_postgresql(f"{postgres_url}?application_name=replica-2&keepalives_idle=30")
    assert own.raw.info.parameter_status("application_name") == "replica-2"
    assert _keepalive_idle_s(own) == 30
    own.close()
