"""Retention: the prune keeps daily rows, recent and unsent rows; ``db prune`` and its dry run; the migration
that adds ``expired`` keeps every outbox row and id."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest
from sqlite_utils import Database

from bot.app import _jobs
from bot.chat.kinds import ChatKind
from bot.config import Settings
from bot.economics.history import DailyRow
from bot.market.poller import LivePoller
from bot.store.chats import upsert_chat
from bot.store.connection import Connection
from bot.store.db import Store, connect
from bot.store.migrations import migrations
from bot.store.outbox import NewMessage, OutboxStatus, counts, enqueue, expire, get_message, mark_sent
from bot.store.retention import DAY_S, Cutoffs, Retention, count_prunable, prune, prune_chunk, prune_store
from bot.store.snapshots import daily_range, latest_snapshot, upsert_daily
from bot.store.sqlite import SqliteConnection
from tests.integration.test_dbtools import db_command, table_rows

NOW = time.time()
"""The command line prunes against the wall clock: the rows are placed relative to it."""
DAYS = [date(2026, 1, 1), date(2026, 1, 2)]


def add_snapshot(db: Connection, taken_at: float) -> None:
    db.execute(
        """INSERT INTO snapshots (taken_at, price_usd, difficulty, height, fees_per_block_btc, outcomes)
           VALUES (?, 90000, 1.2e14, 900000, 0.02, '[]')""",
        [taken_at],
    )


def add_message(db: Connection, key: str, created_at: float) -> int:
    chat = upsert_chat(db, "telegram", "42", ChatKind.PRIVATE, created_at)
    enqueue(db, [NewMessage(key, chat.id, "telegram", "42", "threshold", key)], created_at)
    row_id: int = db.execute("SELECT id FROM outbox WHERE dedupe_key = ?", [key]).one()[0]
    return row_id


def add_old_message(db: Connection, key: str) -> int:
    """A row as the schema before the outbox priorities (m007) holds it."""
    chat = upsert_chat(db, "telegram", "42", ChatKind.PRIVATE, NOW)
    row_id: int = db.execute(
        """INSERT INTO outbox (dedupe_key, chat_ref, platform, destination, event_kind, text, next_attempt_at,
               created_at) VALUES (?, ?, 'telegram', '42', 'threshold', ?, ?, ?) RETURNING id""",
        [key, chat.id, key, NOW, NOW],
    ).one()[0]
    return row_id


def seed(db: Connection) -> None:
    """Old and recent rows of every kind the prune looks at; the expected survivors are named ``keep``."""
    for age_days in (400, 90, 31, 29, 1):
        add_snapshot(db, NOW - age_days * DAY_S)
    upsert_daily(db, [DailyRow(day, 90000.0, 1.2e14, None, None) for day in DAYS], "shipped")
    sent_old = add_message(db, "drop:sent-8d", NOW - 8 * DAY_S)
    mark_sent(db, sent_old, NOW - 8 * DAY_S)
    sent_new = add_message(db, "keep:sent-6d", NOW - 6 * DAY_S)
    mark_sent(db, sent_new, NOW - 6 * DAY_S)
    # sent recently although made long ago: the sent window counts from the send
    late = add_message(db, "keep:sent-late", NOW - 40 * DAY_S)
    mark_sent(db, late, NOW - DAY_S)
    add_message(db, "drop:expired-31d", NOW - 31 * DAY_S)
    expire(db, NOW - 30.5 * DAY_S)
    dead = add_message(db, "drop:dead-45d", NOW - 45 * DAY_S)
    db.execute("UPDATE outbox SET status = 'dead' WHERE id = ?", [dead])
    dead_new = add_message(db, "keep:dead-10d", NOW - 10 * DAY_S)
    db.execute("UPDATE outbox SET status = 'dead' WHERE id = ?", [dead_new])
    add_message(db, "keep:pending-400d", NOW - 400 * DAY_S)  # never deleted, however old
    inflight = add_message(db, "keep:sending-400d", NOW - 400 * DAY_S + 1)
    db.execute("UPDATE outbox SET status = 'sending' WHERE id = ?", [inflight])


def outbox_keys(db: Connection) -> set[str]:
    return {row[0] for row in db.execute("SELECT dedupe_key FROM outbox").fetchall()}


@pytest.fixture
def db(connection: Connection) -> Connection:
    """A seeded connection, on SQLite and on PostgreSQL."""
    seed(connection)
    return connection


def test_prune_removes_old_rows_and_keeps_daily_recent_and_unsent(db: Connection) -> None:
    cutoffs = Cutoffs.at(Retention(), NOW)
    found = count_prunable(db, cutoffs)
    assert (found.snapshots, found.outbox) == (
        3,
        {OutboxStatus.SENT: 1, OutboxStatus.DEAD: 1, OutboxStatus.EXPIRED: 1},
    )
    assert prune(db, cutoffs, limit=2) == 6  # in chunks of two
    taken = [row[0] for row in db.execute("SELECT taken_at FROM snapshots ORDER BY taken_at").fetchall()]
    assert taken == [NOW - 29 * DAY_S, NOW - DAY_S]
    assert [row.date for row in daily_range(db)] == DAYS
    assert outbox_keys(db) == {
        "keep:sent-6d",
        "keep:sent-late",
        "keep:dead-10d",
        "keep:pending-400d",
        "keep:sending-400d",
    }
    assert count_prunable(db, cutoffs).total == 0
    assert prune_chunk(db, cutoffs) == 0


def test_the_latest_snapshot_is_kept_however_old(connection: Connection) -> None:
    db = connection
    for age_days in (60, 50):
        add_snapshot(db, NOW - age_days * DAY_S)
    assert prune(db, Cutoffs.at(Retention(), NOW)) == 1
    latest = latest_snapshot(db)
    assert latest is not None and latest.taken_at.timestamp() == pytest.approx(NOW - 50 * DAY_S)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    """A seeded SQLite store (the ``db prune`` command works on a file)."""
    opened = await Store.open(tmp_path / "m.db")
    await opened.run(seed)
    yield opened
    await opened.close()


async def test_the_daily_job_prunes_in_chunks_between_other_calls(backend_store: Store) -> None:
    store = backend_store
    await store.run(seed)
    calls: list[str] = []
    real_run = store.run

    async def recording_run(fn, *args, **kwargs):
        calls.append(fn.__name__)
        return await real_run(fn, *args, **kwargs)

    store.run = recording_run  # type: ignore[method-assign]
    assert await prune_store(store, Retention(), NOW, limit=2) == 6
    assert calls == ["prune_chunk"] * 4  # 2 + 2 + 2, then one that finds nothing
    assert (await real_run(counts))[OutboxStatus.PENDING] == 1


async def test_db_prune_dry_run_changes_nothing_then_prune_removes(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    path = tmp_path / "m.db"
    assert store.path == path
    before = table_rows(path)
    code, out, err = db_command(capsys, "prune", "--dry-run", "--db", str(path))
    assert (code, err) == (0, "")
    assert table_rows(path) == before
    lines = [line.split() for line in out.splitlines()]
    assert lines[1] == ["would", "remove", "(dry", "run,", "nothing", "changed):"]
    assert lines[2][0] == "snapshots" and lines[2][-1] == "3"
    assert [line[1] for line in lines[3:6]] == ["sent", "dead", "expired"]
    assert [line[-1] for line in lines[3:6]] == ["1", "1", "1"]
    assert lines[-1] == ["total", "6", "row(s)"]

    monkeypatch.setenv("MINERWATCH_SNAPSHOT_RETENTION_DAYS", "100")  # the windows are the settings
    code, out, err = db_command(capsys, "prune", "--db", str(path))  # while the bot holds it open
    assert (code, err) == (0, "")
    assert out.splitlines()[1] == "removed:"
    assert out.splitlines()[-1].startswith("total 4 row(s) in ")
    remaining = await store.run(lambda db: db.execute("SELECT COUNT(*) FROM snapshots").one()[0])
    assert remaining == 4


def test_db_prune_of_a_missing_database_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.db"
    code, out, err = db_command(capsys, "prune", "--db", str(missing))
    assert (code, out) == (2, "")
    assert err == f"minerwatch: database {missing} does not exist (set MINERWATCH_DB or pass --db)\n"
    assert not missing.exists()


def test_migration_to_expired_keeps_rows_ids_and_the_id_counter(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = SqliteConnection(Database(path), path)
    migrations.apply(db.sqlite, stop_before="m006_outbox_expired")
    first, second = add_old_message(db, "a"), add_old_message(db, "b")
    db.execute("DELETE FROM outbox WHERE id = ?", [second])  # the counter is now past the last row
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("UPDATE outbox SET status = 'expired' WHERE id = ?", [first])
    db.close()

    db = connect(path)
    assert [m.name for m in migrations.pending(db.sqlite)] == []
    kept = get_message(db, first)
    assert kept is not None and (kept.dedupe_key, kept.status) == ("a", OutboxStatus.PENDING)
    assert expire(db, NOW + 1)[0].id == first
    assert add_message(db, "c", NOW) == second + 1  # an id is never reused
    index = db.execute(
        "EXPLAIN QUERY PLAN DELETE FROM outbox WHERE status = 'sent' AND sent_at < 1"
    ).fetchall()
    assert "outbox_sent" in str(index)


async def test_the_bot_runs_the_prune_daily(
    backend_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = backend_store
    await store.run(seed)
    monkeypatch.chdir(tmp_path)  # no stray .env
    poller = cast(LivePoller, SimpleNamespace(poll_price=None, poll_network=None, daily=None))
    [job] = [spec for spec in _jobs(Settings(), poller, store) if spec.name == "prune"]
    assert job.every_s == DAY_S
    await job.func()
    assert await store.run(lambda db: count_prunable(db, Cutoffs.at(Retention(), time.time())).total) == 0
    assert (await store.run(counts))[OutboxStatus.SENT] == 2
