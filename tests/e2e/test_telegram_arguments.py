"""Typed arguments through the real python-telegram-bot Application against the fake Bot API: a trailing
number is the power price (``/breakeven s19 -1``), a bare value's reading is echoed outside the table, and
junk in a machine name is refused instead of matched. Each test checks what the user sees and the store."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.chat.context import Chat
from bot.chat.services import StoreServices
from bot.config import Settings
from bot.data import load_difficulty_regression
from bot.store.db import Store
from bot.store.snapshots import insert_snapshot
from bot.transports.telegram import TelegramTransport
from handlers.router import COMMANDS
from tests.fakes.telegram_api import FakeTelegram
from tests.integration.test_handlers import NOW, snapshot

USER = 1001


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram() as fake:
        yield fake


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "bot.db")
    await opened.run(insert_snapshot, snapshot())
    yield opened
    await opened.close()


@pytest.fixture
def services(store: Store) -> StoreServices:
    return StoreServices(store, Settings.model_validate({}), load_difficulty_regression(), clock=lambda: NOW)


@pytest.fixture
async def bot(
    monkeypatch: pytest.MonkeyPatch, telegram: FakeTelegram, store: Store, services: StoreServices
) -> AsyncIterator[TelegramTransport]:
    """The Telegram transport started as ``minerwatch run`` starts it, polling the fake."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    settings = Settings.model_validate(
        {"telegram_token": telegram.token, "telegram_base_url": telegram.base_url}
    )
    transport = TelegramTransport(settings, services, COMMANDS, store)
    await transport.connect()
    await telegram.wait_for(lambda: telegram.get_updates_calls, timeout=10)
    yield transport
    await transport.stop()


async def ask(telegram: FakeTelegram, text: str) -> str:
    """Send ``text`` as the user and return the text of the bot's next message."""
    before = len(telegram.messages_to(USER))
    telegram.send_user_message(USER, text)
    replies = await telegram.wait_for(lambda: telegram.messages_to(USER)[before:], timeout=10)
    return replies[0].text or ""


async def test_a_negative_power_price_after_the_machine_is_a_power_price_error(
    bot: TelegramTransport, telegram: FakeTelegram
) -> None:
    reply = await ask(telegram, "/breakeven s19 -1")
    assert reply.splitlines() == [
        "'-1' is not a power price: give $/kWh like 0.06 or cents like 6c (at most $5/kWh).",
        "Example: <code>/breakeven s19xp 5.5c</code>",
    ]
    await ask(telegram, "/lang ru")
    assert (await ask(telegram, "/breakeven s19 -1")).startswith("«-1» не похоже на тариф: пишите $/кВт·ч")


async def test_a_bare_power_price_is_echoed_outside_the_table(
    bot: TelegramTransport, telegram: FakeTelegram
) -> None:
    reply = await ask(telegram, "/breakeven s19 1")  # the HTML sent, which the fake accepted as Telegram does
    table, after = reply.split("</pre>")
    assert "$0.0100/kWh" in table and "Read as" not in table
    assert after.splitlines()[-2:] == ["Read as: 1 → 1¢/kWh.", "<i>Data 5m 0s old.</i>"]

    dollars = await ask(telegram, "/margin 21.5 0.99")
    assert dollars.splitlines()[-2] == "Read as: 21.5 → 21.5 J/TH, 0.99 → $0.99/kWh."


async def test_junk_in_a_machine_name_is_refused_and_the_profile_kept(
    bot: TelegramTransport, telegram: FakeTelegram, services: StoreServices
) -> None:
    before = await services.profile(Chat("telegram", str(USER)))
    reply = await ask(telegram, "/profile s19✓")
    first, example = reply.splitlines()
    assert re.fullmatch(
        r"Unknown machine 's19✓': no machine name has '✓'\. Closest: Antminer S19, .+\.", first
    ), first
    assert example.startswith("Example: <code>/profile s19xp")
    assert await services.profile(Chat("telegram", str(USER))) == before

    saved = await ask(telegram, "/profile s19 6")
    assert saved.startswith("✅ Profile saved.") and saved.endswith("Read as: 6 → 6¢/kWh.")
    profile = await services.profile(Chat("telegram", str(USER)))
    assert (profile.machine.name, profile.operating.power_usd_per_kwh) == ("Antminer S19", 0.06)
