"""Open miner-stress index: a 0-100 proxy (0 = extreme stress, 100 = euphoria) from public data only.

It stands in for closed, paid miner P&L indices (such as CryptoQuant's "Miner Profit/Loss
Sustainability", whose formula is not published); it is a proxy, not a copy of any of them. Three
components, each scored 0-100, averaged with equal weights:

* **Difficulty multiple** = BTC price ÷ the Difficulty Regression Model's production cost (Checkonchain,
  https://charts.checkonchain.com, and Glassnode's "Difficulty Multiple"; ``bot.economics.regression``).
  It is already a ratio to cost (1 = at cost), so it is scored
  on a fixed log scale: ``50 · (1 + log2(multiple))``, clamped to 0-100 (0.5× → 0, 1× → 50, 2× → 100).
* **Hashprice** (USD per PH/s per day, subsidy only; Luxor's Hashprice Index definition,
  https://hashrateindex.com/hashprice) scored as its percentile rank among the trailing 4 years of daily
  values.
* **Puell multiple** (daily issuance USD ÷ its 365-day average; David Puell, as Glassnode documents it:
  https://docs.glassnode.com/further-information/metric-guides/coin-issuance/puell-multiple) scored as its
  percentile rank among the trailing 4 years.

Percentile rank, not the min-max position, because both series are skewed and trending: one bull-market
peak (the shipped history's $408/PH/day of 2021 is 5.7× the 2023 median) pins a min-max scale and squashes
every later reading toward 0, while a rank reads "how bad is today compared with the last cycle" evenly.
Four years is one halving cycle, so every window holds one halving step of each series. A window with
fewer than ``MIN_WINDOW_SAMPLES`` (2 years of) daily values gives no index. The window is the days
strictly before the reading's day; a day missing from the daily series is left out, never invented.

Equal weights: no public calibration favours one component (the three are correlated views of miner
revenue against cost), and equal weighting is the usual baseline when nothing justifies other weights
(OECD/JRC, Handbook on Constructing Composite Indicators, 2008, ISBN 978-92-64-04345-9, "Weighting and
aggregation"; http://www.oecd.org/std/handbookonconstructingcompositeindicatorsmethodologyanduserguide.htm).

Bands (``stress_band``): below 25 capitulation, 25-45 stress, 45-60 neutral, 60-80 healthy, 80 and above
euphoria. On the shipped history (indexed from 2013-07-15) its lows fall in the miner capitulations: 0.05
on 2018-11-26, 0.6 on 2020-03-18, 12 on 2022-06-19, 1.7 on 2022-11-22 (after FTX).

``cost_model_multiple`` is the one adapter between the index and the production-cost model.
"""

from __future__ import annotations

import math
from bisect import bisect_right, insort
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from bot.economics.history import DailyRow, subsidy_btc_on, supply_btc_at_end_of
from bot.economics.indicators import PUELL_WINDOW_DAYS, daily_issuance_usd, puell_multiple
from bot.economics.mining import MarketInputs, btc_per_th_day
from bot.economics.network import circulating_supply_sats
from bot.economics.regression import (
    DifficultyRegression,
    difficulty_multiple,
    difficulty_regression_cost_usd_per_btc,
)
from bot.economics.units import (
    EXPECTED_BLOCKS_PER_DAY,
    HASHES_PER_PH,
    HASHES_PER_TH,
    SATS_PER_BTC,
    require_positive,
)

WINDOW_DAYS = 4 * 365 + 1
"""Trailing window of the percentile ranks: four years, one halving cycle."""
MIN_WINDOW_SAMPLES = 2 * 365
HISTORY_DAYS = WINDOW_DAYS + PUELL_WINDOW_DAYS - 1
"""Daily rows before a reading's day that a full index needs (the Puell values of the whole window)."""


class Component(StrEnum):
    DIFFICULTY_MULTIPLE = "difficulty_multiple"
    HASHPRICE = "hashprice"
    PUELL = "puell"


WEIGHTS: dict[Component, float] = {component: 1 / 3 for component in Component}


class Band(StrEnum):
    CAPITULATION = "capitulation"
    STRESS = "stress"
    NEUTRAL = "neutral"
    HEALTHY = "healthy"
    EUPHORIA = "euphoria"


BAND_FLOORS: tuple[tuple[float, Band], ...] = (
    (80.0, Band.EUPHORIA),
    (60.0, Band.HEALTHY),
    (45.0, Band.NEUTRAL),
    (25.0, Band.STRESS),
)
"""Lower bound of each band above capitulation (0 to 25)."""


def stress_band(value: float) -> Band:
    """The band an index value reads as."""
    return next((band for floor, band in BAND_FLOORS if value >= floor), Band.CAPITULATION)


