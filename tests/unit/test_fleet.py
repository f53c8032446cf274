"""Fleet economics: a hand-computed mixed fleet with a time-of-use tariff, and breakeven properties.

Market: D = 125.86e12, P = $66,680, subsidy 3.125 BTC, no fees (early Feb 2026). Hashvalue
``1e12 * 86400 / (125.86e12 * 2^32) * 3.125 = 4.99478e-7 BTC/TH/day``, hashprice $0.0333052/TH/day.
"""

import itertools
from datetime import UTC, datetime

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from bot.economics.fleet import (
    Advice,
    FleetLine,
    Period,
    Tariff,
    after_adjustment,
    flat_tariff,
    fleet_day,
    line_day,
)
from bot.economics.machines import Machine
from bot.economics.mining import MarketInputs, OperatingProfile

FEB_2026 = MarketInputs(price_usd=66_680, difficulty=125.86e12, height=935_000, fees_per_block_btc=0.0)
S19J_PRO = Machine("Antminer S19j Pro", 104, 3068, 3068 / 104, 2021)
S21_PRO = Machine("Antminer S21 Pro", 234, 3510, 15.0, 2024)
TEXAS = Tariff("texas", 0.045, (Period(14 * 60, 20 * 60, 0.12),), "America/Chicago")
PEAK = datetime(2026, 2, 3, 21, 0, tzinfo=UTC)  # 15:00 in Chicago (CST, UTC-6)
OFF_PEAK = datetime(2026, 2, 3, 12, 0, tzinfo=UTC)  # 06:00 in Chicago

S19J_LINE = FleetLine(
    S19J_PRO, 40, OperatingProfile(0.055, pool_fee_fraction=0.02), flat_tariff(0.055), "north"
)
S21_LINE = FleetLine(S21_PRO, 20, OperatingProfile(0.0, 0.02, 0.95, 1.05), TEXAS, "texas")


def test_tariff_segments_and_average() -> None:
    segments = [(s.start_minute, s.end_minute, s.usd_per_kwh) for s in TEXAS.segments()]
    assert segments == [(0, 840, 0.045), (840, 1200, 0.12), (1200, 1440, 0.045)]
    # (18 h * 0.045 + 6 h * 0.12) / 24 = 0.06375
    assert TEXAS.average_usd_per_kwh == pytest.approx(0.06375)
    assert TEXAS.price_at(PEAK) == 0.12
    assert TEXAS.price_at(OFF_PEAK) == 0.045


def test_a_period_past_midnight_wraps() -> None:
    night = Tariff("night", 0.10, (Period(22 * 60, 6 * 60, 0.03),))
    segments = [(s.start_minute, s.end_minute, s.usd_per_kwh) for s in night.segments()]
    assert segments == [(0, 360, 0.03), (360, 1320, 0.10), (1320, 1440, 0.03)]


def test_a_losing_flat_line_is_told_to_switch_off() -> None:
    day = line_day(FEB_2026, S19J_LINE, PEAK)
    # revenue 104 TH * 0.0333052 * 0.98 = $3.39446; power 3068 W * 24 h = 73.632 kWh * $0.055 = $4.04976
    assert day.per_machine.revenue_usd_per_day == pytest.approx(3.39446, rel=1e-5)
    assert day.per_machine.power_cost_usd_per_day == pytest.approx(4.04976, rel=1e-6)
    assert day.per_machine.profit_usd_per_day == pytest.approx(-0.65530, rel=1e-4)
    assert day.profit_usd_per_day == pytest.approx(-26.2118, rel=1e-4)
    assert day.profit_usd_per_30_days == pytest.approx(-786.355, rel=1e-4)
    # breakeven power 0.0333052 * 0.98 / (29.5 J/TH * 0.024) = $0.046100/kWh
    assert day.breakeven_power_usd_per_kwh == pytest.approx(0.046100, rel=1e-4)
    # breakeven BTC price 29.5 * 0.024 * 0.055 / (4.99478e-7 * 0.98) = $79,552
    assert day.breakeven_price_usd == pytest.approx(79_552, rel=1e-4)
    assert day.advice is Advice.SWITCH_OFF
    assert day.hashrate_ths == pytest.approx(4160)


