"""ChatPacer on virtual time: each chat under its own limit, the overall limit counted from the answers, and a
429 pausing only the chat that drew it."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from typing import Any

import pytest
from telegram import Update
from telegram.error import RetryAfter

from bot.delivery.rates import ChatGates, RateLimiter, SendGate, Window
from bot.store.outbox import OutboxMessage, OutboxStatus, Priority
from bot.transports import telegram_pacing
from bot.transports.telegram import PAID_CEILING, PAID_RATES, SENDS_CEILING
from bot.transports.telegram_pacing import ChatPacer, PerChatUpdates, chat_windows


class Timeline:
    """Virtual monotonic time for concurrent tasks: ``run`` lets every task go as far as it can, then jumps
    the clock to the earliest sleeper's wake-up time, in order, until all tasks are done."""

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + seconds, next(self._order), woken))
        await woken

    async def run(self, *work: Coroutine[Any, Any, object]) -> None:
        tasks = [asyncio.create_task(job) for job in work]
        while not all(task.done() for task in tasks):
            for _ in range(20):  # let every runnable task reach its next sleep
                await asyncio.sleep(0)
            if self._sleepers:
                wake, _, woken = heapq.heappop(self._sleepers)
                self.now = max(self.now, wake)
                woken.set_result(None)
            elif not all(task.done() for task in tasks):
                raise AssertionError("deadlock: tasks wait and nobody sleeps")
        for task in tasks:
            task.result()


class FakeApi:
    """Records (chat, start time) of each call; answers 429 to the chats scripted to get one."""

    def __init__(self, clock: Timeline, latency_s: float = 0.0) -> None:
        self.clock = clock
        self.latency_s = latency_s
        self.calls: list[tuple[str, float]] = []
        self.refuse: dict[str, list[int]] = {}
        """Chat -> retry_after answers to give, in order, before answering normally."""

    def call(self, chat_id: str) -> Callable[[], Coroutine[Any, Any, bool]]:
        async def send() -> bool:
            self.calls.append((chat_id, self.clock.now))
            if self.latency_s:
                await self.clock.sleep(self.latency_s)
            if self.refuse.get(chat_id):
                raise RetryAfter(timedelta(seconds=self.refuse[chat_id].pop(0)))
            return True

        return send

    def starts(self, chat_id: str) -> list[float]:
        return [at for chat, at in self.calls if chat == chat_id]


def send(pacer: ChatPacer, api: FakeApi, chat_id: str, *, retries: int | None = None, **extra: Any) -> Any:
    data = {"chat_id": chat_id, **extra}
    return pacer.process_request(api.call(chat_id), (), {}, "sendMessage", data, retries)


@pytest.fixture(autouse=True)
def _timedelta_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
def clock() -> Timeline:
    return Timeline()


def pacer_on(clock: Timeline, overall_per_s: int = 30, max_retries: int = 0) -> ChatPacer:
    gate = SendGate(Window(overall_per_s, 1.0), clock, clock.sleep)
    return ChatPacer(gate, max_retries, clock=clock, sleep=clock.sleep)


async def test_a_private_chat_gets_one_message_a_second_and_others_are_not_held_up(clock: Timeline) -> None:
    api, pacer = FakeApi(clock, latency_s=0.05), pacer_on(clock)
    await clock.run(*(send(pacer, api, "1") for _ in range(3)), send(pacer, api, "2"), send(pacer, api, "3"))
    assert api.starts("1") == pytest.approx([0.0, 1.05, 2.10])  # a second after each answer
    assert api.starts("2") == api.starts("3") == [0.0]


async def test_a_group_gets_twenty_a_minute(clock: Timeline) -> None:
    api, pacer = FakeApi(clock), pacer_on(clock)
    await clock.run(*(send(pacer, api, "-100") for _ in range(22)))
    assert api.starts("-100") == [0.0] * 20 + [60.0, 60.0]


async def test_overall_slots_come_back_a_second_after_each_answer(clock: Timeline) -> None:
    api, pacer = FakeApi(clock, latency_s=0.2), pacer_on(clock, overall_per_s=3)
    await clock.run(*(send(pacer, api, str(chat)) for chat in range(7)))
    starts = sorted(at for _, at in api.calls)
    assert starts == pytest.approx([0.0, 0.0, 0.0, 1.2, 1.2, 1.2, 2.4])
    for i, at in enumerate(starts):  # never more than 3 calls answered-or-running within any second
        assert sum(1 for other in starts[i + 1 :] if other < at + 1.2) <= 2


