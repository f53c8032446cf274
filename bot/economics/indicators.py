"""Capitulation and recovery indicators over daily series: Hash Ribbons, Puell multiple, difficulty ribbon.

Every series function maps a day-aligned sequence to a same-length list whose entry ``i`` depends only on
entries ``<= i`` (no look-ahead) and is ``None`` until its window is full or while a window holds a gap.
Windows are summed with ``math.fsum``, so a value is bit-identical whether it is computed over the whole
history or over the latest window alone: a streaming evaluator passes the last ``*_MIN_DAYS`` days and
reads the final entry.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import Enum
from itertools import pairwise
from typing import Literal

from bot.economics.history import DailyRow, subsidy_btc_on
from bot.economics.units import EXPECTED_BLOCKS_PER_DAY

RibbonKind = Literal["ribbons_capitulation", "ribbons_recovery", "ribbons_buy"]

RIBBONS_FAST_DAYS = 30
RIBBONS_SLOW_DAYS = 60
RIBBONS_PRICE_FAST_DAYS = 10
RIBBONS_PRICE_SLOW_DAYS = 20
RIBBONS_BAND = 0.0025
"""Hysteresis: in the "over" regime a capitulation needs SMA30 < SMA60 × (1 − band), in the "under" regime
a recovery needs SMA30 > SMA60 × (1 + band). A daily hashrate estimated from ~144 Poisson-distributed blocks
is off by ±1/√144 ≈ 8.3 %, which moves SMA30/SMA60 by ≈ 0.34 % a day (σ·√(1/30² + 2/60²)); a band below
that confirms a real cross within a day but ignores a cross that the next day's block luck undoes."""
RIBBONS_MIN_CAPITULATION_DAYS = 14
"""A buy signal needs a capitulation of at least one difficulty epoch (2,016 blocks ≈ 14 days): miners
who come back before the next retarget were never forced off by it. Shorter capitulations still end with
a recovery, but no buy follows."""
RIBBONS_MIN_DAYS = RIBBONS_SLOW_DAYS
"""Days needed before SMA60 of the hashrate exists."""

PUELL_WINDOW_DAYS = 365
PUELL_MIN_DAYS = PUELL_WINDOW_DAYS

DIFFICULTY_RIBBON_WINDOWS = (9, 14, 25, 40, 60, 90, 128, 200)
DIFFICULTY_RIBBON_MIN_DAYS = max(DIFFICULTY_RIBBON_WINDOWS)


def sma(values: Sequence[float | None], n: int) -> list[float | None]:
    """Trailing simple moving average over ``n`` entries; ``None`` while the window is short or has a gap."""
    if n < 1:
        raise ValueError(f"SMA window must be at least 1, got {n!r}")
    averages: list[float | None] = []
    last_gap = -1
    for i, value in enumerate(values):
        if value is None:
            last_gap = i
        if i - n < last_gap or i < n - 1:
            averages.append(None)
        else:
            window = values[i - n + 1 : i + 1]
            averages.append(math.fsum(v for v in window if v is not None) / n)
    return averages


def _require_consecutive_days(rows: Sequence[DailyRow]) -> None:
    for previous, row in pairwise(rows):
        if row.date - previous.date != timedelta(days=1):
            raise ValueError(
                f"daily rows must be consecutive days: {previous.date} is followed by {row.date}"
            )


@dataclass(frozen=True, slots=True)
class RibbonEvent:
    """A Hash Ribbons signal, dated the day of the daily row that triggers it (the day an alert is sent).

    ``capitulation_days`` is set on a recovery: days since the capitulation began, or since the first day
    of ``rows`` when the capitulation began before them (so at least that long).
    """

    date: date
    kind: RibbonKind
    sma30_ths: float
    sma60_ths: float
    price_usd: float
    capitulation_days: int | None = None


class _Order(Enum):
    UNDER = "under"
    OVER = "over"


