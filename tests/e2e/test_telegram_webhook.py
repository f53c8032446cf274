"""Telegram webhook mode end to end: the real PTB webhook server (tornado) on a loopback port, set up
against the fake Bot API, receiving updates posted as Telegram posts them, with and without the secret."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from bot.app import BotApp
from bot.config import Settings
from handlers.router import COMMANDS
from tests.fakes import free_port
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.upstreams import FakeUpstreams

USER = 1001
HEADER = "X-Telegram-Bot-Api-Secret-Token"
HANDLED = ["message", "channel_post", "callback_query", "my_chat_member"]
"""What the registered handlers accept: new messages and channel posts (commands, group migrations), button
presses and changes of the bot's own membership; no edits, no chat_member, polls, reactions..."""


@pytest.mark.parametrize("configured_secret", [None, "my-own_Secret-123"])
async def test_webhook_sets_and_checks_the_secret_and_asks_only_for_handled_updates(
    tmp_path: Path,
    fake_upstreams: FakeUpstreams,
    monkeypatch: pytest.MonkeyPatch,
    configured_secret: str | None,
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    port = free_port()
    with FakeTelegram() as telegram:
        settings = Settings.model_validate(
            {
                **fake_upstreams.settings_overrides(),
                "telegram_token": telegram.token,
                "telegram_base_url": telegram.base_url,
                "telegram_webhook_url": "https://bot.example.org/telegram",
                "telegram_webhook_port": port,
                "telegram_webhook_secret": configured_secret,
                "db": str(tmp_path / "bot.db"),
                "source_retries": 0,
            }
        )
        secret = settings.webhook_secret()
        assert secret is not None and secret != telegram.token
        assert configured_secret in (None, secret)
        app = BotApp(settings, COMMANDS)
        await app.start()
        try:
            await telegram.wait_for(lambda: app.telegram and app.telegram.liveness.connected, timeout=15)
            [set_webhook] = telegram.calls("setWebhook")
            assert set_webhook.params["url"] == "https://bot.example.org/telegram"
            assert set_webhook.params["secret_token"] == secret
            assert sorted(set_webhook.params["allowed_updates"]) == sorted(HANDLED)
            update = telegram.send_user_message(USER, "/help")  # the Update Telegram would post
            url = f"http://127.0.0.1:{port}/telegram"
            async with httpx.AsyncClient() as client:
                missing = await client.post(url, json=update)
                wrong = await client.post(url, json=update, headers={HEADER: "not-the-secret"})
                assert (missing.status_code, wrong.status_code) == (403, 403)
                assert telegram.messages_to(USER) == []
                right = await client.post(url, json=update, headers={HEADER: secret})
                assert right.status_code == 200
            replies = await telegram.wait_for(lambda: telegram.messages_to(USER), timeout=10)
            assert "/subscribe" in (replies[0].text or "")
            assert len(replies) == 1
        finally:
            await app.stop()
