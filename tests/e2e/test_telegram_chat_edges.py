"""Telegram chat edges through the real python-telegram-bot Application against the fake Bot API: channel
posts, anonymous administrators and chats posting on behalf of another chat, edited commands, commands
without a name, a failing getChatMember, the confirmation before removing every alert, and the per-chat
cap. Each test checks the text the user sees and what the store holds."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.alerts.grammar import parse_rule
from bot.alerts.rules import MAX_RULES_PER_CHAT
from bot.chat.context import Chat
from bot.chat.services import StoreServices
from bot.config import Settings
from bot.data import load_difficulty_regression
from bot.store.db import Store
from bot.transports import telegram as telegram_transport
from bot.transports.telegram import TelegramTransport
from handlers.router import COMMANDS
from tests.fakes.telegram_api import BOT_USERNAME, FakeTelegram, Fault, SentCall

USER = 1001
GROUP = -1001234500001
CHANNEL = -1001234500002
OTHER_CHANNEL = -1001234500003
ADMIN, MEMBER = 7, 8
READ_TIMEOUT_S = 2.0
"""The transport's real-time HTTP timeout here: roomy, so that no healthy answer on a busy machine times out
(an admin check would then fail); the SLOW fault answers after three times this."""
RULE = "/subscribe price below 60k"


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram() as fake:
        yield fake


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "bot.db")
    yield opened
    await opened.close()


@pytest.fixture
def services(store: Store) -> StoreServices:
    return StoreServices(store, Settings.model_validate({}), load_difficulty_regression())


@pytest.fixture
async def bot(
    monkeypatch: pytest.MonkeyPatch, telegram: FakeTelegram, store: Store, services: StoreServices
) -> AsyncIterator[TelegramTransport]:
    """The Telegram transport started as ``minerwatch run`` starts it, polling the fake."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    monkeypatch.setattr(telegram_transport, "REQUEST_TIMEOUT_S", READ_TIMEOUT_S)
    settings = Settings.model_validate(
        {"telegram_token": telegram.token, "telegram_base_url": telegram.base_url}
    )
    transport = TelegramTransport(settings, services, COMMANDS, store)
    await transport.connect()
    await telegram.wait_for(lambda: telegram.get_updates_calls, timeout=10)
    yield transport
    await transport.stop()


def replies(telegram: FakeTelegram, chat_id: int) -> list[SentCall]:
    return telegram.messages_to(chat_id)


async def next_reply(telegram: FakeTelegram, chat_id: int, before: int) -> SentCall:
    """The bot's first message to ``chat_id`` after the ``before`` it had already sent."""
    return (await telegram.wait_for(lambda: replies(telegram, chat_id)[before:], timeout=10))[0]


async def ask(telegram: FakeTelegram, chat_id: int, text: str, **kwargs: object) -> SentCall:
    """Send ``text`` as a user and return the bot's next message to that chat."""
    before = len(replies(telegram, chat_id))
    telegram.send_user_message(chat_id, text, **kwargs)  # type: ignore[arg-type]
    return await next_reply(telegram, chat_id, before)


async def press(
    telegram: FakeTelegram, chat_id: int, message: SentCall, data: str, **kwargs: int
) -> SentCall:
    """Press the button ``data`` under the bot's ``message`` and return the bot's next message."""
    assert message.message_id is not None
    before = len(replies(telegram, chat_id))
    telegram.press_button(chat_id, message.message_id, data, **kwargs)
    return await next_reply(telegram, chat_id, before)


async def rules_of(services: StoreServices, chat_id: int) -> list[str]:
    """The chat's alerts as /alerts describes them."""
    return [view.description for view in await services.subscriptions(Chat("telegram", str(chat_id)))]


def buttons(call: SentCall) -> list[str]:
    rows = (call.reply_markup or {}).get("inline_keyboard", [])
    return [button["callback_data"] for row in rows for button in row]


