"""The alerts engine: one observation in, the network-wide events out (pure; time comes in as arguments).

``evaluate`` runs the stale/fresh gate, the regime machine (``bot.alerts.regime``) and retarget detection;
``ribbon_events_since`` turns the daily history into Hash Ribbons events (the caller passes
``EngineState.last_ribbon_date`` and skips the call while the data is stale); ``key_values`` computes the
numbers per-chat threshold rules are matched against (``bot.alerts.rules``), and ``threshold_event`` /
``margin_warning_event`` build the per-chat events the store's rule evaluation reports.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Any

from bot.alerts import regime
from bot.alerts.events import AlertEvent, EventKind, StaleReason, utc_iso
from bot.alerts.grammar import describe_rule
from bot.alerts.regime import RegimeParams, RegimeState, premium_pct
from bot.alerts.rules import KeyMetric, Metric, Rule
from bot.economics.history import DailyRow
from bot.economics.indicators import RibbonEvent, hash_ribbon_events
from bot.economics.mining import MarketInputs, OperatingProfile, hashprice_usd_per_ph_day
from bot.economics.network import epoch_start_height
from bot.economics.units import KWH_PER_J_PER_TH_DAY

RETARGET_TOLERANCE = 1e-9
"""Relative difficulty change below which two readings are the same difficulty (the shipped history rounds
difficulty to integers, so consecutive days of one epoch may differ by 1)."""


@dataclass(frozen=True, slots=True)
class Observation:
    """One market reading. ``height`` is ``None`` for daily history rows (no block height known);
    ``key_values`` (``key_values()``) travel with it to the per-chat rule evaluation."""

    at: datetime
    price_usd: float
    difficulty: float
    height: int | None
    cost_usd_per_btc: float
    cost_model: str
    key_values: dict[KeyMetric, float] = field(default_factory=dict, hash=False)
    stale: bool = False
    stale_reason: StaleReason | None = None
    cost_significant_digits: int = 2
    """Digits the cost model supports (``ProductionCost.significant_digits``; 2 for both shipped models)."""


@dataclass(frozen=True, slots=True)
class EngineState:
    """Everything ``evaluate`` remembers between observations; stored as JSON."""

    regime: RegimeState = field(default_factory=RegimeState)
    last_difficulty: float | None = None
    """Difficulty at the last fresh observation (kept while a crossed height waits for the new one)."""
    last_height: int | None = None
    """Height of that observation (live observations only)."""
    retarget_from: float | None = None
    """Daily history: the steady difficulty before a change that has not held for a full day yet."""
    stale_since: datetime | None = None
    """Start of the current stale episode; ``None`` while data is fresh."""
    last_ribbon_date: date | None = None
    """Last daily row whose Hash Ribbons events were reported."""

    @property
    def stale(self) -> bool:
        return self.stale_since is not None

    def to_json(self) -> str:
        document = {
            "regime": self.regime.to_dict(),
            "last_difficulty": self.last_difficulty,
            "last_height": self.last_height,
            "retarget_from": self.retarget_from,
            "stale_since": None if self.stale_since is None else utc_iso(self.stale_since),
            "last_ribbon_date": None if self.last_ribbon_date is None else self.last_ribbon_date.isoformat(),
        }
        return json.dumps(document, sort_keys=True, allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> EngineState:
        document = json.loads(text)
        stale_since, ribbon_date = document["stale_since"], document["last_ribbon_date"]
        return cls(
            regime=RegimeState.from_dict(document["regime"]),
            last_difficulty=document["last_difficulty"],
            last_height=document["last_height"],
            retarget_from=document["retarget_from"],
            stale_since=None if stale_since is None else datetime.fromisoformat(stale_since),
            last_ribbon_date=None if ribbon_date is None else date.fromisoformat(ribbon_date),
        )


def evaluate(
    state: EngineState, obs: Observation, params: RegimeParams
) -> tuple[EngineState, list[AlertEvent]]:
    """Advance the engine by one observation.

    Stale data yields one ``data_stale`` event per stale episode and nothing else (no regime step, no
    retarget); the first fresh observation after it yields ``data_fresh``, then is evaluated as usual.
    Before any fresh observation, they carry ``no_data_yet`` and ``first_data``: nothing went stale.
    """
    if obs.stale:
        if state.stale:
            return state, []
        data: dict[str, Any] = (
            obs.stale_reason.data() if obs.stale_reason else {"reason": "sources unavailable"}
        )
        if state.last_difficulty is None:
            data["no_data_yet"] = True  # nothing fresh was ever seen: nothing went stale
        stale = AlertEvent(EventKind.DATA_STALE, f"data_stale:{utc_iso(obs.at)}", obs.at, data)
        return replace(state, stale_since=obs.at), [stale]

    events: list[AlertEvent] = []
    if state.stale_since is not None:
        data = {
            "stale_since": utc_iso(state.stale_since),
            "stale_seconds": int((obs.at - state.stale_since).total_seconds()),
        }
        if state.last_difficulty is None:
            data["first_data"] = True
        events.append(AlertEvent(EventKind.DATA_FRESH, f"data_fresh:{utc_iso(obs.at)}", obs.at, data))
        state = replace(state, stale_since=None)

    state, retarget = _retarget(state, obs)
    if retarget is not None:
        events.append(retarget)
    regime_state, switch = regime.step(
        state.regime, premium_pct(obs.price_usd, obs.cost_usd_per_btc), obs.at, params
    )
    if switch is not None:
        figures: dict[str, Any] = {
            "price_usd": obs.price_usd,
            "cost_usd_per_btc": obs.cost_usd_per_btc,
            "cost_model": obs.cost_model,
            "cost_significant_digits": obs.cost_significant_digits,
        }
        if switch.kind is EventKind.REGIME_CAPITULATION:
            figures["recovery_above_usd"] = regime.recovery_price_usd(obs.cost_usd_per_btc, params)
        events.append(replace(switch, data={**switch.data, **figures}))
    return replace(state, regime=regime_state), events


def _changed(old: float, new: float) -> bool:
    return abs(new / old - 1.0) > RETARGET_TOLERANCE


def _retarget_event(old: float, new: float, height: int | None, at: datetime) -> AlertEvent:
    key = f"retarget:{at.astimezone(UTC).date().isoformat()}" if height is None else f"retarget:{height}"
    data = {
        "old_difficulty": old,
        "new_difficulty": new,
        "change_pct": (new / old - 1.0) * 100.0,
        "height": height,
    }
    return AlertEvent(EventKind.RETARGET, key, at, data)


def _retarget(state: EngineState, obs: Observation) -> tuple[EngineState, AlertEvent | None]:
    """Live: the difficulty changed and the height crossed a multiple of 2016 since the last reading (a
    difficulty lagging the height is waited for). Daily history: the day's difficulty may average old and
    new on the retarget day (the shipped history does from 2024), so a change is reported on the first day
    the difficulty holds, from the last steady value to the new one."""
    recorded = replace(state, last_difficulty=obs.difficulty, last_height=obs.height)
    if state.last_difficulty is None:
        return recorded, None
    changed = _changed(state.last_difficulty, obs.difficulty)
    if obs.height is None:
        if changed:
            steady = state.last_difficulty if state.retarget_from is None else state.retarget_from
            return replace(recorded, retarget_from=steady), None
        if state.retarget_from is None:
            return recorded, None
        event = _retarget_event(state.retarget_from, obs.difficulty, None, obs.at)
        return replace(recorded, retarget_from=None), event
    crossed = state.last_height is not None and epoch_start_height(obs.height) > state.last_height
    if crossed and not changed:
        return state, None
    if crossed:
        event = _retarget_event(state.last_difficulty, obs.difficulty, epoch_start_height(obs.height), obs.at)
        return recorded, event
    return recorded, None


def _consecutive_runs(rows: Sequence[DailyRow]) -> Iterator[Sequence[DailyRow]]:
    start = 0
    for i, (previous, row) in enumerate(pairwise(rows), start=1):
        if row.date - previous.date != timedelta(days=1):
            yield rows[start:i]
            start = i
    if rows:
        yield rows[start:]


def day_start(day: date) -> datetime:
    """00:00 UTC of ``day``: the time given to events dated by a daily row."""
    return datetime.combine(day, time(), UTC)


def _ribbon_alert(event: RibbonEvent) -> AlertEvent:
    data: dict[str, float | int] = {
        "sma30_ths": event.sma30_ths,
        "sma60_ths": event.sma60_ths,
        "price_usd": event.price_usd,
    }
    if event.capitulation_days is not None:
        data["capitulation_days"] = event.capitulation_days
    kind = EventKind(event.kind)
    return AlertEvent(kind, f"{kind}:{event.date.isoformat()}", day_start(event.date), data)


def ribbon_events_since(rows: Sequence[DailyRow], last_processed: date | None) -> list[AlertEvent]:
    """Hash Ribbons events (``indicators.hash_ribbon_events``) dated after ``last_processed``.

    Rows are sorted by date; a missing day splits them into runs evaluated separately, and days without
    hashrate produce no ribbon values (the SMAs need every day of their window).
    """
    return [
        _ribbon_alert(event)
        for run in _consecutive_runs(rows)
        for event in hash_ribbon_events(run)
        if last_processed is None or event.date > last_processed
    ]


def key_values(
    market: MarketInputs,
    cost_usd_per_btc: float,
    difficulty_change_pct: float | None,
    stress_index: float | None = None,
) -> dict[KeyMetric, float]:
    """The network-wide numbers rules are matched against; difficulty keys only when an estimate exists,
    the miner-stress index only when the daily history allows one (``bot.economics.stress``; its hashprice
    is subsidy-only, so unknown fees do not hold it back).

    Hashprice keys (and so hashprice, margin, breakeven and margin-warning rules) are left out while the fees
    are unknown: a subsidy-only hashprice understates the real one by the fee share, so a "below" rule could
    fire on missing data rather than on the market. Those rules keep their state and resume on the next
    reading that knows the fees; price, premium and difficulty rules go on.
    """
    values = {
        KeyMetric.PRICE_USD: market.price_usd,
        KeyMetric.PREMIUM_PCT: premium_pct(market.price_usd, cost_usd_per_btc),
    }
    hashprice = hashprice_usd_per_ph_day(market) if market.fees_known else None
    if hashprice is not None:
        values[KeyMetric.HASHPRICE_USD_PER_PH_DAY] = hashprice
    if difficulty_change_pct is not None:
        values[KeyMetric.DIFFICULTY_CHANGE_PCT] = difficulty_change_pct
        if hashprice is not None:
            next_hashprice = hashprice / (1.0 + difficulty_change_pct / 100.0)
            values[KeyMetric.NEXT_HASHPRICE_USD_PER_PH_DAY] = next_hashprice
    if stress_index is not None:
        values[KeyMetric.STRESS_INDEX] = stress_index
    return values


def _kwh_per_ph_day(j_per_th: float, profile: OperatingProfile) -> float:
    """Energy drawn at the wall by 1 PH/s for a day, PUE included."""
    return j_per_th * KWH_PER_J_PER_TH_DAY * 1000.0 * profile.pue


def rule_value(
    rule: Rule, key_value: float, j_per_th: float | None = None, profile: OperatingProfile | None = None
) -> float:
    """The key metric's value in the rule's own unit: a hashprice becomes the chat's margin (%) or
    breakeven power price ($/kWh), the inverse of ``rules.key_rule``'s translation."""
    if rule.metric not in (Metric.MARGIN, Metric.BREAKEVEN):
        return key_value
    if j_per_th is None or profile is None:
        raise ValueError(f"a {rule.metric} rule needs the chat's machine and power price")
    revenue = key_value * profile.kept_fraction  # per hour run: uptime cancels
    if rule.metric is Metric.BREAKEVEN:
        return revenue / _kwh_per_ph_day(j_per_th, profile)
    return (1.0 - _kwh_per_ph_day(j_per_th, profile) * profile.power_usd_per_kwh / revenue) * 100.0


