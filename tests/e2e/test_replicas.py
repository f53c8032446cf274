"""Two replicas in one process, each a real ``BotApp`` against the fake Bot API (or the fake Discord), the
fake upstreams and one real PostgreSQL (store and leader election): the standby calls Telegram not at all
(long polling) or only to answer the commands its webhook receives, and opens no Discord gateway session;
it serves /healthz as a standby. When the leader's lock session ends, the leader stops sending at once,
says it was deposed and closes its gateways without waiting for its jobs; the standby starts polling
Telegram and the upstreams (or opens the Discord gateway) and, a second later, sending.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from bot.app import TAKEOVER_QUIET_S, BotApp
from bot.chat.kinds import ChatKind
from bot.cluster import LeadershipLostError
from bot.cluster.leader import RETRY_S, Role
from bot.config import Settings
from bot.ops.health import HealthServer, app_probe
from bot.store.chats import upsert_chat
from bot.store.outbox import NewMessage, enqueue
from bot.transports import discord as discord_transport
from handlers.router import COMMANDS
from tests.fakes import free_port
from tests.fakes.discord_api import FakeDiscord, channel, configure_discord_py
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.upstreams import FakeUpstreams

USER = 1001
TAKEOVER_S = RETRY_S + 2.0
"""A standby asks for the lock every ``RETRY_S``; the rest is slack for a shared 2-core machine."""
HEADER = "X-Telegram-Bot-Api-Secret-Token"
GUILD_ID = 900000000000000001
CLOCK_SLACK_S = 0.05
"""``elected_at`` is read just after the election's event fires."""


@pytest.fixture
def settings_for(
    tmp_path: Path, fake_upstreams: FakeUpstreams, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Settings]:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")

    def make(name: str, telegram: FakeTelegram, **overrides: Any) -> Settings:
        return Settings.model_validate(
            {
                **fake_upstreams.settings_overrides(),
                "telegram_token": telegram.token,
                "telegram_base_url": telegram.base_url,
                "db": str(tmp_path / f"{name}.db"),
                "database_url": postgres_url,
                "source_retries": 0,
                **overrides,
            }
        )

    return make


@asynccontextmanager
async def started(settings: Settings) -> AsyncIterator[BotApp]:
    app = BotApp(settings, COMMANDS)
    await app.start()
    try:
        yield app
    finally:
        await app.stop()


async def healthz(app: BotApp) -> tuple[int, dict[str, Any]]:
    server = HealthServer(app_probe(app), stale_after_s=app.settings.stale_after_s)
    await server.start()
    try:
        async with httpx.AsyncClient() as client:
            response = await client.get(f"http://127.0.0.1:{server.port}/healthz")
    finally:
        await server.stop()
    return response.status_code, response.json()


def terminate_lock_session(url: str, app: BotApp) -> None:
    pid = getattr(app.election, "backend_pid", None)
    assert pid is not None
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("SELECT pg_terminate_backend(%s)", (pid,))


async def test_the_standby_calls_telegram_not_at_all_until_it_takes_over_from_a_deposed_leader(
    settings_for: Callable[..., Settings], postgres_url: str
) -> None:
    with FakeTelegram() as telegram:
        async with started(settings_for("a", telegram)) as a:
            await asyncio.wait_for(a.election.elected.wait(), 10)
            assert a.telegram is not None
            await telegram.wait_for(lambda: a.telegram and a.telegram.liveness.connected, timeout=15)
            async with started(settings_for("b", telegram)) as b:
                assert b.telegram is not None
                await asyncio.sleep(RETRY_S + 0.5)  # it asked for the lock at least twice
                assert b.election.role is Role.STANDBY and b.running_here() == []
                assert b.telegram.liveness.last_success_at is None  # no Bot API call at all
                assert b.stats.runs == {}  # no poll of the upstreams either
                status, body = await healthz(b)
                assert (status, body["role"], body["problems"]) == (200, "standby", [])

                deposed_at = time.monotonic()
                terminate_lock_session(postgres_url, a)
                await asyncio.wait_for(a.stopping.wait(), 1.0)  # the session's end is noticed at once
                assert isinstance(a.deposed, LeadershipLostError)
                assert all(task.done() for task in a._sending)  # its outbox worker no longer sends
                chat = await b.store.run(upsert_chat, "telegram", str(USER), ChatKind.PRIVATE, time.time())
                alert = NewMessage("k", chat.id, "telegram", str(USER), "test", "after the take-over")
                await b.store.run(enqueue, [alert], time.time())
                await asyncio.wait_for(b.election.elected.wait(), TAKEOVER_S)
                elected_at = time.time()
                took_over_s = time.monotonic() - deposed_at
                await telegram.wait_for(lambda: b.telegram and b.telegram.liveness.connected, timeout=15)
                await telegram.wait_for(lambda: b.stats.runs.get("poll_price", 0) > 0, timeout=15)
                status, body = await healthz(b)
                assert body["role"] == "leader"
                [sent] = await telegram.wait_for(lambda: telegram.messages_to(USER), timeout=10)
                # the old leader's last sends leave Telegram's one-second windows first
                assert sent.time >= elected_at + TAKEOVER_QUIET_S - CLOCK_SLACK_S
    assert took_over_s < TAKEOVER_S


