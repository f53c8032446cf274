"""Live polling: price every minute, network every five, a daily row and Hash Ribbons once a day.

Each poll stores what it learnt and hands a ``Reading`` to the watch. Upstream calls per hour depend only
on the intervals, never on the number of chats: commands read the stored snapshot.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Literal

import httpx

from bot.alerts.events import AlertEvent, StaleReason
from bot.config import Settings
from bot.economics.history import DailyRow, estimated_issuance_btc
from bot.economics.mining import MarketInputs
from bot.ops.metrics import record_poll
from bot.render.i18n import missing_sources
from bot.sources.aggregate import SourcesUnavailable, fetch_network, fetch_price
from bot.sources.quorum import NetworkReference, check_price_jump, history_problem, price_quorum_problem
from bot.sources.snapshot import MarketSnapshot, NetworkState, PriceQuote, SourceOutcome
from bot.store import snapshots as snapshot_repo
from bot.store.db import Store
from bot.watch.loop import Reading, Watch

log = logging.getLogger(__name__)

RIBBON_WINDOW_DAYS = 120
"""Daily rows handed to the Hash Ribbons check: the 60-day average, and a recovery-to-buy gap, twice over
(on the shipped history this window finds exactly the events of the whole history)."""


class LivePoller:
    """Keeps the latest ACCEPTED price and network state, stores snapshots and feeds the watch.

    A poll's data is accepted only when it passes ``bot.sources.quorum`` (price: two agreeing sources and
    no unconfirmed jump; network: sources agree, and a lone source agrees with the last accepted reading).
    Data that is not accepted never reaches the watch; the accepted data then ages, and once it is older
    than ``stale_after_s`` (network data: plus two network poll intervals, as it is polled less often)
    the watch gets a stale reading naming the problem and the sources that stopped answering.
    """

    def __init__(
        self,
        store: Store,
        settings: Settings,
        watch: Watch,
        client: httpx.AsyncClient,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_unavailable: Callable[[str], None] | None = None,
    ) -> None:
        self._store = store
        self._on_unavailable = on_unavailable
        """Told once, the first time a complete round of polls leaves the data stale (the reason)."""
        self._logged: dict[str, str | None] = {}
        self._settings = settings
        self._watch = watch
        self._client = client
        self._clock = clock
        self._price: PriceQuote | None = None
        self._network: NetworkState | None = None
        self._price_problem: str | None = None
        self._network_problem: str | None = None
        self._held_price_usd: float | None = None
        self._accepted_price_usd: float | None = None
        self._reference: NetworkReference | None = None
        self._failing_price: dict[str, datetime] = {}
        self._failing_network: dict[str, datetime] = {}
        self._published: dict[str, object] | None = None
        self._stored_price_at: datetime | None = None
        self._seeded = False
        self._tried: set[str] = set()

    async def _seed(self) -> None:
        """Take the last stored snapshot as the reference the first readings are checked against."""
        if self._seeded:
            return
        self._seeded = True
        stored = await self._store.run(snapshot_repo.latest_snapshot)
        if stored is not None and not stored.stale:
            self._accepted_price_usd = stored.price_usd
            self._reference = NetworkReference(stored.difficulty, stored.height, stored.taken_at)

    async def poll_price(self) -> None:
        """Fetch the median price, accept it if it passes the quorum and jump rules, then evaluate."""
        await self._seed()
        try:
            quote = await fetch_price(self._client, self._settings, self._clock)
        except SourcesUnavailable as error:
            self._price_problem = str(error).splitlines()[0].rstrip(":")
            self._failing_price = _failing(self._failing_price, error.outcomes)
            record_poll(error.outcomes)
            self._log_problem("BTC price", str(error))
        else:
            record_poll(quote.outcomes)
            problem = self._price_verdict(quote)
            self._failing_price = _failing(self._failing_price, quote.outcomes)
            self._price_problem = problem
            if problem is None:
                self._price = quote
                self._accepted_price_usd = quote.price_usd
            self._log_problem("BTC price", problem and f"price not accepted: {problem}")
        finally:
            self._tried.add("price")
        await self.evaluate()

    def _price_verdict(self, quote: PriceQuote) -> str | None:
        problem = price_quorum_problem(quote)
        if problem is not None:
            return problem
        verdict = check_price_jump(
            quote.price_usd,
            self._accepted_price_usd,
            self._held_price_usd,
            max_jump_pct=self._settings.max_price_jump_pct,
            confirm_pct=self._settings.max_quote_deviation_pct,
        )
        self._held_price_usd = verdict.held_usd
        return verdict.problem

    async def poll_network(self) -> None:
        """Fetch difficulty, height, fees, hashrate and the retarget estimate, accept if they check out."""
        await self._seed()
        try:
            state = await fetch_network(self._client, self._settings, self._clock)
        except SourcesUnavailable as error:
            self._network_problem = str(error).splitlines()[0].rstrip(":")
            self._failing_network = _failing(self._failing_network, error.outcomes)
            record_poll(error.outcomes)
            self._log_problem("network data", str(error))
        else:
            record_poll(state.outcomes)
            problem = self._network_verdict(state)
            self._failing_network = _failing(self._failing_network, _rejecting(state, problem))
            self._network_problem = problem
            if problem is None:
                self._network = state
                self._reference = NetworkReference(state.difficulty, state.height, state.fetched_at)
            self._log_problem("network data", problem and f"network data not accepted: {problem}")
        finally:
            self._tried.add("network")
        await self.evaluate()

    def _log_problem(self, part: str, problem: str | None) -> None:
        """Log what went wrong with ``part`` when that changes (not at every poll), and its recovery."""
        before = self._logged.get(part)
        if problem == before:
            return
        self._logged[part] = problem
        if problem is not None:
            log.warning("%s", problem)
        else:
            log.info("%s: the sources answer again", part)

    def _network_verdict(self, state: NetworkState) -> str | None:
        """A reading two sources agree on stands (it also replaces a wrong reference); a lone one must
        follow the last accepted reading."""
        if sum(o.used for o in state.outcomes) >= 2 or self._reference is None:
            return None
        problem = history_problem(self._reference, state)
        return None if problem is None else f"{state.source}: {problem}"

    def _stale_reason(self, now: datetime) -> StaleReason | None:
        limit = timedelta(seconds=self._settings.stale_after_s)
        network_limit = limit + timedelta(seconds=2 * self._settings.network_poll_s)
        if self._price is None or now - self._price.fetched_at > limit:
            return self._explained("price", self._price_problem or "no confirmed BTC price", now)
        if self._network is None or now - self._network.fetched_at > network_limit:
            return self._explained("network", self._network_problem or "no confirmed network data", now)
        return None

    def _explained(self, missing: Literal["price", "network"], problem: str, now: datetime) -> StaleReason:
        failing = self.failing_sources()
        text = f"{problem}; {missing_sources('en', failing, now)}" if failing else problem
        return StaleReason(text, missing, failing)

    def fresh_price_usd(self) -> float | None:
        """The last accepted polled price while all polled data is fresh (what a streamed quote is checked
        against, ``bot.sources.stream_quorum``); ``None`` before the first polls or while data is stale."""
        if self._tried != {"price", "network"} or self._price is None:
            return None
        return None if self._stale_reason(self._clock()) is not None else self._price.price_usd

    def failing_sources(self) -> dict[str, datetime]:
        """Each source whose latest answer was not usable, with when that began."""
        return {**self._failing_network, **self._failing_price}

    async def evaluate(self) -> None:
        """Store a snapshot when a new price was accepted and evaluate the fresh data (stale data only
        yields a notice)."""
        if self._tried != {"price", "network"}:
            return  # the first round of polls is not complete yet
        now = self._clock()
        reason = self._stale_reason(now)
        await self._publish(None if reason is None else reason.text)
        if reason is not None and self._on_unavailable is not None:
            self._on_unavailable(reason.text)
            self._on_unavailable = None
        if reason is not None or self._price is None or self._network is None:
            await self._watch.observe(Reading(at=now, market=None, stale_reason=reason))
            return
        if self._price.fetched_at != self._stored_price_at:  # a snapshot's age is its price's age
            snapshot = MarketSnapshot(price=self._price, network=self._network, taken_at=now)
            await self._store.run(snapshot_repo.insert_snapshot, snapshot)
            self._stored_price_at = self._price.fetched_at
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
                next_retarget_at=adjustment.estimated_retarget_at if adjustment else None,
            )
        )

    async def _publish(self, stale_reason: str | None) -> None:
        """Store the data's health for the replies (``bot.chat.services``) when it changed."""
        health = snapshot_repo.DataHealth(stale_reason, self.failing_sources())
        document = health.to_json()
        if document != self._published:
            await self._store.run(snapshot_repo.set_state, snapshot_repo.DATA_HEALTH_KEY, document)
            self._published = document

    async def daily(self) -> None:
        """Record today's daily row from the latest data and report Hash Ribbons events."""
        if self._price is None or self._network is None:
            return
        today = self._clock().date()
        hashrate_ths = self._network.hashrate_hs / 1e12 if self._network.hashrate_hs else None
        difficulty = self._network.difficulty
        issuance_btc = estimated_issuance_btc(today, hashrate_ths, difficulty)
        row = DailyRow(today, self._price.price_usd, difficulty, hashrate_ths, issuance_btc)
        await self._store.run(snapshot_repo.upsert_daily, [row], "live")
        await report_ribbons(self._store, self._watch, today)


def _failing(before: dict[str, datetime], outcomes: Sequence[SourceOutcome]) -> dict[str, datetime]:
    """The sources of one poll that gave no usable answer (an error, or a value dropped as absurd or in
    disagreement), each keeping the moment its run of unusable answers began."""
    return {o.source: before.get(o.source, o.fetched_at) for o in outcomes if not o.used}


def _rejecting(state: NetworkState, problem: str | None) -> tuple[SourceOutcome, ...]:
    """The poll's outcomes, with the lone reading the poller refused (``problem``) counted as unusable."""
    if problem is None:
        return state.outcomes
    return tuple(replace(o, dropped=problem) if o.source == state.source else o for o in state.outcomes)


async def report_ribbons(store: Store, watch: Watch, today: date) -> list[AlertEvent]:
    """Run the Hash Ribbons check over the trailing window of daily rows; returns the events."""
    rows = await store.run(snapshot_repo.daily_range, today - timedelta(days=RIBBON_WINDOW_DAYS), today)
    return await watch.observe_daily(rows)
