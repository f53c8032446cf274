"""``minerwatch run --replay``: the shipped daily history played through the live loop, offline.

Each tick takes the next day's price and difficulty, stores it as a snapshot (sources: "replay"), adds
the daily row and hands the reading to the same watch as live polling, so capitulation, recovery, Hash
Ribbons and retarget alerts come out exactly as they would live, days compressed into fractions of a second.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

from bot.economics.history import DailyRow, height_at_end_of
from bot.economics.mining import MarketInputs
from bot.economics.stress import HISTORY_DAYS
from bot.market.view import REPLAY_SOURCE
from bot.sources.snapshot import MarketSnapshot, NetworkState, PriceQuote, SourceOutcome

if TYPE_CHECKING:
    from bot.store.db import Store
    from bot.watch.loop import Watch

REPLAY_START = date(2021, 1, 1)
"""Default first replayed day: the 2022 capitulation comes ~18 s in at 30 days/s, its recovery ~38 s."""
DEFAULT_DAYS_PER_S = 30.0
WARMUP_DAYS = HISTORY_DAYS
"""Days before the first replayed one stored up front: enough for the miner-stress index's 4-year ranks."""


@dataclass(slots=True)
class ReplayProgress:
    """Where a replay stands: the days played so far and the alerts they raised, by kind."""

    first_day: date | None = None
    day: date | None = None
    """The day being played: what the console stamps its alerts with."""
    events: Counter[str] = field(default_factory=Counter)

    def stamp(self) -> str:
        """``2022-06-14 (replay)``: the replayed day, for the console's alert lines."""
        return f"{self.day} (replay)"

    def summary(self) -> str:
        """``Replay finished: 2021-01-01 to 2025-06-02 (1,614 days); alerts: retarget 115, ...``."""
        if self.first_day is None or self.day is None:
            return "Replay finished: no day to play."
        days = (self.day - self.first_day).days + 1
        found = ", ".join(f"{kind} {count:,}" for kind, count in self.events.most_common()) or "none"
        return f"Replay finished: {self.first_day} to {self.day} ({days:,} days); alerts: {found}."


def _snapshot(row: DailyRow, at: datetime) -> MarketSnapshot:
    outcome = SourceOutcome(REPLAY_SOURCE, at, ok=True, value=row.price_usd)
    price = PriceQuote(row.price_usd, at, (outcome,))
    hashrate_hs = row.hashrate_ths * 1e12 if row.hashrate_ths else None
    network = NetworkState(
        row.difficulty, height_at_end_of(row), 0.0, hashrate_hs, None, at, REPLAY_SOURCE, ()
    )
    return MarketSnapshot(price=price, network=network, taken_at=at)


async def replay(
    store: Store,
    watch: Watch,
    rows: Sequence[DailyRow],
    *,
    start: date,
    days_per_s: float,
    stop: asyncio.Event,
    progress: ReplayProgress | None = None,
    delivered: Callable[[], Awaitable[None]] | None = None,
) -> ReplayProgress:
    """Play ``rows`` from ``start`` at ``days_per_s``; the days before it only warm up the daily series.

    ``progress`` follows the days and counts the alerts; after a day that raised alerts ``delivered`` is
    awaited, so they are out (and stamped with their own day) before the next day is played.
    """
    # Loaded here, not at import: the command line reads REPLAY_START on every start, and the store
    # (sqlite-utils, which loads numpy) would cost a what-if command a tenth of a second.
    from bot.market.poller import report_ribbons
    from bot.store import snapshots as snapshot_repo
    from bot.watch.loop import Reading

    progress = progress or ReplayProgress()
    warmup = [row for row in rows if start - timedelta(days=WARMUP_DAYS) <= row.date < start]
    await store.run(snapshot_repo.upsert_daily, warmup, REPLAY_SOURCE)
    for row in (r for r in rows if r.date >= start):
        if stop.is_set():
            break
        progress.first_day = progress.first_day or row.date
        progress.day = row.date
        at = datetime.combine(row.date, time(12), tzinfo=UTC)
        snapshot = _snapshot(row, at)
        await store.run(snapshot_repo.insert_snapshot, snapshot)
        await store.run(snapshot_repo.upsert_daily, [row], REPLAY_SOURCE)
        market = MarketInputs(row.price_usd, row.difficulty, height_at_end_of(row), 0.0)
        events = await watch.observe(Reading(at=at, market=market, height_known=False))
        events += await report_ribbons(store, watch, row.date)
        progress.events.update(event.kind.value for event in events)
        if events and delivered is not None:
            await delivered()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=1.0 / days_per_s)
    return progress
