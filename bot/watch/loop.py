"""The watch loop's decisions: turn each market reading into events and durable outbox rows.

``Watch.observe`` runs one evaluation inside ONE store transaction (fsynced): engine state, per-chat rule
states, personal alerts' outbox rows, the event log and a fan-out job for each event that goes to every
subscriber commit together or not at all, so a crash between "event decided" and "outbox written" loses
nothing and a restart never repeats what was committed. The fan-out then turns the event into one outbox row
per subscriber in chunks of at most ``FANOUT_CHUNK_S`` of work, each its own transaction
(``Store.bookkeeping``: a power loss may make it run again, deduplicated), so commands keep being answered
while 100k rows are written; a restart resumes it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

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
from bot.alerts.fleet import AdviceState, adjustment_event, advice_event, step_advice
from bot.alerts.regime import RegimeParams
from bot.alerts.rules import KeyMetric
from bot.economics.fleet import Advice, after_adjustment, line_day
from bot.economics.history import DailyRow
from bot.economics.mining import MarketInputs, OperatingProfile
from bot.economics.production_cost import regression_cost
from bot.economics.regression import DifficultyRegression
from bot.economics.stress import (
    HISTORY_DAYS,
    NotEnoughHistoryError,
    StressBaseline,
    stress_baseline,
    stress_for_market,
)
from bot.ops.metrics import record_alerts
from bot.render.alerts import render_event
from bot.store import chats as chat_repo
from bot.store import fanouts, outbox
from bot.store import fleet as fleet_repo
from bot.store import snapshots as snapshot_repo
from bot.store import subscriptions as subscription_repo
from bot.store.connection import Connection
from bot.store.db import Store
from bot.store.subscriptions import Fired, SubscriptionKind

log = logging.getLogger(__name__)

ENGINE_STATE_KEY = "engine"
NETWORK_WIDE = frozenset(
    {
        EventKind.REGIME_CAPITULATION,
        EventKind.REGIME_RECOVERY,
        EventKind.RIBBONS_CAPITULATION,
        EventKind.RIBBONS_RECOVERY,
        EventKind.RIBBONS_BUY,
        EventKind.RETARGET,
    }
)
DATA_NOTICES = frozenset({EventKind.DATA_STALE, EventKind.DATA_FRESH})
FANOUT_CHUNK_S = 0.02
"""A fan-out chunk stops taking chats after this much work (plus one batch and the commit: ~25-35 ms)."""
FANOUT_BATCH = 100
"""Chats read and enqueued at a time inside a chunk."""


@dataclass(frozen=True, slots=True)
class Reading:
    """One market reading to evaluate; ``stale_reason`` set means the data must not drive alerts."""

    at: datetime
    market: MarketInputs | None
    difficulty_change_pct: float | None = None
    next_retarget_height: int | None = None
    height_known: bool = True
    stale_reason: StaleReason | None = None
    next_retarget_at: datetime | None = None


def operating_profile(profile: chat_repo.Profile) -> OperatingProfile:
    """A stored profile (percentages) as the economics' fractions."""
    return OperatingProfile(
        profile.power_usd_per_kwh, profile.pool_fee_pct / 100, profile.uptime_pct / 100, profile.pue
    )


_BASELINES: dict[tuple[object, ...], StressBaseline | NotEnoughHistoryError] = {}
"""The last stress baseline built, keyed by its day and the fingerprint of the daily rows it came from."""


def cached_stress_baseline(db: Connection, day: date) -> StressBaseline | NotEnoughHistoryError:
    """The miner-stress ranks for readings on ``day`` from the stored daily series (or why there are none),
    built once per day and series: later calls cost one fingerprint query."""
    start, end = day - timedelta(days=HISTORY_DAYS), day - timedelta(days=1)
    key = (day, *snapshot_repo.daily_fingerprint(db, start, end))
    cached = _BASELINES.get(key)
    if cached is not None:
        return cached
    built: StressBaseline | NotEnoughHistoryError
    try:
        built = stress_baseline(day, snapshot_repo.daily_range(db, start, end))
    except NotEnoughHistoryError as error:
        built = error
    _BASELINES.clear()
    _BASELINES[key] = built
    return built


