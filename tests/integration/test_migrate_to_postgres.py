"""``minerwatch db migrate-to-postgres`` against a real throwaway PostgreSQL (tests/fakes/postgres.py).

The SQLite database is made the way the bot makes it: chats talk to the handlers through a real
``StoreServices`` (tariffs, fleets, alerts, a language), the watch's repositories store snapshots, the daily
series, engine state, events, outbox rows (sent, dead, pruned: SQLite's AUTOINCREMENT counter then runs past
the largest id) and an unfinished fan-out. Every table holds rows, and after the copy every row is equal,
the sequences are past the copied ids, and the bot on PostgreSQL answers those chats as it did on SQLite.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bot.chat.commands import parse_command
from bot.chat.context import Chat
from bot.chat.kinds import ChatKind
from bot.chat.services import StoreServices
from bot.cli import main
from bot.config import Settings
from bot.data import load_difficulty_regression
from bot.economics.history import DailyRow
from bot.sources.snapshot import MarketSnapshot, NetworkState, PriceQuote, SourceOutcome
from bot.store import chats as chat_repo
from bot.store import fanouts as fanout_repo
from bot.store import outbox as outbox_repo
from bot.store import snapshots as snapshot_repo
from bot.store.db import Store
from bot.store.migrations import apply_postgresql
from bot.store.postgres import PostgresConnection
from bot.store.sqlite_to_postgres import CopyRefusedError, copy_database
from handlers.router import dispatch
from tests.fakes import free_port

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 2, 5, 12, 0, tzinfo=UTC)
TARIFF = "/tariff add texas 0.045; 14:00-20:00 0.12 America/Chicago"
CHATS = [Chat(platform="telegram", chat_id=str(100 + n)) for n in range(6)] + [
    Chat(platform="discord", chat_id="9001", kind=ChatKind.DM)
]
SAID = [
    TARIFF,
    "/fleet add s19jpro 40 5.5c site=north",
    "/fleet add s21 pro 20 tariff=texas uptime 95 pue 1.05",
    "/subscribe price below 60k band 500",
    "/subscribe hashprice above 0.05 repeat every 2h",
    "/subscribe network",
    "/subscribe margin below 0",
    "/subscribe fleet",
]
ASKED = ["/fleet", "/alerts", "/profile"]
"""Commands whose replies come from a chat's stored rows: the same before and after the move."""
MESSAGES = 40
"""Outbox rows; the last one is sent long ago and pruned, so SQLite's counter ends above the largest id."""
SNAPSHOTS = 120


def snapshot(taken: datetime, price: float) -> MarketSnapshot:
    quote = PriceQuote(price, taken, (SourceOutcome("coinbase", taken, True, price),))
    network = NetworkState(125.86e12, 935_000, 0.021, 8.1e20, None, taken, "mempool", ())
    return MarketSnapshot(quote, network, taken)


def services_on(store: Store) -> StoreServices:
    return StoreServices(store, Settings.model_validate({}), load_difficulty_regression(), clock=lambda: NOW)


async def say(services: StoreServices, chat: Chat, line: str) -> str:
    request = parse_command(chat, line)
    assert request is not None
    reply = await dispatch(request, services)
    assert not reply.error, reply.text
    return reply.text


async def replies(services: StoreServices) -> dict[tuple[str, str], str]:
    return {(chat.chat_id, line): await say(services, chat, line) for chat in CHATS for line in ASKED}


