"""Retention: the database after a year of 60 s polls and alert traffic, without and with the daily prune.

Run: ``.venv/bin/python -m benchmarks.retention [--days 365] [--poll-s 60] [--messages-per-day N] [--json]``.
Each poll is stored by the real ``insert_snapshot`` (four price sources and two network sources, as the
bot stores them); each day adds one daily row and ``--messages-per-day`` outbox rows (a rendered alert),
sent a second after they were made. Pass 1 stores the whole period without pruning, then prunes once with
the default windows (``bot.store.retention``): file size before, after (SQLite keeps the freed pages for
reuse), the live data and the size after ``VACUUM``, the prune time and its longest single chunk (how
long the database thread is held at most). Pass 2 prunes at the end of every day as the bot's daily job
does: the file size it settles at.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks._common import print_figures
from bot.alerts.engine import threshold_event
from bot.alerts.rules import Metric, Op, Rule
from bot.chat.kinds import ChatKind
from bot.economics.history import DailyRow
from bot.render.alerts import render_event
from bot.sources.snapshot import AdjustmentEstimate, MarketSnapshot, NetworkState, PriceQuote, SourceOutcome
from bot.store import connect
from bot.store.chats import upsert_chat
from bot.store.outbox import NewMessage, enqueue
from bot.store.retention import DAY_S, Cutoffs, Retention, prune_chunk
from bot.store.snapshots import insert_snapshot, upsert_daily
from bot.store.sqlite import SqliteConnection

START = datetime(2025, 1, 1, tzinfo=UTC)
CHATS = 100
PRICE_SOURCES = ("coinbase", "kraken", "bitstamp", "coingecko")
NETWORK_SOURCES = ("mempool", "blockchain.info")
ALERT = render_event(threshold_event(Rule(Metric.PRICE, Op.BELOW, 60_000.0, 600.0), 59_412.5, START))


def snapshot(at: datetime) -> MarketSnapshot:
    """One poll as the bot stores it: every source answered."""
    prices = tuple(SourceOutcome(name, at, True, 85_864.0 + i) for i, name in enumerate(PRICE_SOURCES))
    network = tuple(SourceOutcome(name, at, True, 1.3271600235073e14) for name in NETWORK_SOURCES)
    adjustment = AdjustmentEstimate(41.3, 2.17, 1183, 937_440, at + timedelta(days=8), -1.4, at)
    state = NetworkState(1.3271600235073e14, 935_000, 0.0312, 9.5e20, adjustment, at, "mempool", network)
    return MarketSnapshot(PriceQuote(85_864.0, at, prices), state, at)


def add_day(db: SqliteConnection, day: int, poll_s: float, messages: int, chat_refs: list[int]) -> None:
    """One simulated day: its polls, its daily row and its alert traffic, all sent."""
    begin = START.timestamp() + day * DAY_S
    with db.atomic():
        for k in range(int(DAY_S / poll_s)):
            insert_snapshot(db, snapshot(datetime.fromtimestamp(begin + k * poll_s, UTC)))
        rows = [
            NewMessage(f"{day}:{n}", ref, "telegram", str(ref), "threshold", ALERT)
            for n, ref in zip(range(messages), chat_refs * (messages // len(chat_refs) + 1), strict=False)
        ]
        enqueue(db, rows, begin + 3600)
        db.execute("UPDATE outbox SET status = 'sent', sent_at = created_at + 1 WHERE status = 'pending'")
    today = (START + timedelta(days=day)).date()
    upsert_daily(db, [DailyRow(today, 85_864.0, 1.3271600235073e14, 9.5e8, 450.0)], "live")


def file_bytes(db: SqliteConnection, path: Path) -> int:
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path.stat().st_size


def live_bytes(db: SqliteConnection) -> int:
    pages, free, size = (
        db.execute(f"PRAGMA {name}").one()[0] for name in ("page_count", "freelist_count", "page_size")
    )
    return int((pages - free) * size)


def timed_prune(db: SqliteConnection, cutoffs: Cutoffs) -> tuple[int, float, float]:
    """Rows removed, total seconds and the longest chunk's seconds."""
    removed, longest, started = 0, 0.0, time.perf_counter()
    while True:
        chunk_started = time.perf_counter()
        deleted = prune_chunk(db, cutoffs)
        longest = max(longest, time.perf_counter() - chunk_started)
        if not deleted:
            return removed, time.perf_counter() - started, longest
        removed += deleted