def stress_value(
    db: Connection, market: MarketInputs, at: datetime, regression: DifficultyRegression
) -> float | None:
    """The miner-stress index at ``market`` on ``at``'s UTC day against the stored daily series, or
    ``None`` while that series is too short (``bot.economics.stress``)."""
    baseline = cached_stress_baseline(db, at.astimezone(UTC).date())
    if isinstance(baseline, NotEnoughHistoryError):
        return None
    return stress_for_market(market, baseline, regression).value


def observation(
    reading: Reading,
    regression: DifficultyRegression,
    last: Observation | None,
    stress_index: float | None = None,
) -> Observation:
    """The engine's view of a reading; a stale reading repeats the last numbers flagged stale."""
    if reading.market is None or reading.stale_reason is not None:
        base = last or Observation(reading.at, 1.0, 1.0, None, 1.0, "none")
        return replace(base, at=reading.at, key_values={}, stale=True, stale_reason=reading.stale_reason)
    market = reading.market
    cost = regression_cost(market, regression)
    return Observation(
        at=reading.at,
        price_usd=market.price_usd,
        difficulty=market.difficulty,
        height=market.height if reading.height_known else None,
        cost_usd_per_btc=cost.usd_per_btc,
        cost_model=cost.model,
        key_values=key_values(market, cost.usd_per_btc, reading.difficulty_change_pct, stress_index),
        cost_significant_digits=cost.significant_digits,
    )


def _load_state(db: Connection) -> EngineState:
    stored = snapshot_repo.get_state(db, ENGINE_STATE_KEY)
    return EngineState.from_json(stored) if isinstance(stored, str) else EngineState()


def _message(db: Connection, event: AlertEvent, chat_ref: int) -> outbox.NewMessage | None:
    chat = chat_repo.get_chat(db, chat_ref)
    if chat is None or not chat.active:
        return None
    return outbox.NewMessage(
        dedupe_key=f"{event.key}|{chat_ref}",
        chat_ref=chat_ref,
        platform=chat.platform,
        destination=chat.chat_id,
        event_kind=event.kind.value,
        text=render_event(event, chat.language),
    )


def _fired_event(db: Connection, fired: Fired, reading: Reading) -> AlertEvent | None:
    subscription = subscription_repo.get_subscription(db, fired.subscription_id)
    if subscription is None or subscription.rule is None:
        return None
    rule = subscription.rule
    profile = chat_repo.get_profile(db, fired.chat_ref)
    operating = operating_profile(profile) if profile else None
    j_per_th = profile.j_per_th if profile else None
    if fired.kind is SubscriptionKind.MARGIN_WARNING:
        if profile is None or reading.difficulty_change_pct is None or reading.market is None:
            return None
        next_hashprice = fired.key_value
        hashprice = next_hashprice * (1 + reading.difficulty_change_pct / 100)
        keyed = subscription.keyed
        return margin_warning_event(
            reading.at,
            reading.next_retarget_height or 0,
            reading.difficulty_change_pct,
            hashprice,
            keyed.key_threshold if keyed else next_hashprice,
            profile.machine or f"{profile.j_per_th:g} J/TH",
        )
    value = rule_value(rule, fired.key_value, j_per_th, operating)
    return threshold_event(rule, value, reading.at)


def _fleet_events(
    db: Connection, chat_ref: int, reading: Reading, market: MarketInputs, now: float
) -> list[AlertEvent]:
    """Step each line of the chat's fleet (``bot.alerts.fleet``), saving its advice state; the events to
    send: advice that changed, and lines the estimated next retarget turns across zero."""
    change, height = reading.difficulty_change_pct, reading.next_retarget_height
    after_market = after_adjustment(market, change) if change is not None and height is not None else None
    stored = fleet_repo.line_alerts(db, chat_ref)
    events: list[AlertEvent] = []
    for number, (line, alert) in enumerate(
        zip(fleet_repo.economic_lines(db, chat_ref), stored, strict=True), 1
    ):
        day = line_day(market, line, reading.at)
        state = AdviceState(Advice(alert.advice) if alert.advice else None, alert.quiet_until)
        new_state, fired = step_advice(state, day.now.margin_fraction * 100, now)
        if new_state != state:
            advice = new_state.advice.value if new_state.advice else None
            fleet_repo.set_line_alert(
                db, chat_ref, number, fleet_repo.LineAlert(advice, new_state.quiet_until)
            )
        if fired is not None:
            events.append(advice_event(chat_ref, number, day, reading.at))
        if after_market is not None and change is not None and height is not None:
            after = line_day(after_market, line, reading.at)
            warning = adjustment_event(
                chat_ref, number, day, after, reading.at, change, height, reading.next_retarget_at
            )
            events += [warning] if warning is not None else []
    return events