async def build_sqlite(path: Path) -> dict[tuple[str, str], str]:
    """A bot database with every table populated; returns the replies to ``ASKED`` it gives."""
    store = await Store.open(path)
    try:
        services = services_on(store)
        for n, chat in enumerate(CHATS):
            for line in SAID[: 2 + n % len(SAID)]:
                await say(services, chat, line)
        await say(services, CHATS[3], "/lang ru")
        await say(services, CHATS[2], "/unsubscribe all")  # ids with a gap
        gone = await store.run(chat_repo.upsert_chat, "telegram", "-100777", ChatKind.SUPERGROUP, 5.0)
        await store.run(chat_repo.deactivate_chat, gone.id, "bot was kicked")
        start = NOW - timedelta(minutes=SNAPSHOTS)
        for minute in range(SNAPSHOTS):
            await store.run(
                snapshot_repo.insert_snapshot, snapshot(start + timedelta(minutes=minute), 66_000.0)
            )
        days = [DailyRow(NOW.date() - timedelta(days=d), 60_000.0 + d, 1.2e14, 8e8, 450.0) for d in range(30)]
        await store.run(snapshot_repo.upsert_daily, days, "coingecko")
        await store.run(snapshot_repo.set_state, "regime", {"name": "normal", "since": 1.5})
        await store.run(snapshot_repo.record_event, "retarget:935072", "retarget", 7.0, {"change_pct": -3.1})
        first = await store.run(chat_repo.find_chat, "telegram", "100")
        assert first is not None
        new = [
            outbox_repo.NewMessage(f"alert:{n}", first.id, "telegram", "100", "threshold", f"alert {n} ✓")
            for n in range(MESSAGES - 1)
        ]
        new.append(
            outbox_repo.NewMessage("chart", first.id, "telegram", "100", "chart", "chart", b"\x89PNG\0")
        )
        await store.run(outbox_repo.enqueue, new, 10.0)
        await store.run(outbox_repo.mark_all_sent, [(n, 20.0) for n in range(1, 11)])
        await store.run(outbox_repo.dead_letter, 12, "403 Forbidden: bot was blocked")
        await store.run(outbox_repo.mark_sent, MESSAGES, 1.0)
        assert await store.run(outbox_repo.prune, 2.0, 0.0, 10) == 1
        fanout = await store.run(fanout_repo.add, '{"kind": "retarget"}', fanout_repo.Audience.NETWORK, 30.0)
        await store.run(fanout_repo.advance, fanout, 2)
        return await replies(services)
    finally:
        await store.close()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[tuple[str, str], str]]:
    """One populated SQLite file for the module (tests copy it before use, the file stays as built)."""
    import asyncio

    path = tmp_path_factory.mktemp("sqlite") / "bot.db"
    return path, asyncio.run(build_sqlite(path))


@pytest.fixture
def sqlite_file(built: tuple[Path, dict[tuple[str, str], str]], tmp_path: Path) -> Path:
    copy = tmp_path / "bot.db"
    with closing(sqlite3.connect(built[0])) as source, closing(sqlite3.connect(copy)) as target:
        source.backup(target)
    return copy


@pytest.fixture
def target(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("MINERWATCH_DATABASE_URL", postgres_url)
    return postgres_url


def migrate(path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str, str]:
    code = main(["db", "migrate-to-postgres", str(path), *extra])
    out, err = capsys.readouterr()
    return code, out, err


def data_tables(path: Path) -> list[str]:
    with closing(sqlite3.connect(path)) as connection:
        rows = connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "AND name != '_sqlite_migrations' ORDER BY name"
        )
        return [name for (name,) in rows]


def sqlite_rows(path: Path, table: str) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(path)) as connection:
        columns = [row[1] for row in connection.execute(f'PRAGMA table_info("{table}")')]
        select = ", ".join(f'"{c}"' for c in columns)
        return sorted(connection.execute(f'SELECT {select} FROM "{table}"').fetchall(), key=repr)


def postgres_rows(url: str, path: Path, table: str) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(path)) as connection:
        columns = [row[1] for row in connection.execute(f'PRAGMA table_info("{table}")')]
    select = ", ".join(f'"{c}"' for c in columns)
    with psycopg.connect(url) as connection:
        return sorted(connection.execute(f'SELECT {select} FROM "{table}"').fetchall(), key=repr)


