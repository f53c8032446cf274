"""Chats and profiles: upsert, deactivate/reactivate, migrate to a new id, language."""

from __future__ import annotations

import pytest

from bot.alerts.rules import KeyedRule, KeyMetric, Metric, Op, Rule, RuleState
from bot.chat.kinds import ChatKind
from bot.store import Connection
from bot.store.chats import (
    Profile,
    deactivate_chat,
    find_chat,
    get_chat,
    get_profile,
    migrate_chat,
    set_language,
    set_profile,
    upsert_chat,
)
from bot.store.outbox import NewMessage, OutboxStatus, enqueue, get_message, mark_sent
from bot.store.subscriptions import (
    SubscriptionKind,
    add_network,
    add_threshold,
    list_for_chat,
    set_margin_warning,
)

PRICE_RULE = Rule(Metric.PRICE, Op.BELOW, 60_000.0, 600.0)
PRICE_KEYED = KeyedRule(KeyMetric.PRICE_USD, Op.BELOW, 60_000.0, 60_600.0)
PROFILE = Profile(j_per_th=21.5, power_usd_per_kwh=0.06, pool_fee_pct=2.0, uptime_pct=97.0, pue=1.05)


@pytest.fixture
def db(connection: Connection) -> Connection:
    """A migrated connection, on SQLite and on PostgreSQL."""
    return connection


def test_upsert_creates_then_updates(db: Connection) -> None:
    chat = upsert_chat(db, "telegram", "42", ChatKind.PRIVATE, now=10.0)
    assert (chat.platform, chat.chat_id, chat.kind, chat.language, chat.active) == (
        "telegram",
        "42",
        ChatKind.PRIVATE,
        "en",
        True,
    )
    again = upsert_chat(db, "telegram", "42", ChatKind.GROUP, now=20.0)
    assert again.id == chat.id
    assert again.kind is ChatKind.GROUP
    assert again.created_at == 10.0
    assert find_chat(db, "discord", "42") is None
    assert get_chat(db, chat.id) == again


def test_deactivate_switches_subscriptions_off_and_upsert_back_on(db: Connection) -> None:
    chat = upsert_chat(db, "telegram", "42", ChatKind.PRIVATE, now=0.0)
    add_threshold(db, chat.id, PRICE_RULE, PRICE_KEYED, RuleState(armed=True), now=0.0)
    deactivate_chat(db, chat.id, "bot was blocked by the user")
    stored = get_chat(db, chat.id)
    assert stored is not None
    assert (stored.active, stored.reason) == (False, "bot was blocked by the user")
    assert [s.active for s in list_for_chat(db, chat.id)] == [False]
    back = upsert_chat(db, "telegram", "42", ChatKind.PRIVATE, now=5.0)
    assert (back.active, back.reason) == (True, None)
    assert [s.active for s in list_for_chat(db, chat.id)] == [True]


def test_set_language(db: Connection) -> None:
    chat = upsert_chat(db, "discord", "7", ChatKind.DM, now=0.0)
    set_language(db, chat.id, "ru")
    stored = get_chat(db, chat.id)
    assert stored is not None and stored.language == "ru"


def test_profile_round_trip(db: Connection) -> None:
    chat = upsert_chat(db, "telegram", "42", ChatKind.PRIVATE, now=0.0)
    assert get_profile(db, chat.id) is None
    set_profile(db, chat.id, PROFILE, now=1.0)
    assert get_profile(db, chat.id) == PROFILE
    changed = Profile(17.5, 0.04, 1.0, 99.0, 1.1, machine="S21", hashrate_ths=200.0, count=3)
    set_profile(db, chat.id, changed, now=2.0)
    assert get_profile(db, chat.id) == changed


def _message(chat_ref: int, key: str, destination: str = "-100") -> NewMessage:
    return NewMessage(key, chat_ref, "telegram", destination, "threshold", f"text {key}")


def test_migrate_in_place_keeps_subscriptions_and_redirects_undelivered(db: Connection) -> None:
    chat = upsert_chat(db, "telegram", "-100", ChatKind.GROUP, now=0.0)
    add_threshold(db, chat.id, PRICE_RULE, PRICE_KEYED, RuleState(armed=True), now=0.0)
    enqueue(db, [_message(chat.id, "a"), _message(chat.id, "b")], now=0.0)
    mark_sent(db, 1, now=1.0)
    assert migrate_chat(db, chat.id, "-1001") == chat.id
    moved = get_chat(db, chat.id)
    assert moved is not None
    assert (moved.chat_id, moved.kind) == ("-1001", ChatKind.SUPERGROUP)
    assert len(list_for_chat(db, chat.id)) == 1
    sent, pending = get_message(db, 1), get_message(db, 2)
    assert sent is not None and sent.destination == "-100"
    assert pending is not None and pending.destination == "-1001"


def test_migrate_into_an_existing_chat_merges(db: Connection) -> None:
    old = upsert_chat(db, "telegram", "-100", ChatKind.GROUP, now=0.0)
    new = upsert_chat(db, "telegram", "-1001", ChatKind.SUPERGROUP, now=1.0)
    add_threshold(db, old.id, PRICE_RULE, PRICE_KEYED, RuleState(armed=True), now=0.0)
    add_network(db, old.id, now=0.0)
    add_network(db, new.id, now=1.0)
    set_profile(db, old.id, PROFILE, now=0.0)
    enqueue(db, [_message(old.id, "a")], now=0.0)

    assert migrate_chat(db, old.id, "-1001") == new.id

    kinds = sorted(s.kind for s in list_for_chat(db, new.id))
    assert kinds == [SubscriptionKind.NETWORK, SubscriptionKind.THRESHOLD]
    assert list_for_chat(db, old.id) == []
    assert get_profile(db, new.id) == PROFILE
    message = get_message(db, 1)
    assert message is not None
    assert (message.chat_ref, message.destination, message.status) == (new.id, "-1001", OutboxStatus.PENDING)
    gone = get_chat(db, old.id)
    assert gone is not None and not gone.active and gone.reason == "migrated to -1001"


def test_margin_warning_is_one_per_chat(db: Connection) -> None:
    chat = upsert_chat(db, "telegram", "42", ChatKind.PRIVATE, now=0.0)
    rule = Rule(Metric.MARGIN, Op.BELOW, 0.0, 1.0)
    keyed = KeyedRule(KeyMetric.NEXT_HASHPRICE_USD_PER_PH_DAY, Op.BELOW, 40.0, 40.4)
    set_margin_warning(db, chat.id, rule, keyed, RuleState(armed=True), now=0.0)
    second = set_margin_warning(db, chat.id, rule, keyed, RuleState(armed=False), now=1.0)
    assert [s.id for s in list_for_chat(db, chat.id)] == [second]
