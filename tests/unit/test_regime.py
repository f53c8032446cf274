"""The network regime machine (bot.alerts.regime): confirmation, dwell, hysteresis, recovery duration."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from bot.alerts.engine import EngineState, Observation, evaluate
from bot.alerts.events import AlertEvent, EventKind
from bot.alerts.regime import Regime, RegimeParams, RegimeState, premium_pct, step

T0 = datetime(2026, 1, 13, 10, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
PARAMS = RegimeParams()
NORMAL = RegimeState(Regime.NORMAL, T0 - timedelta(days=30))
CAPITULATION = RegimeState(Regime.CAPITULATION, T0)


def run(
    state: RegimeState, premiums: Sequence[float], *, every: timedelta = HOUR, params: RegimeParams = PARAMS
) -> tuple[RegimeState, list[tuple[int, AlertEvent]]]:
    """Step through ``premiums`` at ``T0 + i * every``; the final state and (index, event) pairs."""
    events: list[tuple[int, AlertEvent]] = []
    for i, premium in enumerate(premiums):
        state, event = step(state, premium, T0 + i * every, params)
        if event is not None:
            events.append((i, event))
    return state, events


def test_defaults() -> None:
    assert (PARAMS.band_pct, PARAMS.confirmations, PARAMS.min_dwell_s) == (3.0, 3, 6 * 3600)


def test_premium_is_price_over_cost_in_percent() -> None:
    assert premium_pct(66_680, 87_012) == (66_680 / 87_012 - 1) * 100
    assert round(premium_pct(66_680, 87_012), 1) == -23.4


def test_capitulation_needs_three_consecutive_observations_below_the_band() -> None:
    state, events = run(NORMAL, [-10, -10])
    assert events == []
    assert state == RegimeState(Regime.NORMAL, NORMAL.since, Regime.CAPITULATION, 2)
    state, events = run(NORMAL, [-10, -10, -10.5])
    assert state == RegimeState(Regime.CAPITULATION, T0 + 2 * HOUR)
    assert [(i, e.kind, e.key, e.data) for i, e in events] == [
        (
            2,
            EventKind.REGIME_CAPITULATION,
            "regime:capitulation:2026-01-13T12:00:00+00:00",
            {"premium_pct": -10.5},
        )
    ]


def test_an_observation_inside_the_band_resets_the_count() -> None:
    _, events = run(NORMAL, [-10, -10, 0, -10, -10])
    assert events == []
    _, events = run(NORMAL, [-10, -10, 0, -10, -10, -10])
    assert [i for i, _ in events] == [5]


def test_observations_on_the_current_side_reset_the_count() -> None:
    _, events = run(NORMAL, [-10, -10, 10, -10, -10])
    assert events == []


def test_hysteresis_band_edges() -> None:
    assert run(NORMAL, [-3.0] * 10)[1] == []  # -band itself is inside
    assert [i for i, _ in run(NORMAL, [-3.01] * 3)[1]] == [2]
    assert run(CAPITULATION, [3.0] * 10, every=timedelta(days=1))[1] == []
    assert [i for i, _ in run(CAPITULATION, [3.01] * 3, every=timedelta(days=1))[1]] == [2]


@given(st.lists(st.floats(-3, 3), max_size=50), st.sampled_from([None, Regime.NORMAL, Regime.CAPITULATION]))
def test_values_inside_the_band_never_produce_an_event(premiums: list[float], regime: Regime | None) -> None:
    start = RegimeState(regime, None if regime is None else T0 - timedelta(days=30))
    state, events = run(start, premiums)
    assert events == []
    assert state.regime is regime


def test_dwell_holds_a_regime_for_six_hours() -> None:
    """Entered at T0; three confirmations by T0+3h, but recovery waits for T0+6h."""
    premiums = [10, 10, 10, 10, 10, 10, 10]  # at T0+1h .. T0+7h
    state = CAPITULATION
    events: list[AlertEvent] = []
    for hours, premium in enumerate(premiums, start=1):
        state, event = step(state, premium, T0 + hours * HOUR, PARAMS)
        if event is not None:
            events.append(event)
    assert [e.occurred_at for e in events] == [T0 + 6 * HOUR]
    assert events[0].data["capitulation_seconds"] == 6 * 3600


def test_dwell_lapses_while_the_value_moves_back_inside_the_band() -> None:
    params = RegimeParams(min_dwell_s=6 * 3600)
    state = CAPITULATION
    for hours, premium in ((1, 10), (2, 10), (3, 10), (4, 0), (6, 10), (7, 10)):
        state, event = step(state, premium, T0 + hours * HOUR, params)
        assert event is None
    state, event = step(state, 10, T0 + 8 * HOUR, params)
    assert event is not None and event.kind is EventKind.REGIME_RECOVERY


def test_recovery_reports_how_long_capitulation_lasted() -> None:
    entered = datetime(2026, 1, 13, 10, tzinfo=UTC)
    state = RegimeState(Regime.CAPITULATION, entered, Regime.NORMAL, 2)
    recovered_at = entered + timedelta(days=23)
    state, event = step(state, 4.1, recovered_at, PARAMS)
    assert state == RegimeState(Regime.NORMAL, recovered_at)
    assert event == AlertEvent(
        EventKind.REGIME_RECOVERY,
        "regime:recovery:2026-02-05T10:00:00+00:00",
        recovered_at,
        {
            "premium_pct": 4.1,
            "capitulation_started_at": "2026-01-13T10:00:00+00:00",
            "capitulation_seconds": 23 * 86_400,
        },
    )


def test_the_first_regime_is_adopted_silently() -> None:
    state, events = run(RegimeState(), [-10, -10, -10])
    assert events == []
    assert state == RegimeState(Regime.CAPITULATION, T0 + 2 * HOUR)
    state, events = run(RegimeState(), [20, 20, 20])
    assert events == []
    assert state.regime is Regime.NORMAL
    state, _ = run(RegimeState(), [-10, -10, 20, 20])  # switching sides restarts the count
    assert state == RegimeState(None, None, Regime.NORMAL, 2)


@given(st.lists(st.floats(-50, 50), max_size=80))
def test_events_alternate_capitulation_and_recovery(premiums: list[float]) -> None:
    _, events = run(NORMAL, premiums, every=timedelta(days=1))
    kinds = [event.kind for _, event in events]
    expected = [EventKind.REGIME_CAPITULATION, EventKind.REGIME_RECOVERY] * len(kinds)
    assert kinds == expected[: len(kinds)]


def test_state_json_round_trip() -> None:
    paris = timezone(timedelta(hours=1))
    states = [
        RegimeState(),
        RegimeState(Regime.CAPITULATION, datetime(2026, 1, 13, 11, tzinfo=paris), Regime.NORMAL, 2),
        NORMAL,
    ]
    for state in states:
        restored = RegimeState.from_json(state.to_json())
        assert restored == state
        assert json.loads(state.to_json()) == state.to_dict()
    assert json.loads(states[1].to_json()) == {
        "regime": "capitulation",
        "since": "2026-01-13T10:00:00+00:00",
        "pending": "normal",
        "pending_count": 2,
    }


def test_stale_observations_do_not_step_the_regime() -> None:
    pending = RegimeState(Regime.NORMAL, T0 - timedelta(days=30), Regime.CAPITULATION, 2)
    state = EngineState(regime=pending, last_difficulty=1e14, last_height=900_000)
    events: list[AlertEvent] = []
    for hours in range(10):
        stale = Observation(T0 + hours * HOUR, 10_000.0, 1e14, 900_000, 90_000.0, "bottom-up", stale=True)
        state, new = evaluate(state, stale, PARAMS)
        events += new
    assert [event.kind for event in events] == [EventKind.DATA_STALE]
    assert state.regime == pending
