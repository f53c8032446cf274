"""Per-chat threshold rules and how each maps onto one network-wide "key" metric.

A chat subscribes to ``METRIC OP VALUE`` (``price below 60k``, ``margin below 0``). Some metrics are the
same for every chat (price, hashprice, production-cost premium, estimated difficulty change, miner-stress
index); two depend on
the chat's own machine and power price (margin, breakeven power price). Both of the latter are monotonic
increasing in the network hashprice, so each such rule is translated, when it is saved, into a threshold
on the hashprice:

* margin ``m = 1 - cost / (hashprice * k)`` with ``k = (1 - pool fee) * uptime`` and
  ``cost = E * 0.024 * PUE * c`` per TH/s per day, hence ``m < T  <=>  hashprice < cost / (k * (1 - T))``;
* breakeven power ``b = hashprice * k / (E * 0.024 * PUE)``, hence ``b < X  <=>  hashprice < X * E * 0.024
  * PUE / k``.

So evaluation needs one number per key metric per snapshot and finds the matching rules with indexed
range queries (``key_metric, key_op, armed, key_threshold``), never a Python loop over all chats.

Edge-triggered semantics, identical in the SQL and in ``step`` below (the pure reference):

* a rule *holds* when ``value < key_threshold`` (below) or ``value > key_threshold`` (above);
* an *armed* rule that holds fires, unless ``now < quiet_until`` (minimum interval) — it then stays armed
  and fires when the interval has passed, if it still holds; firing disarms it and sets
  ``quiet_until = now + min_interval_s``;
* a disarmed rule re-arms once the value is back past the band: ``value >= key_rearm`` (below) or
  ``value <= key_rearm`` (above), where ``key_rearm`` is the threshold moved ``band`` away from the
  firing side;
* a rule with ``repeat`` fires again, while it holds, each time ``quiet_until`` has passed;
* a rule saved while it already holds starts disarmed: it fires on the next real crossing (a ``repeat``
  rule, being a reminder while the condition holds, reminds at the next evaluation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import StrEnum

from bot.economics.mining import OperatingProfile
from bot.economics.units import KWH_PER_J_PER_TH_DAY


class Metric(StrEnum):
    """What a chat can set a threshold on (user units in brackets)."""

    PRICE = "price"  # USD per BTC
    HASHPRICE = "hashprice"  # USD per PH/s per day
    MARGIN = "margin"  # percent of revenue, the chat's machine at its power price
    BREAKEVEN = "breakeven"  # USD per kWh, the chat's machine
    PREMIUM = "premium"  # percent, price over production cost (negative: below cost)
    DIFFICULTY = "difficulty"  # percent, estimated change at the next retarget
    STRESS = "stress"  # points 0-100, the open miner-stress index (bot.economics.stress)


class KeyMetric(StrEnum):
    """Network-wide numbers, one value per snapshot, that every rule is evaluated against."""

    PRICE_USD = "price_usd"
    HASHPRICE_USD_PER_PH_DAY = "hashprice_usd_per_ph_day"
    PREMIUM_PCT = "premium_pct"
    DIFFICULTY_CHANGE_PCT = "difficulty_change_pct"
    NEXT_HASHPRICE_USD_PER_PH_DAY = "next_hashprice_usd_per_ph_day"
    """Hashprice after the estimated next retarget; drives the "your margin turns negative" warning."""
    STRESS_INDEX = "stress_index"
    """The open miner-stress index, 0-100; present only when the daily history is long enough."""


class Op(StrEnum):
    BELOW = "below"
    ABOVE = "above"


DIRECT_KEYS = {
    Metric.PRICE: KeyMetric.PRICE_USD,
    Metric.HASHPRICE: KeyMetric.HASHPRICE_USD_PER_PH_DAY,
    Metric.PREMIUM: KeyMetric.PREMIUM_PCT,
    Metric.DIFFICULTY: KeyMetric.DIFFICULTY_CHANGE_PCT,
    Metric.STRESS: KeyMetric.STRESS_INDEX,
}
PER_CHAT_METRICS = frozenset({Metric.MARGIN, Metric.BREAKEVEN})

DEFAULT_BAND_FRACTION = 0.01
"""Default re-arm band: 1 % of the threshold (or 1 point for percentage and 0-100 index metrics)."""


@dataclass(frozen=True, slots=True)
class Rule:
    """A chat's threshold as the user wrote it, in the metric's own units."""

    metric: Metric
    op: Op
    threshold: float
    band: float
    repeat: bool = False
    min_interval_s: int = 3600

    def __post_init__(self) -> None:
        if not math.isfinite(self.threshold) or not math.isfinite(self.band) or self.band < 0:
            raise ValueError("threshold and band must be finite, band not negative")
        if self.min_interval_s < 0:
            raise ValueError("min_interval_s must not be negative")


MAX_RULES_PER_CHAT = 50
"""A chat holds at most this many threshold rules (its network-news subscription is not one): enough for
any real use, and it bounds what one chat can make the bot store, evaluate and list in /alerts."""


class TooManyRulesError(Exception):
    """The chat already holds ``MAX_RULES_PER_CHAT`` threshold rules; the new one was not stored."""

    def __init__(self, limit: int = MAX_RULES_PER_CHAT) -> None:
        super().__init__(f"a chat holds at most {limit} threshold rules")
        self.limit = limit


def default_band(metric: Metric, threshold: float) -> float:
    """1 % of the threshold for levels, 1 point for percentages and the 0-100 stress index."""
    if metric in (Metric.MARGIN, Metric.PREMIUM, Metric.DIFFICULTY, Metric.STRESS):
        return 1.0
    return abs(threshold) * DEFAULT_BAND_FRACTION


@dataclass(frozen=True, slots=True)
class KeyedRule:
    """A rule translated to its network-wide key metric: what the store indexes and evaluates."""

    key_metric: KeyMetric
    key_op: Op
    key_threshold: float
    key_rearm: float


def _cost_usd_per_ph_day(j_per_th: float, profile: OperatingProfile) -> float:
    return j_per_th * KWH_PER_J_PER_TH_DAY * profile.pue * profile.power_usd_per_kwh * 1000.0


def hashprice_at_margin(margin_pct: float, j_per_th: float, profile: OperatingProfile) -> float:
    """Hashprice (USD/PH/day) at which the chat's margin equals ``margin_pct``; margin < 100 % only.

    Uptime scales revenue and power alike, so it cancels out of a margin (``bot.economics.mining``)."""
    if margin_pct >= 100:
        raise ValueError("a margin threshold must be below 100%")
    return _cost_usd_per_ph_day(j_per_th, profile) / (profile.kept_fraction * (1 - margin_pct / 100))


def hashprice_at_breakeven(power_usd_per_kwh: float, j_per_th: float, profile: OperatingProfile) -> float:
    """Hashprice (USD/PH/day) at which the chat's breakeven power price equals ``power_usd_per_kwh``."""
    at_that_price = replace(profile, power_usd_per_kwh=power_usd_per_kwh)
    return _cost_usd_per_ph_day(j_per_th, at_that_price) / profile.kept_fraction