def hash_ribbon_events(
    rows: Sequence[DailyRow],
    *,
    band: float = RIBBONS_BAND,
    min_capitulation_days: int = RIBBONS_MIN_CAPITULATION_DAYS,
) -> list[RibbonEvent]:
    """Hash Ribbons capitulation / recovery / buy events (Charles Edwards, Capriole, 2019).

    Capriole's definition (essay "Hash Ribbons & Bitcoin Bottoms", 2019, and the "Hash Ribbons" TradingView
    script): SMA30 and SMA60 of daily hashrate; capitulation when SMA30 crosses under SMA60, recovery when
    it crosses back over; buy when, after a recovery, SMA10 of price crosses over SMA20 (or is already above
    it on the recovery day), unless SMA10 crossed under SMA20 or a new capitulation came first. Two documented
    departures, both against noise (``RIBBONS_BAND``, ``RIBBONS_MIN_CAPITULATION_DAYS``): a cross counts
    once the ratio is ``band`` past 1, and a buy needs ``min_capitulation_days`` of capitulation.
    ``band=0, min_capitulation_days=0`` gives the raw definition.

    The regime on the first day with both averages is adopted silently (no event without a cross inside
    ``rows``). Rows must be consecutive days; days without hashrate leave the regime unchanged. A streaming
    evaluator needs ``RIBBONS_MIN_DAYS`` rows for a ribbon event on the last day, and rows back to the
    last recovery for the buy.
    """
    if not 0 <= band < 1:
        raise ValueError(f"band must be in [0, 1), got {band!r}")
    if min_capitulation_days < 0:
        raise ValueError(f"min_capitulation_days must be >= 0, got {min_capitulation_days!r}")
    _require_consecutive_days(rows)
    if not rows:
        return []
    hashrate_ths = [row.hashrate_ths for row in rows]
    sma30_ths, sma60_ths = sma(hashrate_ths, RIBBONS_FAST_DAYS), sma(hashrate_ths, RIBBONS_SLOW_DAYS)
    prices_usd = [row.price_usd for row in rows]
    price_fast_usd = sma(prices_usd, RIBBONS_PRICE_FAST_DAYS)
    price_slow_usd = sma(prices_usd, RIBBONS_PRICE_SLOW_DAYS)

    events: list[RibbonEvent] = []
    regime: _Order | None = None
    capitulation_start = rows[0].date  # a lower bound while the capitulation began before ``rows``
    buy_armed = False
    for i, row in enumerate(rows):
        fast, slow = sma30_ths[i], sma60_ths[i]
        ribbon: RibbonEvent | None = None
        if fast is not None and slow is not None:
            if regime is None:
                regime = _order(fast, slow)
            elif regime is _Order.OVER and fast < slow * (1 - band):
                regime, capitulation_start = _Order.UNDER, row.date
                ribbon = RibbonEvent(row.date, "ribbons_capitulation", fast, slow, row.price_usd)
            elif regime is _Order.UNDER and fast > slow * (1 + band):
                regime = _Order.OVER
                days = (row.date - capitulation_start).days
                ribbon = RibbonEvent(row.date, "ribbons_recovery", fast, slow, row.price_usd, days)
        if ribbon is not None:
            events.append(ribbon)
            long_enough = ribbon.capitulation_days is not None and (
                ribbon.capitulation_days >= min_capitulation_days
            )
            buy_armed = ribbon.kind == "ribbons_recovery" and long_enough
        price_cross = _cross(price_fast_usd, price_slow_usd, i)
        if price_cross is _Order.UNDER:
            buy_armed = False
        price_above = _order(price_fast_usd[i], price_slow_usd[i]) is _Order.OVER
        recovered_above = ribbon is not None and ribbon.kind == "ribbons_recovery" and price_above
        if (
            buy_armed
            and fast is not None
            and slow is not None
            and (price_cross is _Order.OVER or recovered_above)
        ):
            events.append(RibbonEvent(row.date, "ribbons_buy", fast, slow, row.price_usd))
            buy_armed = False
    return events


def _order(fast: float | None, slow: float | None) -> _Order | None:
    if fast is None or slow is None or fast == slow:
        return None
    return _Order.UNDER if fast < slow else _Order.OVER


def _cross(fast: Sequence[float | None], slow: Sequence[float | None], i: int) -> _Order | None:
    """``OVER`` on a Pine ``crossover(fast, slow)`` at ``i`` (``fast > slow`` after ``<=``), ``UNDER`` on a
    ``crossunder``, else ``None`` (also when either day is undefined)."""
    if i == 0:
        return None
    previous_fast, previous_slow, now = fast[i - 1], slow[i - 1], _order(fast[i], slow[i])
    if previous_fast is None or previous_slow is None or now is None:
        return None
    if now is _Order.OVER and previous_fast <= previous_slow:
        return _Order.OVER
    if now is _Order.UNDER and previous_fast >= previous_slow:
        return _Order.UNDER
    return None


def daily_issuance_usd(rows: Sequence[DailyRow]) -> list[float]:
    """Subsidy value issued each day (USD): ``issuance_btc × price_usd``, or ``subsidy × 144 × price_usd``
    when the day's issuance is unknown (``history.subsidy_btc_on``). Fees are excluded, as in Glassnode's
    "coin issuance" Puell variant. ``latest_puell`` never guesses: it needs the recorded issuance."""
    return [
        (
            row.issuance_btc
            if row.issuance_btc is not None
            else subsidy_btc_on(row.date) * EXPECTED_BLOCKS_PER_DAY
        )
        * row.price_usd
        for row in rows
    ]


