"""Bottom-up production cost against reference/economics.md §2.1 and §2.9."""

import pytest

from bot.data import load_difficulty_regression
from bot.economics.mining import MarketInputs
from bot.economics.production_cost import (
    BOTTOM_UP,
    DIFFICULTY_REGRESSION,
    BottomUpAssumptions,
    bottom_up_cost,
    regression_cost,
)

DIFFICULTY_PER_EHS = 1e18 * 600 / 2**32


@pytest.mark.parametrize(
    ("ehs", "j_per_th", "usd_per_kwh", "usd_per_btc"),
    [
        (900, 18, 0.05, 42_980),
        (900, 22, 0.08, 84_050),
        (1_014, 15, 0.04, 32_283),
        (1_014, 20, 0.05, 53_805),
        (1_014, 25, 0.08, 107_609),
        (1_100, 20, 0.07, 81_715),
    ],
)
def test_electricity_only_cost_grid(
    ehs: float, j_per_th: float, usd_per_kwh: float, usd_per_btc: float
) -> None:
    # The §2.1 table takes BTC/day = 144 * (3.125 + 0.016) at the implied hashrate.
    market = MarketInputs(66_680, ehs * DIFFICULTY_PER_EHS, 935_000, 0.016)
    cost = bottom_up_cost(market, BottomUpAssumptions(j_per_th, usd_per_kwh, 1.0))
    assert cost.usd_per_btc == pytest.approx(usd_per_btc, rel=5e-3)
    assert cost.electricity_usd_per_btc == cost.usd_per_btc


@pytest.mark.parametrize(
    ("j_per_th", "usd_per_kwh", "usd_per_btc"), [(20, 0.05, 67_300), (20, 0.06, 80_700), (22, 0.06, 88_800)]
)
def test_cash_cost_divides_by_electricity_share(
    j_per_th: float, usd_per_kwh: float, usd_per_btc: float
) -> None:
    market = MarketInputs(66_680, 1_014 * DIFFICULTY_PER_EHS, 935_000, 0.016)
    cost = bottom_up_cost(market, BottomUpAssumptions(j_per_th, usd_per_kwh, 0.8))
    assert cost.model == BOTTOM_UP
    assert cost.usd_per_btc == pytest.approx(usd_per_btc, rel=5e-3)
    assert "0.8" not in cost.assumptions and "80% of cash cost" in cost.assumptions


def test_premium_is_negative_when_price_is_below_cost() -> None:
    market = MarketInputs(66_680, 1_014 * DIFFICULTY_PER_EHS, 935_000, 0.016)
    cost = bottom_up_cost(market, BottomUpAssumptions(22, 0.06, 0.8))
    assert cost.premium_fraction(66_680) == pytest.approx(66_680 / cost.usd_per_btc - 1)
    assert cost.premium_fraction(66_680) < -0.2


def test_bad_assumptions_are_rejected() -> None:
    with pytest.raises(ValueError, match="electricity_share"):
        BottomUpAssumptions(20, 0.05, 0)


def test_the_two_models_at_a_halving_bottom_up_doubles_the_regression_does_not() -> None:
    """Same price, difficulty and fees either side of block 840,000: energy per BTC doubles, and so does the
    bottom-up cost; the Difficulty Regression moves by one block's 3.125 BTC of supply."""
    model = load_difficulty_regression()
    before = MarketInputs(64_000, 86.39e12, 839_999, 0.0)
    after = MarketInputs(64_000, 86.39e12, 840_000, 0.0)
    bottom_before, bottom_after = (bottom_up_cost(m, BottomUpAssumptions()) for m in (before, after))
    assert bottom_after.usd_per_btc / bottom_before.usd_per_btc == pytest.approx(2.0)
    regression_before, regression_after = regression_cost(before, model), regression_cost(after, model)
    assert regression_after.model == DIFFICULTY_REGRESSION
    assert regression_after.usd_per_btc / regression_before.usd_per_btc == pytest.approx(
        19_687_500 / 19_687_503.125, rel=1e-12
    )
    assert regression_after.significant_digits == bottom_after.significant_digits == 2
    assert "market cap ~ difficulty^0.772 / supply" in regression_after.assumptions