def counts(out: str) -> dict[str, tuple[int, int, int]]:
    """``table -> (rows, copied, already there)`` from the command's table."""
    found = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[1].replace(",", "").isdigit():
            found[parts[0]] = tuple(int(p.replace(",", "")) for p in parts[1:])
    return found  # type: ignore[return-value]


def test_every_table_is_copied_row_for_row_and_a_second_run_copies_nothing(
    sqlite_file: Path, target: str, capsys: pytest.CaptureFixture[str]
) -> None:
    tables = data_tables(sqlite_file)
    assert {"chats", "subscriptions", "tariffs", "fleet_lines", "outbox", "fanouts", "events"} <= set(tables)
    assert all(sqlite_rows(sqlite_file, table) for table in tables), "every table holds rows"
    code, out, err = migrate(sqlite_file, capsys)
    assert code == 0, err
    found = counts(out)
    assert set(found) == {*tables, "total"}
    for table in tables:
        assert postgres_rows(target, sqlite_file, table) == sqlite_rows(sqlite_file, table), table
        rows = len(sqlite_rows(sqlite_file, table))
        assert found[table] == (rows, rows, 0)
    code, again, err = migrate(sqlite_file, capsys)
    assert code == 0, err
    assert all(copied == 0 and there == rows for rows, copied, there in counts(again).values())
    assert "nothing to copy: every row is already there" in again


async def test_the_bot_on_postgresql_answers_from_the_migrated_rows(
    built: tuple[Path, dict[tuple[str, str], str]],
    sqlite_file: Path,
    target: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert migrate(sqlite_file, capsys)[0] == 0
    from bot.store import open_store

    store = await open_store(Settings.model_validate({"database_url": target}))
    try:
        services = services_on(store)
        assert await replies(services) == built[1]
        assert "Fleet: 2 lines, 60 machines" in built[1][("101", "/fleet")]
        # New rows get ids past the copied ones (and past the pruned outbox row: ids are never reused).
        with closing(sqlite3.connect(sqlite_file)) as connection:
            (counter,) = connection.execute(
                "SELECT seq FROM sqlite_sequence WHERE name = 'outbox'"
            ).fetchone()
            (largest_chat,) = connection.execute("SELECT max(id) FROM chats").fetchone()
        assert counter == MESSAGES
        chat = await store.run(chat_repo.upsert_chat, "telegram", "555", ChatKind.PRIVATE, 99.0)
        assert chat.id == largest_chat + 1
        message = outbox_repo.NewMessage("new", chat.id, "telegram", "555", "threshold", "hi")
        await store.run(outbox_repo.enqueue, [message], 100.0)
        due = await store.run(outbox_repo.claim_due, 100.0, 10)
        assert [m.id for m in due if m.dedupe_key == "new"] == [MESSAGES + 1]
    finally:
        await store.close()


def wait_for_lock_wait(url: str, timeout_s: float = 30.0) -> None:
    """Until a session on ``url``'s database waits for a lock (the copy blocked on the held row)."""
    deadline = time.monotonic() + timeout_s
    with psycopg.connect(url, autocommit=True) as connection:
        while time.monotonic() < deadline:
            waiting = connection.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"
            ).fetchone()
            if waiting and waiting[0]:
                return
            time.sleep(0.05)
    raise AssertionError("the copy never reached the held row")


