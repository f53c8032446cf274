"""Capitulation and recovery indicators over daily series (reference/economics.md §3).

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

RIBBONS_SMOOTHING_DAYS = 7
RIBBONS_FAST_DAYS = 30
RIBBONS_SLOW_DAYS = 60
RIBBONS_PRICE_FAST_DAYS = 10
RIBBONS_PRICE_SLOW_DAYS = 20
RIBBONS_CONFIRM_DAYS = 3
"""Default persistence: a cross counts once the new order has held on 3 consecutive days (the cross day
included), the upper end of the 2-3 days suggested in §3.1; ``confirm_days=1`` is the raw cross."""
RIBBONS_MIN_DAYS = RIBBONS_SMOOTHING_DAYS + RIBBONS_SLOW_DAYS
"""Days needed before SMA60 of the smoothed hashrate has a previous value to compare with."""

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
    """A Hash Ribbons signal, dated the day it is confirmed (the day an alert could first be sent)."""

    date: date
    kind: RibbonKind
    sma30_ths: float
    sma60_ths: float
    price_usd: float


class _Order(Enum):
    UNDER = "under"
    OVER = "over"


def hash_ribbon_smas(
    hashrate_ths: Sequence[float | None], smoothing_days: int = RIBBONS_SMOOTHING_DAYS
) -> tuple[list[float | None], list[float | None]]:
    """SMA30 and SMA60 (TH/s) of the ``smoothing_days`` SMA of daily realised hashrate (§3.1, §1.2)."""
    smoothed_ths = sma(hashrate_ths, smoothing_days)
    return sma(smoothed_ths, RIBBONS_FAST_DAYS), sma(smoothed_ths, RIBBONS_SLOW_DAYS)


def hash_ribbon_events(
    rows: Sequence[DailyRow],
    *,
    confirm_days: int = RIBBONS_CONFIRM_DAYS,
    smoothing_days: int = RIBBONS_SMOOTHING_DAYS,
) -> list[RibbonEvent]:
    """Hash Ribbons capitulation / recovery / buy events (Charles Edwards; §3.1 pseudo-code).

    - ``ribbons_capitulation``: SMA30 crosses under SMA60 and stays under for ``confirm_days`` days;
    - ``ribbons_recovery``: SMA30 crosses back over SMA60 and stays over for ``confirm_days`` days;
    - ``ribbons_buy``: on the recovery day if SMA10(price) > SMA20(price), else on the first later day
      SMA10 crosses over SMA20, unless SMA10 crossed under SMA20 (on or after the recovery day) or a new
      capitulation came first - the Capriole ``barssince`` conditions. At most one buy per recovery.

    Events alternate: a capitulation is only reported out of a confirmed "over" regime and vice versa; the
    regime at the start of ``rows`` is adopted silently, so no event is reported without a cross inside
    ``rows``. Rows must be consecutive days; days without hashrate leave the regime unchanged. A streaming
    evaluator needs ``RIBBONS_MIN_DAYS + confirm_days`` rows for a ribbon event on the last day, and rows
    back to the last recovery for the buy.
    """
    if confirm_days < 1:
        raise ValueError(f"confirm_days must be at least 1, got {confirm_days!r}")
    _require_consecutive_days(rows)
    sma30_ths, sma60_ths = hash_ribbon_smas([row.hashrate_ths for row in rows], smoothing_days)
    prices_usd = [row.price_usd for row in rows]
    price_fast_usd = sma(prices_usd, RIBBONS_PRICE_FAST_DAYS)
    price_slow_usd = sma(prices_usd, RIBBONS_PRICE_SLOW_DAYS)

    events: list[RibbonEvent] = []
    regime: _Order | None = None
    run_order: _Order | None = None
    run_days = 0
    buy_armed = False
    for i, row in enumerate(rows):
        fast, slow = sma30_ths[i], sma60_ths[i]
        ribbon_kind: RibbonKind | None = None
        if fast is not None and slow is not None:
            order = _order(fast, slow) or run_order  # a tie keeps the current order
            run_days = run_days + 1 if order == run_order else 1
            run_order = order
            if order is not None and run_days >= confirm_days and order != regime:
                if regime is not None:
                    ribbon_kind = "ribbons_capitulation" if order is _Order.UNDER else "ribbons_recovery"
                    events.append(RibbonEvent(row.date, ribbon_kind, fast, slow, row.price_usd))
                regime = order

        if ribbon_kind is not None:
            buy_armed = ribbon_kind == "ribbons_recovery"
        price_cross = _cross(price_fast_usd, price_slow_usd, i)
        if price_cross is _Order.UNDER:
            buy_armed = False
        price_above = _order(price_fast_usd[i], price_slow_usd[i]) is _Order.OVER
        recovered_above = ribbon_kind == "ribbons_recovery" and price_above
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
    "coin issuance" Puell variant (§3.2)."""
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
    """Puell multiple: daily issuance USD / its trailing SMA365, the day itself included (§3.2)."""
    averages = sma(issuance_usd, window_days)
    return [
        None if value is None or average is None or average == 0 else value / average
        for value, average in zip(issuance_usd, averages, strict=True)
    ]


def difficulty_ribbon_compression(
    difficulty: Sequence[float | None], windows: Sequence[int] = DIFFICULTY_RIBBON_WINDOWS
) -> list[float | None]:
    """Difficulty Ribbon compression: population std / mean of the difficulty SMAs 9…200 (Willy Woo ribbon,
    Glassnode compression; §3.5). The "< 0.05 = buy zone" reading is from secondary sources and does not
    reproduce on the shipped history (most days are below 0.05): compare a value with its own past instead."""
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

    Applied to a daily hashprice series this is the "hashprice percentile over a trailing 365 d" proxy of
    §3.3; ``None`` while the window is short or holds a gap.
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
