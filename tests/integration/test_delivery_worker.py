"""OutboxWorker against a real Store and a recording fake Notifier, on virtual time (never sleeps)."""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlite_utils import Database

from bot.alerts.rules import KeyedRule, KeyMetric, Metric, Op, Rule, RuleState
from bot.delivery import (
    ChatGone,
    ChatMoved,
    Destination,
    OutboundMessage,
    OutboxWorker,
    PermanentFailure,
    RetryAfter,
    SendOutcome,
    Sent,
    TransientFailure,
)
from bot.delivery import worker as worker_module
from bot.store import Store
from bot.store.chats import ChatKind, find_chat, get_chat, upsert_chat
from bot.store.outbox import (
    NewMessage,
    OutboxStatus,
    claim_due,
    counts,
    enqueue,
    get_message,
    mark_sent,
    next_due_at,
)
from bot.store.subscriptions import add_threshold, list_for_chat

START = 1_700_000_000.0


class VirtualTime:
    """Clock and sleep on virtual time: a sleep yields once, then moves the clock to its wake-up time."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        wake = self.now + seconds
        await asyncio.sleep(0)
        self.now = max(self.now, wake)


class FakeNotifier:
    """Records every send with its virtual time; answers from a per-chat script, else ``Sent``."""

    def __init__(self, clock: VirtualTime, platform: str = "telegram") -> None:
        self.platform = platform
        self.clock = clock
        self.sends: list[tuple[float, str, str]] = []
        self.script: dict[str, list[SendOutcome | Exception]] = defaultdict(list)
        self.sent_event = asyncio.Event()

    async def send(self, destination: Destination, message: OutboundMessage) -> SendOutcome:
        assert destination.platform == self.platform
        self.sends.append((self.clock(), destination.chat_id, message.text))
        self.sent_event.set()
        if self.script[destination.chat_id]:
            answer = self.script[destination.chat_id].pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer
        return Sent()

    def texts_to(self, chat_id: str) -> list[str]:
        return [text for _, to, text in self.sends if to == chat_id]

    def times_to(self, chat_id: str) -> list[float]:
        return [at for at, to, _ in self.sends if to == chat_id]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "m.db")
    yield opened
    await opened.close()


@pytest.fixture
def clock() -> VirtualTime:
    return VirtualTime()


@pytest.fixture
def notifier(clock: VirtualTime) -> FakeNotifier:
    return FakeNotifier(clock)


def make_worker(store: Store, clock: VirtualTime, *notifiers: FakeNotifier, **limits: Any) -> OutboxWorker:
    return OutboxWorker(store, {n.platform: n for n in notifiers}, clock=clock, sleep=clock.sleep, **limits)


async def add_chat(
    store: Store, chat_id: str, kind: ChatKind = ChatKind.PRIVATE, platform: str = "telegram"
) -> int:
    chat = await store.run(upsert_chat, platform, chat_id, kind, START)
    return chat.id


async def put(store: Store, chat_id: str, *texts: str, platform: str = "telegram") -> None:
    chat = await store.run(find_chat, platform, chat_id)
    assert chat is not None
    rows = [NewMessage(f"{chat_id}:{text}", chat.id, platform, chat_id, "test", text) for text in texts]
    await store.run(enqueue, rows, START)


async def drain(store: Store, worker: OutboxWorker, clock: VirtualTime, max_rounds: int = 5000) -> None:
    """Run rounds, jumping the clock to the next due row, until nothing is pending."""
    for _ in range(max_rounds):
        await worker.run_once()
        due = await store.run(next_due_at)
        if due is None:
            return
        clock.now = max(clock.now, due)
    raise AssertionError("outbox did not drain")


async def test_order_per_destination_and_per_chat_spacing(
    store: Store, clock: VirtualTime, notifier: FakeNotifier
) -> None:
    for chat_id in ("1", "2", "3"):
        await add_chat(store, chat_id)
    for n in range(5):
        for chat_id in ("1", "2", "3"):
            await put(store, chat_id, f"m{n}")
    await drain(store, make_worker(store, clock, notifier), clock)
    for chat_id in ("1", "2", "3"):
        assert notifier.texts_to(chat_id) == [f"m{n}" for n in range(5)]
        times = notifier.times_to(chat_id)
        assert all(later - earlier >= 1.0 for earlier, later in itertools.pairwise(times))
    assert (await store.run(counts))[OutboxStatus.SENT] == 15


async def test_global_token_bucket(store: Store, clock: VirtualTime, notifier: FakeNotifier) -> None:
    for n in range(200):
        await add_chat(store, str(n))
        await put(store, str(n), "hello")
    await drain(store, make_worker(store, clock, notifier, global_rate_per_s=25.0), clock)
    times = sorted(at for at, _, _ in notifier.sends)
    assert len(times) == 200
    for k, at in enumerate(times):  # no burst: evenly spaced at 25 per second
        assert at >= START + k / 25 - 1e-9
    # capacity 1 + rate 25: never more than 26 sends in any sliding second (Telegram's ceiling is 30)
    assert all(sum(1 for t in times if start <= t < start + 1.0) <= 26 for start in times)
    assert times[-1] - START < 8.5  # and not much slower than that


async def test_group_limit_per_minute(store: Store, clock: VirtualTime, notifier: FakeNotifier) -> None:
    await add_chat(store, "-100", ChatKind.GROUP)
    await put(store, "-100", *(f"m{n}" for n in range(45)))
    await drain(store, make_worker(store, clock, notifier, group_per_minute=20), clock)
    times = notifier.times_to("-100")
    assert notifier.texts_to("-100") == [f"m{n}" for n in range(45)]
    assert all(sum(1 for t in times if start <= t < start + 60) <= 20 for start in times)
    assert times[20] >= times[0] + 60


async def test_retry_after_pauses_the_platform(
    store: Store, clock: VirtualTime, notifier: FakeNotifier
) -> None:
    other = FakeNotifier(clock, platform="discord")
    await add_chat(store, "a")
    await add_chat(store, "b")
    await add_chat(store, "d", ChatKind.CHANNEL, platform="discord")
    await put(store, "a", "a1")
    await put(store, "b", "b1", "b2")
    await put(store, "d", "d1", "d2", platform="discord")
    notifier.script["a"].append(RetryAfter(30))
    worker = make_worker(store, clock, notifier, other)

    await worker.run_once()
    retried = await store.run(get_message, 1)
    assert retried is not None
    assert (retried.status, retried.next_attempt_at, retried.attempts) == (
        OutboxStatus.PENDING,
        START + 30,
        0,
    )
    await drain(store, worker, clock)
    # not yet sent when the 429 came: waited for the pause (plus one 1/25 s pacing slot)
    assert notifier.times_to("b") == pytest.approx([START + 30, START + 31], abs=0.05)
    assert notifier.times_to("a") == [START, START + 30]
    assert other.times_to("d") == [START, START + 1]  # the other platform was not paused


async def test_chat_gone_deactivates_and_drops(
    store: Store, clock: VirtualTime, notifier: FakeNotifier
) -> None:
    chat_ref = await add_chat(store, "a")
    rule = Rule(Metric.PRICE, Op.BELOW, 1.0, 0.0)
    keyed = KeyedRule(KeyMetric.PRICE_USD, Op.BELOW, 1.0, 1.0)
    await store.run(add_threshold, chat_ref, rule, keyed, RuleState(armed=True), START)
    await put(store, "a", "a1", "a2")
    notifier.script["a"].append(ChatGone("Forbidden: bot was blocked by the user"))
    await drain(store, make_worker(store, clock, notifier), clock)
    chat = await store.run(get_chat, chat_ref)
    assert chat is not None and (chat.active, chat.reason) == (
        False,
        "Forbidden: bot was blocked by the user",
    )
    assert [s.active for s in await store.run(list_for_chat, chat_ref)] == [False]
    assert (await store.run(counts))[OutboxStatus.DROPPED] == 2
    assert notifier.texts_to("a") == ["a1"]


async def test_chat_moved_follows_the_new_id(
    store: Store, clock: VirtualTime, notifier: FakeNotifier
) -> None:
    chat_ref = await add_chat(store, "-100", ChatKind.GROUP)
    await put(store, "-100", "m1", "m2")
    notifier.script["-100"].append(ChatMoved("-1001"))
    await drain(store, make_worker(store, clock, notifier), clock)
    assert notifier.texts_to("-100") == ["m1"]
    assert notifier.texts_to("-1001") == ["m1", "m2"]
    assert notifier.times_to("-1001")[0] == pytest.approx(
        START, abs=0.05
    )  # retried at once (one pacing slot)
    chat = await store.run(get_chat, chat_ref)
    assert chat is not None and (chat.chat_id, chat.kind) == ("-1001", ChatKind.SUPERGROUP)


async def test_transient_failures_back_off_then_dead_letter(
    store: Store, clock: VirtualTime, notifier: FakeNotifier
) -> None:
    await add_chat(store, "a")
    await put(store, "a", "a1", "a2")
    notifier.script["a"].extend([TransientFailure("502 Bad Gateway"), OSError("connection reset")])
    notifier.script["a"].append(TransientFailure("timeout"))
    worker = OutboxWorker(
        store,
        {"telegram": notifier},
        clock=clock,
        sleep=clock.sleep,
        max_attempts=3,
        backoff=lambda n: 10.0 * n,
    )
    await drain(store, worker, clock)
    assert notifier.times_to("a") == [START, START + 10, START + 30, START + 31]
    dead = await store.run(get_message, 1)
    assert dead is not None
    assert (dead.status, dead.attempts, dead.last_error) == (
        OutboxStatus.DEAD,
        3,
        "gave up after 3 attempts: timeout",
    )
    assert notifier.texts_to("a")[-1] == "a2"
    assert (await store.run(counts))[OutboxStatus.SENT] == 1


async def test_exception_is_recorded_as_transient(
    store: Store, clock: VirtualTime, notifier: FakeNotifier
) -> None:
    await add_chat(store, "a")
    await put(store, "a", "a1")
    notifier.script["a"].append(OSError("connection reset"))
    await make_worker(store, clock, notifier).run_once()
    row = await store.run(get_message, 1)
    assert row is not None
    assert (row.status, row.attempts, row.last_error) == (
        OutboxStatus.PENDING,
        1,
        "OSError: connection reset",
    )


async def test_permanent_failure_dead_letters_and_moves_on(
    store: Store, clock: VirtualTime, notifier: FakeNotifier
) -> None:
    await add_chat(store, "a")
    await put(store, "a", "a1", "a2")
    notifier.script["a"].append(PermanentFailure("Bad Request: message is too long"))
    await drain(store, make_worker(store, clock, notifier), clock)
    dead = await store.run(get_message, 1)
    assert dead is not None and (dead.status, dead.last_error) == (
        OutboxStatus.DEAD,
        "Bad Request: message is too long",
    )
    assert notifier.texts_to("a") == ["a1", "a2"]


async def test_a_platform_without_notifier_waits(
    store: Store, clock: VirtualTime, notifier: FakeNotifier
) -> None:
    await add_chat(store, "x", ChatKind.DM, platform="discord")
    await put(store, "x", "x1", platform="discord")
    assert await make_worker(store, clock, notifier).run_once() == 0
    row = await store.run(get_message, 1)
    assert row is not None and (row.status, row.next_attempt_at) == (OutboxStatus.PENDING, START + 300)


async def test_run_recovers_wakes_on_notify_and_survives_errors(
    store: Store, clock: VirtualTime, notifier: FakeNotifier
) -> None:
    await add_chat(store, "a")
    await put(store, "a", "left in flight")
    await store.run(claim_due, START, 10)  # as if a previous process died mid-send
    worker = make_worker(store, clock, notifier)
    real_run_once = worker.run_once
    calls = 0

    async def flaky() -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("database is locked")
        return await real_run_once()

    worker.run_once = flaky  # type: ignore[method-assign]
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    await asyncio.wait_for(notifier.sent_event.wait(), timeout=10)
    assert notifier.texts_to("a") == ["left in flight"]

    notifier.sent_event.clear()
    await put(store, "a", "new")
    worker.notify()
    await asyncio.wait_for(notifier.sent_event.wait(), timeout=10)
    stop.set()
    await asyncio.wait_for(task, timeout=10)
    assert notifier.texts_to("a") == ["left in flight", "new"]
    assert calls >= 2


async def test_an_unrecorded_outcome_is_recovered_by_run(
    store: Store, clock: VirtualTime, notifier: FakeNotifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    await add_chat(store, "a")
    await put(store, "a", "a1")
    attempts: list[int] = []

    def mark_sent_failing_once(db: Database, row_id: int, now: float) -> None:
        attempts.append(row_id)
        if len(attempts) == 1:
            raise sqlite3.OperationalError("database is locked")
        mark_sent(db, row_id, now)

    monkeypatch.setattr(worker_module, "mark_sent", mark_sent_failing_once)
    worker = make_worker(store, clock, notifier)
    with pytest.raises(RuntimeError, match="not recorded"):
        await worker.run_once()
    assert (await store.run(counts))[OutboxStatus.SENDING] == 1

    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    for _ in range(1000):
        if (await store.run(counts))[OutboxStatus.SENT] == 1:
            break
    stop.set()
    await asyncio.wait_for(task, timeout=10)
    assert notifier.texts_to("a") == ["a1", "a1"]  # at least once: the unrecorded send is repeated
    assert (await store.run(counts))[OutboxStatus.SENT] == 1
