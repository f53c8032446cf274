"""The market as the CLI and handlers see it: the latest figures, what-if overrides, and where each came from.

``resolve_market`` touches the network only for what the overrides leave open: with price, difficulty,
fees per block and height all given, no upstream is called at all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bot.config import Settings
from bot.economics.mining import MarketInputs
from bot.economics.network import SUBSIDY_END_HEIGHT
from bot.sources.snapshot import AdjustmentEstimate, NetworkState, PriceQuote, SourceOutcome

if TYPE_CHECKING:
    from bot.sources.aggregate import GiveUp

REPLAY_SOURCE = "replay"
"""The source name of the snapshots ``minerwatch run --replay`` plays from the shipped history."""


@dataclass(frozen=True, slots=True)
class Overrides:
    """What-if values given by the user; ``None`` means "take the live value"."""

    price_usd: float | None = None
    difficulty: float | None = None
    fees_per_block_btc: float | None = None
    height: int | None = None

    @property
    def needs_price(self) -> bool:
        return self.price_usd is None

    @property
    def needs_network(self) -> bool:
        return self.difficulty is None or self.fees_per_block_btc is None or self.height is None

    def given(self) -> tuple[str, ...]:
        names = ("price_usd", "difficulty", "fees_per_block_btc", "height")
        return tuple(name for name in names if getattr(self, name) is not None)


@dataclass(frozen=True, slots=True)
class MarketView:
    """Market inputs plus the context replies show: hashrate, next adjustment, sources and data age."""

    market: MarketInputs
    as_of: datetime
    hashrate_hs: float | None = None
    adjustment: AdjustmentEstimate | None = None
    outcomes: tuple[SourceOutcome, ...] = ()
    overridden: tuple[str, ...] = field(default=())
    stale_reason: str | None = None
    """Set when the live poller has paused alerts on this data (``bot.market.poller``)."""
    failing: Mapping[str, datetime] = field(default_factory=dict)
    """Sources whose latest answer was not usable, with when that began."""

    @property
    def is_replay(self) -> bool:
        """Data played from the shipped history (``run --replay``): dated by its day, never stale."""
        return bool(self.outcomes) and all(o.source == REPLAY_SOURCE for o in self.outcomes)

    def is_stale(self, now: datetime, stale_after_s: float) -> bool:
        """The one staleness rule replies share with the alerts: older than ``MINERWATCH_STALE_AFTER_S``,
        or alerts paused by the poller."""
        return self.stale_reason is not None or (now - self.as_of).total_seconds() > stale_after_s


def combine(
    overrides: Overrides, price: PriceQuote | None, network: NetworkState | None, now: datetime
) -> MarketView:
    """Merge live values and overrides; raises ``ValueError`` naming a missing or implausible input.

    Fees per block stay ``None`` (unknown, subsidy only) when neither an override nor the source gives them.
    """
    price_usd = overrides.price_usd if overrides.price_usd is not None else price.price_usd if price else None
    difficulty = (
        overrides.difficulty if overrides.difficulty is not None else network.difficulty if network else None
    )
    height = overrides.height if overrides.height is not None else network.height if network else None
    fees = (
        overrides.fees_per_block_btc
        if overrides.fees_per_block_btc is not None
        else network.fees_per_block_btc
        if network
        else None
    )
    if price_usd is None or difficulty is None or height is None:
        raise ValueError("price, difficulty and height are all needed")
    market = MarketInputs(price_usd=price_usd, difficulty=difficulty, height=height, fees_per_block_btc=fees)
    if market.block_reward_btc == 0:
        raise ValueError(
            f"no subsidy left at height {height:,} (it ends at {SUBSIDY_END_HEIGHT:,}, after the 33rd "
            "halving) and no fees: a block earns nothing, so there is no hashprice, cost or breakeven; "
            "give --fees-per-block above 0"
        )
    times = [t for t in (price.fetched_at if price else None, network.fetched_at if network else None) if t]
    keeps_network_state = network is not None and overrides.difficulty is None and overrides.height is None
    return MarketView(
        market=market,
        as_of=min(times) if times else now,
        hashrate_hs=network.hashrate_hs if network and keeps_network_state else None,
        adjustment=network.adjustment if network and keeps_network_state else None,
        outcomes=(price.outcomes if price else ()) + (network.outcomes if network else ()),
        overridden=overrides.given(),
    )


async def resolve_market(
    overrides: Overrides, settings: Settings, now: datetime | None = None, give_up: GiveUp | None = None
) -> MarketView:
    """Fetch what the overrides leave open (price and/or network, in parallel) and combine; with
    ``give_up``, sources still silent at its deadline are given up (and each failure told at once).

    Raises ``bot.sources.aggregate.SourcesUnavailable`` when a needed part cannot be had from any source.
    """
    now = now or datetime.now(UTC)
    price: PriceQuote | None = None
    network: NetworkState | None = None
    if overrides.needs_price or overrides.needs_network:
        price, network = await _fetch(overrides, settings, give_up)
    return combine(overrides, price, network, now)


async def _fetch(
    overrides: Overrides, settings: Settings, give_up: GiveUp | None
) -> tuple[PriceQuote | None, NetworkState | None]:
    # The HTTP client and the sources load here, not at import: a what-if command that fetches nothing
    # (``minerwatch breakeven ... --price --difficulty --fees-per-block --height``) starts without them.
    import httpx

    from bot.sources.aggregate import SourcesUnavailable, fetch_network, fetch_price

    async with httpx.AsyncClient(timeout=settings.source_timeout_s) as client:
        price_or_error, network_or_error = await asyncio.gather(
            fetch_price(client, settings, give_up=give_up) if overrides.needs_price else _nothing(),
            fetch_network(client, settings, give_up=give_up) if overrides.needs_network else _nothing(),
            return_exceptions=True,
        )
    failures = [r for r in (price_or_error, network_or_error) if isinstance(r, BaseException)]
    if len(failures) == 2 and all(isinstance(f, SourcesUnavailable) for f in failures):
        outcomes = [o for f in failures if isinstance(f, SourcesUnavailable) for o in f.outcomes]
        raise SourcesUnavailable("price and network data", outcomes)
    if failures:
        raise failures[0]
    price = price_or_error if isinstance(price_or_error, PriceQuote) else None
    network = network_or_error if isinstance(network_or_error, NetworkState) else None
    return price, network


async def _nothing() -> None:
    return None