@dataclass(frozen=True, slots=True)
class ComponentScore:
    """One component: its reading (multiple, USD/PH/day or Puell multiple), 0-100 score and weight."""

    component: Component
    value: float
    score: float
    weight: float


@dataclass(frozen=True, slots=True)
class StressIndex:
    """The index of one day, with each component and the window its ranks were taken over."""

    value: float
    components: tuple[ComponentScore, ...]
    window_start: date
    window_end: date
    window_samples: int
    """Days of hashprice in the window (the Puell window can hold up to 364 fewer)."""

    @property
    def band(self) -> Band:
        return stress_band(self.value)

    def component(self, which: Component) -> ComponentScore:
        return next(c for c in self.components if c.component is which)


class NotEnoughHistoryError(ValueError):
    """The daily series before the reading's day is too short (or too gappy) for the trailing ranges;
    ``days`` is how many usable days it has (``MIN_WINDOW_SAMPLES`` are needed)."""

    def __init__(self, days: int) -> None:
        super().__init__(f"{days} days of daily history in the trailing window, {MIN_WINDOW_SAMPLES} needed")
        self.days = days


def difficulty_multiple_score(multiple: float) -> float:
    """``50 · (1 + log2(multiple))`` clamped to 0-100: 0.5× → 0, 0.75× → 29.25, 1× → 50, 2× → 100."""
    require_positive("difficulty multiple", multiple)
    return min(100.0, max(0.0, 50.0 * (1.0 + math.log2(multiple))))


def percentile_score(value: float, sorted_window: Sequence[float]) -> float:
    """Percentile rank 0-100: the share of the window's values at or below ``value``."""
    if not sorted_window:
        raise NotEnoughHistoryError(0)
    return 100.0 * bisect_right(sorted_window, value) / len(sorted_window)


def stress_index(
    difficulty_multiple: float,
    hashprice_usd_per_ph_day: float,
    puell: float,
    hashprice_window: Sequence[float],
    puell_window: Sequence[float],
) -> tuple[float, tuple[ComponentScore, ...]]:
    """The index from today's three readings and the sorted trailing windows of the two ranked ones."""
    usable_days = min(len(hashprice_window), len(puell_window))
    if usable_days < MIN_WINDOW_SAMPLES:
        raise NotEnoughHistoryError(usable_days)
    scores = (
        (Component.DIFFICULTY_MULTIPLE, difficulty_multiple, difficulty_multiple_score(difficulty_multiple)),
        (
            Component.HASHPRICE,
            hashprice_usd_per_ph_day,
            percentile_score(hashprice_usd_per_ph_day, hashprice_window),
        ),
        (Component.PUELL, puell, percentile_score(puell, puell_window)),
    )
    components = tuple(ComponentScore(c, value, score, WEIGHTS[c]) for c, value, score in scores)
    return math.fsum(c.score * c.weight for c in components), components


def cost_model_multiple(
    price_usd: float, difficulty: float, supply_btc: float, regression: DifficultyRegression
) -> float:
    """Glassnode's difficulty multiple at the Difficulty Regression Model's cost per BTC
    (``exp(a + b · ln D) / supply``): the one adapter between the index and the production-cost model."""
    cost_usd_per_btc = difficulty_regression_cost_usd_per_btc(difficulty, supply_btc, regression)
    return difficulty_multiple(price_usd, cost_usd_per_btc)


def hashprice_subsidy_usd_per_ph_day(price_usd: float, difficulty: float, subsidy_btc: float) -> float:
    """Hashprice from the subsidy alone (the daily history has no fees): ``1e15·86400/(D·2^32)·S·P``."""
    return btc_per_th_day(difficulty, subsidy_btc) * price_usd * HASHES_PER_PH / HASHES_PER_TH


def daily_hashprice_usd_per_ph_day(row: DailyRow) -> float:
    """The day's subsidy-only hashprice, with the subsidy in force on its date."""
    return hashprice_subsidy_usd_per_ph_day(row.price_usd, row.difficulty, subsidy_btc_on(row.date))


def history_multiples(rows: Sequence[DailyRow], regression: DifficultyRegression) -> list[float]:
    """The difficulty multiple of each daily row (``cost_model_multiple`` at the supply after the day)."""
    return [
        cost_model_multiple(row.price_usd, row.difficulty, supply_btc_at_end_of(row), regression)
        for row in rows
    ]


@dataclass(frozen=True, slots=True)
class StressBaseline:
    """What a reading on ``day`` is ranked against: the sorted trailing windows and the issuance of the last
    364 stored days (for today's Puell multiple). Built once per day from the daily series."""

    day: date
    hashprices: tuple[float, ...]
    puells: tuple[float, ...]
    issuance_usd_364d: float
    window_start: date
    window_end: date


