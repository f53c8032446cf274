"""blockchain.info fallback: the Simple Query API (https://blockchain.info/q, text/plain numbers, hashrate in
GH/s) for difficulty, hashrate and height, and ``/stats`` (https://www.blockchain.com/explorer/api/charts_api)
for fees per block."""

from __future__ import annotations

import asyncio

import httpx

from bot.sources.http import (
    BLOCK_COUNT,
    DIFFICULTY,
    FEES_PER_BLOCK_BTC,
    HASHRATE_HS,
    HEIGHT,
    Clock,
    FetchPolicy,
    SourceError,
    as_float,
    as_int,
    dig,
    fetch_json,
    fetch_text,
    join_url,
    unwrap,
    utc_now,
)
from bot.sources.snapshot import NetworkState, fees_unknown_note

SOURCE = "blockchain.info"
_DEFAULT_POLICY = FetchPolicy()


async def _query(client: httpx.AsyncClient, base_url: str, name: str, policy: FetchPolicy) -> str:
    return await fetch_text(client, SOURCE, join_url(base_url, f"q/{name}"), policy)


async def fetch_difficulty(
    client: httpx.AsyncClient, base_url: str, policy: FetchPolicy = _DEFAULT_POLICY
) -> float:
    """``/q/getdifficulty``; may be printed in exponent form, so parsed with ``float()``."""
    text = await _query(client, base_url, "getdifficulty", policy)
    return DIFFICULTY.check(SOURCE, as_float(SOURCE, "difficulty", text))


async def fetch_hashrate_hs(
    client: httpx.AsyncClient, base_url: str, policy: FetchPolicy = _DEFAULT_POLICY
) -> float:
    """``/q/hashrate`` is in **GH/s**; returned in H/s."""
    text = await _query(client, base_url, "hashrate", policy)
    return HASHRATE_HS.check(SOURCE, as_float(SOURCE, "hashrate", text) * 1e9)


async def fetch_height(
    client: httpx.AsyncClient, base_url: str, policy: FetchPolicy = _DEFAULT_POLICY
) -> int:
    """``/q/getblockcount``: the tip height (may lag mempool by a block or two)."""
    text = await _query(client, base_url, "getblockcount", policy)
    return int(HEIGHT.check(SOURCE, as_int(SOURCE, "height", text)))


async def fetch_fees_per_block(
    client: httpx.AsyncClient, base_url: str, policy: FetchPolicy = _DEFAULT_POLICY
) -> float:
    """``/stats``: ``total_fees_btc`` (satoshis, despite the name) over ``n_blocks_mined`` of the last 24 h.

    The figure is checked, not trusted: captures from 2026 show ``total_fees_btc`` equal to minus the BTC
    mined, which fails the plausibility check and leaves fees unknown.
    """
    doc = await fetch_json(client, SOURCE, join_url(base_url, "stats"), policy, params={"format": "json"})
    total_fee_sats = as_float(SOURCE, "total_fees_btc", dig(SOURCE, doc, "total_fees_btc"))
    blocks = BLOCK_COUNT.check(SOURCE, as_int(SOURCE, "n_blocks_mined", dig(SOURCE, doc, "n_blocks_mined")))
    return FEES_PER_BLOCK_BTC.check(SOURCE, total_fee_sats / blocks / 1e8)


async def fetch_network(
    client: httpx.AsyncClient, base_url: str, policy: FetchPolicy = _DEFAULT_POLICY, now: Clock = utc_now
) -> NetworkState:
    """Difficulty, hashrate, height and fees in parallel; no adjustment estimate.

    Fees that fail leave the reading standing with fees unknown and a note saying why.
    """
    results = await asyncio.gather(
        fetch_difficulty(client, base_url, policy),
        fetch_hashrate_hs(client, base_url, policy),
        fetch_height(client, base_url, policy),
        fetch_fees_per_block(client, base_url, policy),
        return_exceptions=True,
    )
    difficulty, hashrate_hs, height = unwrap(results[0]), unwrap(results[1]), unwrap(results[2])
    fees = results[3]
    if isinstance(fees, BaseException) and not isinstance(fees, SourceError):
        raise fees
    return NetworkState(
        difficulty=difficulty,
        height=height,
        fees_per_block_btc=None if isinstance(fees, SourceError) else fees,
        hashrate_hs=hashrate_hs,
        adjustment=None,
        fetched_at=now(),
        source=SOURCE,
        outcomes=(),
        notes=(fees_unknown_note(SOURCE, fees.message),) if isinstance(fees, SourceError) else (),
    )
