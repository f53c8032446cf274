"""The alerts engine (bot.alerts.engine): retargets, stale/fresh gating, deterministic keys, ribbons,
key values and the per-chat event builders."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from bot.alerts.engine import (
    EngineState,
    Observation,
    evaluate,
    key_values,
    margin_warning_event,
    ribbon_events_since,
    rule_value,
    threshold_event,
)
from bot.alerts.events import AlertEvent, EventKind, StaleReason
from bot.alerts.grammar import parse_rule
from bot.alerts.regime import Regime, RegimeParams, RegimeState
from bot.alerts.rules import KeyMetric, key_rule
from bot.economics.history import DailyRow
from bot.economics.indicators import hash_ribbon_events
from bot.economics.mining import MarketInputs, OperatingProfile, hashprice_usd_per_ph_day
from bot.render.alerts import render_event

T0 = datetime(2026, 2, 5, 10, 0, tzinfo=UTC)
PARAMS = RegimeParams()
OLD_D, NEW_D = 141.67e12, 125.86e12


def obs(
    minutes: int = 0,
    *,
    price: float = 90_000.0,
    difficulty: float = OLD_D,
    height: int | None = 967_600,
    cost: float = 80_000.0,
    stale: bool = False,
) -> Observation:
    disagree = "price sources disagree by 3.2%"
    reason = StaleReason(disagree, "price", {"kraken": T0}) if stale else None
    at = T0 + timedelta(minutes=minutes)
    return Observation(
        at, price, difficulty, height, cost, "difficulty-regression", stale=stale, stale_reason=reason
    )


def run(state: EngineState, observations: list[Observation]) -> tuple[EngineState, list[AlertEvent]]:
    events: list[AlertEvent] = []
    for observation in observations:
        state, new = evaluate(state, observation, PARAMS)
        events += new
    return state, events


def test_retarget_event_with_the_exact_change() -> None:
    state, events = run(EngineState(), [obs(0, height=967_679), obs(10, difficulty=NEW_D, height=967_681)])
    assert events == [
        AlertEvent(
            EventKind.RETARGET,
            "retarget:967680",
            T0 + timedelta(minutes=10),
            {
                "old_difficulty": OLD_D,
                "new_difficulty": NEW_D,
                "change_pct": (NEW_D / OLD_D - 1) * 100,
                "height": 967_680,
            },
        )
    ]
    assert round(events[0].data["change_pct"], 2) == -11.16
    assert (state.last_difficulty, state.last_height) == (NEW_D, 967_681)


def test_no_retarget_without_a_height_crossing_or_a_difficulty_change() -> None:
    _, events = run(EngineState(), [obs(0, height=967_000), obs(10, difficulty=NEW_D, height=967_679)])
    assert events == []
    _, events = run(EngineState(), [obs(0, height=967_679), obs(10, height=967_700), obs(20, height=967_701)])
    assert events == []
    # first seen at the retarget block itself: a later reading of the same epoch crosses nothing
    _, events = run(EngineState(), [obs(0, height=967_680), obs(10, difficulty=NEW_D, height=967_690)])
    assert events == []


def test_a_difficulty_lagging_the_height_is_waited_for() -> None:
    observations = [
        obs(0, height=967_679),
        obs(10, height=967_680),
        obs(20, difficulty=NEW_D, height=967_682),
    ]
    _, events = run(EngineState(), observations)
    assert [(e.key, e.occurred_at, e.data["old_difficulty"]) for e in events] == [
        ("retarget:967680", T0 + timedelta(minutes=20), OLD_D)
    ]


def test_daily_rows_report_a_retarget_once_the_new_difficulty_holds() -> None:
    """Height unknown: a retarget averaged over two days is one event, dated the first steady day, and
    integer rounding noise is no retarget."""
    day = timedelta(days=1)
    difficulties = [100e12, 100e12 + 1, 100.6e12, 102e12, 102e12 - 1, 102e12, 101e12, 101e12]
    observations = [
        replace(obs(difficulty=d, height=None), at=T0 + i * day) for i, d in enumerate(difficulties)
    ]
    _, events = run(EngineState(), observations)
    assert [
        (e.key, e.data["old_difficulty"], e.data["new_difficulty"], e.data["height"]) for e in events
    ] == [
        ("retarget:2026-02-09", 100e12 + 1, 102e12 - 1, None),
        ("retarget:2026-02-12", 102e12, 101e12, None),
    ]


def test_stale_then_fresh_once_each_and_nothing_else_while_stale() -> None:
    capitulating = EngineState(
        regime=RegimeState(Regime.NORMAL, T0 - timedelta(days=9)), last_difficulty=OLD_D, last_height=967_600
    )
    stale_run = [
        obs(10 * i, price=50_000.0, difficulty=NEW_D, height=967_700 + i, stale=True) for i in range(1, 5)
    ]
    state, events = run(capitulating, stale_run)
    assert [(e.kind, e.key, e.data) for e in events] == [
        (
            EventKind.DATA_STALE,
            "data_stale:2026-02-05T10:10:00+00:00",
            {
                "reason": "price sources disagree by 3.2%",
                "missing": "price",
                "failing": {"kraken": "2026-02-05T10:00:00+00:00"},
            },
        )
    ]
    assert replace(state, stale_since=None) == capitulating
    assert state.stale

    state, events = run(state, [obs(60, price=50_000.0, difficulty=NEW_D, height=967_710)])
    assert [(e.kind, e.key) for e in events] == [
        (EventKind.DATA_FRESH, "data_fresh:2026-02-05T11:00:00+00:00"),
        (EventKind.RETARGET, "retarget:967680"),
    ]
    assert events[0].data == {"stale_since": "2026-02-05T10:10:00+00:00", "stale_seconds": 50 * 60}
    assert not state.stale
    assert state.regime.pending_count == 1  # the regime resumed stepping with the fresh observation

    _, events = run(state, [obs(70, price=50_000.0, difficulty=NEW_D, height=967_711)])
    assert [e.kind for e in events] == []


def test_a_new_stale_episode_gets_a_new_notice() -> None:
    _, events = run(EngineState(), [obs(0, stale=True), obs(1), obs(2, stale=True), obs(3, stale=True)])
    assert [e.kind for e in events] == [EventKind.DATA_STALE, EventKind.DATA_FRESH, EventKind.DATA_STALE]


def test_before_any_fresh_data_the_notices_say_there_was_none_yet() -> None:
    """A fresh start whose sources fail: nothing went stale; the first data 'arrived', not 'is fresh again'.
    A later episode is a real one."""
    _, events = run(EngineState(), [obs(0, stale=True), obs(5), obs(6, stale=True), obs(9)])
    assert [e.data.get("no_data_yet") or e.data.get("first_data") for e in events] == [True, True, None, None]
    texts = [render_event(e) for e in events]
    assert texts[0] == (
        "⏸ No market data yet (price sources disagree by 3.2%); alerts start once the sources answer."
    )
    assert texts[1] == "▶️ Market data arrived after 5 minutes without; alerts are on."
    assert texts[2].startswith("⏸ Data is stale (") and texts[3].startswith("▶️ Data is fresh again after")
    assert render_event(events[0], "ru").startswith("⏸ Рыночных данных пока нет (")
    assert render_event(events[1], "ru").startswith("▶️ Рыночные данные получены (ждали 5 минут)")


def test_regime_events_carry_price_cost_model_digits_and_the_recovery_level() -> None:
    state = EngineState(regime=RegimeState(Regime.NORMAL, T0 - timedelta(days=9)))
    _, events = run(state, [obs(i * 60, price=66_680.0, cost=87_012.0) for i in range(3)])
    assert [(e.kind, e.key) for e in events] == [
        (EventKind.REGIME_CAPITULATION, "regime:capitulation:2026-02-05T12:00:00+00:00")
    ]
    assert events[0].data == {
        "premium_pct": (66_680.0 / 87_012.0 - 1) * 100,
        "price_usd": 66_680.0,
        "cost_usd_per_btc": 87_012.0,
        "cost_model": "difficulty-regression",
        "cost_significant_digits": 2,
        "recovery_above_usd": pytest.approx(87_012.0 * 1.03),  # the band's upper edge: cost + 3 %
    }


def test_keys_are_deterministic_across_a_crash() -> None:
    """Re-evaluating the same observation from the persisted state gives the same events and keys."""
    state = EngineState(regime=RegimeState(Regime.NORMAL, T0 - timedelta(days=9)))
    before = [obs(0, price=60_000.0, height=967_679), obs(60, price=60_000.0, height=967_679)]
    state, _ = run(state, before)
    persisted = state.to_json()
    last = obs(120, price=60_000.0, difficulty=NEW_D, height=967_681)
    _, first_try = run(state, [last])
    _, after_crash = run(EngineState.from_json(persisted), [last])
    assert [e.key for e in first_try] == ["retarget:967680", "regime:capitulation:2026-02-05T12:00:00+00:00"]
    assert after_crash == first_try
    assert [AlertEvent.from_json(e.to_json()) for e in first_try] == first_try


def test_engine_state_json_round_trip() -> None:
    state = EngineState(
        regime=RegimeState(Regime.CAPITULATION, T0, Regime.NORMAL, 1),
        last_difficulty=OLD_D,
        last_height=967_681,
        retarget_from=1.5e14,
        stale_since=T0 + timedelta(hours=1),
        last_ribbon_date=date(2026, 2, 4),
    )
    assert EngineState.from_json(state.to_json()) == state
    assert EngineState.from_json(EngineState().to_json()) == EngineState()


def test_alert_event_json_rejects_naive_times_and_malformed_documents() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        AlertEvent(EventKind.RETARGET, "retarget:1", datetime(2026, 1, 1), {})
    with pytest.raises(ValueError, match="malformed alert event"):
        AlertEvent.from_json('{"kind": "retarget"}')


# --- Hash Ribbons --------------------------------------------------------------------------------------


def ribbon_rows(start: date = date(2022, 1, 1)) -> list[DailyRow]:
    """Rising hashrate, a drop that makes SMA30 cross under SMA60, then a recovery."""
    hashrate = [200e6 + 1e6 * i for i in range(90)] + [150e6] * 60 + [300e6] * 60
    return [
        DailyRow(start + timedelta(days=i), 20_000.0 + 100 * i, 3e13, ths, None)
        for i, ths in enumerate(hashrate)
    ]


def test_ribbon_events_wrap_the_indicator_with_keys_by_kind_and_date() -> None:
    rows = ribbon_rows()
    expected = hash_ribbon_events(rows)
    assert [e.kind for e in expected] == ["ribbons_capitulation", "ribbons_recovery", "ribbons_buy"]
    events = ribbon_events_since(rows, None)
    assert [(e.kind.value, e.key, e.occurred_at.date()) for e in events] == [
        (r.kind, f"{r.kind}:{r.date.isoformat()}", r.date) for r in expected
    ]
    assert events[0].data == {
        "sma30_ths": expected[0].sma30_ths,
        "sma60_ths": expected[0].sma60_ths,
        "price_usd": expected[0].price_usd,
    }


def test_ribbon_events_since_skips_what_was_processed() -> None:
    rows = ribbon_rows()
    events = ribbon_events_since(rows, None)
    first = events[0].occurred_at.date()
    assert ribbon_events_since(rows, first) == events[1:]
    assert ribbon_events_since(rows, first - timedelta(days=1)) == events
    assert ribbon_events_since(rows, rows[-1].date) == []


def test_ribbon_events_survive_missing_days_and_missing_hashrate() -> None:
    rows = ribbon_rows()
    gappy = rows[:92] + rows[93:]  # a missing day splits the history into two runs
    assert ribbon_events_since(gappy, None) == []  # neither run has a cross after its SMA60 warm-up
    blank = [replace(row, hashrate_ths=None) for row in rows]
    assert ribbon_events_since(blank, None) == []


# --- key values and per-chat events ------------------------------------------------------------------


MARKET = MarketInputs(price_usd=66_680.0, difficulty=125.86e12, height=935_136, fees_per_block_btc=0.0)


def test_key_values_with_and_without_a_difficulty_estimate() -> None:
    hashprice = hashprice_usd_per_ph_day(MARKET)
    assert hashprice == pytest.approx(33.31, rel=5e-3)
    assert key_values(MARKET, 87_012.0, None) == {
        KeyMetric.PRICE_USD: 66_680.0,
        KeyMetric.HASHPRICE_USD_PER_PH_DAY: hashprice,
        KeyMetric.PREMIUM_PCT: (66_680.0 / 87_012.0 - 1) * 100,
    }
    values = key_values(MARKET, 87_012.0, 4.0)
    assert values[KeyMetric.DIFFICULTY_CHANGE_PCT] == 4.0
    assert values[KeyMetric.NEXT_HASHPRICE_USD_PER_PH_DAY] == hashprice / 1.04
    assert KeyMetric.STRESS_INDEX not in values  # no index without the daily history
    assert key_values(MARKET, 87_012.0, None, 20.9)[KeyMetric.STRESS_INDEX] == 20.9


@pytest.mark.parametrize(
    "text", ["margin below 10%", "margin above -25%", "breakeven below 5c", "breakeven above 0.08"]
)
def test_rule_value_inverts_the_key_translation(text: str) -> None:
    rule = parse_rule(text)
    profile = OperatingProfile(power_usd_per_kwh=0.06, pool_fee_fraction=0.02, uptime_fraction=0.97, pue=1.1)
    keyed = key_rule(rule, 21.5, profile)
    assert rule_value(rule, keyed.key_threshold, 21.5, profile) == pytest.approx(rule.threshold, abs=1e-12)
    assert rule_value(parse_rule("price below 60k"), 59_412.0) == 59_412.0


def test_threshold_event() -> None:
    event = threshold_event(parse_rule("price under $60k"), 59_412.0, T0)
    assert event == AlertEvent(
        EventKind.THRESHOLD,
        "threshold:price below $60,000:2026-02-05T10:00:00+00:00",
        T0,
        {
            "rule": "price below $60,000",
            "metric": "price",
            "op": "below",
            "threshold": 60_000.0,
            "band": 600.0,
            "repeat": False,
            "min_interval_s": 3600,
            "value": 59_412.0,
        },
    )


def test_margin_warning_event() -> None:
    event = margin_warning_event(T0, 967_680, 4.0, 33.31, 32.5, "Antminer S19 XP")
    assert event.key == "margin_warning:967680"
    assert event.data["next_hashprice_usd_per_ph_day"] == 33.31 / 1.04
