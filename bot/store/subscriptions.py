"""Subscriptions and the indexed threshold evaluation.

``evaluate_thresholds`` applies ``bot.alerts.rules.step`` to every active rule of the key metrics it is
given, in SQL: one UPDATE wakes the rules whose quiet period (minimum interval) has ended, then per
(key metric, op) three UPDATE statements, each a range scan on an index, touch only the rules that fire or
re-arm. Quiet rules are outside the firing indexes (column ``quiet``), so a million ``repeat`` rules resting
between two firings cost nothing per snapshot: the work grows with the rules that fire, re-arm or wake.
They agree with ``step`` because a stored rule's re-arm level is never on its firing side (checked on
write): a value at which a rule holds never re-arms it, so the rules that fire and the rules that re-arm are
disjoint.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bot.alerts.rules import (
    MAX_RULES_PER_CHAT,
    KeyedRule,
    KeyMetric,
    Metric,
    Op,
    Rule,
    RuleState,
    TooManyRulesError,
)
from bot.store.connection import Connection
from bot.store.locks import lock_chat


class SubscriptionKind(StrEnum):
    THRESHOLD = "threshold"
    NETWORK = "network"
    """Regime, Hash Ribbons and retarget messages; no rule."""
    MARGIN_WARNING = "margin_warning"
    """The chat's margin after the estimated next retarget would fall below zero."""
    FLEET = "fleet"
    """Each fleet line's switch-off advice (state on the line, ``bot.store.fleet``); no rule."""


@dataclass(frozen=True, slots=True)
class Subscription:
    id: int
    chat_ref: int
    kind: SubscriptionKind
    rule: Rule | None
    keyed: KeyedRule | None
    state: RuleState | None
    last_fired_at: float | None
    fire_count: int
    active: bool
    created_at: float


@dataclass(frozen=True, slots=True)
class Fired:
    """One rule that fired on this snapshot; ``fire_count`` counts this firing (1 = first)."""

    subscription_id: int
    chat_ref: int
    kind: SubscriptionKind
    metric: Metric
    op: Op
    threshold: float
    key_value: float
    fire_count: int


def check_keyed(keyed: KeyedRule) -> None:
    """Reject a keyed rule the indexed evaluation cannot run exactly like ``step``."""
    if not (math.isfinite(keyed.key_threshold) and math.isfinite(keyed.key_rearm)):
        raise ValueError("key threshold and re-arm level must be finite")
    on_firing_side = (
        keyed.key_rearm < keyed.key_threshold
        if keyed.key_op is Op.BELOW
        else keyed.key_rearm > keyed.key_threshold
    )
    if on_firing_side:
        raise ValueError("the re-arm level must not be on the firing side of the threshold")


def _insert_rule(
    db: Connection,
    chat_ref: int,
    kind: SubscriptionKind,
    rule: Rule,
    keyed: KeyedRule,
    state: RuleState,
    now: float,
) -> int:
    check_keyed(keyed)
    row = db.execute(
        """INSERT INTO subscriptions (chat_ref, kind, metric, op, threshold, band, repeat, min_interval_s,
               key_metric, key_op, key_threshold, key_rearm, armed, quiet_until, quiet, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id""",
        [
            chat_ref,
            kind.value,
            rule.metric.value,
            rule.op.value,
            rule.threshold,
            rule.band,
            int(rule.repeat),
            rule.min_interval_s,
            keyed.key_metric.value,
            keyed.key_op.value,
            keyed.key_threshold,
            keyed.key_rearm,
            int(state.armed),
            state.quiet_until,
            int(state.quiet_until > 0),
            now,
        ],
    ).fetchone()
    assert row is not None
    subscription_id: int = row[0]
    return subscription_id


def add_threshold(
    db: Connection, chat_ref: int, rule: Rule, keyed: KeyedRule, state: RuleState, now: float
) -> int:
    """Store a chat's threshold rule with its key translation and initial state; returns its id.

    Raises ``TooManyRulesError`` (nothing stored) when the chat already holds ``MAX_RULES_PER_CHAT`` rules;
    the count and the insert run in one transaction, so concurrent commands cannot pass the cap together.
    """
    with db.atomic():
        lock_chat(db, chat_ref)
        held = db.execute(
            "SELECT COUNT(*) FROM subscriptions WHERE chat_ref = ? AND kind = ?",
            [chat_ref, SubscriptionKind.THRESHOLD.value],
        ).one()[0]
        if held >= MAX_RULES_PER_CHAT:
            raise TooManyRulesError(MAX_RULES_PER_CHAT)
        return _insert_rule(db, chat_ref, SubscriptionKind.THRESHOLD, rule, keyed, state, now)


