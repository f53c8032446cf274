"""The pure fleet-advice step: edge-triggered with the margin band and the quiet interval."""

from bot.alerts.fleet import BAND_PCT, AdviceState, step_advice
from bot.alerts.grammar import DEFAULT_MIN_INTERVAL_S
from bot.economics.fleet import Advice


def test_the_first_observation_sets_the_advice_silently() -> None:
    assert step_advice(AdviceState(None), -5.0, 0.0) == (AdviceState(Advice.SWITCH_OFF), None)
    assert step_advice(AdviceState(None), 0.0, 0.0) == (AdviceState(Advice.RUN), None)


def test_switch_off_below_zero_run_again_only_past_the_band() -> None:
    state, fired = step_advice(AdviceState(Advice.RUN), -0.1, 100.0)
    assert fired is Advice.SWITCH_OFF and state == AdviceState(
        Advice.SWITCH_OFF, 100.0 + DEFAULT_MIN_INTERVAL_S
    )
    later = 100.0 + DEFAULT_MIN_INTERVAL_S
    assert step_advice(state, BAND_PCT - 0.01, later) == (state, None)  # hovering at zero: no alert
    state, fired = step_advice(state, BAND_PCT, later)
    assert fired is Advice.RUN and state.advice is Advice.RUN


def test_a_crossing_while_quiet_waits_and_fires_when_the_interval_has_passed() -> None:
    quiet = AdviceState(Advice.RUN, quiet_until=500.0)
    assert step_advice(quiet, -3.0, 499.0) == (quiet, None)
    assert step_advice(quiet, -3.0, 500.0)[1] is Advice.SWITCH_OFF
    assert step_advice(quiet, 2.0, 600.0) == (quiet, None)  # no longer holds: nothing to say
