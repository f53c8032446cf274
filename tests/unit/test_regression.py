"""Difficulty-regression production-cost model (reference/economics.md §2.9 option B)."""

import json
import math
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.data import load_difficulty_regression, load_history, read_data_text
from bot.economics.history import DailyRow
from bot.economics.regression import (
    DifficultyRegression,
    difficulty_regression_cost_usd_per_btc,
    difficulty_regression_from_json,
    difficulty_regression_to_json,
    fit_difficulty_regression,
    fit_power_law,
)


@given(st.floats(-20, 20), st.floats(0.01, 3) | st.floats(-3, -0.01))
def test_exact_power_law_is_recovered(a: float, b: float) -> None:
    xs = [1e9 * 1.7**i for i in range(12)]
    fit = fit_power_law(xs, [math.exp(a + b * math.log(x)) for x in xs])
    assert fit.a == pytest.approx(a, abs=1e-8)
    assert fit.b == pytest.approx(b, abs=1e-9)
    assert fit.n == 12
    assert fit.residual_std == pytest.approx(0.0, abs=1e-8)
    assert fit.r2 == pytest.approx(1.0, abs=1e-9)


def test_noisy_fit_reports_r2_and_residual_std() -> None:
    xs = [1.0, 2.0, 4.0, 8.0]
    ys = [x * math.exp(0.1 * (-1) ** i) for i, x in enumerate(xs)]  # ln y = ln x ± 0.1
    fit = fit_power_law(xs, ys)
    assert 0.9 < fit.r2 < 1.0
    assert 0.05 < fit.residual_std < 0.2


@pytest.mark.parametrize(
    ("xs", "ys", "message"),
    [
        ([1.0, 2.0], [1.0, 2.0], "at least 3"),
        ([1.0, 2.0, 3.0], [1.0, 2.0], "differ in length"),
        ([1.0, 0.0, 3.0], [1.0, 2.0, 3.0], "x must be a positive"),
        ([1.0, 2.0, 3.0], [1.0, -2.0, 3.0], "y must be a positive"),
        ([2.0, 2.0, 2.0], [1.0, 2.0, 3.0], "slope is undefined"),
    ],
)
def test_fit_rejects_bad_input(xs: list[float], ys: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        fit_power_law(xs, ys)


def test_refit_on_shipped_history_reproduces_the_shipped_json() -> None:
    shipped = load_difficulty_regression()
    refit = fit_difficulty_regression(load_history())
    assert refit == shipped
    document = json.loads(read_data_text("difficulty_regression.json"))
    assert document["source"] == "bot/data/history.csv"
    assert document["model"] == "ln(price_usd) = a + b * ln(difficulty / subsidy_btc)"


def test_shipped_fit_window_and_quality() -> None:
    model = load_difficulty_regression()
    assert model.start_date == date(2020, 1, 1)
    assert model.end_date == load_history()[-1].date
    assert model.n == (model.end_date - model.start_date).days + 1
    assert 0.4 < model.r2 < 1.0  # 0.571 for 2020-01-01..2025-06-02
    assert 0.0 < model.b < 1.0  # cost rises less than proportionally with difficulty per BTC
    assert 0.2 < model.residual_std < 0.8


@pytest.mark.parametrize(
    ("difficulty", "subsidy_btc", "low_usd", "high_usd"),
    [
        (110.57e12, 3.125, 40_000, 150_000),  # 2025-02 (§1.2): ≈ $82.9k
        (86.39e12, 3.125, 30_000, 120_000),  # block 840,000
        (13.7e12, 12.5, 4_000, 25_000),  # early 2020, price ≈ $7-9k
    ],
)
def test_cost_at_known_points_is_plausible(
    difficulty: float, subsidy_btc: float, low_usd: float, high_usd: float
) -> None:
    cost_usd_per_btc = difficulty_regression_cost_usd_per_btc(
        difficulty, subsidy_btc, load_difficulty_regression()
    )
    assert low_usd < cost_usd_per_btc < high_usd


def test_halving_doubles_difficulty_per_btc_not_the_fit() -> None:
    model = load_difficulty_regression()
    before = difficulty_regression_cost_usd_per_btc(80e12, 6.25, model)
    after = difficulty_regression_cost_usd_per_btc(80e12, 3.125, model)
    assert after / before == pytest.approx(2**model.b)
    assert difficulty_regression_cost_usd_per_btc(160e12, 6.25, model) == pytest.approx(after)


def test_cost_rejects_non_positive_inputs() -> None:
    with pytest.raises(ValueError, match="subsidy_btc"):
        difficulty_regression_cost_usd_per_btc(1e12, 0.0, load_difficulty_regression())


def test_fit_uses_the_subsidy_in_force_each_day() -> None:
    # Price exactly e^1 · (D / S)^0.5 across the 2020 halving: a subsidy mix-up would break the fit.
    rows = []
    for offset in range(-20, 20):
        day = date.fromordinal(date(2020, 5, 11).toordinal() + offset)
        subsidy_btc = 12.5 if offset < 0 else 6.25
        difficulty = 15e12 + offset * 1e10
        rows.append(
            DailyRow(day, math.exp(1.0) * math.sqrt(difficulty / subsidy_btc), difficulty, None, None)
        )
    model = fit_difficulty_regression(rows)
    assert model.a == pytest.approx(1.0)
    assert model.b == pytest.approx(0.5)
    assert (model.start_date, model.end_date, model.n) == (date(2020, 4, 21), date(2020, 5, 30), 40)


def test_json_round_trip_and_malformed_document() -> None:
    model = DifficultyRegression(-6.0, 0.55, 0.57, 10, date(2020, 1, 1), date(2020, 1, 10), 0.47)
    assert difficulty_regression_from_json(difficulty_regression_to_json(model, source="x")) == model
    with pytest.raises(ValueError, match="malformed"):
        difficulty_regression_from_json('{"a": 1}')
    with pytest.raises(ValueError, match="no rows"):
        fit_difficulty_regression([], start_date=date(2020, 1, 1))
