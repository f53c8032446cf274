"""Moving the fake market in end-to-end tests, and letting the bot's price polls see it."""

from __future__ import annotations

from tests.fakes import Waiting
from tests.fakes.upstreams import FakeUpstreams

PRICE_SOURCES = ("coinbase", "kraken", "bitstamp")
"""The sources whose median is the price (CoinGecko only breaks ties)."""


def move_price(upstreams: FakeUpstreams, usd: float) -> None:
    """Every median source now reports ``usd``."""
    for source in PRICE_SOURCES:
        upstreams.set_price(source, usd)


async def price_polls(fake: Waiting, upstreams: FakeUpstreams, count: int) -> None:
    """Let ``count`` more price polls happen (each asks Coinbase once)."""
    target = upstreams.count("coinbase") + count
    await fake.wait_for(lambda: upstreams.count("coinbase") >= target, timeout=10 + 2 * count)