def puell_multiple(
    issuance_usd: Sequence[float | None], window_days: int = PUELL_WINDOW_DAYS
) -> list[float | None]:
    """Puell multiple: daily issuance USD / its trailing SMA365, the day itself included (David Puell, 2019;
    Glassnode Academy, "Puell Multiple")."""
    averages = sma(issuance_usd, window_days)
    return [
        None if value is None or average is None or average == 0 else value / average
        for value, average in zip(issuance_usd, averages, strict=True)
    ]


def difficulty_ribbon_compression(
    difficulty: Sequence[float | None], windows: Sequence[int] = DIFFICULTY_RIBBON_WINDOWS
) -> list[float | None]:
    """Difficulty Ribbon compression: population std / mean of the difficulty SMAs 9…200 (Willy Woo's
    ribbon, 2019; Glassnode's "Difficulty Ribbon Compression"). The "< 0.05 = buy zone" reading is from
    secondary sources and does not reproduce on the shipped history (most days are below 0.05): compare a
    value with its own past instead."""
    ribbon = [sma(difficulty, n) for n in windows]
    compression: list[float | None] = []
    for day in zip(*ribbon, strict=True):
        bands = [band for band in day if band is not None]
        compression.append(
            statistics.pstdev(bands) / statistics.fmean(bands) if len(bands) == len(day) else None
        )
    return compression


def trailing_percentile_rank(values: Sequence[float | None], window_days: int) -> list[float | None]:
    """Share of the trailing ``window_days`` values (today included) at or below today's value, in (0, 1].

    Applied to a daily hashprice series this is the "hashprice percentile over a trailing 365 d" proxy for
    CryptoQuant's Miner Profit/Loss Sustainability, which is closed; ``None`` while the window is short or
    holds a gap.
    """
    if window_days < 1:
        raise ValueError(f"window_days must be at least 1, got {window_days!r}")
    ranks: list[float | None] = []
    for i, value in enumerate(values):
        window = values[max(0, i - window_days + 1) : i + 1]
        if value is None or len(window) < window_days or any(v is None for v in window):
            ranks.append(None)
        else:
            ranks.append(sum(1 for v in window if v is not None and v <= value) / window_days)
    return ranks


@dataclass(frozen=True, slots=True)
class Latest:
    """An indicator on the latest stored day, or ``value=None`` with how many days of its window lack an
    input (no row that day, or a row without the field)."""

    day: date
    value: float | None
    missing_days: int
    window_days: int
    year_rank: float | None = None
    """Share of the trailing 365 days' values at or below this one (``trailing_percentile_rank``)."""


def _aligned(rows: Sequence[DailyRow], days: int) -> list[DailyRow | None]:
    """The ``days`` calendar days ending at the latest row, ``None`` where no row exists."""
    by_day = {row.date: row for row in rows}
    last = max(by_day)
    return [by_day.get(last - timedelta(days=days - 1 - i)) for i in range(days)]


def latest_puell(rows: Sequence[DailyRow]) -> Latest | None:
    """The Puell multiple on the latest day of ``rows`` from the recorded ``issuance_btc`` × price of each of
    the last 365 days; ``None`` value when any of them lacks it (``None`` without rows)."""
    if not rows:
        return None
    window = _aligned(rows, PUELL_WINDOW_DAYS)
    issuance_usd = [
        None if row is None or row.issuance_btc is None else row.issuance_btc * row.price_usd
        for row in window
    ]
    missing = sum(1 for value in issuance_usd if value is None)
    value = puell_multiple(issuance_usd)[-1] if missing == 0 else None
    return Latest(max(row.date for row in rows), value, missing, PUELL_WINDOW_DAYS)


def latest_difficulty_ribbon_compression(rows: Sequence[DailyRow], rank_days: int = 365) -> Latest | None:
    """Difficulty Ribbon compression on the latest day of ``rows`` (needs the last 200 days), with its rank
    among the trailing ``rank_days`` days' values when ``rows`` reach back that far without a gap."""
    if not rows:
        return None
    days = DIFFICULTY_RIBBON_MIN_DAYS + rank_days - 1
    window = _aligned(rows, days)
    compression = difficulty_ribbon_compression([None if row is None else row.difficulty for row in window])
    missing = sum(1 for row in window[-DIFFICULTY_RIBBON_MIN_DAYS:] if row is None)
    rank = trailing_percentile_rank(compression, rank_days)[-1]
    return Latest(max(row.date for row in rows), compression[-1], missing, DIFFICULTY_RIBBON_MIN_DAYS, rank)
