"""Snapshots, the daily series, the state table and the event log."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlite_utils import Database

from bot.economics.history import DailyRow
from bot.sources.snapshot import AdjustmentEstimate, MarketSnapshot, NetworkState, PriceQuote, SourceOutcome
from bot.store import Connection, connect
from bot.store.migrations import migrations
from bot.store.snapshots import (
    daily_range,
    get_state,
    insert_snapshot,
    last_daily_date,
    latest_snapshot,
    record_event,
    set_state,
    upsert_daily,
)
from bot.store.sqlite import SqliteConnection

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def db(connection: Connection) -> Connection:
    """A migrated connection, on SQLite and on PostgreSQL."""
    return connection


def snapshot(
    taken_at: datetime, price: float, adjustment: AdjustmentEstimate | None = None
) -> MarketSnapshot:
    quote = SourceOutcome("coinbase", taken_at, ok=True, value=price)
    bad = SourceOutcome("kraken", taken_at, ok=False, error="kraken: timeout")
    network = NetworkState(
        difficulty=1.2e14,
        height=940_000,
        fees_per_block_btc=0.03,
        hashrate_hs=8.5e20,
        adjustment=adjustment,
        fetched_at=taken_at,
        source="mempool",
        outcomes=(SourceOutcome("mempool", taken_at, ok=True, value=1.2e14),),
    )
    return MarketSnapshot(PriceQuote(price, taken_at, (quote, bad)), network, taken_at)


def test_latest_snapshot_round_trips(db: Connection) -> None:
    assert latest_snapshot(db) is None
    adjustment = AdjustmentEstimate(42.5, -3.1, 1159, 941_472, AT, 1.9, None)
    insert_snapshot(db, snapshot(AT, 90_000.0, adjustment))
    newest = insert_snapshot(db, snapshot(AT.replace(minute=1), 91_000.0, adjustment), stale=True)
    stored = latest_snapshot(db)
    assert stored is not None
    assert (stored.id, stored.price_usd, stored.height, stored.stale) == (newest, 91_000.0, 940_000, True)
    assert stored.taken_at == AT.replace(minute=1)
    assert stored.adjustment == adjustment
    assert [o.source for o in stored.outcomes] == ["coinbase", "kraken", "mempool"]
    assert stored.outcomes[1].error == "kraken: timeout"


def test_daily_upsert_range_and_last_date(db: Connection) -> None:
    assert last_daily_date(db) is None
    rows = [
        DailyRow(date(2026, 1, d), 90_000.0 + d, 1.1e14, None if d == 2 else 8e8, 450.0) for d in (1, 2, 3)
    ]
    assert upsert_daily(db, rows, source="csv") == 3
    upsert_daily(db, [DailyRow(date(2026, 1, 3), 1.0, 2.0, 3.0, None)], source="coingecko")
    assert last_daily_date(db) == date(2026, 1, 3)
    assert daily_range(db) == [*rows[:2], DailyRow(date(2026, 1, 3), 1.0, 2.0, 3.0, None)]
    assert [r.date.day for r in daily_range(db, start=date(2026, 1, 2))] == [2, 3]
    assert [r.date.day for r in daily_range(db, end=date(2026, 1, 2))] == [1, 2]


def test_state_holds_json(db: Connection) -> None:
    assert get_state(db, "regime") is None
    set_state(db, "regime", {"name": "capitulation", "since": 1.5, "polls": [1, 2]})
    set_state(db, "regime", {"name": "normal"})
    assert get_state(db, "regime") == {"name": "normal"}


def test_events_are_recorded_once_per_key(db: Connection) -> None:
    assert record_event(db, "retarget:941472", "retarget", 10.0, {"change_pct": -3.1})
    assert not record_event(db, "retarget:941472", "retarget", 11.0, {"change_pct": -3.0})
    assert db.execute("SELECT data FROM events").fetchall() == [('{"change_pct": -3.1}',)]


def test_unknown_fees_are_stored_as_null_not_zero(db: Connection) -> None:
    base = snapshot(AT, 90_000.0)
    insert_snapshot(db, replace(base, network=replace(base.network, fees_per_block_btc=None)))
    stored = latest_snapshot(db)
    assert stored is not None and stored.fees_per_block_btc is None
    assert db.execute("SELECT fees_per_block_btc IS NULL FROM snapshots").fetchone() == (1,)


def test_migration_marks_the_old_zero_fees_unknown(tmp_path: Path) -> None:
    """Before m005 the fall-back sources stored unknown fees as 0; the migration turns those into NULL."""
    old = SqliteConnection(Database(tmp_path / "old.db"), tmp_path / "old.db")
    migrations.apply(old.sqlite, stop_before="m005_fees_may_be_unknown")
    unknown = snapshot(AT, 1.0)
    with pytest.raises(sqlite3.IntegrityError):
        insert_snapshot(old, replace(unknown, network=replace(unknown.network, fees_per_block_btc=None)))
    for minute, fees in ((0, 0.0), (1, 0.03)):
        base = snapshot(AT.replace(minute=minute), 90_000.0)
        insert_snapshot(old, replace(base, network=replace(base.network, fees_per_block_btc=fees)))
    old.close()
    db = connect(tmp_path / "old.db")
    stored = [row[0] for row in db.execute("SELECT fees_per_block_btc FROM snapshots ORDER BY taken_at")]
    assert stored == [None, 0.03]
    assert "snapshots_taken_at" in {index.name for index in db.sqlite.table("snapshots").indexes}
    db.close()