def threshold_event(rule: Rule, value: float, at: datetime) -> AlertEvent:
    """A per-chat rule fired at ``at`` with ``value`` in the rule's unit (``rule_value``)."""
    text = describe_rule(rule)
    data: dict[str, Any] = {
        "rule": text,
        "metric": rule.metric.value,
        "op": rule.op.value,
        "threshold": rule.threshold,
        "band": rule.band,
        "repeat": rule.repeat,
        "min_interval_s": rule.min_interval_s,
        "value": value,
    }
    return AlertEvent(EventKind.THRESHOLD, f"threshold:{text}:{utc_iso(at)}", at, data)


def margin_warning_event(
    at: datetime,
    next_retarget_height: int,
    difficulty_change_pct: float,
    hashprice_usd_per_ph_day: float,
    breakeven_hashprice_usd_per_ph_day: float,
    machine: str,
) -> AlertEvent:
    """The estimated next retarget would push the chat's ``machine`` below zero margin; once per epoch."""
    data: dict[str, Any] = {
        "machine": machine,
        "next_retarget_height": next_retarget_height,
        "difficulty_change_pct": difficulty_change_pct,
        "hashprice_usd_per_ph_day": hashprice_usd_per_ph_day,
        "next_hashprice_usd_per_ph_day": hashprice_usd_per_ph_day / (1.0 + difficulty_change_pct / 100.0),
        "breakeven_hashprice_usd_per_ph_day": breakeven_hashprice_usd_per_ph_day,
    }
    return AlertEvent(EventKind.MARGIN_WARNING, f"margin_warning:{next_retarget_height}", at, data)