def set_margin_warning(
    db: Connection, chat_ref: int, rule: Rule, keyed: KeyedRule, state: RuleState, now: float
) -> int:
    """Create or replace the chat's margin warning (``rule`` as shown to the user); returns its id."""
    with db.atomic():
        lock_chat(db, chat_ref)
        remove_kind(db, chat_ref, SubscriptionKind.MARGIN_WARNING)
        return _insert_rule(db, chat_ref, SubscriptionKind.MARGIN_WARNING, rule, keyed, state, now)


def _add_without_rule(db: Connection, chat_ref: int, kind: SubscriptionKind, now: float) -> int:
    with db.atomic():
        db.execute(
            "INSERT INTO subscriptions (chat_ref, kind, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            [chat_ref, kind.value, now],
        )
        row = db.execute(
            "SELECT id FROM subscriptions WHERE chat_ref = ? AND kind = ?", [chat_ref, kind.value]
        ).one()
    subscription_id: int = row[0]
    return subscription_id


def add_network(db: Connection, chat_ref: int, now: float) -> int:
    """Subscribe the chat to network events (idempotent); returns the subscription id."""
    return _add_without_rule(db, chat_ref, SubscriptionKind.NETWORK, now)


def add_fleet(db: Connection, chat_ref: int, now: float) -> int:
    """Subscribe the chat to its fleet lines' switch-off advice (idempotent); returns the id."""
    return _add_without_rule(db, chat_ref, SubscriptionKind.FLEET, now)


def remove_kind(db: Connection, chat_ref: int, kind: SubscriptionKind) -> int:
    """Remove the chat's subscriptions of one kind (e.g. its network subscription); returns how many."""
    return db.execute(
        "DELETE FROM subscriptions WHERE chat_ref = ? AND kind = ?", [chat_ref, kind.value]
    ).rowcount


def remove_subscription(db: Connection, chat_ref: int, subscription_id: int) -> bool:
    """Remove one subscription, only if it belongs to ``chat_ref``."""
    cursor = db.execute(
        "DELETE FROM subscriptions WHERE id = ? AND chat_ref = ?", [subscription_id, chat_ref]
    )
    return cursor.rowcount > 0


def remove_all(db: Connection, chat_ref: int) -> int:
    return db.execute("DELETE FROM subscriptions WHERE chat_ref = ?", [chat_ref]).rowcount


def update_keyed(db: Connection, subscription_id: int, keyed: KeyedRule) -> None:
    """Replace a rule's key translation (its chat's profile changed); armed state and timers stay."""
    check_keyed(keyed)
    db.execute(
        """UPDATE subscriptions SET key_metric = ?, key_op = ?, key_threshold = ?, key_rearm = ?
           WHERE id = ?""",
        [keyed.key_metric.value, keyed.key_op.value, keyed.key_threshold, keyed.key_rearm, subscription_id],
    )


def _subscription(row: dict[str, Any]) -> Subscription:
    has_rule = row["key_metric"] is not None
    return Subscription(
        id=row["id"],
        chat_ref=row["chat_ref"],
        kind=SubscriptionKind(row["kind"]),
        rule=Rule(
            Metric(row["metric"]),
            Op(row["op"]),
            row["threshold"],
            row["band"],
            bool(row["repeat"]),
            row["min_interval_s"],
        )
        if has_rule
        else None,
        keyed=KeyedRule(
            KeyMetric(row["key_metric"]), Op(row["key_op"]), row["key_threshold"], row["key_rearm"]
        )
        if has_rule
        else None,
        state=RuleState(bool(row["armed"]), row["quiet_until"]) if has_rule else None,
        last_fired_at=row["last_fired_at"],
        fire_count=row["fire_count"],
        active=bool(row["active"]),
        created_at=row["created_at"],
    )


def list_for_chat(db: Connection, chat_ref: int) -> list[Subscription]:
    """The chat's subscriptions, oldest first."""
    return [
        _subscription(row)
        for row in db.fetch("SELECT * FROM subscriptions WHERE chat_ref = ? ORDER BY id", [chat_ref])
    ]


def get_subscription(db: Connection, subscription_id: int) -> Subscription | None:
    rows = list(db.fetch("SELECT * FROM subscriptions WHERE id = ?", [subscription_id]))
    return _subscription(rows[0]) if rows else None


