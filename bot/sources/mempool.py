"""mempool.space REST client (https://mempool.space/docs/api/rest); ``base_url`` already ends in ``/api``."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx

from bot.economics.network import RETARGET_MAX_FACTOR, RETARGET_MIN_FACTOR
from bot.sources.http import (
    BLOCK_COUNT,
    DIFFICULTY,
    FEE_WINDOW_BLOCKS,
    FEES_PER_BLOCK_BTC,
    HASHRATE_HS,
    HEIGHT,
    AbsurdValueError,
    Bounds,
    Clock,
    FetchPolicy,
    SourceError,
    as_float,
    as_int,
    as_time,
    dig,
    fetch_json,
    fetch_text,
    join_url,
    unwrap,
    utc_now,
)
from bot.sources.snapshot import AdjustmentEstimate, NetworkState

SOURCE = "mempool"
REMAINING_BLOCKS = Bounds("remaining blocks", "", 1, 2016)
PROGRESS_PCT = Bounds("epoch progress", "%", 0, 100)
_DEFAULT_POLICY = FetchPolicy()


@dataclass(frozen=True, slots=True)
class HashrateReading:
    """``currentHashrate`` (≈1-week average, H/s) and ``currentDifficulty`` of ``/v1/mining/hashrate/3d``."""

    hashrate_hs: float
    difficulty: float


def _number(doc: Any, key: str) -> float:
    return as_float(SOURCE, key, dig(SOURCE, doc, key))


def _whole(doc: Any, key: str, bounds: Bounds) -> int:
    return int(bounds.check(SOURCE, as_int(SOURCE, key, dig(SOURCE, doc, key))))


def _optional(doc: Any, key: str) -> float | None:
    raw = doc.get(key) if isinstance(doc, dict) else None
    return None if raw is None else as_float(SOURCE, key, raw)


def _change_pct(doc: Any) -> float:
    """``difficultyChange`` in %, inside the ×1/4..×4 retarget clamp of Bitcoin Core ``pow.cpp``."""
    value = _number(doc, "difficultyChange")
    low, high = (RETARGET_MIN_FACTOR - 1) * 100, (RETARGET_MAX_FACTOR - 1) * 100
    if not low <= value <= high:
        raise AbsurdValueError(
            SOURCE, f"absurd difficulty change {value:g}% (expected {low:g}..{high:g})", value
        )
    return value


async def fetch_adjustment(
    client: httpx.AsyncClient, base_url: str, policy: FetchPolicy = _DEFAULT_POLICY
) -> AdjustmentEstimate:
    """``/v1/difficulty-adjustment`` (https://mempool.space/docs/api/rest#get-difficulty-adjustment):
    ``estimatedRetargetDate`` in ms, ``previousTime`` in SECONDS; a field that does not parse or an
    impossible value (a date outside genesis..2200, a change outside the retarget clamp) is a SourceError."""
    doc = await fetch_json(client, SOURCE, join_url(base_url, "v1/difficulty-adjustment"), policy)
    previous_time = doc.get("previousTime") if isinstance(doc, dict) else None
    return AdjustmentEstimate(
        progress_pct=PROGRESS_PCT.check(SOURCE, _number(doc, "progressPercent")),
        difficulty_change_pct=_change_pct(doc),
        remaining_blocks=_whole(doc, "remainingBlocks", REMAINING_BLOCKS),
        next_retarget_height=_whole(doc, "nextRetargetHeight", HEIGHT),
        estimated_retarget_at=as_time(
            SOURCE, "estimatedRetargetDate", dig(SOURCE, doc, "estimatedRetargetDate"), per_second=1000
        ),
        previous_retarget_pct=_optional(doc, "previousRetarget"),
        epoch_start_at=None if previous_time is None else as_time(SOURCE, "previousTime", previous_time),
    )


async def fetch_hashrate(
    client: httpx.AsyncClient, base_url: str, policy: FetchPolicy = _DEFAULT_POLICY
) -> HashrateReading:
    """``/v1/mining/hashrate/3d`` ; a self-hosted instance without bitcoind reports 0 (→ error)."""
    doc = await fetch_json(client, SOURCE, join_url(base_url, "v1/mining/hashrate/3d"), policy)
    return HashrateReading(
        hashrate_hs=HASHRATE_HS.check(SOURCE, _number(doc, "currentHashrate")),
        difficulty=DIFFICULTY.check(SOURCE, _number(doc, "currentDifficulty")),
    )


async def fetch_fees_per_block(
    client: httpx.AsyncClient,
    base_url: str,
    policy: FetchPolicy = _DEFAULT_POLICY,
    blocks: int = FEE_WINDOW_BLOCKS,
) -> float:
    """Mean fees per block in BTC from ``/v1/mining/reward-stats/{blocks}`` (sats as STRINGS)."""
    doc = await fetch_json(client, SOURCE, join_url(base_url, f"v1/mining/reward-stats/{blocks}"), policy)
    total_fee_sats = as_int(SOURCE, "totalFee", dig(SOURCE, doc, "totalFee"))
    span = as_int(SOURCE, "endBlock", dig(SOURCE, doc, "endBlock")) - as_int(
        SOURCE, "startBlock", dig(SOURCE, doc, "startBlock")
    )
    count = BLOCK_COUNT.check(SOURCE, span + 1)
    return FEES_PER_BLOCK_BTC.check(SOURCE, total_fee_sats / count / 1e8)


async def fetch_tip_height(
    client: httpx.AsyncClient, base_url: str, policy: FetchPolicy = _DEFAULT_POLICY
) -> int:
    """``/blocks/tip/height``: a text/plain integer , parsed from text, not JSON."""
    text = await fetch_text(client, SOURCE, join_url(base_url, "blocks/tip/height"), policy)
    return int(HEIGHT.check(SOURCE, as_int(SOURCE, "tip height", text)))


async def fetch_network(
    client: httpx.AsyncClient, base_url: str, policy: FetchPolicy = _DEFAULT_POLICY, now: Clock = utc_now
) -> NetworkState:
    """All four endpoints in parallel; any failure fails the whole reading (the first error is raised)."""
    results = await asyncio.gather(
        fetch_adjustment(client, base_url, policy),
        fetch_hashrate(client, base_url, policy),
        fetch_fees_per_block(client, base_url, policy),
        fetch_tip_height(client, base_url, policy),
        return_exceptions=True,
    )
    adjustment, hashrate = unwrap(results[0]), unwrap(results[1])
    fees, height = unwrap(results[2]), unwrap(results[3])
    return NetworkState(
        difficulty=hashrate.difficulty,
        height=height,
        fees_per_block_btc=fees,
        hashrate_hs=hashrate.hashrate_hs,
        adjustment=adjustment,
        fetched_at=now(),
        source=SOURCE,
        outcomes=(),
    )


@dataclass(frozen=True, slots=True)
class DailyNetwork:
    """One UTC day of mempool's history: the day's hashrate estimate and the difficulty in force."""

    day: date
    hashrate_hs: float
    difficulty: float


async def fetch_daily_network(
    client: httpx.AsyncClient, base_url: str, interval: str = "1y", policy: FetchPolicy = _DEFAULT_POLICY
) -> tuple[DailyNetwork, ...]:
    """``/v1/mining/hashrate/{interval}`` as daily rows, oldest first.

    A ``hashrates[]`` row's ``timestamp`` is 00:00 UTC at the END of the day it measures, so it is dated the
    day before. The difficulty of a day is that of the last retarget (``difficulty[]``) at or before its
    end; before the window's first retarget it is that retarget's difficulty divided by its ``adjustment``
    ratio. Days with no blocks (``avgHashrate`` 0) are skipped.
    """
    doc = await fetch_json(client, SOURCE, join_url(base_url, f"v1/mining/hashrate/{interval}"), policy)
    samples, retargets = dig(SOURCE, doc, "hashrates"), dig(SOURCE, doc, "difficulty")
    if not isinstance(samples, list) or not isinstance(retargets, list):
        raise SourceError(SOURCE, "hashrate history is not a list")

    def number(row: Any, key: str) -> float:
        return as_float(SOURCE, key, dig(SOURCE, row, key))

    steps = sorted((number(r, "time"), number(r, "difficulty"), number(r, "adjustment")) for r in retargets)
    before_window = steps[0][1] / steps[0][2] if steps else _number(doc, "currentDifficulty")
    rows = []
    for sample in samples:
        end_of_day, hashrate_hs = number(sample, "timestamp"), number(sample, "avgHashrate")
        if hashrate_hs <= 0:
            continue
        in_force = [difficulty for at, difficulty, _ in steps if at <= end_of_day]
        difficulty = DIFFICULTY.check(SOURCE, in_force[-1] if in_force else before_window)
        day = as_time(SOURCE, "timestamp", end_of_day).date() - timedelta(days=1)
        rows.append(DailyNetwork(day, HASHRATE_HS.check(SOURCE, hashrate_hs), difficulty))
    return tuple(sorted(rows, key=lambda row: row.day))
