"""When fetched data may drive alerts: the price quorum, the price jump rule and the network cross-checks.

Price: an alert needs at least ``MIN_PRICE_SOURCES`` independent quotes that agree within
``max_quote_deviation_pct`` (``bot.sources.aggregate`` drops the outliers). A price further than
``max_price_jump_pct`` from the last accepted one is held until the next poll confirms it (lies within
``max_quote_deviation_pct`` of the held price): one bad poll costs one poll's delay, never an alert.

Network: difficulty and height must agree between the sources of one poll and with the last accepted
reading. Within one 2016-block epoch the difficulty cannot change; across ``k`` retargets it changes by at
most ×4^k or ÷4^k (Bitcoin Core ``src/pow.cpp``, ``CalculateNextWorkRequired`` clamps the timespan to
[1/4, 4] of two weeks). Heights may differ by a few blocks (one source sees a block first, a short reorg).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.economics.network import RETARGET_INTERVAL_BLOCKS, RETARGET_MAX_FACTOR
from bot.sources.snapshot import NetworkState, PriceQuote

MIN_PRICE_SOURCES = 2
"""Quotes that must agree before a price may drive an alert: one source alone cannot be cross-checked."""
DIFFICULTY_TOLERANCE = 1e-6
"""Relative difference of two difficulties still taken as equal (blockchain.info prints fewer digits)."""
MAX_HEIGHT_SPREAD_BLOCKS = 6
"""Blocks by which two sources, or one source and the last accepted reading, may differ (propagation lag,
a short reorg); Bitcoin's customary six confirmations."""
FASTEST_BLOCK_S = 60.0
"""The height may advance at most one block per this many seconds since the last accepted reading (ten
times the 600 s target pace) plus ``MAX_HEIGHT_SPREAD_BLOCKS``."""


def price_quorum_problem(quote: PriceQuote) -> str | None:
    """Why ``quote`` may not drive alerts (too few agreeing sources), or ``None`` when it may."""
    used = [o for o in quote.outcomes if o.used]
    if len(used) >= MIN_PRICE_SOURCES:
        return None
    alone = ", ".join(f"{o.source} ({o.value:,.2f} USD)" for o in used) or "no source"
    return f"BTC price from {alone} alone: at least {MIN_PRICE_SOURCES} sources must agree"


@dataclass(frozen=True, slots=True)
class JumpVerdict:
    """The jump rule's answer: accept the price, or hold it (``held_usd``) until the next poll."""

    accepted: bool
    held_usd: float | None = None
    problem: str | None = None


def _off_pct(value: float, reference: float) -> float:
    return abs(value - reference) / reference * 100


def check_price_jump(
    price_usd: float,
    accepted_usd: float | None,
    held_usd: float | None,
    *,
    max_jump_pct: float,
    confirm_pct: float,
) -> JumpVerdict:
    """Accept ``price_usd`` unless it lies more than ``max_jump_pct`` from the last accepted price and is
    not a confirmation (within ``confirm_pct``) of the price held by the previous poll."""
    if accepted_usd is None or _off_pct(price_usd, accepted_usd) <= max_jump_pct:
        return JumpVerdict(accepted=True)
    if held_usd is not None and _off_pct(price_usd, held_usd) <= confirm_pct:
        return JumpVerdict(accepted=True)
    jump = (price_usd / accepted_usd - 1) * 100
    problem = (
        f"BTC price jumped {jump:+.1f}% from {accepted_usd:,.2f} to {price_usd:,.2f} USD "
        f"(limit {max_jump_pct:g}%): held until the next poll confirms it"
    )
    return JumpVerdict(accepted=False, held_usd=price_usd, problem=problem)


def _equal(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=DIFFICULTY_TOLERANCE)


def difficulty_step_problem(
    old_difficulty: float, old_height: int, new_difficulty: float, new_height: int
) -> str | None:
    """Why a difficulty of ``new_difficulty`` at ``new_height`` cannot follow ``old_difficulty`` at
    ``old_height`` under the retarget rules, or ``None`` when it can."""
    retargets = abs(new_height // RETARGET_INTERVAL_BLOCKS - old_height // RETARGET_INTERVAL_BLOCKS)
    if retargets == 0:
        if _equal(old_difficulty, new_difficulty):
            return None
        return (
            f"difficulty {new_difficulty:.6g} at height {new_height} vs {old_difficulty:.6g} at "
            f"{old_height}, in the same 2016-block epoch"
        )
    bound = RETARGET_MAX_FACTOR**retargets
    ratio = new_difficulty / old_difficulty
    if 1 / bound <= ratio <= bound:
        return None
    return (
        f"difficulty ×{ratio:.4g} from {old_difficulty:.6g} to {new_difficulty:.6g} over {retargets} "
        f"retarget(s) (at most ×{RETARGET_MAX_FACTOR:g} each)"
    )


def disagreement(state: NetworkState, other: NetworkState) -> str | None:
    """Why ``state`` and ``other`` (two sources of one poll) cannot both be right, or ``None``."""
    if abs(state.height - other.height) > MAX_HEIGHT_SPREAD_BLOCKS:
        return f"height {state.height} vs {other.height} from {other.source}"
    problem = difficulty_step_problem(other.difficulty, other.height, state.difficulty, state.height)
    if problem is None:
        return None
    return f"difficulty {state.difficulty:.6g} vs {other.difficulty:.6g} from {other.source}"


def consensus(states: Sequence[NetworkState]) -> tuple[int | None, list[str | None]]:
    """The index of the first reading a strict majority agrees with (``None`` when there is no such
    majority), and for each reading why it is dropped (``None`` when it is kept)."""
    for index, state in enumerate(states):
        problems = [None if other is state else disagreement(other, state) for other in states]
        if sum(p is None for p in problems) * 2 > len(states):
            return index, problems
    first_conflict = [
        next((p for other in states if other is not state and (p := disagreement(state, other))), None)
        for state in states
    ]
    return None, first_conflict


@dataclass(frozen=True, slots=True)
class NetworkReference:
    """The last accepted network reading: what the next one is checked against."""

    difficulty: float
    height: int
    at: datetime


def history_problem(reference: NetworkReference, state: NetworkState) -> str | None:
    """Why ``state`` cannot follow the last accepted reading, or ``None`` when it can."""
    behind = reference.height - state.height
    if behind > MAX_HEIGHT_SPREAD_BLOCKS:
        return f"height {state.height} is {behind} blocks below the last accepted {reference.height}"
    elapsed_s = max(0.0, (state.fetched_at - reference.at).total_seconds())
    max_ahead = MAX_HEIGHT_SPREAD_BLOCKS + math.ceil(elapsed_s / FASTEST_BLOCK_S)
    if -behind > max_ahead:
        return (
            f"height {state.height} is {-behind} blocks above the last accepted {reference.height} "
            f"after {elapsed_s:.0f} s (at most {max_ahead})"
        )
    problem = difficulty_step_problem(reference.difficulty, reference.height, state.difficulty, state.height)
    return None if problem is None else f"{problem}, against the last accepted reading"
