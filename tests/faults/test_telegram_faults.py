"""Telegram faults in the middle of a fan-out: the real OutboxWorker and TelegramTransport (PTB over HTTP)
against the fake Bot API. The worker's pacing runs on virtual time; PTB's own real-time limiter is switched
off so the 30/s pacing costs no real seconds (the worker's limits are what is under test here).

Nothing is lost, nothing is duplicated (a send that timed out after the fake took it may arrive twice: the
one in-flight ambiguity), chats that blocked the bot or vanished are deactivated with their rows dropped,
and groups that became supergroups receive at their new id.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime

import pytest
from telegram.ext import AIORateLimiter

from bot.alerts.events import AlertEvent, EventKind
from bot.chat.kinds import ChatKind
from bot.chat.services import StoreServices
from bot.config import Settings
from bot.data import load_difficulty_regression
from bot.delivery.notifier import (
    ChatMoved,
    Destination,
    OutboundMessage,
    PermanentFailure,
    Sent,
    TransientFailure,
)
from bot.delivery.rates import ChatGates, SendGate
from bot.delivery.worker import OutboxWorker
from bot.ops.metrics import REGISTRY
from bot.render.alerts import render_event
from bot.store import Store
from bot.store.chats import find_chat, upsert_chat
from bot.store.connection import Connection
from bot.store.outbox import NewMessage, OutboxStatus, Priority, counts, enqueue, next_due_at
from bot.store.subscriptions import add_network
from bot.transports import telegram as telegram_transport
from bot.transports.telegram import TelegramTransport
from handlers.router import COMMANDS
from tests.fakes.telegram_api import FakeTelegram, Fault
from tests.faults.conftest import VirtualTime

PRIVATE = list(range(1001, 1181))
GROUPS = list(range(-4001, -4021, -1))
READ_TIMEOUT_S = 2.0
"""The transport's real-time HTTP timeout here: roomy, so that no healthy answer on a busy machine times out
(one that did would count as a refused send, start an outage early and be sent twice); SLOW answers come
after twice this, so they still time out every time."""
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
TEXT = render_event(EVENT)
SENDS = "minerwatch_sends_total"


def unlimited_rate_limiter(gate: SendGate, max_retries: int, *, chats: ChatGates) -> AIORateLimiter:
    """PTB's limiter without its real-time 30/s and 20/min buckets, in place of the transport's real-time
    ``ChatPacer`` (the worker paces on virtual time)."""
    return AIORateLimiter(overall_max_rate=0, group_max_rate=0, max_retries=max_retries)


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram() as fake:
        yield fake


@pytest.fixture
async def transport(
    monkeypatch: pytest.MonkeyPatch, store: Store, telegram: FakeTelegram
) -> AsyncIterator[TelegramTransport]:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    monkeypatch.setattr(telegram_transport, "REQUEST_TIMEOUT_S", READ_TIMEOUT_S)
    monkeypatch.setattr(telegram_transport, "ChatPacer", unlimited_rate_limiter)
    settings = Settings.model_validate(
        {"telegram_token": telegram.token, "telegram_base_url": telegram.base_url}
    )
    made = TelegramTransport(
        settings, StoreServices(store, settings, load_difficulty_regression()), COMMANDS, store
    )
    await made.connect()
    yield made
    await made.stop()


@pytest.fixture(params=[Priority.BROADCAST, Priority.PERSONAL], ids=["broadcast", "personal"])
def priority(request: pytest.FixtureRequest) -> Priority:
    """A fan-out's rows as broadcasts (the lean send path) or personal alerts (PTB's Bot)."""
    value: Priority = request.param
    return value


def seed(db: Connection, priority: Priority) -> None:
    """Every chat subscribed to network news, the capitulation alert pending for each (as a broadcast row,
    which takes the lean send path, or as a personal one, which goes through PTB's Bot)."""
    messages = []
    for chat_id in PRIVATE + GROUPS:
        kind = ChatKind.PRIVATE if chat_id > 0 else ChatKind.GROUP
        chat = upsert_chat(db, "telegram", str(chat_id), kind, AT.timestamp())
        add_network(db, chat.id, AT.timestamp())
        key = f"{EVENT.key}|{chat.id}"
        messages.append(
            NewMessage(key, chat.id, "telegram", chat.chat_id, EVENT.kind.value, TEXT, priority=priority)
        )
    enqueue(db, messages, AT.timestamp())


async def fan_out(
    store: Store,
    transport: TelegramTransport,
    clock: VirtualTime,
    between_rounds: Callable[[int], None] = lambda _: None,
    priority: Priority = Priority.BROADCAST,
) -> int:
    """Deliver everything, jumping the virtual clock to the next round (a due row, or a probe after an
    outage); returns the rounds run."""
    await store.atomic(seed, priority)
    worker = OutboxWorker(
        store,
        {transport.platform: transport},
        clock=clock,
        sleep=clock.sleep,
        rates={transport.platform: transport.rates},
    )
    for round_number in range(1, 1000):
        await worker.run_once()
        between_rounds(round_number)
        due = await worker.next_round_at()
        if due is None:
            assert await store.run(next_due_at) is None
            return round_number
        clock.now = max(clock.now, due)
    raise AssertionError("the outbox did not drain")


def received(telegram: FakeTelegram) -> Counter[int | str | None]:
    """How many times each chat received the alert."""
    return Counter(call.chat_id for call in telegram.calls("sendMessage") if call.ok and call.text == TEXT)


async def test_faults_in_the_middle_of_a_fan_out(
    store: Store, transport: TelegramTransport, telegram: FakeTelegram, clock: VirtualTime, priority: Priority
) -> None:
    flaky, reset, slow, vanished = PRIVATE[5], PRIVATE[6], PRIVATE[7], PRIVATE[8]
    blockers, movers = PRIVATE[-10:], GROUPS[-5:]
    telegram.inject(Fault.RETRY_AFTER, times=25, retry_after=3, methods=["sendMessage"])  # a 429 storm
    telegram.inject(Fault.SERVER_ERROR, chat_id=flaky, times=2)
    telegram.inject(Fault.SERVER_ERROR, chat_id=reset, times=1, status=500)
    telegram.inject(Fault.SLOW, chat_id=slow, times=1, delay_s=READ_TIMEOUT_S * 2)
    telegram.inject(Fault.CHAT_NOT_FOUND, chat_id=vanished, times=None)
    new_ids: dict[int, int] = {}

    def midway(round_number: int) -> None:
        if round_number == 3:
            assert 0 < sum(received(telegram).values()) < len(PRIVATE) // 2
            for chat_id in blockers:
                telegram.block_chat(chat_id)
            for chat_id in movers:
                new_ids[chat_id] = telegram.migrate_chat(chat_id, notify=False)

    await fan_out(store, transport, clock, midway, priority)

    got = received(telegram)
    gone = {*blockers, vanished}
    expected = {chat_id for chat_id in PRIVATE + GROUPS if chat_id not in gone | set(movers)}
    expected |= set(new_ids.values())
    assert set(got) == expected
    # The send that timed out may have reached the fake before the client gave up: then the retry repeats
    # it (the one in-flight ambiguity). No other chat is ever served twice.
    assert {chat_id: n for chat_id, n in got.items() if n > 1} in ({}, {slow: 2})
    assert telegram.server_errors == []
    assert telegram.http_429 == 25
    assert [c.status for c in telegram.calls("sendMessage", flaky) if c.status != 429] == [502, 502, 200]
    assert [c.status for c in telegram.calls("sendMessage", reset) if c.status != 429] == [500, 200]
    assert all(c.status == 400 for old in movers for c in telegram.calls("sendMessage", old))
    outbox = await store.run(counts)
    assert outbox[OutboxStatus.DROPPED] == len(gone)
    assert outbox[OutboxStatus.SENT] == len(PRIVATE + GROUPS) - len(gone)
    assert outbox[OutboxStatus.PENDING] == outbox[OutboxStatus.SENDING] == outbox[OutboxStatus.DEAD] == 0
    for chat_id in gone:
        chat = await store.run(find_chat, "telegram", str(chat_id))
        assert chat is not None and not chat.active
    for old, new in new_ids.items():
        assert await store.run(find_chat, "telegram", str(old)) is None
        moved = await store.run(find_chat, "telegram", str(new))
        assert moved is not None and moved.active and moved.kind is ChatKind.SUPERGROUP


async def test_a_port_closed_for_30_minutes_loses_no_alert(
    store: Store, transport: TelegramTransport, telegram: FakeTelegram, clock: VirtualTime, priority: Priority
) -> None:
    """Telegram unreachable (connection refused) for 30 virtual minutes mid fan-out: every chat still gets
    the capitulation alert once, nothing is dead-lettered, and the bot probes instead of retrying each."""
    closed_at: list[float] = []
    failures = REGISTRY.get_sample_value(SENDS, {"platform": "telegram", "outcome": "transient_failure"})

    def outage(round_number: int) -> None:
        if round_number == 2:
            telegram.close_port()
            closed_at.append(clock.now)
        elif telegram.closed and clock.now >= closed_at[0] + 1800:
            telegram.reopen_port()

    rounds = await fan_out(store, transport, clock, outage, priority)
    assert not telegram.closed
    got = received(telegram)
    assert set(got) == set(PRIVATE + GROUPS)
    assert set(got.values()) == {1}
    outbox = await store.run(counts)
    assert (outbox[OutboxStatus.SENT], outbox[OutboxStatus.DEAD]) == (len(PRIVATE + GROUPS), 0)
    refused = REGISTRY.get_sample_value(SENDS, {"platform": "telegram", "outcome": "transient_failure"})
    # one round of in-flight sends (the worker's concurrency) fails, then one probe per back-off period
    assert (refused or 0) - (failures or 0) <= 32 + 4 + 1800 / 60
    assert rounds < 120


async def test_retry_after_never_counts_as_a_failed_attempt(
    store: Store, transport: TelegramTransport, telegram: FakeTelegram, clock: VirtualTime, priority: Priority
) -> None:
    """A chat refused with 429 more often than the worker's attempt limit still gets its alert, once."""
    target = PRIVATE[0]
    telegram.inject(Fault.RETRY_AFTER, chat_id=target, times=12, retry_after=1, methods=["sendMessage"])
    telegram.inject(Fault.RETRY_AFTER, times=40, retry_after=2, methods=["sendMessage"])
    await fan_out(store, transport, clock, priority=priority)
    got = received(telegram)
    assert set(got) == set(PRIVATE + GROUPS)
    assert set(got.values()) == {1}
    assert len([c for c in telegram.calls("sendMessage", target) if c.status == 429]) == 12
    outbox = await store.run(counts)
    assert outbox[OutboxStatus.SENT] == len(PRIVATE + GROUPS)


@pytest.mark.parametrize("paid", [True, False])
async def test_paid_broadcast_goes_only_with_broadcasts_and_only_when_set(
    monkeypatch: pytest.MonkeyPatch, store: Store, telegram: FakeTelegram, clock: VirtualTime, paid: bool
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    settings = Settings.model_validate(
        {
            "telegram_token": telegram.token,
            "telegram_base_url": telegram.base_url,
            "telegram_paid_broadcast": paid,
        }
    )
    transport = TelegramTransport(
        settings, StoreServices(store, settings, load_difficulty_regression()), COMMANDS, store
    )
    await transport.connect()
    assert transport.outbox_bot.request is not transport.app.bot.request  # alerts have their own pool
    assert transport.rates.broadcast_per_s == (telegram_transport.PAID_BROADCAST_PER_S if paid else None)

    def rows(db: Connection) -> None:
        for chat_id, priority in ((501, Priority.BROADCAST), (502, Priority.PERSONAL)):
            chat = upsert_chat(db, "telegram", str(chat_id), ChatKind.PRIVATE, AT.timestamp())
            message = NewMessage(
                f"k{chat_id}", chat.id, "telegram", str(chat_id), "x", TEXT, priority=priority
            )
            enqueue(db, [message], clock.now)

    await store.atomic(rows)
    worker = OutboxWorker(
        store, {"telegram": transport}, clock=clock, sleep=clock.sleep, rates={"telegram": transport.rates}
    )
    assert await worker.run_once() == 2
    await transport.stop()
    flags = {call.chat_id: call.params.get("allow_paid_broadcast") for call in telegram.calls("sendMessage")}
    assert flags == {501: True if paid else None, 502: None}


FAULTS: dict[str, Callable[[FakeTelegram, int], object]] = {
    "answered": lambda telegram, chat_id: None,
    "429 retry_after": lambda telegram, chat_id: telegram.inject(
        Fault.RETRY_AFTER, chat_id=chat_id, retry_after=3, methods=["sendMessage"]
    ),
    "blocked": lambda telegram, chat_id: telegram.block_chat(chat_id),
    "chat not found": lambda telegram, chat_id: telegram.inject(Fault.CHAT_NOT_FOUND, chat_id=chat_id),
    "migrated": lambda telegram, chat_id: telegram.migrate_chat(chat_id, notify=False),
    "502": lambda telegram, chat_id: telegram.inject(Fault.SERVER_ERROR, chat_id=chat_id),
    "500": lambda telegram, chat_id: telegram.inject(Fault.SERVER_ERROR, chat_id=chat_id, status=500),
    "read timeout": lambda telegram, chat_id: telegram.inject(
        Fault.SLOW, chat_id=chat_id, delay_s=READ_TIMEOUT_S * 2
    ),
}


@pytest.mark.parametrize("fault", FAULTS)
async def test_broadcasts_lean_path_meets_every_fault_as_ptb_does(
    transport: TelegramTransport, telegram: FakeTelegram, fault: str
) -> None:
    """Broadcast rows skip python-telegram-bot's Bot (``telegram_broadcast``): each answer of the fake's
    fault modes still becomes the outcome PTB's path gives (chat ids negative: groups can migrate)."""
    outcomes = {}
    for chat_id, broadcast in ((-7001, False), (-7002, True)):
        moved_to = FAULTS[fault](telegram, chat_id)
        destination = Destination("telegram", str(chat_id), ChatKind.GROUP)
        outcome = await transport.send(destination, OutboundMessage(TEXT, broadcast=broadcast))
        if moved_to is not None:  # each chat moves to its own new id
            assert outcome == ChatMoved(str(moved_to))
        outcomes[broadcast] = outcome if moved_to is None else ChatMoved("its new id")
    assert outcomes[True] == outcomes[False]

    def both_sent() -> list[tuple[int | str | None, str | None, str | None]]:
        calls = [c for c in telegram.calls("sendMessage") if c.chat_id in (-7001, -7002)]
        return [(c.chat_id, c.text, c.parse_mode) for c in calls] if len(calls) == 2 else []

    assert await telegram.wait_for(both_sent) == [(-7001, TEXT, "HTML"), (-7002, TEXT, "HTML")]
    if fault == "answered":
        assert outcomes[True] == Sent()


async def test_a_bad_html_broadcast_is_refused_as_on_ptbs_path(
    transport: TelegramTransport, telegram: FakeTelegram
) -> None:
    outcomes = [
        await transport.send(
            Destination("telegram", "7003", ChatKind.PRIVATE), OutboundMessage("<b>open", broadcast=broadcast)
        )
        for broadcast in (False, True)
    ]
    assert isinstance(outcomes[0], PermanentFailure) and outcomes[1] == outcomes[0]


async def test_an_unreachable_bot_api_is_transient_on_the_lean_path_and_never_shows_the_token(
    transport: TelegramTransport, telegram: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    telegram.close_port()
    try:
        outcome = await transport.send(
            Destination("telegram", "7004", ChatKind.PRIVATE), OutboundMessage(TEXT, broadcast=True)
        )
    finally:
        telegram.reopen_port()
    assert isinstance(outcome, TransientFailure)
    assert telegram.token not in outcome.error and telegram.token.split(":")[1] not in outcome.error
    assert telegram.token not in caplog.text
