"""Replies through the real TelegramTransport (python-telegram-bot over HTTP) to the fake Bot API enforcing
Telegram's flood limits: one user's quick commands are paced instead of drawing a 429, and another user's
reply does not wait behind them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from itertools import pairwise
from pathlib import Path

import pytest

from bot.chat.services import StoreServices
from bot.config import Settings
from bot.data import load_difficulty_regression
from bot.store import Store
from bot.transports.telegram import TelegramTransport
from handlers.router import COMMANDS
from tests.fakes.telegram_api import FakeTelegram

HASTY, PATIENT = 5001, 5002


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram(enforce_limits=True) as fake:
        yield fake


@pytest.fixture
async def transport(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, telegram: FakeTelegram
) -> AsyncIterator[TelegramTransport]:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    store = await Store.open(tmp_path / "pacing.db")
    settings = Settings.model_validate(
        {"telegram_token": telegram.token, "telegram_base_url": telegram.base_url}
    )
    made = TelegramTransport(
        settings, StoreServices(store, settings, load_difficulty_regression()), COMMANDS, store
    )
    await made.connect()
    yield made
    await made.stop()
    await store.close()


async def test_a_burst_from_one_user_is_paced_and_holds_up_no_one_else(
    transport: TelegramTransport, telegram: FakeTelegram
) -> None:
    for _ in range(3):
        telegram.send_user_message(HASTY, "/help")
    telegram.send_user_message(PATIENT, "/help")
    hasty = await telegram.wait_for(lambda: telegram.messages_to(HASTY)[2:] and telegram.messages_to(HASTY))
    patient = telegram.messages_to(PATIENT)
    assert telegram.state()["http_429"] == 0
    times = [call.time for call in hasty]
    assert all(call.ok for call in hasty) and len(hasty) == 3
    assert [later - earlier >= 1.0 for earlier, later in pairwise(times)] == [True, True]
    assert len(patient) == 1 and patient[0].ok
    assert patient[0].time < times[1]  # not behind the hasty user's second reply
