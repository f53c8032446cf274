"""The outbox repository: dedupe, per-destination order, claims, retries, dead letters, recovery."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from bot.chat.kinds import ChatKind
from bot.store import Connection, connect
from bot.store.chats import upsert_chat
from bot.store.outbox import (
    LEASE_RESET,
    NewMessage,
    OutboxMessage,
    OutboxStatus,
    Priority,
    claim_due,
    counts,
    dead_letter,
    drop_for_chat,
    enqueue,
    expire,
    get_message,
    mark_all_sent,
    mark_sent,
    next_due_at,
    recover_inflight,
    redirect,
    release,
    reschedule,
    retry_now,
)


@pytest.fixture
def db(connection: Connection) -> Connection:
    """A migrated connection, on SQLite and on PostgreSQL."""
    return connection


@pytest.fixture
def chats(db: Connection) -> dict[str, int]:
    return {name: upsert_chat(db, "telegram", name, ChatKind.PRIVATE, now=0.0).id for name in ("a", "b", "c")}


def msg(chats: dict[str, int], destination: str, key: str, image: bytes | None = None) -> NewMessage:
    return NewMessage(key, chats[destination], "telegram", destination, "test", f"text {key}", image)


def stored(db: Connection, row_id: int) -> OutboxMessage:
    message = get_message(db, row_id)
    assert message is not None
    return message


def claimed_keys(db: Connection, now: float, limit: int = 10) -> list[str]:
    return [m.dedupe_key for m in claim_due(db, now, limit)]


def test_enqueue_ignores_repeated_dedupe_keys(db: Connection, chats: dict[str, int]) -> None:
    assert enqueue(db, [msg(chats, "a", "k1"), msg(chats, "a", "k2", b"\x89PNG")], now=5.0) == 2
    assert enqueue(db, [msg(chats, "a", "k1"), msg(chats, "b", "k3")], now=6.0) == 1
    second = stored(db, 2)
    assert (second.image, second.status, second.next_attempt_at, second.chat_kind) == (
        b"\x89PNG",
        OutboxStatus.PENDING,
        5.0,
        "private",
    )
    assert counts(db)[OutboxStatus.PENDING] == 3


def test_claims_only_the_head_of_each_destination_in_order(db: Connection, chats: dict[str, int]) -> None:
    enqueue(db, [msg(chats, "a", "a1"), msg(chats, "b", "b1"), msg(chats, "a", "a2")], now=0.0)
    assert claimed_keys(db, now=1.0) == ["a1", "b1"]
    assert claimed_keys(db, now=1.0) == []  # heads in flight block their destinations
    mark_sent(db, 1, now=2.0)
    assert claimed_keys(db, now=2.0) == ["a2"]
    assert (stored(db, 1).status, stored(db, 1).sent_at) == (OutboxStatus.SENT, 2.0)


def test_a_head_waiting_for_retry_blocks_later_messages(db: Connection, chats: dict[str, int]) -> None:
    enqueue(db, [msg(chats, "a", "a1"), msg(chats, "a", "a2")], now=0.0)
    [head] = claim_due(db, now=0.0, limit=10)
    reschedule(db, head.id, at=50.0, error="timeout")
    assert claimed_keys(db, now=10.0) == []
    assert next_due_at(db) == 50.0
    retried = claim_due(db, now=50.0, limit=10)
    assert [(m.dedupe_key, m.attempts, m.last_error) for m in retried] == [("a1", 1, "timeout")]


def test_release_and_uncounted_reschedule_do_not_count_attempts(
    db: Connection, chats: dict[str, int]
) -> None:
    enqueue(db, [msg(chats, "a", "a1")], now=0.0)
    [head] = claim_due(db, now=0.0, limit=1)
    release(db, head.id, at=3.0)
    [head] = claim_due(db, now=3.0, limit=1)
    reschedule(db, head.id, at=4.0, error="retry after 1 s", count_attempt=False)
    assert (stored(db, head.id).attempts, stored(db, head.id).next_attempt_at) == (0, 4.0)


def test_limit_and_oldest_due_first(db: Connection, chats: dict[str, int]) -> None:
    enqueue(db, [msg(chats, "c", "c1")], now=3.0)
    enqueue(db, [msg(chats, "b", "b1")], now=2.0)
    enqueue(db, [msg(chats, "a", "a1")], now=1.0)
    assert claimed_keys(db, now=5.0, limit=2) == ["a1", "b1"]


def test_dead_letters_do_not_block(db: Connection, chats: dict[str, int]) -> None:
    enqueue(db, [msg(chats, "a", "a1"), msg(chats, "a", "a2")], now=0.0)
    [head] = claim_due(db, now=0.0, limit=1)
    dead_letter(db, head.id, "Bad Request: message is too long")
    dead = stored(db, head.id)
    assert (dead.status, dead.attempts, dead.last_error) == (
        OutboxStatus.DEAD,
        1,
        "Bad Request: message is too long",
    )
    assert claimed_keys(db, now=0.0) == ["a2"]


def test_drop_and_redirect_touch_only_undelivered_rows(db: Connection, chats: dict[str, int]) -> None:
    enqueue(
        db,
        [msg(chats, "a", "a1"), msg(chats, "a", "a2"), msg(chats, "a", "a3"), msg(chats, "b", "b1")],
        now=0.0,
    )
    mark_sent(db, 1, now=1.0)
    claim_due(db, now=1.0, limit=10)  # a2 and b1 in flight
    assert redirect(db, chats["a"], "a-new") == 2
    assert [stored(db, i).destination for i in (1, 2, 3)] == ["a", "a-new", "a-new"]
    assert drop_for_chat(db, chats["a"], "chat not found") == 2
    assert [stored(db, i).status for i in (1, 2, 3, 4)] == [
        OutboxStatus.SENT,
        OutboxStatus.DROPPED,
        OutboxStatus.DROPPED,
        OutboxStatus.SENDING,
    ]


def test_recover_inflight_returns_claims_to_pending(db: Connection, chats: dict[str, int]) -> None:
    enqueue(db, [msg(chats, "a", "a1"), msg(chats, "b", "b1")], now=0.0)
    claim_due(db, now=0.0, limit=10)
    assert next_due_at(db) is None
    assert recover_inflight(db) == 2
    assert claimed_keys(db, now=0.0) == ["a1", "b1"]


def test_claims_and_due_times_skip_or_keep_to_a_platform(db: Connection, chats: dict[str, int]) -> None:
    discord = upsert_chat(db, "discord", "d", ChatKind.DM, now=0.0).id
    enqueue(db, [msg(chats, "a", "t1"), NewMessage("d1", discord, "discord", "d", "test", "x")], now=5.0)
    enqueue(db, [msg(chats, "b", "t2")], now=7.0)
    assert next_due_at(db, skip=("telegram",)) == 5.0
    assert next_due_at(db, only="telegram") == 5.0
    assert next_due_at(db, skip=("telegram", "discord")) is None
    assert [m.dedupe_key for m in claim_due(db, 10.0, 10, skip=("telegram",))] == ["d1"]
    assert [m.dedupe_key for m in claim_due(db, 10.0, 1, only="telegram")] == ["t1"]
    assert next_due_at(db, only="telegram") == 7.0


def test_expire_takes_only_old_pending_rows(db: Connection, chats: dict[str, int]) -> None:
    enqueue(db, [msg(chats, "a", "old"), msg(chats, "b", "old-sending")], now=1.0)
    enqueue(db, [msg(chats, "c", "new")], now=100.0)
    [sending] = claim_due(db, 1.0, 1, only="telegram")
    assert sending.dedupe_key == "old"
    assert [(e.id, e.destination) for e in expire(db, created_before=50.0)] == [(2, "b")]
    assert [stored(db, i).status for i in (1, 2, 3)] == [
        OutboxStatus.SENDING,
        OutboxStatus.EXPIRED,
        OutboxStatus.PENDING,
    ]


def test_retry_now_brings_forward_only_failed_pending_rows_of_the_platform(
    db: Connection, chats: dict[str, int]
) -> None:
    discord = upsert_chat(db, "discord", "d", ChatKind.DM, now=0.0).id
    enqueue(db, [msg(chats, "a", "failed"), msg(chats, "b", "later"), msg(chats, "c", "sent")], now=1.0)
    enqueue(db, [NewMessage("d1", discord, "discord", "d", "test", "x")], now=1.0)
    reschedule(db, 1, 60.0, "Bad Gateway")
    release(db, 2, 60.0)  # paced, never failed
    reschedule(db, 3, 60.0, "Bad Gateway")
    mark_sent(db, 3, 70.0)
    reschedule(db, 4, 60.0, "Bad Gateway")
    assert retry_now(db, "telegram", 10.0) == 1
    assert [stored(db, i).next_attempt_at for i in (1, 2, 4)] == [10.0, 60.0, 60.0]


def broadcast(chats: dict[str, int], destination: str, key: str) -> NewMessage:
    return replace(msg(chats, destination, key), priority=Priority.BROADCAST)


def test_personal_alerts_are_claimed_before_older_broadcasts(db: Connection, chats: dict[str, int]) -> None:
    enqueue(db, [broadcast(chats, "a", "net-a"), broadcast(chats, "b", "net-b")], now=1.0)
    enqueue(db, [msg(chats, "c", "mine-c")], now=2.0)
    assert claimed_keys(db, now=3.0, limit=1) == ["mine-c"]
    assert claimed_keys(db, now=3.0) == ["net-a", "net-b"]


def test_a_personal_alert_lifts_its_chats_queued_rows_and_keeps_their_order(
    db: Connection, chats: dict[str, int]
) -> None:
    enqueue(db, [broadcast(chats, "a", "net-a"), broadcast(chats, "b", "net-b")], now=1.0)
    enqueue(db, [msg(chats, "a", "mine-a")], now=2.0)
    assert stored(db, 1).priority is Priority.PERSONAL  # lifted: a's broadcast no longer waits for b's
    assert stored(db, 2).priority is Priority.BROADCAST
    assert claimed_keys(db, now=3.0, limit=1) == ["net-a"]  # order in chat a holds: broadcast first
    mark_all_sent(db, [(1, 3.0)])
    assert claimed_keys(db, now=3.0, limit=1) == ["mine-a"]  # then a's alert, still before b's broadcast
    assert claimed_keys(db, now=3.0) == ["net-b"]


def test_the_claim_walks_the_priority_index_on_sqlite(tmp_path: Path) -> None:
    db = connect(tmp_path / "m.db")
    plan = str(
        db.execute(
            """EXPLAIN QUERY PLAN SELECT o.id FROM outbox o INDEXED BY outbox_claim
               WHERE o.status = 'pending' AND o.priority IN (0, 1, 2) AND o.next_attempt_at <= 5
               ORDER BY o.priority, o.next_attempt_at, o.id LIMIT 10"""
        ).fetchall()
    )
    assert "outbox_claim" in plan and "TEMP B-TREE" not in plan
    lease_reset = str(db.execute(f"EXPLAIN QUERY PLAN {LEASE_RESET}", [5.0]).fetchall())
    assert "SEARCH outbox USING INDEX" in lease_reset and "(status=?)" in lease_reset  # in-flight rows only


def test_mark_all_sent_records_each_send_time_in_one_transaction(
    db: Connection, chats: dict[str, int]
) -> None:
    enqueue(db, [msg(chats, "a", "a1"), msg(chats, "b", "b1")], now=1.0)
    claim_due(db, 1.0, 10)
    mark_all_sent(db, [(1, 4.0), (2, 5.0)])
    assert not db.in_transaction
    assert [(stored(db, i).status, stored(db, i).sent_at) for i in (1, 2)] == [
        (OutboxStatus.SENT, 4.0),
        (OutboxStatus.SENT, 5.0),
    ]
