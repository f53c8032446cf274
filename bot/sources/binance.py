"""Binance spot price (https://developers.binance.com/docs/binance-spot-api-docs/rest-api):
``/api/v3/ticker/price`` → ``price`` (string, **USDT**).

Answers HTTP 451 from the US and many cloud regions; that surfaces as "binance: HTTP 451 (...)".
"""

from __future__ import annotations

import httpx

from bot.sources.http import PRICE_USD, FetchPolicy, as_float, dig, fetch_json, join_url

SOURCE = "binance"
_DEFAULT_POLICY = FetchPolicy()


async def fetch_price(
    client: httpx.AsyncClient, base_url: str, policy: FetchPolicy = _DEFAULT_POLICY
) -> float:
    """Last BTCUSDT price, taken as USD."""
    url = join_url(base_url, "api/v3/ticker/price")
    doc = await fetch_json(client, SOURCE, url, policy, params={"symbol": "BTCUSDT"})
    return PRICE_USD.check(SOURCE, as_float(SOURCE, "price", dig(SOURCE, doc, "price")))
