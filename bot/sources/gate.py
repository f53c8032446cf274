"""Gate.io v4 spot ticker (https://www.gate.io/docs/developers/apiv4/): ``[0].last`` (string, **USDT**,
≈USD ±0.1 %)."""

from __future__ import annotations

import httpx

from bot.sources.http import PRICE_USD, FetchPolicy, as_float, dig, fetch_json, join_url

SOURCE = "gate"
_DEFAULT_POLICY = FetchPolicy()


async def fetch_price(
    client: httpx.AsyncClient, base_url: str, policy: FetchPolicy = _DEFAULT_POLICY
) -> float:
    """Last BTC_USDT trade, taken as USD; ``base_url`` already ends in ``/api/v4``."""
    url = join_url(base_url, "spot/tickers")
    doc = await fetch_json(client, SOURCE, url, policy, params={"currency_pair": "BTC_USDT"})
    return PRICE_USD.check(SOURCE, as_float(SOURCE, "last", dig(SOURCE, doc, 0, "last")))
