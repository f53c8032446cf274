"""``minerwatch run --replay``: the shipped daily history played through the live loop, offline.

Each tick takes the next day's price and difficulty, stores it as a snapshot (sources: "replay"), adds
the daily row and hands the reading to the same watch as live polling, so capitulation, recovery, Hash
Ribbons and retarget alerts come out exactly as they would live, days compressed into fractions of a second.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

from bot.economics.history import DailyRow, height_at_end_of
from bot.economics.mining import MarketInputs
from bot.economics.stress import HISTORY_DAYS
from bot.sources.snapshot import MarketSnapshot, NetworkState, PriceQuote, SourceOutcome

if TYPE_CHECKING:
    from bot.store.db import Store
    from bot.watch import Watch

REPLAY_START = date(2021, 1, 1)
"""Default first replayed day: the 2022 capitulation comes ~18 s in at 30 days/s, its recovery ~38 s."""
WARMUP_DAYS = HISTORY_DAYS
"""Days before the first replayed one stored up front: enough for the miner-stress index's 4-year ranks."""


def _snapshot(row: DailyRow, at: datetime) -> MarketSnapshot:
    outcome = SourceOutcome("replay", at, ok=True, value=row.price_usd)
    price = PriceQuote(row.price_usd, at, (outcome,))
    hashrate_hs = row.hashrate_ths * 1e12 if row.hashrate_ths else None
    network = NetworkState(row.difficulty, height_at_end_of(row), 0.0, hashrate_hs, None, at, "replay", ())
    return MarketSnapshot(price=price, network=network, taken_at=at)


async def replay(
    store: Store,
    watch: Watch,
    rows: Sequence[DailyRow],
    *,
    start: date,
    days_per_s: float,
    stop: asyncio.Event,
) -> None:
    """Play ``rows`` from ``start`` at ``days_per_s``; the days before it only warm up the daily series."""
    # Loaded here, not at import: the command line reads REPLAY_START on every start, and the store
    # (sqlite-utils, which loads numpy) would cost a what-if command a tenth of a second.
    from bot.poller import report_ribbons
    from bot.store import snapshots as snapshot_repo
    from bot.watch import Reading

    warmup = [row for row in rows if start - timedelta(days=WARMUP_DAYS) <= row.date < start]
    await store.run(snapshot_repo.upsert_daily, warmup, "replay")
    for row in (r for r in rows if r.date >= start):
        if stop.is_set():
            return
        at = datetime.combine(row.date, time(12), tzinfo=UTC)
        snapshot = _snapshot(row, at)
        await store.run(snapshot_repo.insert_snapshot, snapshot)
        await store.run(snapshot_repo.upsert_daily, [row], "replay")
        market = MarketInputs(row.price_usd, row.difficulty, height_at_end_of(row), 0.0)
        await watch.observe(Reading(at=at, market=market, height_known=False))
        await report_ribbons(store, watch, row.date)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=1.0 / days_per_s)
