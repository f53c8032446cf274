"""Bitstamp ticker (https://www.bitstamp.net/api/): ``/api/v2/ticker/btcusd/`` → ``last`` (string, USD)."""

from __future__ import annotations

import httpx

from bot.sources.http import PRICE_USD, FetchPolicy, as_float, dig, fetch_json, join_url

SOURCE = "bitstamp"
_DEFAULT_POLICY = FetchPolicy()


async def fetch_price(
    client: httpx.AsyncClient, base_url: str, policy: FetchPolicy = _DEFAULT_POLICY
) -> float:
    """Last trade price of BTC/USD."""
    doc = await fetch_json(client, SOURCE, join_url(base_url, "api/v2/ticker/btcusd/"), policy)
    return PRICE_USD.check(SOURCE, as_float(SOURCE, "last", dig(SOURCE, doc, "last")))
