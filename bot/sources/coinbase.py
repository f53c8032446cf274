"""Coinbase spot price (https://docs.cdp.coinbase.com/coinbase-app/docs/api-prices):
``/v2/prices/BTC-USD/spot`` → ``data.amount`` (string, USD)."""

from __future__ import annotations

import httpx

from bot.sources.http import PRICE_USD, FetchPolicy, as_float, dig, fetch_json, join_url

SOURCE = "coinbase"
_DEFAULT_POLICY = FetchPolicy()


async def fetch_price(
    client: httpx.AsyncClient, base_url: str, policy: FetchPolicy = _DEFAULT_POLICY
) -> float:
    """BTC spot price in USD."""
    doc = await fetch_json(client, SOURCE, join_url(base_url, "v2/prices/BTC-USD/spot"), policy)
    return PRICE_USD.check(SOURCE, as_float(SOURCE, "data.amount", dig(SOURCE, doc, "data", "amount")))
