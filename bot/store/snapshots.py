"""Market snapshots (one per poll, pruned after a retention window), the daily series (kept forever), a
key/value ``state`` table and the event log."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from bot.economics.history import DailyRow
from bot.sources.snapshot import AdjustmentEstimate, MarketSnapshot, SourceOutcome
from bot.store.connection import Connection


@dataclass(frozen=True, slots=True)
class StoredSnapshot:
    """A stored poll: the numbers the economics needs, the retarget estimate and every source's answer."""

    id: int
    taken_at: datetime
    price_usd: float
    difficulty: float
    height: int
    fees_per_block_btc: float | None
    """``None`` when no source knew the fees (stored as NULL, never as 0)."""
    hashrate_hs: float | None
    adjustment: AdjustmentEstimate | None
    outcomes: tuple[SourceOutcome, ...]
    stale: bool


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _moment(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _adjustment_json(adjustment: AdjustmentEstimate | None) -> str | None:
    if adjustment is None:
        return None
    return json.dumps(
        {
            "progress_pct": adjustment.progress_pct,
            "difficulty_change_pct": adjustment.difficulty_change_pct,
            "remaining_blocks": adjustment.remaining_blocks,
            "next_retarget_height": adjustment.next_retarget_height,
            "estimated_retarget_at": _iso(adjustment.estimated_retarget_at),
            "previous_retarget_pct": adjustment.previous_retarget_pct,
            "epoch_start_at": _iso(adjustment.epoch_start_at),
        }
    )


def _adjustment(text: str | None) -> AdjustmentEstimate | None:
    if text is None:
        return None
    data = json.loads(text)
    return AdjustmentEstimate(
        progress_pct=data["progress_pct"],
        difficulty_change_pct=data["difficulty_change_pct"],
        remaining_blocks=data["remaining_blocks"],
        next_retarget_height=data["next_retarget_height"],
        estimated_retarget_at=_moment(data["estimated_retarget_at"]),
        previous_retarget_pct=data["previous_retarget_pct"],
        epoch_start_at=_moment(data["epoch_start_at"]),
    )


def _outcomes_json(outcomes: Iterable[SourceOutcome]) -> str:
    return json.dumps(
        [
            {
                "source": o.source,
                "fetched_at": o.fetched_at.isoformat(),
                "ok": o.ok,
                "value": o.value,
                "error": o.error,
                "dropped": o.dropped,
            }
            for o in outcomes
        ]
    )


def _outcomes(text: str) -> tuple[SourceOutcome, ...]:
    return tuple(
        SourceOutcome(
            source=o["source"],
            fetched_at=datetime.fromisoformat(o["fetched_at"]),
            ok=o["ok"],
            value=o["value"],
            error=o["error"],
            dropped=o["dropped"],
        )
        for o in json.loads(text)
    )


def insert_snapshot(db: Connection, snapshot: MarketSnapshot, *, stale: bool = False) -> int:
    """Store one poll; returns its row id."""
    network = snapshot.network
    row = db.execute(
        """INSERT INTO snapshots (taken_at, price_usd, difficulty, height, fees_per_block_btc, hashrate_hs,
               adjustment, outcomes, stale)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id""",
        [
            snapshot.taken_at.timestamp(),
            snapshot.price.price_usd,
            network.difficulty,
            network.height,
            network.fees_per_block_btc,
            network.hashrate_hs,
            _adjustment_json(network.adjustment),
            _outcomes_json(snapshot.outcomes),
            int(stale),
        ],
    ).fetchone()
    assert row is not None
    snapshot_id: int = row[0]
    return snapshot_id


def latest_snapshot(db: Connection) -> StoredSnapshot | None:
    """The most recent poll (stale or not: ``stale`` says which), or ``None`` before the first."""
    rows = list(db.fetch("SELECT * FROM snapshots ORDER BY taken_at DESC, id DESC LIMIT 1"))
    if not rows:
        return None
    row = rows[0]
    return StoredSnapshot(
        id=row["id"],
        taken_at=datetime.fromtimestamp(row["taken_at"], UTC),
        price_usd=row["price_usd"],
        difficulty=row["difficulty"],
        height=row["height"],
        fees_per_block_btc=row["fees_per_block_btc"],
        hashrate_hs=row["hashrate_hs"],
        adjustment=_adjustment(row["adjustment"]),
        outcomes=_outcomes(row["outcomes"]),
        stale=bool(row["stale"]),
    )


def upsert_daily(db: Connection, rows: Iterable[DailyRow], source: str) -> int:
    """Insert or replace days of history; returns how many rows were written."""
    params = [
        (r.date.isoformat(), r.price_usd, r.difficulty, r.hashrate_ths, r.issuance_btc, source) for r in rows
    ]
    with db.atomic():
        db.executemany(
            """INSERT INTO daily (date, price_usd, difficulty, hashrate_ths, issuance_btc, source)
               VALUES (?, ?, ?, ?, ?, ?)
               ON CONFLICT (date) DO UPDATE SET price_usd = excluded.price_usd,
                   difficulty = excluded.difficulty, hashrate_ths = excluded.hashrate_ths,
                   issuance_btc = excluded.issuance_btc, source = excluded.source""",
            params,
        )
    return len(params)


def daily_range(db: Connection, start: date | None = None, end: date | None = None) -> list[DailyRow]:
    """Days from ``start`` to ``end`` inclusive (either open), oldest first."""
    rows = db.fetch(
        "SELECT * FROM daily WHERE date >= ? AND date <= ? ORDER BY date",
        [start.isoformat() if start else "", end.isoformat() if end else "9999-12-31"],
    )
    return [
        DailyRow(
            date=date.fromisoformat(row["date"]),
            price_usd=row["price_usd"],
            difficulty=row["difficulty"],
            hashrate_ths=row["hashrate_ths"],
            issuance_btc=row["issuance_btc"],
        )
        for row in rows
    ]


def daily_fingerprint(db: Connection, start: date, end: date) -> tuple[object, ...]:
    """A cheap summary of the days ``start`` .. ``end`` (count, last date, sums of price and difficulty)
    that changes whenever a row in that range is added, removed or rewritten with other figures."""
    row = db.execute(
        """SELECT COUNT(*), MAX(date), COALESCE(SUM(price_usd), 0.0), COALESCE(SUM(difficulty), 0.0)
           FROM daily WHERE date >= ? AND date <= ?""",
        [start.isoformat(), end.isoformat()],
    ).one()
    return tuple(row)


def last_daily_date(db: Connection) -> date | None:
    value = db.execute("SELECT MAX(date) FROM daily").one()[0]
    return None if value is None else date.fromisoformat(value)


def get_state(db: Connection, key: str) -> Any:
    """The JSON value stored under ``key``, or ``None``."""
    row = db.execute("SELECT value FROM state WHERE key = ?", [key]).fetchone()
    return None if row is None else json.loads(row[0])


def set_state(db: Connection, key: str, value: object) -> None:
    """Store ``value`` (anything ``json.dumps`` accepts) under ``key``, replacing the old value."""
    db.execute(
        "INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [key, json.dumps(value)],
    )


DATA_HEALTH_KEY = "data_health"


@dataclass(frozen=True, slots=True)
class DataHealth:
    """What the poller last concluded: why the data is stale (``None``: fresh) and which sources have
    given no usable answer since when. Replies read it to say why their data is old."""

    stale_reason: str | None = None
    failing: Mapping[str, datetime] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        failing = {source: since.isoformat() for source, since in sorted(self.failing.items())}
        return {"stale_reason": self.stale_reason, "failing": failing}

    @classmethod
    def from_json(cls, document: object) -> DataHealth:
        """The stored form back; anything unreadable (or nothing stored yet) is "no news"."""
        if not isinstance(document, dict) or not isinstance(document.get("failing"), dict):
            return cls()
        reason = document.get("stale_reason")
        failing = {str(k): datetime.fromisoformat(v) for k, v in document["failing"].items()}
        return cls(reason if isinstance(reason, str) else None, failing)


def data_health(db: Connection) -> DataHealth:
    """The poller's latest ``DataHealth``."""
    return DataHealth.from_json(get_state(db, DATA_HEALTH_KEY))


def record_event(db: Connection, key: str, kind: str, occurred_at: float, data: Mapping[str, object]) -> bool:
    """Log an event once: returns ``False`` when ``key`` was already recorded."""
    cursor = db.execute(
        "INSERT INTO events (key, kind, occurred_at, data) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [key, kind, occurred_at, json.dumps(dict(data))],
    )
    return cursor.rowcount > 0


_OLD_SNAPSHOTS = """taken_at < :before
    AND id != (SELECT id FROM snapshots ORDER BY taken_at DESC, id DESC LIMIT 1)"""
"""Snapshots taken before ``before``, except the latest one (``/status`` reads it however old it is)."""


def count_old_snapshots(db: Connection, before: float) -> int:
    """How many snapshots ``prune_snapshots`` would delete."""
    count: int = db.execute(
        f"SELECT COUNT(*) FROM snapshots WHERE {_OLD_SNAPSHOTS}", {"before": before}
    ).one()[0]
    return count


def prune_snapshots(db: Connection, before: float, limit: int) -> int:
    """Delete up to ``limit`` snapshots taken before ``before`` (never the latest, never a daily row);
    returns how many."""
    cursor = db.execute(
        f"""DELETE FROM snapshots WHERE id IN (SELECT id FROM snapshots{db.indexed_by("snapshots_taken_at")}
                WHERE {_OLD_SNAPSHOTS} LIMIT :limit)""",
        {"before": before, "limit": limit},
    )
    return cursor.rowcount
