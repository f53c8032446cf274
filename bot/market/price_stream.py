"""Price alerts between polls: the exchange WebSocket tickers feed the price-threshold rules.

``PriceStream.run`` keeps the Coinbase and Kraken feeds connected (``bot.sources.exchange_ws``). After a
tick, or a price poll (``recheck``), and at most once per ``min_interval_s``, it checks the live quotes
(those younger than ``MAX_QUOTE_AGE_S``) against the latest polled price (``bot.sources.stream_quorum``);
a price that passes and differs from the last one evaluated goes to ``evaluate`` (the watch's price-only
evaluation, which fires rules but leaves re-arming to the polls). Only price rules are evaluated this way:
every other metric needs the polled network data. While the polled data is stale there is no witness, so
streamed quotes drive nothing. A feed that is down simply stops contributing; polling never depends on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

import aiohttp

from bot.config import Settings
from bot.ops.metrics import set_price_stream
from bot.sources.exchange_ws import ExchangeFeed, coinbase_feed, follow, kraken_feed
from bot.sources.stream_quorum import StreamVerdict, stream_verdict
from bot.transports.lifecycle import BACKOFF, Backoff, describe, pause

log = logging.getLogger(__name__)

MIN_EVALUATION_INTERVAL_S = 1.0
"""Streamed prices are evaluated at most this often (ticks in between are coalesced into the latest)."""
MAX_QUOTE_AGE_S = 60.0
"""A quote older than this is not used: both tickers send on every trade and BTC/USD trades several times a
second on either exchange, so a minute without one means the ticker froze (heartbeats may go on)."""


def feeds_for(settings: Settings) -> list[ExchangeFeed]:
    return [coinbase_feed(str(settings.coinbase_ws_url)), kraken_feed(str(settings.kraken_ws_url))]


class PriceStream:
    """The live quotes of the feeds, checked and handed to ``evaluate`` (throttled)."""

    def __init__(
        self,
        settings: Settings,
        reference: Callable[[], float | None],
        evaluate: Callable[[float], Awaitable[object]],
        *,
        feeds: Sequence[ExchangeFeed] | None = None,
        min_interval_s: float = MIN_EVALUATION_INTERVAL_S,
        backoff: Backoff = BACKOFF,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._reference = reference
        self._evaluate = evaluate
        self._feeds = list(feeds) if feeds is not None else feeds_for(settings)
        self._min_interval_s = min_interval_s
        self._backoff = backoff
        self._changed = asyncio.Event()
        self._clock = clock
        self.quotes: dict[str, float] = {}
        """The last price of each connected feed."""
        self._quoted_at: dict[str, float] = {}
        self.last_verdict: StreamVerdict | None = None
        self.evaluated_usd: float | None = None
        """The last streamed price handed to ``evaluate``."""
        self.checks = 0
        """How many times the live quotes were checked (tests wait on it)."""

    def tick(self, source: str, price_usd: float) -> None:
        if source not in self.quotes:
            set_price_stream(source, up=True)
        self.quotes[source] = price_usd
        self._quoted_at[source] = self._clock()
        self._changed.set()

    def recheck(self) -> None:
        """Check the live quotes again (the polled witness changed)."""
        self._changed.set()

    def down(self, source: str) -> None:
        set_price_stream(source, up=False)
        self.quotes.pop(source, None)
        self._quoted_at.pop(source, None)

    async def run(self, stop: asyncio.Event) -> None:
        """Follow every feed and evaluate their quotes until ``stop`` is set (or the task is cancelled)."""
        async with aiohttp.ClientSession() as session:
            followers = [
                asyncio.create_task(
                    follow(
                        feed,
                        session,
                        self,
                        stop,
                        stall_s=self._settings.price_stream_stall_s,
                        backoff=self._backoff,
                    ),
                    name=f"{feed.source}-price-stream",
                )
                for feed in self._feeds
            ]
            try:
                await self._evaluations(stop)
            finally:
                for follower in followers:
                    follower.cancel()
                await asyncio.gather(*followers, return_exceptions=True)

    async def _evaluations(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            waiting = asyncio.ensure_future(self._changed.wait())
            stopping = asyncio.ensure_future(stop.wait())
            try:
                await asyncio.wait((waiting, stopping), return_when=asyncio.FIRST_COMPLETED)
            finally:
                for future in (waiting, stopping):
                    future.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await future
            if stop.is_set():
                return
            self._changed.clear()
            try:
                await self.check()
            except Exception as error:  # e.g. the store refused the write: the polls go on, so does this
                log.warning("streamed price not evaluated (%s)", describe(error))
                self.evaluated_usd = None
            if await pause(stop, self._min_interval_s):
                return

    async def check(self) -> None:
        """Check the live quotes against the polled witness; evaluate a new agreed price."""
        oldest = self._clock() - MAX_QUOTE_AGE_S
        verdict = stream_verdict(
            {source: price for source, price in self.quotes.items() if self._quoted_at[source] >= oldest},
            self._reference(),
            max_deviation_pct=self._settings.max_quote_deviation_pct,
            max_jump_pct=self._settings.max_price_jump_pct,
        )
        used_before = self.last_verdict is not None and self.last_verdict.price_usd is not None
        if verdict.problem is not None and (used_before or self.last_verdict is None):
            log.info("streamed price not used: %s", verdict.problem)  # once per spell, not per tick
        elif verdict.problem is None and not used_before:
            log.info("streamed price used again (%s)", ", ".join(verdict.sources))
        self.last_verdict = verdict
        self.checks += 1
        if verdict.price_usd is None or verdict.price_usd == self.evaluated_usd:
            return
        self.evaluated_usd = verdict.price_usd
        await self._evaluate(verdict.price_usd)
