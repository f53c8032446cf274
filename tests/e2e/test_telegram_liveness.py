"""/healthz tells a Telegram outage mid-run: the real PTB long polling against the fake Bot API, which goes
away and comes back on the same port; the health server's clock is moved instead of waiting 120 s."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from bot.app import BotApp
from bot.config import Settings
from bot.ops.health import HealthServer, app_probe
from bot.transports.telegram import SILENCE_LIMIT_S
from handlers.router import COMMANDS
from tests.fakes import free_port
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.upstreams import FakeUpstreams


async def telegram_problems(app: BotApp, now: float) -> list[str]:
    server = HealthServer(app_probe(app), stale_after_s=app.settings.stale_after_s, clock=lambda: now)
    await server.start()
    try:
        async with httpx.AsyncClient() as client:
            body = (await client.get(f"http://127.0.0.1:{server.port}/healthz")).json()
    finally:
        await server.stop()
    return [problem for problem in body["problems"] if problem.startswith("telegram")]


async def test_an_outage_mid_run_turns_healthz_503_and_recovery_turns_it_back(
    tmp_path: Path, fake_upstreams: FakeUpstreams, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    port = free_port()
    telegram = FakeTelegram(port).start()
    settings = Settings.model_validate(
        {
            **fake_upstreams.settings_overrides(),
            "telegram_token": telegram.token,
            "telegram_base_url": telegram.base_url,
            "db": str(tmp_path / "bot.db"),
            "source_retries": 0,
        }
    )
    app = BotApp(settings, COMMANDS)
    await app.start()
    try:
        assert app.telegram is not None
        liveness = app.telegram.liveness
        await telegram.wait_for(lambda: liveness.connected and telegram.get_updates_calls > 1, timeout=15)
        assert await telegram_problems(app, time.time()) == []
        telegram.stop()  # Telegram unreachable: every getUpdates fails from now on
        await asyncio.sleep(0.2)
        last = liveness.last_success_at
        assert last is not None
        await asyncio.sleep(2.0)  # PTB keeps polling (and failing) meanwhile
        assert liveness.last_success_at == last
        silent_for = SILENCE_LIMIT_S + 1
        assert await telegram_problems(app, last + silent_for) == [
            f"telegram: last successful API call {silent_for:.0f} s ago (limit {SILENCE_LIMIT_S:g} s)"
        ]
        telegram = FakeTelegram(port).start()  # back on the same address
        await telegram.wait_for(lambda: (liveness.last_success_at or 0) > last, timeout=40)
        assert await telegram_problems(app, time.time()) == []
    finally:
        await app.stop()
        telegram.stop()
