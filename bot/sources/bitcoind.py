"""Bitcoin Core JSON-RPC: ``getblockchaininfo`` + ``getmininginfo`` + ``getblockstats``, basic auth.

Methods as documented at https://bitcoincore.org/en/doc/ (``getblockstats``: per-block ``totalfee`` in sats).

Requests say ``"jsonrpc": "2.0"`` so Core v28+ answers RPC errors with HTTP 200 and a readable ``error``;
older nodes treat them as 1.0 (errors then surface as "bitcoind: HTTP 500"). Keys added in v28/v29
(``bits``, ``target``, ``next``) are never required; a missing ``networkhashps`` gives no hashrate. Where
``getblockchaininfo`` gives the tip header's ``bits``, the difficulty must match them (Bitcoin Core
``GetDifficulty`` derives it from the same bits).
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

import httpx

from bot.economics.network import difficulty_from_bits
from bot.sources.http import (
    DIFFICULTY,
    FEE_WINDOW_BLOCKS,
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
    unwrap,
    utc_now,
)
from bot.sources.quorum import DIFFICULTY_TOLERANCE
from bot.sources.snapshot import NetworkState, fees_unknown_note

SOURCE = "bitcoind"
_DEFAULT_POLICY = FetchPolicy()


def _rpc_error(error: Any) -> SourceError:
    code = error.get("code") if isinstance(error, dict) else None
    message = error.get("message") if isinstance(error, dict) else error
    return SourceError(SOURCE, f"RPC error {code}: {message}")


async def call(
    client: httpx.AsyncClient,
    url: str,
    method: str,
    auth: httpx.BasicAuth | None = None,
    policy: FetchPolicy = _DEFAULT_POLICY,
) -> Any:
    """One JSON-RPC call returning ``result``; an ``error`` becomes "bitcoind: RPC error <code>: <msg>"."""
    body = {"jsonrpc": "2.0", "id": "minerwatch", "method": method, "params": []}
    doc = await fetch_json(client, SOURCE, url, policy, json_body=body, auth=auth)
    error = doc.get("error") if isinstance(doc, dict) else None
    if error:
        raise _rpc_error(error)
    return dig(SOURCE, doc, "result")


def _check_bits(difficulty: float, bits: Any) -> None:
    """Raise SourceError when ``difficulty`` is not the one the tip header's compact ``bits`` encode."""
    try:
        from_bits = difficulty_from_bits(int(str(bits), 16))
    except ValueError:
        raise SourceError(SOURCE, f"bits is not compact hex: {bits!r:.40}") from None
    if not math.isclose(difficulty, from_bits, rel_tol=DIFFICULTY_TOLERANCE):
        raise SourceError(
            SOURCE,
            f"difficulty {difficulty:.6g} does not match the tip header's bits {bits} ({from_bits:.6g})",
        )


async def fetch_fees_per_block(
    client: httpx.AsyncClient,
    url: str,
    tip_height: int,
    auth: httpx.BasicAuth | None = None,
    policy: FetchPolicy = _DEFAULT_POLICY,
    blocks: int = FEE_WINDOW_BLOCKS,
) -> float:
    """Mean ``getblockstats`` ``totalfee`` (sats) of the ``blocks`` blocks ending at ``tip_height``, in BTC.

    One JSON-RPC batch request (an array of calls, answered by an array matched on ``id``). Every block must
    answer: a pruned node missing some of them gives no figure rather than a mean over a few.
    """
    heights = range(max(0, tip_height - blocks + 1), tip_height + 1)
    body = [
        {"jsonrpc": "2.0", "id": str(h), "method": "getblockstats", "params": [h, ["totalfee"]]}
        for h in heights
    ]
    doc = await fetch_json(client, SOURCE, url, policy, json_body=body, auth=auth)
    if not isinstance(doc, list):
        raise SourceError(SOURCE, "getblockstats batch: the answer is not a list")
    answers = {item.get("id"): item for item in doc if isinstance(item, dict)}
    total_fee_sats = 0
    for height in heights:
        answer = answers.get(str(height))
        if answer is None:
            raise SourceError(SOURCE, f"getblockstats: no answer for block {height}")
        if answer.get("error"):
            raise _rpc_error(answer["error"])
        total_fee_sats += as_int(SOURCE, "totalfee", dig(SOURCE, answer, "result", "totalfee"))
    return FEES_PER_BLOCK_BTC.check(SOURCE, total_fee_sats / len(heights) / 1e8)


async def fetch_network(
    client: httpx.AsyncClient,
    url: str,
    auth: httpx.BasicAuth | None = None,
    policy: FetchPolicy = _DEFAULT_POLICY,
    now: Clock = utc_now,
) -> NetworkState:
    """Height and difficulty from the node, hashrate from ``networkhashps`` (120-block estimate, H/s), fees
    from ``getblockstats`` (``fetch_fees_per_block``).

    A node still in initial block download is refused: its difficulty and height are stale. When only the
    fees fail (e.g. a pruned node), the reading stands with fees unknown and a note saying why.
    """
    results = await asyncio.gather(
        call(client, url, "getblockchaininfo", auth, policy),
        call(client, url, "getmininginfo", auth, policy),
        return_exceptions=True,
    )
    chain, mining = unwrap(results[0]), unwrap(results[1])
    if isinstance(chain, dict) and chain.get("initialblockdownload"):
        raise SourceError(SOURCE, "node is still in initial block download")
    raw_hashrate = mining.get("networkhashps") if isinstance(mining, dict) else None
    difficulty = DIFFICULTY.check(SOURCE, as_float(SOURCE, "difficulty", dig(SOURCE, chain, "difficulty")))
    bits = chain.get("bits") if isinstance(chain, dict) else None
    if bits is not None:
        _check_bits(difficulty, bits)
    height = int(HEIGHT.check(SOURCE, as_int(SOURCE, "blocks", dig(SOURCE, chain, "blocks"))))
    fees: float | None = None
    notes: tuple[str, ...] = ()
    try:
        fees = await fetch_fees_per_block(client, url, height, auth, policy)
    except SourceError as exc:
        notes = (fees_unknown_note(SOURCE, exc.message),)
    return NetworkState(
        difficulty=difficulty,
        height=height,
        fees_per_block_btc=fees,
        hashrate_hs=None
        if raw_hashrate is None
        else HASHRATE_HS.check(SOURCE, as_float(SOURCE, "networkhashps", raw_hashrate)),
        adjustment=None,
        fetched_at=now(),
        source=SOURCE,
        outcomes=(),
        notes=notes,
    )