def test_a_tou_line_runs_off_peak_only() -> None:
    day = line_day(FEB_2026, S21_LINE, OFF_PEAK)
    # revenue 234 * 0.0333052 * 0.98 * 0.95 = $7.25567; meter 3510 W * 24 h * 0.95 = 80.028 kWh
    assert day.per_machine.revenue_usd_per_day == pytest.approx(7.25567, rel=1e-5)
    assert day.per_machine.kwh_per_day == pytest.approx(80.028)
    # flat out at the average 0.06375: 80.028 * 1.05 * 0.06375 = $5.35687; profit $1.89879 a machine
    assert day.profit_usd_per_day == pytest.approx(37.9758, rel=1e-4)
    # breakeven power 0.0333052 * 0.98 / (15 * 0.024 * 1.05) = $0.086347: runs at 4.5c, not at 12c
    assert day.breakeven_power_usd_per_kwh == pytest.approx(0.086347, rel=1e-4)
    assert [(s.start_minute, s.end_minute) for s in day.run_segments] == [(0, 840), (1200, 1440)]
    assert day.run_minutes == 18 * 60
    # scheduled: 18/24 * (7.25567 - 80.028 * 1.05 * 0.045) * 20 = $52.1152
    assert day.scheduled_profit_usd_per_day == pytest.approx(52.1152, rel=1e-4)
    assert day.advice is Advice.RUN
    assert line_day(FEB_2026, S21_LINE, PEAK).advice is Advice.SWITCH_OFF


def test_fleet_totals_and_weighted_breakevens() -> None:
    fleet = fleet_day(FEB_2026, [S19J_LINE, S21_LINE], PEAK)
    assert fleet.profit_usd_per_day == pytest.approx(-26.2118 + 37.9758, rel=1e-4)
    assert fleet.scheduled_profit_usd_per_day == pytest.approx(-26.2118 * 0 + 52.1152, rel=1e-4)
    revenue = 40 * 3.394464 + 20 * 7.255666
    wall_kwh = 40 * 73.632 + 20 * 80.028 * 1.05
    assert fleet.revenue_usd_per_day == pytest.approx(revenue, rel=1e-6)
    assert fleet.breakeven_power_usd_per_kwh == pytest.approx(revenue / wall_kwh, rel=1e-6)
    cost = 40 * 4.04976 + 20 * 80.028 * 1.05 * 0.06375
    btc = 40 * 104 * 4.994778e-7 * 0.98 + 20 * 234 * 4.994778e-7 * 0.98 * 0.95
    assert fleet.breakeven_price_usd == pytest.approx(cost / btc, rel=1e-6)
    assert fleet.hashrate_ths == pytest.approx(4160 + 20 * 234 * 0.95)


def test_a_line_never_profitable_has_no_run_hours() -> None:
    assert line_day(FEB_2026, S19J_LINE, PEAK).run_segments == ()


def test_after_adjustment_scales_difficulty() -> None:
    after = after_adjustment(FEB_2026, 5.2)
    assert after.difficulty == pytest.approx(125.86e12 * 1.052)
    with pytest.raises(ValueError):
        after_adjustment(FEB_2026, -100)


def test_bad_tariffs_are_refused() -> None:
    with pytest.raises(ValueError):
        Tariff("x", 0.05, (), "Mars/Olympus")
    with pytest.raises(ValueError):
        Period(60, 60, 0.1)
    with pytest.raises(ValueError):
        Period(0, 1500, 0.1)
    with pytest.raises(ValueError):
        Tariff("x", 9.0)


markets = st.builds(
    MarketInputs,
    price_usd=st.floats(min_value=1_000, max_value=1_000_000),
    difficulty=st.floats(min_value=1e12, max_value=1e16),
    height=st.integers(min_value=0, max_value=1_300_000),
    fees_per_block_btc=st.floats(min_value=0, max_value=5),
)
operatings = st.builds(
    OperatingProfile,
    power_usd_per_kwh=st.just(0.05),
    pool_fee_fraction=st.floats(min_value=0, max_value=0.1),
    uptime_fraction=st.floats(min_value=0.05, max_value=1),
    pue=st.floats(min_value=1, max_value=1.5),
)
machines = st.builds(
    Machine,
    name=st.just("m"),
    hashrate_ths=st.floats(min_value=10, max_value=1000),
    power_w=st.none(),
    j_per_th=st.floats(min_value=5, max_value=120),
    year=st.none(),
)


