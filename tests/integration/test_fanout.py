"""A network event to every subscriber: written in short chunks that resume, while commands are answered."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.alerts.events import AlertEvent, EventKind
from bot.alerts.regime import RegimeParams
from bot.chat.commands import parse_command
from bot.chat.context import Chat
from bot.chat.services import StoreServices
from bot.config import Settings
from bot.data import load_difficulty_regression
from bot.render.alerts import render_event
from bot.store import Store, fanouts
from bot.store.connection import Connection
from bot.store.outbox import OutboxStatus, Priority, counts, get_message
from bot.watch.loop import FANOUT_BATCH, Chunk, Watch, fan_out_chunk
from handlers.router import dispatch

AT = datetime(2026, 2, 5, 12, 0, tzinfo=UTC)
EVENT = AlertEvent(
    EventKind.REGIME_CAPITULATION,
    f"regime:capitulation:{AT.isoformat()}",
    AT,
    {
        "premium_pct": -23.4,
        "price_usd": 66_680.0,
        "cost_usd_per_btc": 87_012.4,
        "cost_model": "difficulty-regression",
        "cost_significant_digits": 2,
        "recovery_above_usd": 89_622.8,
    },
)


def add_subscribers(db: Connection, count: int, first_id: int = 1, language: str = "en") -> None:
    """``count`` chats subscribed to network events, in one transaction (raw inserts: fast)."""
    ids = range(first_id, first_id + count)
    with db.atomic():
        db.executemany(
            """INSERT INTO chats (id, platform, chat_id, kind, language, created_at)
               VALUES (?, 'telegram', ?, 'private', ?, 0)""",
            ((i, str(700_000_000 + i), language) for i in ids),
        )
        db.executemany(
            "INSERT INTO subscriptions (chat_ref, kind, created_at) VALUES (?, 'network', 0)",
            ((i,) for i in ids),
        )


@pytest.fixture
def db(connection: Connection) -> Connection:
    """A migrated connection, on SQLite and on PostgreSQL."""
    return connection


def test_chunks_stop_at_their_budget_resume_and_reach_every_chat_once(db: Connection) -> None:
    add_subscribers(db, 900)
    add_subscribers(db, 100, first_id=901, language="ru")
    db.execute("UPDATE chats SET active = 0 WHERE id = 5")
    fanout_id = fanouts.add(db, EVENT.to_json(), fanouts.Audience.NETWORK, 1.0)
    ticks = itertools.count()

    def clock() -> float:  # every call costs 10 ms of "work"
        return next(ticks) * 0.01

    chunks = []
    while True:
        with db.atomic():
            chunk = fan_out_chunk(db, fanout_id, 2.0, budget_s=0.025, clock=clock)
        chunks.append(chunk.written)
        if chunk.done:
            break
        job = fanouts.get(db, fanout_id)
        assert job is not None and job.after_chat_ref == sum(chunks) + 1  # chat 5 (inactive) was skipped
    assert chunks[:-1] == [3 * FANOUT_BATCH] * (len(chunks) - 1)  # 3 batches of work each, then the rest
    assert sum(chunks) == 999 and 0 < chunks[-1] <= 3 * FANOUT_BATCH
    assert fanouts.get(db, fanout_id) is None
    rows = db.execute("SELECT chat_ref, text, priority FROM outbox ORDER BY chat_ref").fetchall()
    assert [ref for ref, _, _ in rows] == [ref for ref in range(1, 1001) if ref != 5]
    assert {text for ref, text, _ in rows if ref <= 900} == {render_event(EVENT, "en")}
    assert {text for ref, text, _ in rows if ref > 900} == {render_event(EVENT, "ru")}
    assert {priority for _, _, priority in rows} == {Priority.BROADCAST}
    # the same event fanned out again (a chunk whose commit a power loss undid) adds nothing twice
    fanout_id = fanouts.add(db, EVENT.to_json(), fanouts.Audience.NETWORK, 1.0)
    again: list[Chunk] = []
    while not again or not again[-1].done:
        with db.atomic():
            again.append(fan_out_chunk(db, fanout_id, 3.0, clock=clock))
    assert sum(chunk.written for chunk in again) == 0
    message = get_message(db, 1)
    assert message is not None and message.dedupe_key == f"{EVENT.key}|1"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "bot.db")
    yield opened
    await opened.close()


async def test_a_command_is_answered_while_a_100k_chat_fan_out_runs(store: Store) -> None:
    await store.run(add_subscribers, 100_000)
    await store.run(fanouts.add, EVENT.to_json(), fanouts.Audience.NETWORK, time.time())
    holds: list[float] = []

    def timed_chunk(db: Connection, fanout_id: int, now: float) -> object:
        started = time.perf_counter()
        try:
            return fan_out_chunk(db, fanout_id, now)
        finally:
            holds.append(time.perf_counter() - started)

    wakes = 0
    first_chunk = asyncio.Event()

    def woken() -> None:
        nonlocal wakes
        wakes += 1
        first_chunk.set()

    watch = Watch(store, load_difficulty_regression(), RegimeParams(), clock=time.time, on_enqueued=woken)
    real_bookkeeping = store.bookkeeping

    async def bookkeeping(fn: Any, *args: Any, **kwargs: Any) -> Any:
        return await real_bookkeeping(timed_chunk if fn is fan_out_chunk else fn, *args, **kwargs)

    store.bookkeeping = bookkeeping  # type: ignore[method-assign]
    fanning = asyncio.create_task(watch.fan_out())
    await first_chunk.wait()
    services = StoreServices(store, Settings.model_validate({}), load_difficulty_regression())
    request = parse_command(Chat(platform="telegram", chat_id="42"), "/subscribe network")
    assert request is not None
    reply = await dispatch(request, services)
    pending_when_answered = (await store.run(counts))[OutboxStatus.PENDING]
    assert reply.text.startswith("✅ Subscribed")
    assert not fanning.done() and 0 < pending_when_answered < 100_000  # answered between two chunks
    assert await fanning == 100_001  # and the chat that subscribed meanwhile is reached too (a later id)
    assert (await store.run(counts))[OutboxStatus.PENDING] == 100_001
    assert await store.run(fanouts.unfinished) == []
    assert wakes == len(holds) > 10  # the worker is woken after each chunk, so sending starts at once
    print(f"\n{len(holds)} chunks, longest store hold {max(holds) * 1000:.0f} ms")
