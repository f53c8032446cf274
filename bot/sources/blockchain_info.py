"""blockchain.info Simple Query API fallback (reference/apis.md §2): text/plain numbers, hashrate in GH/s."""

from __future__ import annotations

import asyncio

import httpx

from bot.sources.http import (
    DIFFICULTY,
    HASHRATE_HS,
    HEIGHT,
    Clock,
    FetchPolicy,
    as_float,
    as_int,
    fetch_text,
    join_url,
    unwrap,
    utc_now,
)
from bot.sources.snapshot import NetworkState

SOURCE = "blockchain.info"
NO_FEES_NOTE = (
    "blockchain.info reports no fees per block: taken as 0 BTC, so hashprice is slightly understated"
)
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


async def fetch_network(
    client: httpx.AsyncClient, base_url: str, policy: FetchPolicy = _DEFAULT_POLICY, now: Clock = utc_now
) -> NetworkState:
    """Difficulty, hashrate and height in parallel; no fee data (0 BTC, with a note) and no adjustment."""
    results = await asyncio.gather(
        fetch_difficulty(client, base_url, policy),
        fetch_hashrate_hs(client, base_url, policy),
        fetch_height(client, base_url, policy),
        return_exceptions=True,
    )
    difficulty, hashrate_hs, height = unwrap(results[0]), unwrap(results[1]), unwrap(results[2])
    return NetworkState(
        difficulty=difficulty,
        height=height,
        fees_per_block_btc=0.0,
        hashrate_hs=hashrate_hs,
        adjustment=None,
        fetched_at=now(),
        source=SOURCE,
        outcomes=(),
        notes=(NO_FEES_NOTE,),
    )
