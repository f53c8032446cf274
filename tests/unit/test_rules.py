"""Edge-triggered threshold rules (bot.alerts.rules): crossings, bands, repeat, minimum interval, and the
translation of per-chat margin/breakeven rules into hashprice thresholds."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import accumulate, pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.alerts.rules import (
    KeyedRule,
    KeyMetric,
    Metric,
    Op,
    Rule,
    RuleState,
    holds,
    initial_state,
    key_rule,
    margin_warning_rule,
    rearms,
    step,
)
from bot.economics.mining import MarketInputs, OperatingProfile, hashprice_usd_per_ph_day, machine_day

BELOW_100 = key_rule(Rule(Metric.PRICE, Op.BELOW, 100.0, band=5.0))  # fires under 100, re-arms at >= 105
ABOVE_100 = key_rule(Rule(Metric.PRICE, Op.ABOVE, 100.0, band=5.0))  # fires over 100, re-arms at <= 95


def fire_times(
    keyed: KeyedRule,
    values: Sequence[float],
    *,
    times: Sequence[float] | None = None,
    repeat: bool = False,
    min_interval_s: int = 0,
    state: RuleState | None = None,
) -> list[float]:
    """Step ``keyed`` through ``values`` (one per second unless ``times`` is given); the times it fired."""
    current = state if state is not None else initial_state(keyed, None)
    fired_at: list[float] = []
    for value, now in zip(values, times if times is not None else range(len(values)), strict=True):
        current, fired = step(keyed, current, value, now, repeat=repeat, min_interval_s=min_interval_s)
        if fired:
            fired_at.append(now)
    return fired_at


def test_direct_rule_keys_and_rearm_levels() -> None:
    assert KeyedRule(KeyMetric.PRICE_USD, Op.BELOW, 100.0, 105.0) == BELOW_100
    assert KeyedRule(KeyMetric.PRICE_USD, Op.ABOVE, 100.0, 95.0) == ABOVE_100


def test_exactly_one_fire_per_crossing_below() -> None:
    #          fire                          re-arm  fire
    values = [110, 99, 98, 101, 99, 104.9, 99, 105, 99, 97]
    assert fire_times(BELOW_100, values) == [1, 8]


def test_exactly_one_fire_per_crossing_above() -> None:
    values = [90, 101, 120, 99, 101, 95.1, 101, 95, 100, 100.5]
    assert fire_times(ABOVE_100, values) == [1, 9]


def test_the_threshold_itself_does_not_hold() -> None:
    assert not holds(Op.BELOW, 100.0, 100.0)
    assert not holds(Op.ABOVE, 100.0, 100.0)
    assert fire_times(BELOW_100, [110, 100, 100]) == []


def test_no_second_fire_while_oscillating_inside_the_band() -> None:
    values = [110.0] + [99.0, 104.0] * 50
    assert fire_times(BELOW_100, values) == [1]


def test_rearms_only_past_the_band() -> None:
    assert not rearms(Op.BELOW, 104.99, BELOW_100.key_rearm)
    assert rearms(Op.BELOW, 105.0, BELOW_100.key_rearm)
    assert not rearms(Op.ABOVE, 95.01, ABOVE_100.key_rearm)
    assert rearms(Op.ABOVE, 95.0, ABOVE_100.key_rearm)
    fired = RuleState(armed=False)
    assert step(BELOW_100, fired, 104.99, 0, repeat=False, min_interval_s=0) == (fired, False)
    assert step(BELOW_100, fired, 105.0, 0, repeat=False, min_interval_s=0) == (RuleState(armed=True), False)


def test_repeat_fires_again_only_after_the_minimum_interval() -> None:
    times = [0, 1800, 3599, 3600, 5000, 7199, 7200]
    assert fire_times(BELOW_100, [99] * len(times), times=times, repeat=True, min_interval_s=3600) == [
        0,
        3600,
        7200,
    ]


def test_repeat_stops_when_the_condition_no_longer_holds() -> None:
    times = [0, 3600, 7200, 10_800]
    assert fire_times(BELOW_100, [99, 101, 101, 99], times=times, repeat=True, min_interval_s=3600) == [
        0,
        10_800,
    ]


def test_minimum_interval_delays_a_new_crossing_until_it_has_passed() -> None:
    times = [0, 100, 200, 3000, 3599, 3600, 3700]
    values = [99, 106, 99, 99, 99, 99, 99]  # re-armed at 100 s, crosses again at 200 s: quiet until 3600 s
    assert fire_times(BELOW_100, values, times=times, min_interval_s=3600) == [0, 3600]


def test_a_delayed_fire_needs_the_condition_to_hold_once_the_interval_has_passed() -> None:
    times = [0, 100, 200, 3600, 3700]
    values = [99, 106, 99, 106, 99]
    assert fire_times(BELOW_100, values, times=times, min_interval_s=3600) == [0, 3700]


def test_a_rule_created_while_it_holds_waits_for_a_new_crossing() -> None:
    created = initial_state(BELOW_100, 99.0)
    assert created == RuleState(armed=False)
    assert fire_times(BELOW_100, [99, 98, 101, 104, 105, 99], state=created) == [5]
    assert initial_state(BELOW_100, 101.0) == RuleState(armed=True)


values_near_100 = st.lists(st.floats(min_value=90, max_value=115, allow_nan=False), max_size=60)


@given(values_near_100)
def test_fires_exactly_once_per_crossing_property(values: list[float]) -> None:
    """Characterise the fires independently of ``step``: each holds, consecutive fires have a re-arm in
    between, and a holding value after a re-arm (or the start) never goes unreported."""
    fired = set(fire_times(BELOW_100, values))
    armed = True  # no fire yet, or back at >= 105 since the last one
    for i, value in enumerate(values):
        if i in fired:
            assert holds(Op.BELOW, value, 100.0)
            assert armed
            armed = False
        elif armed:
            assert not holds(Op.BELOW, value, 100.0)
        else:
            armed = value >= 105.0


@given(
    st.lists(st.tuples(st.floats(90, 110, allow_nan=False), st.integers(1, 5000)), max_size=60),
    st.integers(0, 7200),
)
def test_repeat_fires_hold_and_are_spaced_by_the_minimum_interval(
    steps: list[tuple[float, int]], min_interval_s: int
) -> None:
    times = [float(t) for t in accumulate(gap for _, gap in steps)]
    values = [value for value, _ in steps]
    value_at = dict(zip(times, values, strict=True))
    fired = fire_times(BELOW_100, values, times=times, repeat=True, min_interval_s=min_interval_s)
    assert all(holds(Op.BELOW, value_at[t], 100.0) for t in fired)
    assert all(later - earlier >= min_interval_s for earlier, later in pairwise(fired))


# --- per-chat rules: margin and breakeven translate to a hashprice threshold --------------------------


def market_at_hashprice(hashprice: float, price_usd: float = 50_000.0) -> MarketInputs:
    """A market (height 900,000: 3.125 BTC subsidy, no fees) whose hashprice is ``hashprice`` USD/PH/day."""
    difficulty = 1e15 * 86_400 * 3.125 * price_usd / (2**32 * hashprice)
    return MarketInputs(price_usd=price_usd, difficulty=difficulty, height=900_000, fees_per_block_btc=0.0)


profiles = st.builds(
    OperatingProfile,
    power_usd_per_kwh=st.floats(0.01, 0.2),
    pool_fee_fraction=st.floats(0, 0.05),
    uptime_fraction=st.floats(0.8, 1),
    pue=st.floats(1, 1.5),
)
efficiencies = st.floats(10, 40)


@given(st.floats(-200, 90), efficiencies, profiles)
def test_margin_rule_threshold_is_the_hashprice_where_margin_equals_it(
    margin_pct: float, j_per_th: float, profile: OperatingProfile
) -> None:
    keyed = key_rule(Rule(Metric.MARGIN, Op.BELOW, margin_pct, band=1.0), j_per_th, profile)
    assert keyed.key_metric is KeyMetric.HASHPRICE_USD_PER_PH_DAY
    market = market_at_hashprice(keyed.key_threshold)
    assert hashprice_usd_per_ph_day(market) == pytest.approx(keyed.key_threshold, rel=1e-12)
    day = machine_day(market, profile, hashrate_ths=100.0, j_per_th=j_per_th)
    assert day.margin_fraction * 100 == pytest.approx(margin_pct, rel=1e-9, abs=1e-9)
    rearm_day = machine_day(market_at_hashprice(keyed.key_rearm), profile, 100.0, j_per_th)
    assert rearm_day.margin_fraction * 100 == pytest.approx(margin_pct + 1.0, rel=1e-9, abs=1e-9)


@given(st.floats(-50, 50), efficiencies, profiles)
def test_margin_rule_holds_exactly_when_the_margin_is_below_the_threshold(
    margin_pct: float, j_per_th: float, profile: OperatingProfile
) -> None:
    keyed = key_rule(Rule(Metric.MARGIN, Op.BELOW, margin_pct, band=1.0), j_per_th, profile)
    for factor in (0.99, 1.01):
        hashprice = keyed.key_threshold * factor
        margin = machine_day(market_at_hashprice(hashprice), profile, 100.0, j_per_th).margin_fraction * 100
        assert holds(keyed.key_op, hashprice, keyed.key_threshold) == (margin < margin_pct)


@given(st.floats(0.01, 0.5), efficiencies, profiles)
def test_breakeven_rule_threshold_is_the_hashprice_where_breakeven_equals_it(
    power_usd_per_kwh: float, j_per_th: float, profile: OperatingProfile
) -> None:
    keyed = key_rule(Rule(Metric.BREAKEVEN, Op.BELOW, power_usd_per_kwh, band=0.001), j_per_th, profile)
    day = machine_day(market_at_hashprice(keyed.key_threshold), profile, 100.0, j_per_th)
    assert day.breakeven_power_usd_per_kwh == pytest.approx(power_usd_per_kwh, rel=1e-9)
    rearm_day = machine_day(market_at_hashprice(keyed.key_rearm), profile, 100.0, j_per_th)
    assert rearm_day.breakeven_power_usd_per_kwh == pytest.approx(power_usd_per_kwh + 0.001, rel=1e-9)


def test_margin_rule_for_an_s19_xp_at_five_cents() -> None:
    """21.5 J/TH at $0.05/kWh costs 21.5 * 0.024 * 0.05 * 1000 = $25.80 per PH/s per day."""
    profile = OperatingProfile(power_usd_per_kwh=0.05)
    keyed = key_rule(Rule(Metric.MARGIN, Op.BELOW, 0.0, band=1.0), 21.5, profile)
    assert keyed.key_threshold == pytest.approx(25.8)
    assert keyed.key_rearm == pytest.approx(25.8 / 0.99)
    assert margin_warning_rule(21.5, profile).key_threshold == pytest.approx(25.8)
    assert margin_warning_rule(21.5, profile).key_metric is KeyMetric.NEXT_HASHPRICE_USD_PER_PH_DAY


def test_per_chat_rules_need_the_chat_machine() -> None:
    with pytest.raises(ValueError, match="needs the chat's machine"):
        key_rule(Rule(Metric.MARGIN, Op.BELOW, 0.0, band=1.0))
