"""One Telegram send budget for replies and alerts: the whole bot (``BotApp``: python-telegram-bot over HTTP,
the outbox worker) against the fake Bot API enforcing Telegram's limits (30 messages in any sliding second
per bot, one a second per private chat; 429 past them).

A free-tier broadcast runs at the full 30/s; users' commands come in meanwhile. Their replies take the
bot's next free slots before the broadcast does, so Telegram never sees more than 30 in a second: no 429
(which would pause every alert), every reply and every alert delivered once. Runs in real time (~6 s): the
fake's windows are wall-clock ones.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from bot.app import BotApp
from bot.chat.kinds import ChatKind
from bot.store import Store
from bot.store.chats import upsert_chat
from bot.store.connection import Connection
from bot.store.outbox import NewMessage, Priority, enqueue
from tests.fakes.telegram_api import FakeTelegram

SUBSCRIBERS = range(600_000_001, 600_000_151)
USERS = range(700_000_001, 700_000_011)
ALERT = "🔔 <b>Network alert</b>: test broadcast"


def broadcast(db: Connection) -> None:
    """A network alert queued for every subscriber, as the fan-out leaves it."""
    now = time.time()
    rows = []
    for chat_id in SUBSCRIBERS:
        chat = upsert_chat(db, "telegram", str(chat_id), ChatKind.PRIVATE, now)
        rows.append(
            NewMessage(
                f"alert|{chat.id}",
                chat.id,
                "telegram",
                str(chat_id),
                "test",
                ALERT,
                priority=Priority.BROADCAST,
            )
        )
    enqueue(db, rows, now)


@pytest.fixture
async def bot(tmp_path: Path, start_limited_bot: Callable[[], Awaitable[BotApp]]) -> BotApp:
    store = await Store.open(tmp_path / "bot.db")
    await store.atomic(broadcast)
    await store.close()
    app: BotApp = await start_limited_bot()
    return app


def alerts_sent(limited_telegram: FakeTelegram) -> Counter[int | str | None]:
    return Counter(
        c.chat_id for c in limited_telegram.calls("sendMessage") if c.ok and c.chat_id in SUBSCRIBERS
    )


async def test_replies_during_a_full_rate_broadcast_draw_no_429(
    bot: BotApp, limited_telegram: FakeTelegram
) -> None:
    await limited_telegram.wait_for(
        lambda: sum(alerts_sent(limited_telegram).values()) >= 30, timeout=10
    )  # at full rate
    for command in ("/help", "/start"):
        for user in USERS:
            limited_telegram.send_user_message(user, command)
    replies = await limited_telegram.wait_for(
        lambda: (
            (sent := [c for c in limited_telegram.calls("sendMessage") if c.chat_id in USERS and c.ok])[19:]
            and sent
        ),
        timeout=15,
    )
    await limited_telegram.wait_for(
        lambda: len(alerts_sent(limited_telegram)) == len(SUBSCRIBERS), timeout=15
    )
    assert limited_telegram.http_429 == 0, limited_telegram.limit_hits
    assert Counter(c.chat_id for c in replies) == dict.fromkeys(USERS, 2)
    assert set(alerts_sent(limited_telegram).values()) == {1}
    broadcast_calls = [c.time for c in limited_telegram.calls("sendMessage") if c.chat_id in SUBSCRIBERS]
    first_reply = min(c.time for c in replies)
    assert any(at > first_reply for at in broadcast_calls)  # the replies came while it was running
