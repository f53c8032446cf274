"""Fixtures the end-to-end tests share: PTB's ``retry_after`` as a timedelta, the Bot API fake enforcing
Telegram's limits, and the whole bot started against it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from bot.app import BotApp
from bot.config import Settings
from handlers.router import COMMANDS
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.upstreams import FakeUpstreams


@pytest.fixture(autouse=True)
def _timedelta_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    """``RetryAfter.retry_after`` as a timedelta: python-telegram-bot 22's opt-in ``PTB_TIMEDELTA``."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
def limited_telegram() -> Iterator[FakeTelegram]:
    """The fake Bot API answering 429 past Telegram's limits (30/s per bot, 1/s per private chat, 20/min per
    group)."""
    with FakeTelegram(enforce_limits=True) as fake:
        yield fake


@pytest.fixture
async def start_limited_bot(
    tmp_path: Path, limited_telegram: FakeTelegram, fake_upstreams: FakeUpstreams
) -> AsyncIterator[Callable[[], Awaitable[BotApp]]]:
    """``await start_limited_bot()``: the whole ``BotApp`` (python-telegram-bot over HTTP, the outbox worker)
    against ``limited_telegram``, on the SQLite file ``tmp_path / "bot.db"`` (seed it first if needed);
    stopped at the end of the test."""
    started: list[BotApp] = []

    async def start() -> BotApp:
        settings = Settings.model_validate(
            {
                **fake_upstreams.settings_overrides(),
                "telegram_token": limited_telegram.token,
                "telegram_base_url": limited_telegram.base_url,
                "db": str(tmp_path / "bot.db"),
                "source_timeout_s": 2.0,
            }
        )
        app = BotApp(settings, COMMANDS)
        started.append(app)
        await app.start()
        return app

    yield start
    for app in started:
        await app.stop()