async def test_a_429_pauses_only_its_chat_and_the_request_is_retried(clock: Timeline) -> None:
    api, pacer = FakeApi(clock), pacer_on(clock)
    api.refuse["1"] = [3]
    results = []

    async def reply(chat_id: str) -> None:
        results.append((chat_id, await send(pacer, api, chat_id, retries=2), clock.now))

    await clock.run(reply("1"), reply("2"), reply("2"))
    assert api.starts("1") == [0.0, 3.0]
    assert api.starts("2") == [0.0, 1.0]
    assert sorted(results) == [("1", True, 3.0), ("2", True, 0.0), ("2", True, 1.0)]


async def test_without_retries_the_429_reaches_the_caller_and_the_chat_waits(clock: Timeline) -> None:
    api, pacer = FakeApi(clock), pacer_on(clock)
    api.refuse["1"] = [5]
    refused: list[float] = []

    async def first() -> None:
        with pytest.raises(RetryAfter):
            await send(pacer, api, "1")
        refused.append(clock.now)

    await clock.run(first())
    await clock.run(send(pacer, api, "1"))
    assert refused == [0.0] and api.starts("1") == [0.0, 5.0]


async def outbox_send(gate: SendGate, api: FakeApi, chat_id: str) -> None:
    """What the outbox worker does around one send: take the bot's gate (behind replies), send, give back."""
    await gate.take()
    try:
        await api.call(chat_id)()
    finally:
        gate.give_back()


async def test_a_reply_takes_the_next_free_slot_before_waiting_outbox_sends(clock: Timeline) -> None:
    api, gate = FakeApi(clock, latency_s=0.1), SendGate(Window(2, 1.0), clock, clock.sleep)
    pacer = ChatPacer(gate, clock=clock, sleep=clock.sleep)

    async def reply_later() -> None:
        await clock.sleep(0.5)  # a command comes in while four alerts wait for the gate
        await send(pacer, api, "user")

    await clock.run(*(outbox_send(gate, api, f"alert{n}") for n in range(6)), reply_later())
    starts = sorted((round(at, 6), chat) for chat, at in api.calls)
    # FIFO would give alert2 and alert3 the slots freed at 1.1 s and the reply the next ones, at 2.2 s
    assert starts == [
        (0.0, "alert0"),
        (0.0, "alert1"),
        (1.1, "alert2"),
        (1.1, "user"),
        (2.2, "alert3"),
        (2.2, "alert4"),
        (3.3, "alert5"),
    ]


async def test_replies_and_alerts_together_never_pass_the_bots_ceiling(clock: Timeline) -> None:
    """Telegram counts every message of the bot: 30 replies and 60 alerts at once still make at most 30
    requests started-or-unanswered within any second after an answer (the gate counts from answers)."""
    api, gate = FakeApi(clock, latency_s=0.2), SendGate(Window(30, 1.0), clock, clock.sleep)
    pacer = ChatPacer(gate, clock=clock, sleep=clock.sleep)
    replies = [send(pacer, api, f"user{n}") for n in range(30)]
    alerts = [outbox_send(gate, api, f"alert{n}") for n in range(60)]
    await clock.run(*alerts, *replies)
    starts = sorted(at for _, at in api.calls)
    answers = [at + 0.2 for at in starts]
    assert len(starts) == 90
    for n in range(30, 90):  # call n started a second after the answer to call n - 30
        assert starts[n] >= answers[n - 30] + 1.0 - 1e-9
    alerts_first = {chat for chat, at in api.calls if at == 0.0}  # the alerts came first: the gate was free
    assert alerts_first == {f"alert{n}" for n in range(30)}
    assert {chat for chat, at in api.calls if at == pytest.approx(1.2)} == {f"user{n}" for n in range(30)}


