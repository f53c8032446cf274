"""The open miner-stress index: each component against hand-computed values, the seed day, the history."""

from __future__ import annotations

import math
from datetime import date, timedelta

import pytest

from bot.data import load_difficulty_regression, load_history
from bot.economics.history import DailyRow, subsidy_btc_on, supply_btc_at_end_of
from bot.economics.network import circulating_supply_sats
from bot.economics.regression import DifficultyRegression
from bot.economics.stress import (
    MIN_WINDOW_SAMPLES,
    Band,
    Component,
    NotEnoughHistoryError,
    cost_model_multiple,
    difficulty_multiple_score,
    hashprice_subsidy_usd_per_ph_day,
    history_multiples,
    percentile_score,
    stress_band,
    stress_baseline,
    stress_index,
    stress_now,
    stress_series,
)

SEED_DAY = date(2026, 2, 5)
SEED_PRICE_USD, SEED_DIFFICULTY = 66_680.0, 125.86e12
SEED_SUPPLY_BTC = circulating_supply_sats(935_000) / 1e8  # about 19.98 M BTC in Feb 2026


def _model(a: float, b: float) -> DifficultyRegression:
    return DifficultyRegression(a, b, 0.9, 10, date(2020, 1, 1), date(2020, 1, 10), 0.1)


@pytest.mark.parametrize(
    ("multiple", "score"),
    [(0.25, 0.0), (0.5, 0.0), (0.75, 29.2481250360578), (1.0, 50.0), (math.sqrt(2), 75.0), (2.0, 100.0)],
)
def test_difficulty_multiple_scores_on_a_log2_scale(multiple: float, score: float) -> None:
    # 50 * (1 + log2 0.75) = 50 * (1 - 0.4150375) = 29.2481
    assert difficulty_multiple_score(multiple) == pytest.approx(score, abs=1e-9)


def test_difficulty_multiple_is_price_over_the_regression_cost() -> None:
    # exp(0 + 1 * ln 300) / 3 BTC of supply = $100 per BTC, so $150 is 1.5x
    assert cost_model_multiple(150.0, 300.0, 3.0, _model(0.0, 1.0)) == pytest.approx(1.5)
    # exp(ln 2 + 0.5 * ln 400) / 4 = 2 * 20 / 4 = $10, so $5 is 0.5x
    assert cost_model_multiple(5.0, 400.0, 4.0, _model(math.log(2), 0.5)) == pytest.approx(0.5)


def test_hashprice_component_matches_the_published_worked_check() -> None:
    # 1e15 * 86400 / (125.86e12 * 2^32) * 3.125 * 66,680 = $33.31/PH/day
    value = hashprice_subsidy_usd_per_ph_day(SEED_PRICE_USD, SEED_DIFFICULTY, 3.125)
    assert value == pytest.approx(33.31, abs=0.005)


def test_percentile_rank_counts_ties_as_at_or_below() -> None:
    window = [1.0, 2.0, 2.0, 3.0]
    assert percentile_score(2.0, window) == 75.0
    assert percentile_score(0.5, window) == 0.0
    assert percentile_score(3.0, window) == 100.0
    with pytest.raises(NotEnoughHistoryError):
        percentile_score(1.0, [])


def test_index_is_the_equal_weighted_mean_of_the_component_scores() -> None:
    window = [float(i) for i in range(1, MIN_WINDOW_SAMPLES + 1)]  # 1 .. 730
    # multiple 1.0 -> 50; hashprice 365 -> 365/730 = 50 %; Puell 73 -> 10 %
    value, components = stress_index(1.0, 365.0, 73.0, window, window)
    assert [c.score for c in components] == pytest.approx([50.0, 50.0, 10.0])
    assert value == pytest.approx(110 / 3)
    assert math.fsum(c.weight for c in components) == pytest.approx(1.0)
    with pytest.raises(NotEnoughHistoryError, match="729 days of daily history") as short:
        stress_index(1.0, 1.0, 1.0, window, window[1:])
    assert short.value.days == 729


@pytest.mark.parametrize(
    ("value", "band"),
    [
        (0.0, Band.CAPITULATION),
        (24.99, Band.CAPITULATION),
        (25.0, Band.STRESS),
        (44.9, Band.STRESS),
        (45.0, Band.NEUTRAL),
        (60.0, Band.HEALTHY),
        (80.0, Band.EUPHORIA),
        (100.0, Band.EUPHORIA),
    ],
)
def test_bands(value: float, band: Band) -> None:
    assert stress_band(value) is band


def _flat_history(days: int, price_usd: float) -> list[DailyRow]:
    start = date(2024, 5, 1)  # after the 2024 halving: 3.125 BTC a block throughout
    return [DailyRow(start + timedelta(days=i), price_usd, 1e14, None, None) for i in range(days)]


def test_puell_today_uses_the_last_364_stored_days_and_todays_issuance() -> None:
    rows = _flat_history(1200, 100_000.0)
    day = rows[-1].date + timedelta(days=1)
    index = stress_now(
        stress_baseline(day, rows), multiple=1.0, price_usd=50_000.0, difficulty=1e14, subsidy_btc=3.125
    )
    # Puell = 450 * 50k / ((364 * 450 * 100k + 450 * 50k) / 365) = 50 * 365 / 36,450
    puell = index.component(Component.PUELL)
    assert puell.value == pytest.approx(50 * 365 / 36_450)
    assert puell.score == 0.0  # every Puell of a flat history is 1.0
    assert index.component(Component.HASHPRICE).score == 0.0  # half of every past day
    assert index.value == pytest.approx(50 / 3)
    assert index.window_end == rows[-1].date
    assert (index.window_start, index.window_samples) == (rows[0].date, 1200)  # shorter than 4 years
    # The window is the days before the reading: the same history as of its own last day ranks itself.
    assert stress_now(
        stress_baseline(rows[-1].date, rows),
        multiple=1.0,
        price_usd=100_000.0,
        difficulty=1e14,
        subsidy_btc=3.125,
    ).component(Component.HASHPRICE).score == pytest.approx(100.0)