def decide(
    db: Connection, reading: Reading, regression: DifficultyRegression, params: RegimeParams, now: float
) -> list[AlertEvent]:
    """Evaluate ``reading`` and write every resulting outbox row; run inside one transaction."""
    state = _load_state(db)
    last = _last_observation(db)
    fresh = reading.market if reading.stale_reason is None else None
    wanted = fresh is not None and subscription_repo.has_active_rules(db, KeyMetric.STRESS_INDEX)
    stress = stress_value(db, fresh, reading.at, regression) if fresh is not None and wanted else None
    obs = observation(reading, regression, last, stress)
    state, events = evaluate(state, obs, params)
    messages: list[outbox.NewMessage] = []
    for event in events:
        audience = fanouts.Audience.NETWORK if event.kind in NETWORK_WIDE else fanouts.Audience.SUBSCRIBED
        fanouts.add(db, event.to_json(), audience, now)
    if not obs.stale:
        _fire_thresholds(db, obs.key_values, reading, now, events, messages)
        if reading.market is not None:
            for ref in subscription_repo.chats_subscribed(db, SubscriptionKind.FLEET):
                for fleet_event in _fleet_events(db, ref, reading, reading.market, now):
                    events.append(fleet_event)
                    message = _message(db, fleet_event, ref)
                    messages += [message] if message else []
        snapshot_repo.set_state(db, "last_observation", _observation_json(obs))
    _record(db, events, messages, now)
    snapshot_repo.set_state(db, ENGINE_STATE_KEY, state.to_json())
    return events


def _fire_thresholds(
    db: Connection,
    values: Mapping[KeyMetric, float],
    reading: Reading,
    now: float,
    events: list[AlertEvent],
    messages: list[outbox.NewMessage],
    *,
    rearm: bool = True,
) -> None:
    """Step the threshold rules on ``values``; append each firing's event and outbox message."""
    for fired in subscription_repo.evaluate_thresholds(db, values, now, rearm=rearm):
        fired_event = _fired_event(db, fired, reading)
        if fired_event is not None:
            events.append(fired_event)
            message = _message(db, fired_event, fired.chat_ref)
            messages += [message] if message else []


def _record(db: Connection, events: list[AlertEvent], messages: list[outbox.NewMessage], now: float) -> None:
    outbox.enqueue(db, messages, now)
    for event in events:
        snapshot_repo.record_event(db, event.key, event.kind.value, event.occurred_at.timestamp(), event.data)


def decide_price(db: Connection, price_usd: float, at: datetime, now: float) -> list[AlertEvent]:
    """Fire the price rules a streamed ``price_usd`` crosses (``bot.market.price_stream``), writing their
    outbox rows. Re-arming, the regime, the data-health notices and every other rule wait for the polls: the
    stream speeds up a cross, it never decides alone that a rule may fire again."""
    events: list[AlertEvent] = []
    messages: list[outbox.NewMessage] = []
    reading = Reading(at=at, market=None)
    values = {KeyMetric.PRICE_USD: price_usd}
    _fire_thresholds(db, values, reading, now, events, messages, rearm=False)
    _record(db, events, messages, now)
    return events


def decide_ribbons(db: Connection, rows: Sequence[DailyRow], now: float) -> list[AlertEvent]:
    """Report Hash Ribbons events for daily rows newer than the last reported one (one transaction)."""
    if not rows:
        return []
    state = _load_state(db)
    # On the first run only today's events count: history before the bot started is not news.
    since = state.last_ribbon_date or rows[-1].date - timedelta(days=1)
    events = ribbon_events_since(rows, since)
    for event in events:
        fanouts.add(db, event.to_json(), fanouts.Audience.NETWORK, now)
        snapshot_repo.record_event(db, event.key, event.kind.value, event.occurred_at.timestamp(), event.data)
    state = replace(state, last_ribbon_date=rows[-1].date)
    snapshot_repo.set_state(db, ENGINE_STATE_KEY, state.to_json())
    return events


@dataclass(frozen=True, slots=True)
class Chunk:
    written: int
    """Outbox rows added (a chat that already had its row counts nothing)."""
    done: bool
    """The fan-out is finished (and deleted)."""


