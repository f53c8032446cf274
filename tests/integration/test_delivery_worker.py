"""OutboxWorker against a real Store and a recording fake Notifier, on virtual time (never sleeps)."""

from __future__ import annotations

import asyncio
import itertools
import logging
import sqlite3
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import pytest

from bot.alerts.rules import KeyedRule, KeyMetric, Metric, Op, Rule, RuleState
from bot.chat.kinds import ChatKind
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
from bot.delivery.rates import SendRates, Window
from bot.ops.metrics import REGISTRY
from bot.store import Store
from bot.store.chats import find_chat, get_chat, upsert_chat
from bot.store.connection import Connection
from bot.store.outbox import (
    NewMessage,
    OutboxStatus,
    Priority,
    claim_due,
    counts,
    enqueue,
    get_message,
    mark_all_sent,
    next_due_at,
)
from bot.store.subscriptions import add_threshold, list_for_chat
from bot.transports.discord import RATES as DISCORD_RATES
from bot.transports.telegram import RATES as TELEGRAM_RATES

START = 1_700_000_000.0
PACED = SendRates(per_s=25.0, private=Window(1, 1.0), group=Window(20, 60.0))


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
        self.delivered: list[tuple[float, str, str]] = []
        self.script: dict[str, list[SendOutcome | Exception]] = defaultdict(list)
        self.down: tuple[float, float] | None = None
        """An outage: from, until (virtual time), every send answers 502."""
        self.sent_event = asyncio.Event()

    async def send(self, destination: Destination, message: OutboundMessage) -> SendOutcome:
        assert destination.platform == self.platform
        self.sends.append((self.clock(), destination.chat_id, message.text))
        self.sent_event.set()
        if self.down is not None and self.down[0] <= self.clock() < self.down[1]:
            return TransientFailure("Bad Gateway")
        if self.script[destination.chat_id]:
            answer = self.script[destination.chat_id].pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer
        self.delivered.append((self.clock(), destination.chat_id, message.text))
        return Sent()

    def texts_to(self, chat_id: str) -> list[str]:
        return [text for _, to, text in self.sends if to == chat_id]

    def times_to(self, chat_id: str) -> list[float]:
        return [at for at, to, _ in self.sends if to == chat_id]


@pytest.fixture
def store(backend_store: Store) -> Store:
    """An open store, on SQLite and on PostgreSQL."""
    return backend_store


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
    """Run rounds, jumping the clock to the next due row or probe, until nothing is pending."""
    for _ in range(max_rounds):
        await worker.run_once()
        due = await worker.next_round_at()
        if due is None:
            assert await store.run(next_due_at) is None
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
    await drain(store, make_worker(store, clock, notifier, rates={"telegram": PACED}), clock)
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
    await drain(store, make_worker(store, clock, notifier, rates={"telegram": PACED}), clock)
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
    # the other platform was not paused (a channel: only the 20-a-minute window, and its own 25/s bucket)
    assert other.times_to("d") == pytest.approx([START, START + 1 / 25])


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


async def test_transient_failures_never_dead_letter(
    store: Store, clock: VirtualTime, notifier: FakeNotifier
) -> None:
    await add_chat(store, "a")
    await put(store, "a", "a1", "a2")
    failures: list[SendOutcome | Exception] = [TransientFailure("502 Bad Gateway")] * 10
    notifier.script["a"].extend([*failures, OSError("connection reset"), TransientFailure("timeout")])
    await drain(store, make_worker(store, clock, notifier, backoff=lambda n: min(10.0 * n, 40.0)), clock)
    # one probe per back-off period (10, 20, 30, 40, 40, ...), never more than the cap
    times = notifier.times_to("a")
    assert [later - earlier for earlier, later in itertools.pairwise(times[:13])] == [10, 20, 30, *[40] * 9]
    assert notifier.texts_to("a") == ["a1"] * 13 + ["a2"]  # a2 never overtook a1
    assert await store.run(counts) == {**{status: 0 for status in OutboxStatus}, OutboxStatus.SENT: 2}
    first = await store.run(get_message, 1)
    assert first is not None and (first.attempts, first.last_error) == (12, "timeout")


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
    real_round = worker._begin_round
    calls = 0

    async def flaky() -> tuple[asyncio.Task[int], int]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("database is locked")
        return await real_round()

    worker._begin_round = flaky  # type: ignore[method-assign]
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

    def mark_sent_failing_once(db: Connection, sent: list[tuple[int, float]]) -> None:
        attempts.append(len(sent))
        if len(attempts) == 1:
            raise sqlite3.OperationalError("database is locked")
        mark_all_sent(db, sent)

    monkeypatch.setattr(worker_module, "mark_all_sent", mark_sent_failing_once)
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


