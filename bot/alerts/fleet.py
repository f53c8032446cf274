"""Fleet alerts: each line's switch-off advice, edge-triggered, and the warning before a retarget.

Advice follows the line's margin at the power price in force now (``bot.economics.fleet``), with the
thresholds' rules (``bot.alerts.rules``): "switch off" fires when the margin falls below 0 and "run" when
it is back at or above the band of a margin rule (``default_band``: 1 point), so a margin hovering at zero
alerts once; a fire makes the line quiet for the thresholds' default interval, and a change during it
fires when the interval has passed, if it still holds. A line seen for the first time (or just changed)
takes the advice silently, as a rule saved while it holds starts disarmed. On a time-of-use tariff the
price, hence the advice, changes at the schedule's boundaries: a line alerts there only when its advice
changes.

Before a retarget, a line whose flat-out margin changes sign at the estimated difficulty (price held) gets
one warning per retarget height and direction (its dedupe key), with the estimated date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.alerts.events import AlertEvent, EventKind, utc_iso
from bot.alerts.grammar import DEFAULT_MIN_INTERVAL_S
from bot.alerts.rules import Metric, default_band
from bot.economics.fleet import Advice, LineDay

BAND_PCT = default_band(Metric.MARGIN, 0.0)
"""Margin points above zero at which a switched-off line is told to run again."""


@dataclass(frozen=True, slots=True)
class AdviceState:
    """The advice last sent for a line (``None``: none yet) and until when it stays quiet."""

    advice: Advice | None
    quiet_until: float = 0.0


def step_advice(state: AdviceState, margin_pct: float, now: float) -> tuple[AdviceState, Advice | None]:
    """Advance one line's advice by one observation; returns the new state and the advice to send, if any."""
    if state.advice is None:
        return AdviceState(Advice.RUN if margin_pct >= 0 else Advice.SWITCH_OFF, state.quiet_until), None
    if state.advice is Advice.RUN and margin_pct < 0:
        turned = Advice.SWITCH_OFF
    elif state.advice is Advice.SWITCH_OFF and margin_pct >= BAND_PCT:
        turned = Advice.RUN
    else:
        return state, None
    if now < state.quiet_until:
        return state, None
    return AdviceState(turned, now + DEFAULT_MIN_INTERVAL_S), turned


def line_data(number: int, day: LineDay) -> dict[str, Any]:
    """What an alert needs to say a line's advice again in any language."""
    line, now = day.line, day.now
    return {
        "line": number,
        "machine": line.machine.name,
        "count": line.count,
        "site": line.site,
        "unit": "machine" if line.machine.hashrate_ths is not None else "ph",
        "advice": day.advice.value,
        "profit_usd_per_unit_day": now.profit_usd_per_day,
        "power_usd_per_kwh": day.power_now_usd_per_kwh,
        "breakeven_price_usd": now.breakeven_price_usd,
        "breakeven_power_usd_per_kwh": now.breakeven_power_usd_per_kwh,
    }


def advice_event(chat_ref: int, number: int, day: LineDay, at: datetime) -> AlertEvent:
    """Line ``number`` of chat ``chat_ref`` should now be switched off, or run again."""
    key = f"fleet:{chat_ref}:{number}:{day.advice.value}:{utc_iso(at)}"
    return AlertEvent(EventKind.FLEET_ADVICE, key, at, line_data(number, day))


def adjustment_event(
    chat_ref: int,
    number: int,
    day: LineDay,
    after: LineDay,
    at: datetime,
    difficulty_change_pct: float,
    next_retarget_height: int,
    estimated_at: datetime | None,
) -> AlertEvent | None:
    """The warning when the estimated retarget flips line ``number``'s flat-out margin across zero."""
    before_ok, after_ok = day.profit_usd_per_day >= 0, after.profit_usd_per_day >= 0
    if before_ok == after_ok:
        return None
    direction = "loss" if before_ok else "profit"
    data = {
        **line_data(number, day),
        "turns": direction,
        "difficulty_change_pct": difficulty_change_pct,
        "next_retarget_height": next_retarget_height,
        "estimated_at": utc_iso(estimated_at) if estimated_at else None,
        "margin_pct": day.margin_fraction * 100,
        "margin_after_pct": after.margin_fraction * 100,
    }
    key = f"fleet_adjustment:{chat_ref}:{number}:{next_retarget_height}:{direction}"
    return AlertEvent(EventKind.FLEET_ADJUSTMENT, key, at, data)
