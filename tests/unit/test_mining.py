"""Mining economics against the worked examples of reference/economics.md §1.6-§1.9 (within 0.5 %)."""

import math

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from bot.economics.mining import (
    MarketInputs,
    OperatingProfile,
    breakeven_j_per_th,
    breakeven_power_usd_per_kwh,
    breakeven_price_usd,
    hashprice_sats_per_th_day,
    hashprice_usd_per_ph_day,
    hashvalue_btc_per_th_day,
    machine_day,
)

FEB_2026 = MarketInputs(price_usd=66_680, difficulty=125.86e12, height=935_000, fees_per_block_btc=0.0)
NO_FEES = OperatingProfile(power_usd_per_kwh=0.05)


def test_hashprice_feb_2026() -> None:
    assert hashprice_usd_per_ph_day(FEB_2026) == pytest.approx(33.31, rel=5e-3)
    assert hashvalue_btc_per_th_day(FEB_2026) * 1000 == pytest.approx(0.00049948, rel=5e-3)


def test_hashprice_october_2026_capture() -> None:
    # reference/apis.md §5: reward 3.1444 BTC, D 1.32716e14 -> 47.7 sats/TH/day, $40.9/PH/day at $85.9k.
    market = MarketInputs(85_900, 1.32716e14, 969_992, 3.1444 - 3.125)
    assert hashprice_sats_per_th_day(market) == pytest.approx(47.7, rel=5e-3)
    assert hashprice_usd_per_ph_day(market) == pytest.approx(40.9, rel=5e-3)


@pytest.mark.parametrize(
    ("model", "j_per_th", "breakeven_kwh", "breakeven_at_5c", "breakeven_at_7c"),
    [
        ("S19", 34.2, 0.0406, 82_166, 115_032),
        ("S19 Pro", 29.5, 0.0470, 70_874, 99_224),
        ("S19k Pro", 23.0, 0.0603, 55_258, 77_361),
        ("S19 XP", 21.5, 0.0645, 51_654, 72_316),
        ("S21", 17.5, 0.0793, 42_044, 58_861),
        ("S21+", 16.5, 0.0841, 39_641, 55_498),
        ("S21 Pro", 15.0, 0.0925, 36_038, 50_453),
        ("S21 XP", 13.5, 0.1028, 32_434, 45_407),
        ("S21 XP Hyd", 12.0, 0.1156, 28_830, 40_362),
    ],
)
def test_breakeven_table(
    model: str, j_per_th: float, breakeven_kwh: float, breakeven_at_5c: float, breakeven_at_7c: float
) -> None:
    assert breakeven_power_usd_per_kwh(FEB_2026, NO_FEES, j_per_th) == pytest.approx(breakeven_kwh, rel=5e-3)
    assert breakeven_price_usd(FEB_2026, NO_FEES, j_per_th) == pytest.approx(breakeven_at_5c, rel=5e-3)
    at_7c = OperatingProfile(power_usd_per_kwh=0.07)
    assert breakeven_price_usd(FEB_2026, at_7c, j_per_th) == pytest.approx(breakeven_at_7c, rel=5e-3)


def test_machine_day_s19_at_5c() -> None:
    day = machine_day(FEB_2026, NO_FEES, hashrate_ths=95, j_per_th=34.2)
    assert day.kwh_per_day == pytest.approx(95 * 34.2 * 0.024)  # 77.976 kWh, 3,249 W
    assert day.power_cost_usd_per_day == pytest.approx(3.8988, rel=1e-4)
    assert day.revenue_usd_per_day == pytest.approx(95 * 33.305 / 1000, rel=1e-3)
    assert day.profit_usd_per_day == pytest.approx(day.revenue_usd_per_day - day.power_cost_usd_per_day)
    assert day.margin_fraction < 0  # the S19 lost money at $0.05 in Feb 2026


def test_pool_fee_uptime_and_pue_scale_as_documented() -> None:
    profile = OperatingProfile(0.05, pool_fee_fraction=0.02, uptime_fraction=0.95, pue=1.1)
    plain = machine_day(FEB_2026, NO_FEES, 200, 17.5)
    loaded = machine_day(FEB_2026, profile, 200, 17.5)
    assert loaded.revenue_usd_per_day == pytest.approx(plain.revenue_usd_per_day * 0.98 * 0.95)
    assert loaded.power_cost_usd_per_day == pytest.approx(plain.power_cost_usd_per_day * 1.1 * 0.95)