async def test_a_30_minute_outage_loses_nothing_and_is_probed_not_hammered(
    store: Store, clock: VirtualTime, notifier: FakeNotifier
) -> None:
    outage_end = START + 1800.0
    notifier.down = (START, outage_end)
    chats = ["1", "2", "3", "-100"]
    for chat_id in chats:
        await add_chat(store, chat_id, ChatKind.GROUP if chat_id.startswith("-") else ChatKind.PRIVATE)
        await put(store, chat_id, "m0", "m1")
    batches = {START + 300.0: "m2", START + 1500.0: "m3", START + 1799.0: "m4"}  # alerts made meanwhile
    worker = make_worker(store, clock, notifier)
    for _ in range(5000):
        for at, text in list(batches.items()):
            if clock.now >= at:
                for chat_id in chats:
                    await put(store, chat_id, text)
                del batches[at]
        await worker.run_once()
        due = await worker.next_round_at()
        if due is None and not batches:
            break
        clock.now = max(clock.now, min(t for t in [due, *batches] if t is not None))
    else:
        raise AssertionError("outbox did not drain")

    for chat_id in chats:  # every alert once, in order
        assert [text for _, to, text in notifier.delivered if to == chat_id] == [f"m{n}" for n in range(5)]
    assert await store.run(counts) == {**{status: 0 for status in OutboxStatus}, OutboxStatus.SENT: 20}
    during = [at for at, _, _ in notifier.sends if at < outage_end]
    first_round = [at for at in during if at < START + 1]  # paced at 25/s
    assert len(first_round) == len(chats)  # the heads already in flight when the outage began
    probes = during[len(first_round) :]
    gaps = [later - earlier for earlier, later in itertools.pairwise([START, *probes])]
    assert gaps[:4] == pytest.approx([5, 10, 20, 40], abs=0.1)  # exponential back-off ...
    assert all(gap == pytest.approx(60, abs=0.1) for gap in gaps[4:])  # ... capped at one minute
    assert len(probes) <= 4 + 1800 / 60
    assert worker.unreachable() == {}
    # found again within one back-off period, then what waited goes at once (5 per chat, 1 s apart)
    delivered_at = [at for at, _, _ in notifier.delivered]
    assert outage_end <= min(delivered_at) <= outage_end + 60
    assert max(delivered_at) - min(delivered_at) <= 5


async def test_a_message_failing_alone_backs_off_without_stalling_the_platform(
    store: Store, clock: VirtualTime, notifier: FakeNotifier
) -> None:
    await add_chat(store, "a")
    await add_chat(store, "b")
    await put(store, "a", "a1")
    await put(store, "b", *(f"b{n}" for n in range(8)))
    notifier.script["a"].extend([TransientFailure("Timed out")] * 4)
    await drain(store, make_worker(store, clock, notifier), clock)
    assert notifier.texts_to("b") == [f"b{n}" for n in range(8)]
    # each failure of "a" pauses the platform for one probe period at most; "a" itself backs off 5, 10, 20, 40
    assert notifier.times_to("a") == pytest.approx(
        [START, START + 5, START + 15, START + 35, START + 75], abs=1
    )
    assert notifier.times_to("b")[-1] < START + 60


async def test_an_undeliverable_alert_expires_only_after_the_expiry(
    store: Store, clock: VirtualTime, notifier: FakeNotifier, caplog: pytest.LogCaptureFixture
) -> None:
    chat_ref = await add_chat(store, "a")
    capitulation = NewMessage("cap|a", chat_ref, "telegram", "a", "regime_capitulation", "capitulation")
    await store.run(enqueue, [capitulation], START)
    notifier.down = (START, START + 10 * 86400.0)
    worker = make_worker(store, clock, notifier, expiry_s=86400.0)
    before = REGISTRY.get_sample_value(
        "minerwatch_outbox_expired_total", {"platform": "telegram", "event_kind": "regime_capitulation"}
    )
    while clock.now < START + 86400.0 - 60:
        await worker.run_once()
        row = await store.run(get_message, 1)
        assert row is not None and row.status is OutboxStatus.PENDING, clock.now - START
        due = await worker.next_round_at()
        assert due is not None
        clock.now = due
    clock.now = START + 86400.0 + 60
    with caplog.at_level(logging.WARNING, logger="bot.delivery.worker"):
        await worker.run_once()
    row = await store.run(get_message, 1)
    assert row is not None and row.status is OutboxStatus.EXPIRED
    assert "1 regime_capitulation message(s) to telegram expired undelivered after 24.0 h" in caplog.text
    after = REGISTRY.get_sample_value(
        "minerwatch_outbox_expired_total", {"platform": "telegram", "event_kind": "regime_capitulation"}
    )
    assert after == (before or 0) + 1
    assert await worker.next_round_at() is not None  # still probing: nothing else is pending, no busy loop
    assert notifier.delivered == []


