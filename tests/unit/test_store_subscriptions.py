"""Subscriptions: storage, and the indexed evaluation agreeing with ``rules.step`` exactly."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.alerts.rules import KeyedRule, KeyMetric, Metric, Op, Rule, RuleState, step
from bot.chat.kinds import ChatKind
from bot.store import Connection
from bot.store.chats import deactivate_chat, upsert_chat
from bot.store.fanouts import Audience, recipients_after
from bot.store.subscriptions import (
    Fired,
    SubscriptionKind,
    add_network,
    add_threshold,
    evaluate_thresholds,
    get_subscription,
    list_for_chat,
    remove_all,
    remove_kind,
    remove_subscription,
    update_keyed,
)

BELOW_60K = Rule(Metric.PRICE, Op.BELOW, 60_000.0, 600.0, min_interval_s=3600)
BELOW_60K_KEYED = KeyedRule(KeyMetric.PRICE_USD, Op.BELOW, 60_000.0, 60_600.0)
PRICE = KeyMetric.PRICE_USD


@pytest.fixture
def db(connection: Connection) -> Connection:
    """A migrated connection, on SQLite and on PostgreSQL."""
    return connection


@pytest.fixture
def chat_ref(db: Connection) -> int:
    return upsert_chat(db, "telegram", "42", ChatKind.PRIVATE, now=0.0).id


def test_add_list_and_remove(db: Connection, chat_ref: int) -> None:
    first = add_threshold(db, chat_ref, BELOW_60K, BELOW_60K_KEYED, RuleState(armed=True), now=1.0)
    network = add_network(db, chat_ref, now=2.0)
    assert add_network(db, chat_ref, now=3.0) == network
    subscriptions = list_for_chat(db, chat_ref)
    assert [s.kind for s in subscriptions] == [SubscriptionKind.THRESHOLD, SubscriptionKind.NETWORK]
    stored = subscriptions[0]
    assert (stored.rule, stored.keyed, stored.state) == (BELOW_60K, BELOW_60K_KEYED, RuleState(armed=True))
    assert subscriptions[1].rule is None
    assert [r.chat_ref for r in recipients_after(db, Audience.NETWORK, 0, 10)] == [chat_ref]

    assert not remove_subscription(db, chat_ref + 1, first)
    assert remove_subscription(db, chat_ref, first)
    assert remove_kind(db, chat_ref, SubscriptionKind.NETWORK) == 1
    assert recipients_after(db, Audience.NETWORK, 0, 10) == []
    add_network(db, chat_ref, now=4.0)
    assert remove_all(db, chat_ref) == 1


def test_update_keyed_keeps_state(db: Connection, chat_ref: int) -> None:
    sub = add_threshold(db, chat_ref, BELOW_60K, BELOW_60K_KEYED, RuleState(False, 99.0), now=0.0)
    moved = KeyedRule(KeyMetric.PRICE_USD, Op.BELOW, 55_000.0, 55_500.0)
    update_keyed(db, sub, moved)
    stored = get_subscription(db, sub)
    assert stored is not None
    assert (stored.keyed, stored.state) == (moved, RuleState(False, 99.0))


@pytest.mark.parametrize(
    "keyed",
    [
        KeyedRule(PRICE, Op.BELOW, 60_000.0, 59_000.0),
        KeyedRule(PRICE, Op.ABOVE, 60_000.0, 61_000.0),
        KeyedRule(PRICE, Op.BELOW, float("nan"), 61_000.0),
    ],
)
def test_rearm_level_on_the_firing_side_is_rejected(db: Connection, chat_ref: int, keyed: KeyedRule) -> None:
    with pytest.raises(ValueError):
        add_threshold(db, chat_ref, BELOW_60K, keyed, RuleState(armed=True), now=0.0)


def test_fires_once_on_crossing_then_rearms_past_the_band(db: Connection, chat_ref: int) -> None:
    sub = add_threshold(db, chat_ref, BELOW_60K, BELOW_60K_KEYED, RuleState(armed=True), now=0.0)
    assert evaluate_thresholds(db, {PRICE: 61_000.0}, now=10.0) == []
    fired = evaluate_thresholds(db, {PRICE: 59_000.0}, now=20.0)
    assert fired == [
        Fired(sub, chat_ref, SubscriptionKind.THRESHOLD, Metric.PRICE, Op.BELOW, 60_000, 59_000, 1)
    ]
    assert evaluate_thresholds(db, {PRICE: 58_000.0}, now=30.0) == []
    assert evaluate_thresholds(db, {PRICE: 60_300.0}, now=40.0) == []  # inside the band: stays disarmed
    stored = get_subscription(db, sub)
    assert stored is not None and stored.state == RuleState(False, 20.0 + 3600)
    assert evaluate_thresholds(db, {PRICE: 60_600.0}, now=50.0) == []  # re-armed
    assert evaluate_thresholds(db, {PRICE: 59_000.0}, now=60.0) == []  # min interval not over
    fired = evaluate_thresholds(db, {PRICE: 59_000.0}, now=3620.0)
    assert [f.fire_count for f in fired] == [2]
    stored = get_subscription(db, sub)
    assert stored is not None and (stored.last_fired_at, stored.fire_count) == (3620.0, 2)


def test_without_rearm_rules_fire_but_only_the_polls_rearm_them(db: Connection, chat_ref: int) -> None:
    rule = Rule(Metric.PRICE, Op.BELOW, 60_000.0, 600.0, min_interval_s=0)
    sub = add_threshold(db, chat_ref, rule, BELOW_60K_KEYED, RuleState(armed=True), now=0.0)
    assert [f.subscription_id for f in evaluate_thresholds(db, {PRICE: 59_000.0}, 1.0, rearm=False)] == [sub]
    assert evaluate_thresholds(db, {PRICE: 61_000.0}, now=2.0, rearm=False) == []  # past the band, no re-arm
    stored = get_subscription(db, sub)
    assert stored is not None and stored.state == RuleState(False, 1.0)
    assert evaluate_thresholds(db, {PRICE: 59_000.0}, now=3.0, rearm=False) == []
    assert evaluate_thresholds(db, {PRICE: 61_000.0}, now=4.0) == []  # a poll re-arms it
    assert len(evaluate_thresholds(db, {PRICE: 59_000.0}, now=5.0, rearm=False)) == 1


def test_repeat_fires_while_it_holds(db: Connection, chat_ref: int) -> None:
    rule = Rule(Metric.PRICE, Op.ABOVE, 100_000.0, 1000.0, repeat=True, min_interval_s=60)
    keyed = KeyedRule(PRICE, Op.ABOVE, 100_000.0, 99_000.0)
    add_threshold(db, chat_ref, rule, keyed, RuleState(armed=True), now=0.0)
    counts = [len(evaluate_thresholds(db, {PRICE: 101_000.0}, now=t)) for t in (0.0, 30.0, 60.0, 90.0, 120.0)]
    assert counts == [1, 0, 1, 0, 1]


def test_only_given_metrics_and_active_chats(db: Connection, chat_ref: int) -> None:
    add_threshold(db, chat_ref, BELOW_60K, BELOW_60K_KEYED, RuleState(armed=True), now=0.0)
    assert evaluate_thresholds(db, {KeyMetric.HASHPRICE_USD_PER_PH_DAY: 1.0}, now=1.0) == []
    deactivate_chat(db, chat_ref, "chat not found")
    assert evaluate_thresholds(db, {PRICE: 1.0}, now=2.0) == []
    upsert_chat(db, "telegram", "42", ChatKind.PRIVATE, now=3.0)
    assert len(evaluate_thresholds(db, {PRICE: 1.0}, now=4.0)) == 1


def test_non_finite_value_is_rejected(db: Connection) -> None:
    with pytest.raises(ValueError, match="price_usd"):
        evaluate_thresholds(db, {PRICE: float("inf")}, now=0.0)


# --- the SQL evaluation against rules.step -------------------------------------------------------------

KEYS = (KeyMetric.PRICE_USD, KeyMetric.HASHPRICE_USD_PER_PH_DAY)


@dataclass
class ModelRule:
    keyed: KeyedRule
    repeat: bool
    min_interval_s: int
    state: RuleState


@st.composite
def model_rules(draw: st.DrawFn) -> ModelRule:
    op = draw(st.sampled_from(list(Op)))
    threshold = float(draw(st.integers(0, 10)))
    band = draw(st.sampled_from([0.0, 0.5, 1.0, 3.0]))
    keyed = KeyedRule(
        draw(st.sampled_from(KEYS)), op, threshold, threshold + band if op is Op.BELOW else threshold - band
    )
    state = RuleState(draw(st.booleans()), float(draw(st.sampled_from([0, 5, 20]))))
    return ModelRule(keyed, draw(st.booleans()), draw(st.sampled_from([0, 3, 10])), state)


observations = st.lists(
    st.tuples(
        st.sampled_from([0, 1, 3, 10]),
        st.dictionaries(st.sampled_from(KEYS), st.integers(-1, 11).map(float), min_size=1),
    ),
    min_size=1,
    max_size=12,
)


# One database per backend for all examples: each example starts by emptying it.
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rules=st.lists(model_rules(), min_size=1, max_size=25), steps=observations)
def test_sql_evaluation_agrees_with_step(
    connection: Connection, rules: list[ModelRule], steps: list[tuple[int, dict[KeyMetric, float]]]
) -> None:
    db = connection
    with db.atomic():
        db.execute("DELETE FROM subscriptions")
        db.execute("DELETE FROM chats")
    chat_ref = upsert_chat(db, "console", "me", ChatKind.CONSOLE, now=0.0).id
    model: dict[int, ModelRule] = {}
    for rule in rules:
        user_rule = Rule(
            Metric.PRICE, rule.keyed.key_op, rule.keyed.key_threshold, 0.0, rule.repeat, rule.min_interval_s
        )
        model[add_threshold(db, chat_ref, user_rule, rule.keyed, rule.state, now=0.0)] = rule

    now = 0.0
    for advance, values in steps:
        now += advance
        expected: dict[int, int] = {}
        for sub_id, rule in model.items():
            if rule.keyed.key_metric not in values:
                continue
            rule.state, fires = step(
                rule.keyed,
                rule.state,
                values[rule.keyed.key_metric],
                now,
                repeat=rule.repeat,
                min_interval_s=rule.min_interval_s,
            )
            if fires:
                expected[sub_id] = expected.get(sub_id, 0) + 1
        fired = evaluate_thresholds(db, values, now)
        assert sorted(f.subscription_id for f in fired) == sorted(expected)
        for f in fired:
            assert f.key_value == values[model[f.subscription_id].keyed.key_metric]
        stored = {s.id: s.state for s in list_for_chat(db, chat_ref)}
        assert stored == {sub_id: rule.state for sub_id, rule in model.items()}
