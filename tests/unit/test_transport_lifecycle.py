"""Back-off, soft retries, the rejected-token message and Telegram's allowed_updates, without a network."""

from __future__ import annotations

import asyncio

import pytest
from telegram.error import InvalidToken
from telegram.ext import ApplicationBuilder, CallbackQueryHandler, MessageHandler, filters

from bot.config import Settings
from bot.transports.lifecycle import MAX_DELAY_S, Backoff, retry_soft
from bot.transports.telegram import allowed_updates, rejection


def lowest(low: float, high: float) -> float:
    return low


def highest(low: float, high: float) -> float:
    return high


def test_backoff_doubles_from_one_second_up_to_the_cap_with_jitter_in_the_upper_half() -> None:
    assert [Backoff(uniform=highest).delay(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert [Backoff(uniform=lowest).delay(n) for n in (1, 2, 7, 1000)] == [0.5, 1, 30, 30]
    assert MAX_DELAY_S == 60.0


async def test_retry_soft_retries_until_the_call_succeeds_and_never_raises() -> None:
    calls: list[int] = []

    async def flaky() -> None:
        calls.append(len(calls))
        if len(calls) < 3:
            raise ConnectionError("down")

    await retry_soft("menu", flaky, asyncio.Event(), Backoff(first_s=0.001, uniform=lowest))
    assert calls == [0, 1, 2]


async def test_retry_soft_gives_up_when_stopping() -> None:
    stop = asyncio.Event()

    async def broken() -> None:
        stop.set()
        raise ConnectionError("down")

    await retry_soft("menu", broken, stop, Backoff(first_s=3600))


@pytest.mark.parametrize(
    ("description", "shown"),
    [("Unauthorized", "401 Unauthorized"), ("Not Found", "404 Not Found"), ("odd", "invalid token")],
)
def test_a_rejected_token_names_the_setting_and_status_never_the_token(description: str, shown: str) -> None:
    token = "123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    try:
        try:
            raise InvalidToken(description)
        except InvalidToken as cause:
            raise InvalidToken(f"The token `{token}` was rejected by the server.") from cause  # as PTB does
    except InvalidToken as error:
        message = str(rejection(error))
    assert message == f"MINERWATCH_TELEGRAM_TOKEN rejected by Telegram ({shown})"


def test_allowed_updates_follow_the_registered_handlers() -> None:
    async def nothing(*_: object) -> None:
        return None

    app = ApplicationBuilder().token("1:a").job_queue(None).updater(None).build()
    assert allowed_updates(app) == []
    app.add_handler(MessageHandler(filters.COMMAND & filters.UpdateType.MESSAGE, nothing))
    assert allowed_updates(app) == ["message"]
    app.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE & filters.UpdateType.CHANNEL_POSTS, nothing))
    app.add_handler(CallbackQueryHandler(nothing))
    assert allowed_updates(app) == ["message", "channel_post", "edited_channel_post", "callback_query"]


def test_the_webhook_secret_is_derived_from_the_token_or_configured() -> None:
    derived = Settings.model_validate({"telegram_token": "1:abc"}).webhook_secret()
    assert derived is not None and len(derived) == 64 and "abc" not in derived
    assert derived == Settings.model_validate({"telegram_token": "1:abc"}).webhook_secret()
    assert derived != Settings.model_validate({"telegram_token": "1:abd"}).webhook_secret()
    own = Settings.model_validate({"telegram_token": "1:abc", "telegram_webhook_secret": "s3cret_-X"})
    assert own.webhook_secret() == "s3cret_-X" and "s3cret_-X" in own.secrets()
    with pytest.raises(ValueError, match="A-Z"):
        Settings.model_validate({"telegram_webhook_secret": "has space"})


def test_a_password_inside_the_bitcoind_url_is_a_secret() -> None:
    settings = Settings.model_validate({"bitcoind_url": "http://rpc:pw-12345@127.0.0.1:8332/"})
    assert "pw-12345" in settings.secrets()


def test_the_database_url_and_its_password_are_secrets() -> None:
    url = "postgresql://bot:pg-pass-987@127.0.0.1:5432/minerwatch"
    settings = Settings.model_validate({"database_url": url})
    assert {url, "pg-pass-987"} <= set(settings.secrets())
    assert "pg-pass-987" not in repr(settings)