async def test_a_personal_alert_overtakes_a_running_broadcast(store: Store, clock: VirtualTime) -> None:
    notifier = FakeNotifier(clock)
    refs = [await add_chat(store, str(n)) for n in range(300)]
    rows = [
        NewMessage(
            f"net|{ref}", ref, "telegram", str(n), "regime_capitulation", "net", priority=Priority.BROADCAST
        )
        for n, ref in enumerate(refs)
    ]
    await store.run(enqueue, rows, START)
    await add_chat(store, "me")
    worker = make_worker(store, clock, notifier, rates={"telegram": TELEGRAM_RATES})
    enqueued_at = None
    for _ in range(100):
        if enqueued_at is None and clock.now >= START + 3:
            enqueued_at = clock.now
            await put(store, "me", "price below 60000")
        await worker.run_once()
        due = await worker.next_round_at()
        if due is None:
            break
        clock.now = max(clock.now, due)
    assert enqueued_at is not None
    [(sent_at, _, _)] = [send for send in notifier.sends if send[1] == "me"]
    broadcast_done = max(at for at, _, _ in notifier.sends)
    assert sent_at - enqueued_at <= 1.5  # the next round, not after the ~7 s of broadcast left
    assert broadcast_done - START >= 9.5  # 300 at 30/s: the broadcast was still running
    assert (await store.run(counts))[OutboxStatus.SENT] == 301


async def test_a_round_records_its_outcomes_in_one_commit(
    store: Store, clock: VirtualTime, notifier: FakeNotifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(64):
        await add_chat(store, str(n))
        await put(store, str(n), "hello")
    commits: list[int] = []
    real_record = worker_module._record

    def counting(db: Connection, settled: Sequence[worker_module.Settled], *args: Any) -> None:
        commits.append(len(settled))
        real_record(db, settled, *args)

    monkeypatch.setattr(worker_module, "_record", counting)
    worker = make_worker(store, clock, notifier, rates={"telegram": TELEGRAM_RATES})
    assert await worker.run_once() + await worker.run_once() == 64
    assert commits == [32, 32]  # one transaction per round, not one per message
    assert (await store.run(counts))[OutboxStatus.SENT] == 64


class SlowNotifier(FakeNotifier):
    """Answers after a virtual latency: every 7th send takes 300 ms, the others 5 ms."""

    def __init__(self, clock: VirtualTime) -> None:
        super().__init__(clock)
        self.spans: list[tuple[float, float]] = []

    async def send(self, destination: Destination, message: OutboundMessage) -> SendOutcome:
        started = self.clock()
        await self.clock.sleep(0.3 if len(self.spans) % 7 == 0 else 0.005)
        self.spans.append((started, self.clock()))
        return await super().send(destination, message)


async def test_the_ceiling_counts_from_answers_so_late_requests_cannot_bunch(
    store: Store, clock: VirtualTime
) -> None:
    notifier = SlowNotifier(clock)
    for n in range(200):
        await add_chat(store, str(n))
        await put(store, str(n), "hello")
    await drain(store, make_worker(store, clock, notifier, rates={"telegram": TELEGRAM_RATES}), clock)
    spans = sorted(notifier.spans)
    assert len(spans) == 200
    count = TELEGRAM_RATES.ceiling.count if TELEGRAM_RATES.ceiling else 0
    answers = sorted(answered for _, answered in spans)
    for n in range(count, len(spans)):  # send n started a second after the answer to send n - 30
        assert spans[n][0] >= answers[n - count] + 1.0 - 1e-9


async def test_discord_channels_have_their_own_five_per_five_seconds(
    store: Store, clock: VirtualTime
) -> None:
    notifier = FakeNotifier(clock, platform="discord")
    await add_chat(store, "123456789", ChatKind.CHANNEL, platform="discord")
    await put(store, "123456789", *(f"m{n}" for n in range(12)), platform="discord")
    worker = make_worker(store, clock, notifier, rates={"discord": DISCORD_RATES})
    await drain(store, worker, clock)
    times = notifier.times_to("123456789")
    assert notifier.texts_to("123456789") == [f"m{n}" for n in range(12)]
    assert all(sum(1 for t in times if start <= t < start + 5.0) <= 5 for start in times)
    assert times[5] >= times[0] + 5.0


async def test_cancelling_run_stops_the_sends_of_its_rounds(store: Store, clock: VirtualTime) -> None:
    notifier = FakeNotifier(clock)
    released, all_waiting = asyncio.Event(), asyncio.Event()
    real_send = notifier.send
    waiting = 0

    async def stuck(destination: Destination, message: OutboundMessage) -> SendOutcome:
        nonlocal waiting
        waiting += 1
        if waiting == 3:
            all_waiting.set()
        await released.wait()  # the platform never answers
        return await real_send(destination, message)

    notifier.send = stuck  # type: ignore[method-assign]
    for n in range(3):
        await add_chat(store, str(n))
        await put(store, str(n), "hello")
    worker = make_worker(store, clock, notifier)
    running = asyncio.create_task(worker.run(asyncio.Event()))
    await all_waiting.wait()
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    for _ in range(5):
        await asyncio.sleep(0)
    released.set()
    for _ in range(5):
        await asyncio.sleep(0)
    assert notifier.sends == []  # the stuck sends were cancelled with run(), none completed afterwards
    assert (await store.run(counts))[OutboxStatus.SENDING] == 3  # put back at the next start