async def test_a_channel_post_changes_the_channel_alerts(
    bot: TelegramTransport, telegram: FakeTelegram, services: StoreServices
) -> None:
    telegram.post_in_channel(CHANNEL, RULE, title="Hash news")
    confirmation = await next_reply(telegram, CHANNEL, 0)
    assert "✅ Alert #" in (confirmation.text or "") and "price below $60,000" in (confirmation.text or "")
    assert await rules_of(services, CHANNEL) == ["price below $60,000"]
    assert telegram.calls("getChatMember") == []  # a channel's post is the channel: nothing to look up


async def test_an_anonymous_group_admin_is_an_admin(
    bot: TelegramTransport, telegram: FakeTelegram, services: StoreServices
) -> None:
    telegram.set_admins(GROUP, [ADMIN])
    accepted = await ask(telegram, GROUP, RULE, sender_chat_id=GROUP)
    assert "✅ Alert #" in (accepted.text or "")
    assert await rules_of(services, GROUP) == ["price below $60,000"]


async def test_a_channel_posting_in_a_group_is_not_an_admin(
    bot: TelegramTransport, telegram: FakeTelegram, services: StoreServices
) -> None:
    telegram.set_admins(GROUP, [ADMIN])
    refused = await ask(telegram, GROUP, RULE, sender_chat_id=OTHER_CHANNEL)
    assert "only administrators" in (refused.text or "")
    # A linked channel's post copied into its discussion group is the channel's command, not the group's:
    # it gets no answer there at all (the next command's answer is the next message).
    telegram.send_user_message(GROUP, RULE, sender_chat_id=OTHER_CHANNEL, automatic_forward=True)
    after = await ask(telegram, GROUP, "/help")
    assert "/subscribe" in (after.text or "") and "Alert #" not in (after.text or "")
    assert await rules_of(services, GROUP) == []


async def test_editing_a_subscribe_message_does_not_subscribe_again(
    bot: TelegramTransport, telegram: FakeTelegram, services: StoreServices
) -> None:
    sent = telegram.send_user_message(USER, RULE)
    await next_reply(telegram, USER, 0)
    telegram.edit_user_message(USER, sent["message"]["message_id"], "/subscribe price below 50k")
    posted = telegram.post_in_channel(CHANNEL, RULE)
    await next_reply(telegram, CHANNEL, 0)
    telegram.edit_user_message(CHANNEL, posted["channel_post"]["message_id"], RULE + " repeat")
    listing = await ask(telegram, USER, "/alerts")  # PTB handles updates in order: the edits came first
    assert "price below $60,000" in (listing.text or "") and "50,000" not in (listing.text or "")
    assert await rules_of(services, USER) == ["price below $60,000"]
    assert await rules_of(services, CHANNEL) == ["price below $60,000"]
    assert len(replies(telegram, USER)) == 2 and len(replies(telegram, CHANNEL)) == 1


@pytest.mark.parametrize("text", ["/", " / ", f"/@{BOT_USERNAME}", "/ status"])
async def test_a_command_without_a_name_gets_the_help(
    bot: TelegramTransport, telegram: FakeTelegram, text: str
) -> None:
    reply = await ask(telegram, USER, text)
    assert "/breakeven" in (reply.text or "") and "/unsubscribe" in (reply.text or "")
    assert telegram.server_errors == []


async def test_a_command_for_another_bot_is_left_alone(
    bot: TelegramTransport, telegram: FakeTelegram
) -> None:
    telegram.send_user_message(GROUP, "/status@other_bot")
    telegram.send_user_message(GROUP, "/@other_bot")
    after = await ask(telegram, GROUP, f"/help@{BOT_USERNAME}")
    assert "/breakeven" in (after.text or "")
    assert len(replies(telegram, GROUP)) == 1


@pytest.mark.parametrize(
    "fault",
    [
        {"fault": Fault.SERVER_ERROR, "status": 500},
        {"fault": Fault.SERVER_ERROR, "status": 502},
        {"fault": Fault.CHAT_NOT_FOUND},
        {"fault": Fault.SLOW, "delay_s": READ_TIMEOUT_S * 3},
    ],
    ids=["500", "502", "400", "timeout"],
)
async def test_a_failed_admin_check_asks_to_try_again(
    bot: TelegramTransport, telegram: FakeTelegram, services: StoreServices, fault: dict[str, object]
) -> None:
    telegram.set_admins(GROUP, [ADMIN])
    telegram.inject(methods=["getChatMember"], **fault)  # type: ignore[arg-type]
    reply = await ask(telegram, GROUP, RULE, user_id=ADMIN)
    assert "could not check your admin rights" in (reply.text or "") and "try again" in (reply.text or "")
    assert await rules_of(services, GROUP) == []
    retried = await ask(telegram, GROUP, RULE, user_id=ADMIN)  # Telegram answers again: accepted
    assert "✅ Alert #" in (retried.text or "")


