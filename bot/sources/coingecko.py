"""CoinGecko (https://docs.coingecko.com/reference/introduction): spot price and daily history;
``base_url`` ends in ``/api/v3``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import httpx

from bot.sources.http import (
    PRICE_USD,
    FetchPolicy,
    SourceError,
    as_float,
    as_time,
    dig,
    fetch_json,
    join_url,
)

SOURCE = "coingecko"
MAX_HISTORY_DAYS = 365
"""Keyless/Demo plans only reach back 365 days
(https://docs.coingecko.com/reference/coins-id-market-chart)."""
_MS_PER_DAY = 86_400_000
_DEFAULT_POLICY = FetchPolicy()


@dataclass(frozen=True, slots=True)
class DailyPrice:
    """CoinGecko's BTC/USD price at 00:00 UTC of ``day``."""

    day: date
    price_usd: float


async def fetch_price(
    client: httpx.AsyncClient, base_url: str, policy: FetchPolicy = _DEFAULT_POLICY
) -> float:
    """``/simple/price?ids=bitcoin&vs_currencies=usd`` → ``bitcoin.usd`` (a JSON number)."""
    url = join_url(base_url, "simple/price")
    doc = await fetch_json(client, SOURCE, url, policy, params={"ids": "bitcoin", "vs_currencies": "usd"})
    return PRICE_USD.check(SOURCE, as_float(SOURCE, "bitcoin.usd", dig(SOURCE, doc, "bitcoin", "usd")))


async def fetch_daily_history(
    client: httpx.AsyncClient, base_url: str, days: int, policy: FetchPolicy = _DEFAULT_POLICY
) -> tuple[DailyPrice, ...]:
    """Daily closes, oldest first, from ``/coins/bitcoin/market_chart`` (ms timestamps).

    The series ends with one extra non-midnight "now" point; it is dropped.
    """
    if not 1 <= days <= MAX_HISTORY_DAYS:
        raise ValueError(f"days must be 1..{MAX_HISTORY_DAYS}, got {days}")
    url = join_url(base_url, "coins/bitcoin/market_chart")
    params = {"vs_currency": "usd", "days": str(days), "interval": "daily"}
    points = dig(SOURCE, await fetch_json(client, SOURCE, url, policy, params=params), "prices")
    if not isinstance(points, list):
        raise SourceError(SOURCE, "unexpected response shape: prices is not a list")
    history: list[DailyPrice] = []
    for index, point in enumerate(points):
        at_ms = int(as_float(SOURCE, "prices[][0]", dig(SOURCE, point, 0)))
        if at_ms % _MS_PER_DAY and index == len(points) - 1:
            break
        day = as_time(SOURCE, "prices[][0]", at_ms, per_second=1000).date()
        history.append(
            DailyPrice(day, PRICE_USD.check(SOURCE, as_float(SOURCE, "price", dig(SOURCE, point, 1))))
        )
    return tuple(history)
