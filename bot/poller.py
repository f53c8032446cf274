"""Live polling: price every minute, network every five, a daily row and Hash Ribbons once a day.

Each poll stores what it learnt and hands a ``Reading`` to the watch. Upstream calls per hour depend only
on the intervals, never on the number of chats: commands read the stored snapshot.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import httpx

from bot.config import Settings
from bot.economics.history import DailyRow
from bot.economics.mining import MarketInputs
from bot.metrics import record_poll
from bot.sources.aggregate import SourcesUnavailable, fetch_network, fetch_price
from bot.sources.snapshot import MarketSnapshot, NetworkState, PriceQuote
from bot.store import snapshots as snapshot_repo
from bot.store.db import Store
from bot.watch import Reading, Watch

log = logging.getLogger(__name__)

RIBBON_WINDOW_DAYS = 120
"""Daily rows handed to the Hash Ribbons check: the 60-day average, and a recovery-to-buy gap, twice over
(on the shipped history this window finds exactly the events of the whole history)."""


class LivePoller:
    """Keeps the latest price and network state, stores snapshots and feeds the watch."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        watch: Watch,
        client: httpx.AsyncClient,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._settings = settings
        self._watch = watch
        self._client = client
        self._clock = clock
        self._price: PriceQuote | None = None
        self._network: NetworkState | None = None
        self._problem: str | None = None
        self._tried: set[str] = set()

    async def poll_price(self) -> None:
        """Fetch the median price, then evaluate."""
        try:
            self._price = await fetch_price(self._client, self._settings, self._clock)
            self._problem = None
            record_poll(self._price.outcomes)
        except SourcesUnavailable as error:
            self._problem = str(error).splitlines()[0].rstrip(":")
            record_poll(error.outcomes)
            log.warning("%s", error)
        finally:
            self._tried.add("price")
        await self.evaluate()

    async def poll_network(self) -> None:
        """Fetch difficulty, height, fees, hashrate and the retarget estimate, then evaluate."""
        try:
            self._network = await fetch_network(self._client, self._settings, self._clock)
            record_poll(self._network.outcomes)
        except SourcesUnavailable as error:
            self._problem = str(error).splitlines()[0].rstrip(":")
            record_poll(error.outcomes)
            log.warning("%s", error)
        finally:
            self._tried.add("network")
        await self.evaluate()

    def _stale_reason(self, now: datetime) -> str | None:
        limit = timedelta(seconds=self._settings.stale_after_s)
        if self._price is None or now - self._price.fetched_at > limit:
            return self._problem or "no fresh BTC price"
        if self._network is None or now - self._network.fetched_at > limit * 3:
            return self._problem or "no fresh network data"
        return None

    async def evaluate(self) -> None:
        """Store a snapshot when the data is fresh and evaluate it (stale data only yields a notice)."""
        if self._tried != {"price", "network"}:
            return  # the first round of polls is not complete yet
        now = self._clock()
        reason = self._stale_reason(now)
        if reason is not None or self._price is None or self._network is None:
            await self._watch.observe(Reading(at=now, market=None, stale_reason=reason))
            return
        snapshot = MarketSnapshot(price=self._price, network=self._network, taken_at=now)
        await self._store.run(snapshot_repo.insert_snapshot, snapshot)
        network = self._network
        market = MarketInputs(
            self._price.price_usd, network.difficulty, network.height, network.fees_per_block_btc
        )
        adjustment = network.adjustment
        await self._watch.observe(
            Reading(
                at=now,
                market=market,
                difficulty_change_pct=adjustment.difficulty_change_pct if adjustment else None,
                next_retarget_height=adjustment.next_retarget_height if adjustment else None,
            )
        )

    async def daily(self) -> None:
        """Record today's daily row from the latest data and report Hash Ribbons events."""
        if self._price is None or self._network is None:
            return
        today = self._clock().date()
        hashrate_ths = self._network.hashrate_hs / 1e12 if self._network.hashrate_hs else None
        row = DailyRow(today, self._price.price_usd, self._network.difficulty, hashrate_ths, None)
        await self._store.run(snapshot_repo.upsert_daily, [row], "live")
        await report_ribbons(self._store, self._watch, today)


async def report_ribbons(store: Store, watch: Watch, today: date) -> None:
    """Run the Hash Ribbons check over the trailing window of daily rows."""
    rows = await store.run(snapshot_repo.daily_range, today - timedelta(days=RIBBON_WINDOW_DAYS), today)
    await watch.observe_daily(rows)