def setup(path: Path) -> tuple[SqliteConnection, list[int]]:
    db = connect(path)
    refs = [
        upsert_chat(db, "telegram", str(1000 + n), ChatKind.PRIVATE, START.timestamp()).id
        for n in range(CHATS)
    ]
    return db, refs


def run(tmp: Path, days: int, poll_s: float, messages: int) -> dict[str, Any]:
    end = START.timestamp() + days * DAY_S
    path = tmp / "no-prune.db"
    db, refs = setup(path)
    started = time.perf_counter()
    for day in range(days):
        add_day(db, day, poll_s, messages, refs)
    fill_s = time.perf_counter() - started
    rows = {t: db.execute(f"SELECT COUNT(*) FROM {t}").one()[0] for t in ("snapshots", "outbox", "daily")}
    before = file_bytes(db, path)
    removed, prune_s, longest = timed_prune(db, Cutoffs.at(Retention(), end))
    after = file_bytes(db, path)
    live = live_bytes(db)
    left = {t: db.execute(f"SELECT COUNT(*) FROM {t}").one()[0] for t in ("snapshots", "outbox", "daily")}
    db.execute("VACUUM")
    vacuumed = file_bytes(db, path)
    db.close()

    path = tmp / "daily-prune.db"
    db, refs = setup(path)
    daily_s, daily_longest = 0.0, 0.0
    for day in range(days):
        add_day(db, day, poll_s, messages, refs)
        _, seconds, chunk = timed_prune(db, Cutoffs.at(Retention(), START.timestamp() + (day + 1) * DAY_S))
        daily_s, daily_longest = max(daily_s, seconds), max(daily_longest, chunk)
    settled = file_bytes(db, path)
    db.close()
    return {
        "days": days,
        "poll_s": poll_s,
        "messages_per_day": messages,
        "rows_before": rows,
        "fill_s": round(fill_s, 1),
        "bytes_before_prune": before,
        "prune_rows": removed,
        "prune_s": round(prune_s, 2),
        "prune_longest_chunk_ms": round(longest * 1000, 1),
        "rows_after": left,
        "bytes_after_prune": after,
        "live_bytes_after_prune": live,
        "bytes_after_vacuum": vacuumed,
        "daily_prune_bytes_at_end": settled,
        "daily_prune_max_s": round(daily_s, 3),
        "daily_prune_longest_chunk_ms": round(daily_longest * 1000, 1),
    }


def mb(value: int) -> str:
    return f"{value / 1e6:,.1f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--days", type=int, default=365, help="simulated days (default a year)")
    parser.add_argument("--poll-s", type=float, default=60.0, help="seconds between polls (default 60)")
    parser.add_argument("--messages-per-day", type=int, default=200, help="alerts sent per day, all chats")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="minerwatch-retention-") as tmp:
        figures = run(Path(tmp), args.days, args.poll_s, args.messages_per_day)
    rows = [
        (
            "rows stored (snapshots, outbox, daily)",
            ", ".join(f"{n:,}" for n in figures["rows_before"].values()),
        ),
        ("database without pruning", mb(figures["bytes_before_prune"])),
        ("prune: rows removed", f"{figures['prune_rows']:,}"),
        ("prune: time", f"{figures['prune_s']:.2f} s"),
        ("prune: longest chunk (DB thread held)", f"{figures['prune_longest_chunk_ms']:.1f} ms"),
        ("rows left (snapshots, outbox, daily)", ", ".join(f"{n:,}" for n in figures["rows_after"].values())),
        ("file after prune (pages kept for reuse)", mb(figures["bytes_after_prune"])),
        ("live data after prune", mb(figures["live_bytes_after_prune"])),
        ("file after VACUUM", mb(figures["bytes_after_vacuum"])),
        ("with the daily prune: file at the end", mb(figures["daily_prune_bytes_at_end"])),
        ("daily prune: longest run", f"{figures['daily_prune_max_s']:.3f} s"),
        ("daily prune: longest chunk", f"{figures['daily_prune_longest_chunk_ms']:.1f} ms"),
    ]
    title = (
        f"{figures['days']} days of {figures['poll_s']:g} s polls, {figures['messages_per_day']} alerts/day"
    )
    print_figures(figures, args.json, rows=rows, title=title)


if __name__ == "__main__":
    main()