def test_uptime_cancels_out_of_every_breakeven() -> None:
    """A curtailed machine burns nothing: at 50 % uptime revenue and power halve, breakevens stay."""
    full = machine_day(FEB_2026, OperatingProfile(0.05, 0.02, 1.0, 1.1), 200, 17.5)
    half = machine_day(FEB_2026, OperatingProfile(0.05, 0.02, 0.5, 1.1), 200, 17.5)
    assert half.profit_usd_per_day == pytest.approx(full.profit_usd_per_day / 2)
    assert half.kwh_per_day == pytest.approx(200 * 17.5 * 0.024 / 2)
    assert half.breakeven_power_usd_per_kwh == pytest.approx(full.breakeven_power_usd_per_kwh)
    assert half.breakeven_price_usd == pytest.approx(full.breakeven_price_usd)
    assert half.breakeven_j_per_th == pytest.approx(full.breakeven_j_per_th)


def test_breakeven_efficiency_free_power_is_infinite() -> None:
    assert math.isinf(breakeven_j_per_th(FEB_2026, OperatingProfile(0.0)))


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf"), 1e9])
def test_bad_prices_are_rejected_naming_the_value(bad: float) -> None:
    with pytest.raises(ValueError, match="price"):
        MarketInputs(bad, 1e14, 900_000, 0.0)


@pytest.mark.parametrize("bad", [0.0, -5.0, float("nan")])
def test_bad_difficulty_is_rejected(bad: float) -> None:
    with pytest.raises(ValueError, match="difficulty"):
        MarketInputs(60_000, bad, 900_000, 0.0)


@pytest.mark.parametrize("bad", [-0.01, 7.0, float("nan")])
def test_bad_power_price_is_rejected(bad: float) -> None:
    with pytest.raises(ValueError, match="power price"):
        OperatingProfile(bad)


markets = st.builds(
    MarketInputs,
    price_usd=st.floats(min_value=1_000, max_value=1_000_000),
    difficulty=st.floats(min_value=1e12, max_value=1e16),
    height=st.integers(min_value=0, max_value=1_300_000),
    fees_per_block_btc=st.floats(min_value=0, max_value=5),
)
profiles = st.builds(
    OperatingProfile,
    power_usd_per_kwh=st.floats(min_value=0.005, max_value=0.5),
    pool_fee_fraction=st.floats(min_value=0, max_value=0.1),
    uptime_fraction=st.floats(min_value=0.5, max_value=1),
    pue=st.floats(min_value=1, max_value=1.5),
)
efficiencies = st.floats(min_value=5, max_value=120)


@given(markets, profiles, efficiencies)
def test_profit_is_zero_at_the_breakeven_power_price(
    market: MarketInputs, profile: OperatingProfile, j_per_th: float
) -> None:
    breakeven = breakeven_power_usd_per_kwh(market, profile, j_per_th)
    assume(breakeven <= 5)
    at_breakeven = OperatingProfile(
        breakeven, profile.pool_fee_fraction, profile.uptime_fraction, profile.pue
    )
    day = machine_day(market, at_breakeven, 100, j_per_th)
    assert day.profit_usd_per_day == pytest.approx(0, abs=1e-9 * day.revenue_usd_per_day)


@given(markets, profiles, efficiencies)
def test_profit_is_zero_at_the_breakeven_btc_price(
    market: MarketInputs, profile: OperatingProfile, j_per_th: float
) -> None:
    breakeven = breakeven_price_usd(market, profile, j_per_th)
    assume(breakeven <= 10_000_000)
    at_breakeven = MarketInputs(breakeven, market.difficulty, market.height, market.fees_per_block_btc)
    day = machine_day(at_breakeven, profile, 100, j_per_th)
    assert day.profit_usd_per_day == pytest.approx(0, abs=1e-9 * day.power_cost_usd_per_day)


@given(markets, st.floats(min_value=0.1, max_value=10))
def test_hashprice_is_linear_in_price_and_inverse_in_difficulty(market: MarketInputs, factor: float) -> None:
    base = hashprice_usd_per_ph_day(market)
    assume(market.price_usd * factor <= 10_000_000)
    scaled_price = MarketInputs(
        market.price_usd * factor, market.difficulty, market.height, market.fees_per_block_btc
    )
    scaled_difficulty = MarketInputs(
        market.price_usd, market.difficulty * factor, market.height, market.fees_per_block_btc
    )
    assert hashprice_usd_per_ph_day(scaled_price) == pytest.approx(base * factor, rel=1e-12)
    assert hashprice_usd_per_ph_day(scaled_difficulty) == pytest.approx(base / factor, rel=1e-12)