def key_rule(rule: Rule, j_per_th: float | None = None, profile: OperatingProfile | None = None) -> KeyedRule:
    """Translate ``rule`` to its key metric; per-chat metrics need the chat's efficiency and profile."""
    if rule.metric in DIRECT_KEYS:
        key = DIRECT_KEYS[rule.metric]
        threshold, rearm_level = rule.threshold, _rearm(rule.op, rule.threshold, rule.band)
        return KeyedRule(key, rule.op, threshold, rearm_level)
    if j_per_th is None or profile is None:
        raise ValueError(f"a {rule.metric} rule needs the chat's machine and power price")
    to_hashprice = hashprice_at_margin if rule.metric is Metric.MARGIN else hashprice_at_breakeven
    threshold = to_hashprice(rule.threshold, j_per_th, profile)
    rearm_level = to_hashprice(_rearm(rule.op, rule.threshold, rule.band), j_per_th, profile)
    return KeyedRule(KeyMetric.HASHPRICE_USD_PER_PH_DAY, rule.op, threshold, rearm_level)


def margin_warning_rule(j_per_th: float, profile: OperatingProfile) -> KeyedRule:
    """The built-in warning: the chat's margin after the estimated next retarget would fall below zero."""
    threshold = hashprice_at_margin(0.0, j_per_th, profile)
    return KeyedRule(KeyMetric.NEXT_HASHPRICE_USD_PER_PH_DAY, Op.BELOW, threshold, threshold * 1.01)


def _rearm(op: Op, threshold: float, band: float) -> float:
    return threshold + band if op is Op.BELOW else threshold - band


def holds(op: Op, value: float, threshold: float) -> bool:
    """Whether the rule's condition is true at ``value``."""
    return value < threshold if op is Op.BELOW else value > threshold


def rearms(op: Op, value: float, rearm_level: float) -> bool:
    """Whether ``value`` is back past the band so a fired rule may fire again."""
    return value >= rearm_level if op is Op.BELOW else value <= rearm_level


@dataclass(frozen=True, slots=True)
class RuleState:
    """The mutable part of a subscription: armed or not, and when it may fire next."""

    armed: bool
    quiet_until: float = 0.0


def initial_state(keyed: KeyedRule, current_value: float | None) -> RuleState:
    """A new rule starts disarmed when its condition already holds, so only a real crossing fires."""
    already = current_value is not None and holds(keyed.key_op, current_value, keyed.key_threshold)
    return RuleState(armed=not already)


def step(
    keyed: KeyedRule, state: RuleState, value: float, now: float, *, repeat: bool, min_interval_s: int
) -> tuple[RuleState, bool]:
    """Advance one rule by one observation; returns the new state and whether it fires now.

    This is the reference the indexed SQL evaluation in ``bot.store`` must agree with.
    """
    condition = holds(keyed.key_op, value, keyed.key_threshold)
    may_fire = now >= state.quiet_until
    if condition and may_fire and (state.armed or repeat):
        return RuleState(armed=False, quiet_until=now + min_interval_s), True
    if not state.armed and rearms(keyed.key_op, value, keyed.key_rearm):
        return RuleState(armed=True, quiet_until=state.quiet_until), False
    return state, False