async def test_a_failed_admin_check_is_answered_in_the_chat_language(
    bot: TelegramTransport, telegram: FakeTelegram
) -> None:
    telegram.set_admins(GROUP, [ADMIN])
    assert "Русский" in ((await ask(telegram, GROUP, "/lang ru", user_id=ADMIN)).text or "")
    telegram.inject(Fault.SERVER_ERROR, methods=["getChatMember"], status=500)
    reply = await ask(telegram, GROUP, "/unsubscribe all", user_id=ADMIN)
    assert "Не удалось проверить ваши права администратора" in (reply.text or "")


async def test_unsubscribe_alone_asks_before_removing_everything(
    bot: TelegramTransport, telegram: FakeTelegram, services: StoreServices
) -> None:
    await ask(telegram, USER, RULE)
    await ask(telegram, USER, "/subscribe network")
    question = await ask(telegram, USER, "/unsubscribe")
    # network news is two alerts (the news and the margin warning): three in all
    assert "Remove all 3 alerts of this chat?" in (question.text or "")
    assert buttons(question) == ["/unsubscribe all", "/unsubscribe keep"]
    assert len(await rules_of(services, USER)) == 3
    kept = await press(telegram, USER, question, "/unsubscribe keep")
    assert "nothing was removed" in (kept.text or "")
    assert len(await rules_of(services, USER)) == 3
    removed = await press(telegram, USER, question, "/unsubscribe all")
    assert "Removed 3 alerts" in (removed.text or "")
    assert await rules_of(services, USER) == []


async def test_in_a_channel_only_its_admins_confirm_removing_everything(
    bot: TelegramTransport, telegram: FakeTelegram, services: StoreServices
) -> None:
    telegram.post_in_channel(CHANNEL, RULE)
    telegram.set_admins(CHANNEL, [ADMIN])
    await next_reply(telegram, CHANNEL, 0)
    telegram.post_in_channel(CHANNEL, "/unsubscribe")
    question = await next_reply(telegram, CHANNEL, 1)
    assert "Remove all 1 alert of this chat?" in (question.text or "")
    refused = await press(telegram, CHANNEL, question, "/unsubscribe all", user_id=MEMBER)  # a subscriber
    assert "only administrators" in (refused.text or "")
    assert await rules_of(services, CHANNEL) == ["price below $60,000"]
    removed = await press(telegram, CHANNEL, question, "/unsubscribe all", user_id=ADMIN)
    assert "Removed 1 alert" in (removed.text or "")
    assert await rules_of(services, CHANNEL) == []


async def test_the_rule_after_the_cap_is_refused_and_not_stored(
    bot: TelegramTransport, telegram: FakeTelegram, services: StoreServices
) -> None:
    chat = Chat("telegram", str(USER))
    for dollars in range(MAX_RULES_PER_CHAT):
        await services.subscribe_rule(chat, parse_rule(f"price below {60_000 + dollars}"))
    refused = await ask(telegram, USER, "/subscribe price below 50k")
    assert f"already has {MAX_RULES_PER_CHAT} alert rules" in (refused.text or "")
    assert "/unsubscribe N" in (refused.text or "") and "/alerts" in (refused.text or "")
    stored = await rules_of(services, USER)
    assert len(stored) == MAX_RULES_PER_CHAT and "price below $50,000" not in stored
    await ask(telegram, USER, "/unsubscribe 1")
    accepted = await ask(telegram, USER, "/subscribe price below 50k")
    assert "✅ Alert #" in (accepted.text or "")
    assert "✅ Alert #" in ((await ask(telegram, USER + 1, RULE)).text or "")  # the cap is per chat
