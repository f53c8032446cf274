"""One per-chat window for replies and alerts: the whole bot (``BotApp``: python-telegram-bot over HTTP, the
outbox worker) against the fake Bot API enforcing Telegram's limits (one message a second per private chat,
30 a second per bot; 429 past them).

Each user gets a personal alert and sends a command in the same second. The reply (PTB's rate limiter) and
the alert (the outbox) draw from one window per chat, so the second of the two waits for the chat's second
instead of drawing a 429 (which would pause every outbox send): both arrive, no 429. Real time (~3 s): the
fake's windows are wall-clock ones.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Awaitable, Callable

import pytest

from bot.app import BotApp
from bot.chat.kinds import ChatKind
from bot.store.chats import upsert_chat
from bot.store.connection import Connection
from bot.store.outbox import NewMessage, enqueue
from tests.fakes.telegram_api import FakeTelegram

USERS = range(710_000_001, 710_000_011)
ALERT = "🔔 <b>Your alert</b>: hashprice below your threshold"


@pytest.fixture
async def bot(start_limited_bot: Callable[[], Awaitable[BotApp]]) -> BotApp:
    app: BotApp = await start_limited_bot()
    return app


def personal_alerts(db: Connection) -> None:
    """One personal alert queued for each user, as an evaluation that fired leaves it."""
    now = time.time()
    rows = []
    for user in USERS:
        chat = upsert_chat(db, "telegram", str(user), ChatKind.PRIVATE, now)
        rows.append(NewMessage(f"alert|{chat.id}", chat.id, "telegram", str(user), "test", ALERT))
    enqueue(db, rows, now)


def delivered(limited_telegram: FakeTelegram) -> tuple[Counter[int | str | None], Counter[int | str | None]]:
    """Per user: alerts and replies Telegram accepted."""
    sent = [c for c in limited_telegram.calls("sendMessage") if c.ok and c.chat_id in USERS]
    alerts = Counter(c.chat_id for c in sent if c.text == ALERT)
    return alerts, Counter(c.chat_id for c in sent if c.text != ALERT)


async def test_an_alert_and_a_reply_to_one_chat_in_one_second_draw_no_429(
    bot: BotApp, limited_telegram: FakeTelegram
) -> None:
    assert bot.store is not None and bot.worker is not None
    await bot.store.atomic(personal_alerts)
    bot.worker.notify()
    for user in USERS:
        limited_telegram.send_user_message(user, "/help")
    await limited_telegram.wait_for(
        lambda: all(len(counts) == len(USERS) for counts in delivered(limited_telegram)), timeout=15
    )
    alerts, replies = delivered(limited_telegram)
    assert limited_telegram.http_429 == 0, limited_telegram.limit_hits
    assert set(alerts.values()) == {1} and set(replies.values()) == {1}
    for user in USERS:  # they did come within a second of each other: one waited for the chat's window
        times = sorted(c.time for c in limited_telegram.calls("sendMessage") if c.chat_id == user and c.ok)
        assert times[1] - times[0] < 2.5
