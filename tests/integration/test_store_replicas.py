"""Two connections on one database, as two replicas hold them: what one commits the other sees, outbox claims
never hand the same row to both, a claim whose claimer died is taken again once its lease runs out, and each
destination's messages still go in order. On both backends (SQLite: one writer at a time)."""

from __future__ import annotations

import itertools
import threading
from collections import defaultdict

import psycopg
import pytest

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
from bot.chat.kinds import ChatKind
from bot.store import Connection
from bot.store import fanouts as fanout_repo
from bot.store.chats import upsert_chat
from bot.store.connection import Adapter
from bot.store.outbox import NewMessage, OutboxStatus, claim_due, counts, enqueue, mark_all_sent
from bot.store.subscriptions import add_threshold
from tests.store_backends import connect_to


def queue(db: Connection, destinations: int, per_destination: int) -> None:
    """``per_destination`` messages to each of ``destinations`` chats, interleaved, all due at 0."""
    refs = [upsert_chat(db, "telegram", str(d), ChatKind.PRIVATE, 0.0).id for d in range(destinations)]
    enqueue(
        db,
        [
            NewMessage(f"{d}:{n}", refs[d], "telegram", str(d), "test", f"{d}:{n}")
            for n in range(per_destination)
            for d in range(destinations)
        ],
        0.0,
    )


def lease_of(db: Connection, key: str) -> tuple[str, float | None]:
    status, lease = db.execute("SELECT status, lease_until FROM outbox WHERE dedupe_key = ?", [key]).one()
    return status, lease


def test_a_row_inserted_outside_a_transaction_is_committed_for_the_other_connection(
    store_location: str,
) -> None:
    """``INSERT ... RETURNING id`` outside ``atomic`` commits like any other statement."""
    first, second = connect_to(store_location), connect_to(store_location)
    try:
        fanout_id = fanout_repo.add(first, "{}", fanout_repo.Audience.NETWORK, 0.0)
        assert not first.in_transaction
        assert fanout_repo.unfinished(second) == [fanout_id]
    finally:
        first.close()
        second.close()


def test_an_expired_lease_is_claimed_again_in_destination_order(connection: Connection) -> None:
    queue(connection, destinations=1, per_destination=2)
    [head] = claim_due(connection, 0.0, 10, lease_s=10.0)
    assert head.dedupe_key == "0:0" and lease_of(connection, "0:0") == ("sending", 10.0)
    assert claim_due(connection, 9.9, 10, lease_s=10.0) == []  # alive: its destination waits
    [again] = claim_due(connection, 10.0, 10, lease_s=10.0)  # the claimer died: taken again, not "0:1"
    assert (again.id, again.dedupe_key, again.attempts) == (head.id, "0:0", 0)
    assert lease_of(connection, "0:0") == ("sending", 20.0)  # the new claim holds a new lease
    mark_all_sent(connection, [(again.id, 11.0)])
    assert lease_of(connection, "0:0") == ("sent", None)
    assert [m.dedupe_key for m in claim_due(connection, 11.0, 10)] == ["0:1"]


def test_a_claim_in_flight_on_one_replica_is_skipped_by_the_other(postgres_url: str) -> None:
    """PostgreSQL: while one replica's claim transaction holds its rows, the other claims the other
    destinations without waiting (``FOR UPDATE SKIP LOCKED``), never a row of the same destination. (SQLite
    has one writer: a second claim waits for the first to commit, which the test below covers.)"""
    first, second = connect_to(postgres_url), connect_to(postgres_url)
    try:
        queue(first, destinations=6, per_destination=2)
        second.execute("SET lock_timeout = '2s'")  # a claim that waited on the first would fail, not hang
        with first.atomic():
            mine = claim_due(first, 1.0, 3)
            theirs = claim_due(second, 1.0, 10)
        assert [m.dedupe_key for m in mine] == ["0:0", "1:0", "2:0"]
        assert [m.dedupe_key for m in theirs] == ["3:0", "4:0", "5:0"]
    finally:
        first.close()
        second.close()


def test_replicas_claiming_and_sending_together_send_every_row_once_in_order(store_location: str) -> None:
    """Two threads, each with its own connection, claim and mark sent until the outbox is empty."""
    setup = connect_to(store_location)
    queue(setup, destinations=12, per_destination=8)
    setup.close()
    order = itertools.count()
    lock = threading.Lock()
    claims: list[tuple[int, int, str]] = []  # (sequence, row id, destination)
    failures: list[BaseException] = []

    def replica() -> None:
        db: Adapter = connect_to(store_location)
        try:
            for _ in range(1000):
                claimed = claim_due(db, 1.0, 5)
                with lock:
                    claims.extend((next(order), m.id, m.destination) for m in claimed)
                mark_all_sent(db, [(m.id, 2.0) for m in claimed])
                left = counts(db)
                if left[OutboxStatus.PENDING] + left[OutboxStatus.SENDING] == 0:
                    return
        except BaseException as exc:
            failures.append(exc)
        finally:
            db.close()

    threads = [threading.Thread(target=replica) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert failures == []
    ids = [row_id for _, row_id, _ in claims]
    assert len(ids) == len(set(ids)) == 12 * 8  # every row, each once
    by_destination: dict[str, list[int]] = defaultdict(list)
    for _, row_id, destination in sorted(claims):
        by_destination[destination].append(row_id)
    assert all(rows == sorted(rows) for rows in by_destination.values())


def test_a_rule_cap_holds_when_two_replicas_add_the_last_rule_together(postgres_url: str) -> None:
    """PostgreSQL: the second replica's count waits for the first's insert (the chat's row lock) instead of
    counting past it; once the first commits, the second is refused. (SQLite: one writer.)"""
    rule = Rule(Metric.PRICE, Op.BELOW, 60_000.0, 600.0)
    keyed = KeyedRule(KeyMetric.PRICE_USD, Op.BELOW, 60_000.0, 60_600.0)
    first, second = connect_to(postgres_url), connect_to(postgres_url)
    try:
        chat = upsert_chat(first, "telegram", "1", ChatKind.PRIVATE, 0.0).id
        for _ in range(MAX_RULES_PER_CHAT - 1):
            add_threshold(first, chat, rule, keyed, RuleState(armed=True), 0.0)
        second.execute("SET lock_timeout = '300ms'")
        with first.atomic():
            add_threshold(first, chat, rule, keyed, RuleState(armed=True), 0.0)  # the last one, uncommitted
            with pytest.raises(psycopg.errors.LockNotAvailable):
                add_threshold(second, chat, rule, keyed, RuleState(armed=True), 0.0)
        with pytest.raises(TooManyRulesError):
            add_threshold(second, chat, rule, keyed, RuleState(armed=True), 0.0)
        assert second.execute("SELECT COUNT(*) FROM subscriptions").one() == (MAX_RULES_PER_CHAT,)
    finally:
        first.close()
        second.close()