def test_a_copy_killed_mid_table_resumes_and_completes(
    sqlite_file: Path, target: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The child copies 10 rows a transaction; this test holds snapshot 61 in an open transaction, so the
    child's seventh snapshots batch waits for it; the child is SIGKILLed there, leaving 60 of 120."""
    schema = PostgresConnection(target)
    try:
        apply_postgresql(schema)
    finally:
        schema.close()
    held = next(row for row in sqlite_rows(sqlite_file, "snapshots") if row[0] == 61)
    blocker = psycopg.connect(target)
    try:
        blocker.execute(f"INSERT INTO snapshots VALUES ({', '.join(['%s'] * len(held))})", held)
        child = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bot.cli",
                "db",
                "migrate-to-postgres",
                str(sqlite_file),
                "--batch-rows",
                "10",
            ],
            cwd=ROOT,
            env={**os.environ, "MINERWATCH_DATABASE_URL": target},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            wait_for_lock_wait(target)
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
    finally:
        blocker.rollback()
        blocker.close()
    assert child.returncode == -signal.SIGKILL
    assert len(postgres_rows(target, sqlite_file, "snapshots")) == 60
    assert postgres_rows(target, sqlite_file, "outbox") == []

    code, out, err = migrate(sqlite_file, capsys)
    assert code == 0, err
    found = counts(out)
    assert found["snapshots"] == (SNAPSHOTS, SNAPSHOTS - 60, 60)
    assert found["outbox"] == (MESSAGES - 1, MESSAGES - 1, 0)
    for table in data_tables(sqlite_file):
        assert postgres_rows(target, sqlite_file, table) == sqlite_rows(sqlite_file, table), table