def fan_out_chunk(
    db: Connection,
    fanout_id: int,
    now: float,
    budget_s: float = FANOUT_CHUNK_S,
    clock: Callable[[], float] = time.perf_counter,
) -> Chunk:
    """Enqueue the next subscribers of a fan-out, ``FANOUT_BATCH`` at a time, until ``budget_s`` of work is
    done or the audience is exhausted; run inside one transaction."""
    job = fanouts.get(db, fanout_id)
    if job is None:
        return Chunk(0, done=True)
    event = AlertEvent.from_json(job.event)
    texts: dict[str, str] = {}
    started, after, written = clock(), job.after_chat_ref, 0
    while True:
        batch = fanouts.recipients_after(db, job.audience, after, FANOUT_BATCH)
        messages = [
            outbox.NewMessage(
                dedupe_key=f"{event.key}|{r.chat_ref}",
                chat_ref=r.chat_ref,
                platform=r.platform,
                destination=r.chat_id,
                event_kind=event.kind.value,
                text=texts.get(r.language) or texts.setdefault(r.language, render_event(event, r.language)),
                priority=outbox.Priority.BROADCAST,
            )
            for r in batch
        ]
        written += outbox.enqueue(db, messages, now)
        if len(batch) < FANOUT_BATCH:
            fanouts.finish(db, fanout_id)
            return Chunk(written, done=True)
        after = batch[-1].chat_ref
        if clock() - started >= budget_s:
            fanouts.advance(db, fanout_id, after)
            return Chunk(written, done=False)


def _observation_json(obs: Observation) -> dict[str, object]:
    return {
        "at": obs.at.isoformat(),
        "price_usd": obs.price_usd,
        "difficulty": obs.difficulty,
        "height": obs.height,
        "cost_usd_per_btc": obs.cost_usd_per_btc,
        "cost_model": obs.cost_model,
    }


def _last_observation(db: Connection) -> Observation | None:
    stored = snapshot_repo.get_state(db, "last_observation")
    if not isinstance(stored, dict):
        return None
    return Observation(
        at=datetime.fromisoformat(stored["at"]),
        price_usd=stored["price_usd"],
        difficulty=stored["difficulty"],
        height=stored["height"],
        cost_usd_per_btc=stored["cost_usd_per_btc"],
        cost_model=stored["cost_model"],
    )


class Watch:
    """Evaluates readings against the store and wakes the outbox worker when rows were written."""

    def __init__(
        self,
        store: Store,
        regression: DifficultyRegression,
        params: RegimeParams,
        *,
        clock: Callable[[], float],
        on_enqueued: Callable[[], None],
    ) -> None:
        self._store = store
        self._regression = regression
        self._params = params
        self._clock = clock
        self._on_enqueued = on_enqueued
        self._fanning = asyncio.Lock()

    async def observe(self, reading: Reading) -> list[AlertEvent]:
        """Decide and enqueue for one reading; returns the events (durable, their fan-outs written)."""
        events = await self._store.atomic(decide, reading, self._regression, self._params, self._clock())
        record_alerts(event.kind.value for event in events)
        if events:
            log.info("events: %s", ", ".join(e.kind.value for e in events))
            self._on_enqueued()
            await self.fan_out()
        return events

    async def observe_price(self, price_usd: float) -> list[AlertEvent]:
        """Evaluate the price rules at a streamed price (already checked against the polled one)."""
        now = self._clock()
        events = await self._store.atomic(decide_price, price_usd, datetime.fromtimestamp(now, UTC), now)
        record_alerts(event.kind.value for event in events)
        if events:
            log.info("events from the price stream at %.2f USD: %d", price_usd, len(events))
            self._on_enqueued()
        return events

    async def observe_daily(self, rows: Sequence[DailyRow]) -> list[AlertEvent]:
        """Hash Ribbons over the daily series."""
        events = await self._store.atomic(decide_ribbons, rows, self._clock())
        record_alerts(event.kind.value for event in events)
        if events:
            await self.fan_out()
        return events

    async def fan_out(self) -> int:
        """Write the rows of every unfinished fan-out (also one a restart interrupted), a short transaction
        per chunk, waking the outbox worker after each; returns how many rows were added."""
        async with self._fanning:
            total = 0
            for fanout_id in await self._store.run(fanouts.unfinished):
                done = False
                while not done:
                    chunk = await self._store.bookkeeping(fan_out_chunk, fanout_id, self._clock())
                    total, done = total + chunk.written, chunk.done
                    if chunk.written:
                        self._on_enqueued()
            return total
