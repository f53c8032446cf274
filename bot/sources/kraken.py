"""Kraken ticker (https://docs.kraken.com/api/docs/rest-api/get-ticker-information): ``result.<first
key>.c[0]``; errors in ``error``, even on 200."""

from __future__ import annotations

import httpx

from bot.sources.http import PRICE_USD, FetchPolicy, SourceError, as_float, dig, fetch_json, join_url

SOURCE = "kraken"
_DEFAULT_POLICY = FetchPolicy()


async def fetch_price(
    client: httpx.AsyncClient, base_url: str, policy: FetchPolicy = _DEFAULT_POLICY
) -> float:
    """Last trade price of XBTUSD in USD; the result key is ``XXBTZUSD``, so the first key is taken."""
    url = join_url(base_url, "0/public/Ticker")
    doc = await fetch_json(client, SOURCE, url, policy, params={"pair": "XBTUSD"})
    errors = doc.get("error") if isinstance(doc, dict) else None
    if errors:
        raise SourceError(SOURCE, "API error " + "; ".join(str(e) for e in errors))
    result = dig(SOURCE, doc, "result")
    if not isinstance(result, dict) or not result:
        raise SourceError(SOURCE, "unexpected response shape: empty result")
    ticker = next(iter(result.values()))
    return PRICE_USD.check(SOURCE, as_float(SOURCE, "c[0]", dig(SOURCE, ticker, "c", 0)))