async def test_paid_broadcasts_pass_their_own_ceiling_and_the_rest_the_bots(clock: Timeline) -> None:
    bots = SendGate(SENDS_CEILING)
    limiter = RateLimiter({"telegram": PAID_RATES}, gates={"telegram": bots})
    personal, broadcast = (outbox_row(priority) for priority in (Priority.PERSONAL, Priority.BROADCAST))
    assert limiter.gate(personal) is bots
    paid = limiter.gate(broadcast)
    assert paid is not None and paid is not bots and paid.window == PAID_CEILING == Window(970, 1.0)
    assert limiter.gate(broadcast) is paid  # one for all broadcast rows


def outbox_row(priority: Priority) -> OutboxMessage:
    return OutboxMessage(
        1,
        "k",
        1,
        "private",
        "telegram",
        "42",
        "test",
        "hi",
        None,
        OutboxStatus.SENDING,
        0,
        0.0,
        None,
        0.0,
        None,
        priority,
    )


def _update(update_id: int, chat_id: int) -> Update:
    return Update.de_json(
        {
            "update_id": update_id,
            "message": {"message_id": update_id, "date": 0, "chat": {"id": chat_id, "type": "private"}},
        },
        None,
    )


async def test_updates_of_one_chat_run_in_order_and_other_chats_do_not_wait(clock: Timeline) -> None:
    processor = PerChatUpdates(16)
    log: list[tuple[int, str, float]] = []

    def handle(update_id: int, seconds: float) -> Awaitable[None]:
        async def work() -> None:
            log.append((update_id, "start", clock.now))
            await clock.sleep(seconds)
            log.append((update_id, "end", clock.now))

        return work()

    updates = [(1, 10, 2.0), (2, 10, 0.5), (3, 20, 0.1)]
    await clock.run(*(processor.process_update(_update(u, chat), handle(u, s)) for u, chat, s in updates))
    assert (1, "end", 2.0) in log and (2, "start", 2.0) in log  # chat 10: the second after the first
    assert (3, "start", 0.0) in log and (3, "end", 0.1) in log  # chat 20 did not wait for chat 10


async def test_idle_chats_are_forgotten(clock: Timeline, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(telegram_pacing, "TRACKED_CHATS", 4)
    api, pacer = FakeApi(clock), pacer_on(clock)
    await clock.run(*(send(pacer, api, str(chat)) for chat in range(4)))
    clock.now += 1.0  # their second is over: idle
    await clock.run(send(pacer, api, "99"), send(pacer, api, "99"))
    assert set(pacer._chats) == {"99"}
    assert api.starts("99") == [1.0, 2.0]  # the chat being forgotten was not its own


async def test_replies_and_alerts_to_one_chat_share_its_window_replies_first(clock: Timeline) -> None:
    """The outbox takes the chat's window from the same ``ChatGates`` as replies (as the worker does): a reply
    after an alert waits for the chat's second, and goes before an alert already waiting for it."""
    api = FakeApi(clock, latency_s=0.1)
    gate, chats = SendGate(Window(30, 1.0), clock, clock.sleep), chat_windows(clock, clock.sleep)
    pacer = ChatPacer(gate, chats=chats, clock=clock, sleep=clock.sleep)
    answered: list[tuple[str, float]] = []

    async def alert() -> None:
        window = chats.gate("42", group=False)
        await window.take()
        try:
            await outbox_send(gate, api, "42")
        finally:
            window.give_back()
        answered.append(("alert", clock.now))

    async def reply_later() -> None:
        await clock.sleep(0.5)  # a command while the first alert's second runs and the second alert waits
        await send(pacer, api, "42")
        answered.append(("reply", clock.now))

    await clock.run(alert(), alert(), reply_later())
    # a second after each answer; FIFO would have answered alert, alert, reply; no sharing: the reply at 0.6
    assert [(who, round(at, 6)) for who, at in answered] == [("alert", 0.1), ("reply", 1.2), ("alert", 2.3)]


async def test_idle_chat_windows_are_forgotten_past_the_tracked_count(clock: Timeline) -> None:
    chats = ChatGates(Window(1, 1.0), Window(20, 60.0), clock, clock.sleep, tracked=2)
    first = chats.gate("1", group=False)
    await first.take()
    first.give_back()  # "1" was just answered: its slot is free again at 1.0 s
    chats.gate("2", group=False)
    assert chats.gate("3", group=False) is not None and chats.gate("1", group=False) is first  # busy: kept
    clock.now = 1.0
    chats.gate("4", group=False)
    assert chats.gate("1", group=False) is not first  # idle by then: forgotten, a fresh one