def chats_subscribed(db: Connection, kind: SubscriptionKind) -> list[int]:
    """Row ids of the active chats with an active subscription of ``kind`` (indexed by kind)."""
    return [
        row["chat_ref"]
        for row in db.fetch(
            "SELECT chat_ref FROM subscriptions WHERE kind = ? AND active = 1 ORDER BY chat_ref", [kind.value]
        )
    ]


_FIRE = """armed = 0, quiet_until = :now + min_interval_s,
    quiet = CASE WHEN min_interval_s > 0 THEN 1 ELSE 0 END, last_fired_at = :now,
    fire_count = fire_count + 1"""
_RETURNING = "RETURNING id, chat_ref, kind, metric, op, threshold, fire_count"
# Per op: the comparison under which a rule holds, and under which it re-arms (rules.holds / rules.rearms).
_HOLDS = {Op.BELOW: "key_threshold > :value", Op.ABOVE: "key_threshold < :value"}
_REARMS = {Op.BELOW: "key_rearm <= :value", Op.ABOVE: "key_rearm >= :value"}


def _wake(db: Connection) -> str:
    # A rule is quiet (out of the firing indexes) from a firing with a minimum interval until the first
    # evaluation at or after its quiet_until; the firing statements still test quiet_until themselves.
    return f"""UPDATE subscriptions{db.indexed_by("subscriptions_quiet")} SET quiet = 0
        WHERE quiet = 1 AND quiet_until <= :now"""


def _statements(db: Connection, op: Op) -> tuple[str, str, str]:
    scope = "key_metric = :metric AND key_op = :op AND active = 1"
    due = f"quiet = 0 AND {_HOLDS[op]} AND quiet_until <= :now"
    repeat_fire = f"""UPDATE subscriptions{db.indexed_by("subscriptions_repeat_due")} SET {_FIRE}
        WHERE {scope} AND repeat = 1 AND armed = 0 AND {due} {_RETURNING}"""
    armed_fire = f"""UPDATE subscriptions{db.indexed_by("subscriptions_armed_due")} SET {_FIRE}
        WHERE {scope} AND armed = 1 AND {due} {_RETURNING}"""
    rearm = f"""UPDATE subscriptions{db.indexed_by("subscriptions_rearm")} SET armed = 1
        WHERE {scope} AND armed = 0 AND {_REARMS[op]}"""
    return repeat_fire, armed_fire, rearm


def evaluate_thresholds(
    db: Connection, values: Mapping[KeyMetric, float], now: float, *, rearm: bool = True
) -> list[Fired]:
    """Step every active rule on the given key metrics by one observation; return the rules that fired.
    With ``rearm=False`` (a streamed price between polls) rules only fire: re-arming is left to the polls,
    so a stream that disagrees with them cannot re-arm a rule the polls keep firing.

    Updates armed / quiet_until / last_fired_at / fire_count in place, in one transaction (a savepoint
    when the caller already holds one, e.g. to enqueue the alerts atomically). Disarmed repeat rules fire
    before armed rules do, so a rule that has just fired (and, with no minimum interval, is quiet until
    ``now``) is not taken for a disarmed repeat rule and fired twice.
    """
    for metric, value in values.items():
        if not math.isfinite(value):
            raise ValueError(f"{metric}: value must be finite, got {value!r}")
    fired: list[Fired] = []
    with db.atomic():
        db.execute(_wake(db), {"now": now})
        statements = {op: _statements(db, op) for op in Op}
        for metric, value in values.items():
            for op, (repeat_fire, armed_fire, rearm_statement) in statements.items():
                params = {"metric": metric.value, "op": op.value, "value": value, "now": now}
                for statement in (repeat_fire, armed_fire):
                    fired.extend(
                        Fired(row_id, chat_ref, SubscriptionKind(kind), Metric(m), Op(o), t, value, count)
                        for row_id, chat_ref, kind, m, o, t, count in db.execute(statement, params)
                    )
                if rearm:
                    db.execute(rearm_statement, params)
    return fired


def has_active_rules(db: Connection, key_metric: KeyMetric) -> bool:
    """Whether any active subscription is evaluated on ``key_metric`` (indexed lookup)."""
    row = db.execute(
        "SELECT 1 FROM subscriptions WHERE key_metric = ? AND active = 1 LIMIT 1", [key_metric.value]
    ).fetchone()
    return row is not None