def test_too_little_history_is_refused() -> None:
    rows = _flat_history(364 + MIN_WINDOW_SAMPLES - 1, 100_000.0)
    day = rows[-1].date + timedelta(days=1)
    with pytest.raises(NotEnoughHistoryError):
        stress_now(
            stress_baseline(day, rows), multiple=1.0, price_usd=1.0, difficulty=1e14, subsidy_btc=3.125
        )
    with pytest.raises(NotEnoughHistoryError):
        stress_now(
            stress_baseline(day, rows[:100]), multiple=1.0, price_usd=1.0, difficulty=1e14, subsidy_btc=3.125
        )


def test_seed_day_reads_as_capitulation() -> None:
    """Price $66,680 and difficulty 125.86T on 2026-02-05, ranked against the shipped history.

    The history ends 2025-06-02, so the trailing 4 years (2022-02-05 .. 2026-02-04) hold 1,214 of their
    1,461 days and today's Puell takes its 365-day average from the last 364 shipped days (carried forward;
    the 2025 prices, higher than that mean, would lower today's Puell and the index further).
    """
    rows = load_history()
    regression = load_difficulty_regression()
    multiple = cost_model_multiple(SEED_PRICE_USD, SEED_DIFFICULTY, SEED_SUPPLY_BTC, regression)
    index = stress_now(
        stress_baseline(SEED_DAY, rows),
        multiple=multiple,
        price_usd=SEED_PRICE_USD,
        difficulty=SEED_DIFFICULTY,
        subsidy_btc=3.125,
    )
    assert index.band is Band.CAPITULATION
    assert index.value == pytest.approx(24.4, abs=0.05)
    # the model's cost there is $76.9k (Checkonchain's "about $79k"): 0.867x -> 39.7
    assert index.component(Component.DIFFICULTY_MULTIPLE).value == pytest.approx(0.867, abs=0.0005)
    assert index.component(Component.HASHPRICE).score == 0.0  # below every day since 2022-02-05
    assert index.component(Component.PUELL).value == pytest.approx(0.816, abs=0.0005)
    assert (index.window_start, index.window_end, index.window_samples) == (
        date(2022, 2, 5),
        date(2025, 6, 2),
        1214,
    )


KNOWN_CAPITULATIONS = (
    (date(2018, 10, 1), date(2019, 4, 30)),  # the end of the 2018 bear market (Hash Ribbons, Dec 2018)
    (date(2019, 11, 1), date(2019, 12, 31)),  # Hash Ribbons capitulation, Nov-Dec 2019
    (date(2020, 3, 1), date(2020, 10, 31)),  # the March 2020 crash, then the May 2020 halving
    (date(2022, 6, 1), date(2023, 1, 31)),  # Terra/Celsius (June 2022), then FTX (Nov 2022)
)


def test_lows_on_the_shipped_history_fall_in_the_known_capitulations() -> None:
    rows = load_history()
    series = stress_series(rows, history_multiples(rows, load_difficulty_regression()))
    values = {row.date: index.value for row, index in zip(rows, series, strict=True) if index is not None}
    assert min(values) == date(2013, 7, 15)  # 364 + 730 days after the first shipped day, 2010-07-17
    lowest = min(values, key=values.__getitem__)
    assert date(2018, 11, 1) <= lowest <= date(2018, 12, 31)
    of_2022 = {day: v for day, v in values.items() if day.year == 2022}
    assert date(2022, 11, 1) <= min(of_2022, key=of_2022.__getitem__) <= date(2022, 11, 30)  # FTX
    mid_2022 = {day: v for day, v in of_2022.items() if date(2022, 5, 1) <= day <= date(2022, 7, 31)}
    mid_low = min(mid_2022, key=mid_2022.__getitem__)
    assert date(2022, 6, 1) <= mid_low <= date(2022, 6, 30) and mid_2022[mid_low] < 25
    extreme = [day for day, v in values.items() if v < 10]
    assert len(extreme) > 200
    assert all(any(start <= day <= end for start, end in KNOWN_CAPITULATIONS) for day in extreme)
    assert max(values, key=values.__getitem__).year == 2017  # the 2017 bull market, euphoria


def test_series_and_live_reading_agree_on_a_history_day() -> None:
    rows = load_history()
    regression = load_difficulty_regression()
    last = rows[-1]  # no issuance_btc after 2025-03-08: both use subsidy x 144
    subsidy = subsidy_btc_on(last.date)
    multiple = cost_model_multiple(last.price_usd, last.difficulty, supply_btc_at_end_of(last), regression)
    live = stress_now(
        stress_baseline(last.date, rows),
        multiple=multiple,
        price_usd=last.price_usd,
        difficulty=last.difficulty,
        subsidy_btc=subsidy,
    )
    series = stress_series(rows, history_multiples(rows, regression))[-1]
    assert series is not None
    assert live.value == pytest.approx(series.value, rel=1e-12)
    assert (live.window_start, live.window_end) == (series.window_start, series.window_end)