async def test_in_webhook_mode_a_standby_answers_the_commands_it_receives(
    settings_for: Callable[..., Settings],
) -> None:
    with FakeTelegram() as telegram:
        ports = free_port(), free_port()
        webhook = {"telegram_webhook_url": "https://bot.example.org/telegram"}
        async with started(settings_for("a", telegram, telegram_webhook_port=ports[0], **webhook)) as a:
            await asyncio.wait_for(a.election.elected.wait(), 10)
            async with started(settings_for("b", telegram, telegram_webhook_port=ports[1], **webhook)) as b:
                assert b.telegram is not None
                await telegram.wait_for(lambda: b.telegram and b.telegram.liveness.connected, timeout=15)
                assert b.election.role is Role.STANDBY and b.running_here() == [b.telegram]
                secret = b.settings.webhook_secret()
                assert secret is not None and secret == a.settings.webhook_secret()
                update = telegram.send_user_message(USER, "/help")  # what a load balancer hands to b
                async with httpx.AsyncClient() as client:
                    posted = await client.post(
                        f"http://127.0.0.1:{ports[1]}/telegram", json=update, headers={HEADER: secret}
                    )
                assert posted.status_code == 200
                replies = await telegram.wait_for(lambda: telegram.messages_to(USER), timeout=10)
                assert "/subscribe" in (replies[0].text or "")
                assert b.stats.runs == {} and b.election.role is Role.STANDBY
                status, body = await healthz(b)
                assert (status, body["role"], list(body["transports"])) == (200, "standby", ["telegram"])


async def test_only_the_leader_holds_a_discord_gateway_session_and_the_standby_opens_one_on_take_over(
    tmp_path: Path,
    fake_upstreams: FakeUpstreams,
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(discord_transport, "GUILD_READY_TIMEOUT_S", 0.05)
    with FakeDiscord(shards=1) as discord, configure_discord_py(discord):
        discord.guild(GUILD_ID, "Hash House", channels=[channel(GUILD_ID + 1, "alerts")])

        def settings(name: str) -> Settings:
            return Settings.model_validate(
                {
                    **fake_upstreams.settings_overrides(),
                    "discord_token": discord.token,
                    "discord_api_base": discord.api_base,
                    "discord_gateway_url": discord.gateway_url,
                    "db": str(tmp_path / f"{name}.db"),
                    "database_url": postgres_url,
                    "source_retries": 0,
                }
            )

        a = BotApp(settings("a"), COMMANDS)
        await a.start()
        try:
            await asyncio.wait_for(a.election.elected.wait(), 10)
            await discord.wait_for(lambda: discord.connected == 1)
            async with started(settings("b")) as b:
                assert b.discord is not None
                await asyncio.sleep(RETRY_S + 0.5)
                assert b.election.role is Role.STANDBY and b.running_here() == []
                assert (len(discord.identifies), discord.connected) == (1, 1)
                assert b.discord.liveness.last_success_at is None  # no REST call either

                terminate_lock_session(postgres_url, a)
                await asyncio.wait_for(a.stopping.wait(), 1.0)
                assert a.deposed is not None and a.discord is not None
                stopping_at = time.monotonic()
                await a.stop()  # what run_bot does next: the gateway closes without waiting for jobs
                assert not a.discord.liveness.connected
                assert time.monotonic() - stopping_at < 3.0
                await asyncio.wait_for(b.election.elected.wait(), TAKEOVER_S)
                await discord.wait_for(lambda: len(discord.identifies) == 2 and discord.connected == 1)
                await discord.wait_for(lambda: b.discord and b.discord.liveness.connected)
        finally:
            if not a.deposed:
                await a.stop()
