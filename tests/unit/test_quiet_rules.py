"""Rules in their quiet period (minimum interval) are out of the evaluation's scan and come back on time."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlite_utils import Database

from bot.alerts.rules import KeyedRule, KeyMetric, Metric, Op, Rule, RuleState
from bot.chat.kinds import ChatKind
from bot.store import Connection, connect
from bot.store.chats import upsert_chat
from bot.store.migrations import migrations
from bot.store.sqlite import SqliteConnection
from bot.store.subscriptions import add_threshold, evaluate_thresholds, get_subscription

PRICE = KeyMetric.PRICE_USD
HOUR = 3600
ABOVE_100K = KeyedRule(PRICE, Op.ABOVE, 100_000.0, 99_000.0)


def _repeat_rule(min_interval_s: int = HOUR) -> Rule:
    return Rule(Metric.PRICE, Op.ABOVE, 100_000.0, 1000.0, repeat=True, min_interval_s=min_interval_s)


@pytest.fixture
def db(connection: Connection) -> Connection:
    """A migrated connection, on SQLite and on PostgreSQL."""
    return connection


@pytest.fixture
def chat_ref(db: Connection) -> int:
    return upsert_chat(db, "telegram", "7", ChatKind.PRIVATE, now=0.0).id


def test_a_quiet_repeat_rule_fires_again_exactly_when_its_quiet_period_ends(
    db: Connection, chat_ref: int
) -> None:
    sub = add_threshold(db, chat_ref, _repeat_rule(), ABOVE_100K, RuleState(armed=True), now=0.0)
    assert [f.subscription_id for f in evaluate_thresholds(db, {PRICE: 101_000.0}, now=100.0)] == [sub]
    for t in (101.0, 1800.0, 100.0 + HOUR - 0.001):
        assert evaluate_thresholds(db, {PRICE: 101_000.0}, now=t) == []
    again = evaluate_thresholds(db, {PRICE: 101_000.0}, now=100.0 + HOUR)
    assert [(f.subscription_id, f.fire_count) for f in again] == [(sub, 2)]
    stored = get_subscription(db, sub)
    assert stored is not None and stored.state == RuleState(False, 100.0 + 2 * HOUR)


def test_a_rule_rearmed_inside_its_quiet_period_fires_when_the_period_ends(
    db: Connection, chat_ref: int
) -> None:
    once = Rule(Metric.PRICE, Op.ABOVE, 100_000.0, 1000.0, min_interval_s=HOUR)
    sub = add_threshold(db, chat_ref, once, ABOVE_100K, RuleState(armed=True), now=0.0)
    assert len(evaluate_thresholds(db, {PRICE: 101_000.0}, now=0.0)) == 1
    assert evaluate_thresholds(db, {PRICE: 98_000.0}, now=60.0) == []  # re-armed, still quiet
    assert evaluate_thresholds(db, {PRICE: 101_000.0}, now=HOUR - 1.0) == []
    assert [f.subscription_id for f in evaluate_thresholds(db, {PRICE: 101_000.0}, now=HOUR)] == [sub]


def test_a_quiet_rule_not_evaluated_when_it_wakes_fires_on_its_next_reading(
    db: Connection, chat_ref: int
) -> None:
    """Waking is not tied to the rule's metric: a snapshot without it must not lose the rule."""
    sub = add_threshold(db, chat_ref, _repeat_rule(), ABOVE_100K, RuleState(armed=True), now=0.0)
    assert len(evaluate_thresholds(db, {PRICE: 101_000.0}, now=0.0)) == 1
    assert evaluate_thresholds(db, {KeyMetric.PREMIUM_PCT: 5.0}, now=2 * HOUR) == []
    assert [f.subscription_id for f in evaluate_thresholds(db, {PRICE: 101_000.0}, now=2 * HOUR + 1)] == [sub]


def _vm_steps(db: SqliteConnection, values: dict[KeyMetric, float], now: float) -> int:
    """SQLite virtual-machine instructions one evaluation executes (a deterministic measure of rows read)."""
    steps = 0

    def count() -> int:
        nonlocal steps
        steps += 1
        return 0

    db.sqlite.conn.set_progress_handler(count, 1)
    try:
        evaluate_thresholds(db, values, now)
    finally:
        db.sqlite.conn.set_progress_handler(None, 1)
    return steps


def _holding_quiet_repeat_rules(db: Connection, chat_ref: int, count: int) -> None:
    for _ in range(count):
        add_threshold(db, chat_ref, _repeat_rule(), ABOVE_100K, RuleState(armed=True), now=0.0)
    assert len(evaluate_thresholds(db, {PRICE: 101_000.0}, now=0.0)) == count


def test_quiet_rules_are_not_read_on_each_snapshot(tmp_path: Path) -> None:
    """The work per snapshot does not grow with the rules resting in their quiet period."""
    steps = []
    for count in (10, 1000):
        db = connect(tmp_path / f"{count}.db")
        chats = [
            upsert_chat(db, "telegram", str(i), ChatKind.PRIVATE, now=0.0).id for i in range(count // 10)
        ]
        for chat in chats:
            _holding_quiet_repeat_rules(db, chat, 10)
        steps.append(_vm_steps(db, {PRICE: 101_500.0}, now=60.0))
        db.close()
    assert steps[1] < steps[0] * 1.2


def test_migration_leaves_a_rule_that_fired_before_it_quiet_until_its_period_ends(tmp_path: Path) -> None:
    old = Database(tmp_path / "old.db")
    migrations.apply(old, stop_before="m007_quiet_rules_out_of_the_scan")
    old.execute(
        "INSERT INTO chats (id, platform, chat_id, kind, created_at) VALUES (1, 'x', '1', 'private', 0)"
    )
    old.execute(
        """INSERT INTO subscriptions (chat_ref, kind, metric, op, threshold, band, repeat, min_interval_s,
               key_metric, key_op, key_threshold, key_rearm, armed, quiet_until, last_fired_at, fire_count,
               created_at)
           VALUES (1, 'threshold', 'price', 'above', 100000, 1000, 1, 3600, 'price_usd', 'above', 100000,
               99000, 0, 7200, 3600, 1, 0)"""
    )
    old.close()
    db = connect(tmp_path / "old.db")
    assert evaluate_thresholds(db, {PRICE: 101_000.0}, now=7199.0) == []
    assert [f.fire_count for f in evaluate_thresholds(db, {PRICE: 101_000.0}, now=7200.0)] == [2]
    db.close()