@given(markets, operatings, machines, st.integers(1, 500), st.floats(0.005, 0.5))
def test_a_lines_profit_is_zero_at_its_breakeven_power_price(
    market: MarketInputs, operating: OperatingProfile, machine: Machine, count: int, power: float
) -> None:
    line = FleetLine(machine, count, operating, flat_tariff(power))
    breakeven = line_day(market, line, PEAK).breakeven_power_usd_per_kwh
    assume(breakeven <= 5)
    at_breakeven = line_day(market, FleetLine(machine, count, operating, flat_tariff(breakeven)), PEAK)
    assert at_breakeven.profit_usd_per_day == pytest.approx(0, abs=1e-9 * at_breakeven.revenue_usd_per_day)


@given(markets, operatings, machines, st.integers(1, 500), st.floats(0.005, 0.5))
def test_a_lines_profit_is_zero_at_its_breakeven_btc_price(
    market: MarketInputs, operating: OperatingProfile, machine: Machine, count: int, power: float
) -> None:
    line = FleetLine(machine, count, operating, flat_tariff(power))
    breakeven = line_day(market, line, PEAK).breakeven_price_usd
    assume(breakeven <= 10_000_000)
    at = MarketInputs(breakeven, market.difficulty, market.height, market.fees_per_block_btc)
    day = line_day(at, line, PEAK)
    assert day.profit_usd_per_day == pytest.approx(0, abs=1e-9 * day.power_cost_usd_per_day)


@given(
    markets, st.lists(st.tuples(operatings, machines, st.integers(1, 50), st.floats(0.005, 0.5)), min_size=1)
)
def test_the_fleet_breaks_even_at_its_weighted_breakevens(
    market: MarketInputs, specs: list[tuple[OperatingProfile, Machine, int, float]]
) -> None:
    lines = [FleetLine(m, n, op, flat_tariff(p)) for op, m, n, p in specs]
    fleet = fleet_day(market, lines, PEAK)
    power = fleet.breakeven_power_usd_per_kwh
    assume(power <= 5)
    same_price = fleet_day(market, [FleetLine(m, n, op, flat_tariff(power)) for op, m, n, _ in specs], PEAK)
    assert same_price.profit_usd_per_day == pytest.approx(0, abs=1e-9 * same_price.revenue_usd_per_day)
    price = fleet.breakeven_price_usd
    assume(price <= 10_000_000)
    at = fleet_day(
        MarketInputs(price, market.difficulty, market.height, market.fees_per_block_btc), lines, PEAK
    )
    assert at.profit_usd_per_day == pytest.approx(0, abs=1e-9 * at.power_cost_usd_per_day)


@given(
    markets,
    operatings,
    machines,
    st.floats(0.005, 0.5),
    st.lists(st.tuples(st.integers(0, 1439), st.integers(0, 1440), st.floats(0.005, 0.5)), max_size=4),
)
def test_running_on_schedule_never_earns_less_than_flat_out_or_than_nothing(
    market: MarketInputs,
    operating: OperatingProfile,
    machine: Machine,
    base: float,
    spans: list[tuple[int, int, float]],
) -> None:
    assume(all(start % 1440 != end % 1440 for start, end, _ in spans))
    tariff = Tariff("t", base, tuple(Period(*span) for span in spans))
    segments = tariff.segments()
    assert segments[0].start_minute == 0 and segments[-1].end_minute == 1440
    assert all(a.end_minute == b.start_minute for a, b in itertools.pairwise(segments))
    day = line_day(market, FleetLine(machine, 3, operating, tariff), PEAK)
    slack = 1e-9 * day.revenue_usd_per_day
    assert day.scheduled_profit_usd_per_day >= max(day.profit_usd_per_day, 0.0) - slack
    if all(s.usd_per_kwh <= day.breakeven_power_usd_per_kwh for s in segments):
        assert day.scheduled_profit_usd_per_day == pytest.approx(day.profit_usd_per_day, abs=slack)