def stress_baseline(day: date, rows: Sequence[DailyRow]) -> StressBaseline:
    """The ranks' windows for a reading on ``day`` from the daily ``rows`` dated before it (any order).

    Today's Puell multiple will be today's issuance over the mean of it and the last 364 stored days'
    issuance; when the stored series stops before yesterday, that mean is carried forward from its last day
    (``window_end`` says so). Raises ``NotEnoughHistoryError``.
    """
    before = sorted((row for row in rows if day - timedelta(days=HISTORY_DAYS) <= row.date < day), key=_day)
    window_start = day - timedelta(days=WINDOW_DAYS)
    in_window = [i for i, row in enumerate(before) if row.date >= window_start]
    if len(before) < PUELL_WINDOW_DAYS - 1 or not in_window:
        raise NotEnoughHistoryError(len(in_window))
    issuance = daily_issuance_usd(before)
    puells = puell_multiple(issuance)
    ranked_puells = tuple(sorted(p for i in in_window if (p := puells[i]) is not None))
    if len(ranked_puells) < MIN_WINDOW_SAMPLES:  # never more than the hashprices
        raise NotEnoughHistoryError(len(ranked_puells))
    return StressBaseline(
        day=day,
        hashprices=tuple(sorted(daily_hashprice_usd_per_ph_day(before[i]) for i in in_window)),
        puells=ranked_puells,
        issuance_usd_364d=math.fsum(issuance[-(PUELL_WINDOW_DAYS - 1) :]),
        window_start=before[in_window[0]].date,
        window_end=before[-1].date,
    )


def stress_now(
    baseline: StressBaseline, *, multiple: float, price_usd: float, difficulty: float, subsidy_btc: float
) -> StressIndex:
    """The index of a live reading (today's price, difficulty and subsidy) against ``baseline``."""
    today_usd = subsidy_btc * EXPECTED_BLOCKS_PER_DAY * price_usd
    puell = today_usd / (baseline.issuance_usd_364d + today_usd) * PUELL_WINDOW_DAYS
    value, components = stress_index(
        multiple,
        hashprice_subsidy_usd_per_ph_day(price_usd, difficulty, subsidy_btc),
        puell,
        baseline.hashprices,
        baseline.puells,
    )
    return StressIndex(
        value, components, baseline.window_start, baseline.window_end, len(baseline.hashprices)
    )


def stress_for_market(
    market: MarketInputs, baseline: StressBaseline, regression: DifficultyRegression
) -> StressIndex:
    """``stress_now`` for a market reading (subsidy and supply from its height; fees are left out, as in
    the daily history the hashprice is ranked against). Raises ``NotEnoughHistoryError``."""
    subsidy = market.subsidy_btc
    supply_btc = circulating_supply_sats(market.height) / SATS_PER_BTC
    return stress_now(
        baseline,
        multiple=cost_model_multiple(market.price_usd, market.difficulty, supply_btc, regression),
        price_usd=market.price_usd,
        difficulty=market.difficulty,
        subsidy_btc=subsidy,
    )


def _day(row: DailyRow) -> date:
    return row.date


def stress_series(rows: Sequence[DailyRow], multiples: Sequence[float]) -> list[StressIndex | None]:
    """The index of every row (sorted by date, one difficulty multiple each), ranked against the rows of
    the trailing window before it; ``None`` while the window is short or the day's Puell is unknown."""
    if len(multiples) != len(rows):
        raise ValueError("need one difficulty multiple per row")
    hashprices = [daily_hashprice_usd_per_ph_day(row) for row in rows]
    puells = puell_multiple(daily_issuance_usd(rows))
    hashprice_window: list[float] = []
    puell_window: list[float] = []
    first = 0
    series: list[StressIndex | None] = []
    for i, row in enumerate(rows):
        start = row.date - timedelta(days=WINDOW_DAYS)
        while rows[first].date < start:
            hashprice_window.pop(bisect_right(hashprice_window, hashprices[first]) - 1)
            if (old := puells[first]) is not None:
                puell_window.pop(bisect_right(puell_window, old) - 1)
            first += 1
        puell = puells[i]
        index: StressIndex | None = None
        if puell is not None and min(len(hashprice_window), len(puell_window)) >= MIN_WINDOW_SAMPLES:
            value, components = stress_index(
                multiples[i], hashprices[i], puell, hashprice_window, puell_window
            )
            index = StressIndex(value, components, rows[first].date, rows[i - 1].date, len(hashprice_window))
        series.append(index)
        insort(hashprice_window, hashprices[i])
        if puell is not None:
            insort(puell_window, puell)
    return series