def test_a_database_holding_other_rows_is_refused_and_left_alone(
    sqlite_file: Path, target: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert migrate(sqlite_file, capsys)[0] == 0
    with closing(sqlite3.connect(sqlite_file)) as connection, connection:
        connection.execute("UPDATE chats SET language = 'ru' WHERE chat_id = '100'")
    before = {table: postgres_rows(target, sqlite_file, table) for table in data_tables(sqlite_file)}
    code, _, err = migrate(sqlite_file, capsys)
    assert code == 2
    assert "PostgreSQL already holds other data: chats row id=1 differs from the SQLite file" in err
    assert "migrate into an empty database" in err
    assert {table: postgres_rows(target, sqlite_file, table) for table in before} == before

    with closing(sqlite3.connect(sqlite_file)) as connection, connection:
        connection.execute("UPDATE chats SET language = 'en' WHERE chat_id = '100'")
    with psycopg.connect(target) as extra:
        extra.execute(
            "INSERT INTO chats (id, platform, chat_id, kind, created_at) "
            "VALUES (99, 'telegram', '7', 'private', 0)"
        )
    code, _, err = migrate(sqlite_file, capsys)
    assert code == 2
    assert "chats row id=99 is not in the SQLite file" in err


@pytest.mark.parametrize("change", ["older", "newer"])
def test_a_file_at_another_schema_version_is_refused_before_postgresql_is_touched(
    sqlite_file: Path, target: str, capsys: pytest.CaptureFixture[str], change: str
) -> None:
    with closing(sqlite3.connect(sqlite_file)) as connection, connection:
        if change == "older":
            last = connection.execute("SELECT max(id) FROM _sqlite_migrations").fetchone()[0]
            connection.execute("DELETE FROM _sqlite_migrations WHERE id = ?", (last,))
        else:
            connection.execute(
                "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
                "VALUES ('minerwatch', 'm999_from_the_future', '2030-01-01')"
            )
    code, out, err = migrate(sqlite_file, capsys)
    assert code == 2
    assert f"the file's schema is {change} than this minerwatch" in err
    assert out == ""
    with psycopg.connect(target) as server:
        tables = server.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
    assert tables == (0,)


def test_the_password_is_never_printed(
    sqlite_file: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    password = "hunter2-correct-horse"
    with_password = postgres_url.replace("minerwatch@", f"minerwatch:{password}@")  # trust auth ignores it
    monkeypatch.setenv("MINERWATCH_DATABASE_URL", with_password)
    code, out, err = migrate(sqlite_file, capsys)
    assert code == 0, err
    assert password not in out + err
    assert f"into PostgreSQL 127.0.0.1:{postgres_url.split(':')[-1]}" in out

    closed = free_port()
    monkeypatch.setenv("MINERWATCH_DATABASE_URL", f"postgresql://minerwatch:{password}@127.0.0.1:{closed}/x")
    code, out, err = migrate(sqlite_file, capsys)
    assert code == 1
    assert err.startswith(f"minerwatch: database postgresql://***@127.0.0.1:{closed}/x: connection failed")
    assert err.rstrip().endswith("(run again)") and len(err.splitlines()) == 1
    assert password not in out + err


def test_without_a_postgresql_url_the_command_says_what_to_set(
    sqlite_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("MINERWATCH_DATABASE_URL", raising=False)
    code, out, err = migrate(sqlite_file, capsys)
    assert (code, out) == (2, "")
    assert "set MINERWATCH_DATABASE_URL" in err
    monkeypatch.setenv("MINERWATCH_DATABASE_URL", "mysql://root:hunter2hunter2@127.0.0.1/bot")
    code, out, err = migrate(sqlite_file, capsys)
    assert (code, out, err) == (2, "", "minerwatch: MINERWATCH_DATABASE_URL must be a postgresql:// URL\n")


def test_a_file_that_is_not_a_minerwatch_database_is_refused(
    tmp_path: Path, target: str, capsys: pytest.CaptureFixture[str]
) -> None:
    garbage = tmp_path / "notes.db"
    garbage.write_bytes(b"not sqlite at all" * 100)
    code, out, err = migrate(garbage, capsys)
    assert (code, out) == (2, "")
    assert err == f"minerwatch: database {garbage}: file is not a database\n"
    empty = tmp_path / "empty.db"
    with closing(sqlite3.connect(empty)) as connection:
        connection.execute("CREATE TABLE t (x)")
    code, out, err = migrate(empty, capsys)
    assert (code, out) == (2, "")
    assert "the file is not a minerwatch database (no schema migrations recorded)" in err
    missing = tmp_path / "missing.db"
    code, out, err = migrate(missing, capsys)
    assert (code, out) == (2, "")
    assert f"database {missing} does not exist" in err and not missing.exists()


def test_the_check_of_rows_already_there_fits_sqlites_variable_limit(sqlite_file: Path, target: str) -> None:
    """Some SQLite builds allow far fewer bound variables than a batch has keys: the lookup is split."""
    schema = PostgresConnection(target)
    try:
        apply_postgresql(schema)
    finally:
        schema.close()
    with closing(sqlite3.connect(f"{sqlite_file.resolve().as_uri()}?mode=ro", uri=True)) as source:
        with psycopg.connect(target) as connection:
            first = copy_database(source, connection, batch_rows=1000)
        source.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 3)  # tariffs: a two-column key, one per group
        with psycopg.connect(target) as connection:
            again = copy_database(source, connection, batch_rows=1000)
    assert sum(each.copied for each in first) == sum(each.already_there for each in again) > 0
    assert {each.table: each.rows for each in again}["tariffs"] > 1


def test_a_row_written_by_someone_else_during_the_copy_is_reported_not_lost_silently(
    sqlite_file: Path, target: str
) -> None:
    """Between the check and the copy another writer takes an outbox row's dedupe key: that file row cannot
    be written, and the copy says so instead of counting it as already there."""
    schema = PostgresConnection(target)
    try:
        apply_postgresql(schema)
    finally:
        schema.close()

    def meddle(table: str, done: int, total: int) -> None:
        if table == "outbox" and done == 0:
            with psycopg.connect(target, autocommit=True) as other:
                other.execute(
                    "INSERT INTO outbox (id, dedupe_key, chat_ref, platform, destination, event_kind, text, "
                    "next_attempt_at, created_at) "
                    "VALUES (999, 'alert:5', 1, 'telegram', '100', 'x', 'x', 0, 0)"
                )

    with (
        closing(sqlite3.connect(f"{sqlite_file.resolve().as_uri()}?mode=ro", uri=True)) as source,
        psycopg.connect(target) as connection,
        pytest.raises(CopyRefusedError) as refused,
    ):
        copy_database(source, connection, batch_rows=10, progress=meddle)
    assert str(refused.value).startswith(
        "PostgreSQL changed during the copy: 1 row(s) of outbox were not written"
    )
