"""The fake Telegram Bot API, exercised with the real python-telegram-bot (manual Application lifecycle)."""

from __future__ import annotations

import asyncio
import datetime as dtm
import struct
import sys
import threading
import time
import zlib
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from telegram import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    ChatMemberAdministrator,
    ChatMemberOwner,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.constants import ChatMemberStatus, ParseMode
from telegram.error import BadRequest, ChatMigrated, Conflict, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
)

from tests.fakes.telegram_api import BOT_USERNAME, DEFAULT_USER_ID, FakeTelegram, Fault

ROOT = Path(__file__).resolve().parents[2]
App = Application[Any, Any, Any, Any, Any, Any]


@pytest.fixture(autouse=True)
def _ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    """Opt in to ``RetryAfter.retry_after`` as a timedelta (no PTB deprecation warning)."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


def build_app(fake: FakeTelegram) -> App:
    return ApplicationBuilder().token(fake.token).base_url(fake.base_url).job_queue(None).build()


@pytest.fixture
async def app(fake: FakeTelegram) -> AsyncIterator[App]:
    """An initialized Application (getMe done), not polling: call ``app.bot`` methods directly."""
    application = build_app(fake)
    async with application:
        yield application


@asynccontextmanager
async def polling(application: App, *, poll_timeout: int = 0) -> AsyncIterator[App]:
    """The manual lifecycle from platforms.md §1.2, with polling."""
    async with application:
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(poll_interval=0, timeout=poll_timeout)
        try:
            yield application
        finally:
            await application.updater.stop()
            await application.stop()


def png(width: int, height: int) -> bytes:
    """A valid RGB PNG whose text chunk holds bytes a sloppy multipart parser would mangle."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes(i % 256 for i in range(3 * width)) for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"tEXt", b"Comment\x00\r\n--boundary\r\n\r\n\x00\xff")
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


# updates and replies --------------------------------------------------------------------------------------
async def test_command_reaches_handler_and_reply_is_recorded(fake: FakeTelegram) -> None:
    application = build_app(fake)
    seen: list[tuple[int, str]] = []

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None and update.effective_chat is not None
        seen.append((update.effective_chat.id, update.effective_chat.type))
        await update.effective_message.reply_text("<b>Welcome</b> to MinerWatch", parse_mode=ParseMode.HTML)

    application.add_handler(CommandHandler("start", start))
    async with polling(application):
        first = fake.send_user_message(42, "/start", first_name="Satoshi")
        await fake.wait_for(lambda: fake.messages_to(42))
        second = fake.send_user_message(-4001, f"/start@{BOT_USERNAME}", title="Miners")
        await fake.wait_for(lambda: fake.messages_to(-4001))

    assert seen == [(42, "private"), (-4001, "group")]
    assert first["message"]["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    reply = fake.messages_to(42)[0]
    assert (reply.method, reply.text, reply.parse_mode) == (
        "sendMessage",
        "<b>Welcome</b> to MinerWatch",
        "HTML",
    )
    assert reply.message_id == first["message"]["message_id"] + 1
    stored = fake.message(42, 2)
    assert stored == {
        "message_id": 2,
        "from": fake.bot_user,
        "chat": {"id": 42, "type": "private", "first_name": "Satoshi"},
        "date": stored["date"] if stored else None,
        "text": "Welcome to MinerWatch",
    }
    # every update delivered once, and confirmed by the updater's final getUpdates on stop
    assert fake.delivered_update_ids == [first["update_id"], second["update_id"]]
    assert fake.pending_updates == 0
    assert fake.server_errors == []


async def test_long_poll_wakes_up_when_an_update_is_queued() -> None:
    with FakeTelegram(max_poll_s=3.0) as fake:
        application = build_app(fake)

        async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            assert update.effective_message is not None
            await update.effective_message.reply_text("pong")

        application.add_handler(CommandHandler("ping", echo))
        async with polling(application, poll_timeout=10):
            await asyncio.sleep(0.1)  # the bot is now inside a long poll
            started = time.monotonic()
            fake.send_user_message(7, "/ping")
            await fake.wait_for(lambda: fake.messages_to(7), timeout=2.5)
            assert time.monotonic() - started < 1.0


async def test_send_photo_is_recorded_byte_exact(fake: FakeTelegram, app: App) -> None:
    image = png(400, 200)
    message = await app.bot.send_photo(42, photo=image, caption="<b>Hashprice</b> 30d", parse_mode="HTML")

    call = fake.messages_to(42)[-1]
    assert call.method == "sendPhoto" and call.photo == image and call.caption == "<b>Hashprice</b> 30d"
    assert message.caption == "Hashprice 30d"
    sizes = [(p.width, p.height) for p in message.photo]
    assert sizes == [(90, 45), (320, 160), (400, 200)]
    assert message.photo[-1].file_size == len(image)
    # the file_id can be sent again
    again = await app.bot.send_photo(42, photo=message.photo[-1].file_id)
    assert again.photo[-1].file_unique_id == message.photo[-1].file_unique_id


async def test_callback_query_round_trip(fake: FakeTelegram) -> None:
    application = build_app(fake)

    async def menu(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        keyboard = [[InlineKeyboardButton("Hashprice", callback_data="hp")]]
        await update.effective_message.reply_text("Pick one", reply_markup=InlineKeyboardMarkup(keyboard))

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer("Loading…")
        await query.edit_message_text(f"You picked <i>{query.data}</i>", parse_mode=ParseMode.HTML)

    application.add_handler(CommandHandler("menu", menu))
    application.add_handler(CallbackQueryHandler(pressed))
    async with polling(application):
        fake.send_user_message(42, "/menu")
        [sent] = await fake.wait_for(lambda: fake.messages_to(42))
        assert sent.reply_markup == {"inline_keyboard": [[{"text": "Hashprice", "callback_data": "hp"}]]}
        assert sent.message_id is not None
        with pytest.raises(ValueError, match="no button"):
            fake.press_button(42, sent.message_id, "nope")
        update = fake.press_button(42, sent.message_id, "hp")
        await fake.wait_for(lambda: fake.calls("editMessageText"))

    [answer] = fake.calls("answerCallbackQuery")
    assert answer.ok and answer.params["callback_query_id"] == update["callback_query"]["id"]
    assert answer.params["text"] == "Loading…"
    edited = fake.message(42, sent.message_id)
    assert edited is not None and edited["text"] == "You picked hp" and "reply_markup" not in edited
    assert "edit_date" in edited


async def test_edit_and_answer_errors_match_telegram(fake: FakeTelegram, app: App) -> None:
    message = await app.bot.send_message(42, "same")
    with pytest.raises(BadRequest, match="Message is not modified"):
        await app.bot.edit_message_text("same", chat_id=42, message_id=message.message_id)
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await app.bot.edit_message_text("x", chat_id=42, message_id=999)
    with pytest.raises(BadRequest, match="Query is too old"):
        await app.bot.answer_callback_query("123")
    with pytest.raises(BadRequest, match="Button_data_invalid"):
        markup = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="x" * 65)]])
        await app.bot.send_message(42, "too much data", reply_markup=markup)


async def test_my_chat_member_updates_reach_chat_member_handler(fake: FakeTelegram) -> None:
    application = build_app(fake)
    seen: list[tuple[int, str, str, int]] = []

    async def membership(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        change = update.my_chat_member
        assert change is not None
        seen.append(
            (
                change.chat.id,
                change.old_chat_member.status,
                change.new_chat_member.status,
                change.from_user.id,
            )
        )

    application.add_handler(ChatMemberHandler(membership, ChatMemberHandler.MY_CHAT_MEMBER))
    async with polling(application):
        fake.bot_blocked(42)
        fake.bot_added_to_group(-1001234567890, "Hashrate Hub", by_user_id=77)
        fake.bot_removed_from_group(-1001234567890, by_user_id=77)
        fake.bot_added_to_group(-4001, "Small group")
        fake.bot_removed_from_group(-4001)
        await fake.wait_for(lambda: len(seen) == 5)

    assert seen == [
        (42, "member", "kicked", 42),
        (-1001234567890, "left", "member", 77),
        (-1001234567890, "member", "kicked", 77),
        (-4001, "left", "member", DEFAULT_USER_ID),
        (-4001, "member", "left", DEFAULT_USER_ID),
    ]
    async with application:
        with pytest.raises(Forbidden, match="bot was blocked by the user"):
            await application.bot.send_message(42, "still there?")
        with pytest.raises(Forbidden, match="bot was kicked from the supergroup chat"):
            await application.bot.send_message(-1001234567890, "hello?")
        fake.bot_unblocked(42)
        await application.bot.send_message(42, "welcome back")


# faults ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fault", "kwargs", "exception", "message"),
    [
        (Fault.RETRY_AFTER, {"retry_after": 7}, RetryAfter, "Flood control exceeded. Retry in 0:00:07"),
        (Fault.BLOCKED, {}, Forbidden, "Forbidden: bot was blocked by the user"),
        (Fault.CHAT_NOT_FOUND, {}, BadRequest, "Chat not found"),
        (Fault.SERVER_ERROR, {}, NetworkError, "Bad Gateway"),
    ],
)
async def test_injected_fault_maps_to_the_ptb_exception(
    fake: FakeTelegram,
    app: App,
    fault: Fault,
    kwargs: dict[str, Any],
    exception: type[Exception],
    message: str,
) -> None:
    fake.inject(fault, chat_id=42, **kwargs)
    with pytest.raises(exception) as caught:
        await app.bot.send_message(42, "alert")
    assert type(caught.value) is exception and str(caught.value) == message
    if isinstance(caught.value, RetryAfter):
        assert caught.value.retry_after == dtm.timedelta(seconds=7)
    await app.bot.send_message(42, "the fault was used up")
    assert [c.status for c in fake.calls("sendMessage", 42)] == [caught_status(fault), 200]


def caught_status(fault: Fault) -> int:
    return {Fault.RETRY_AFTER: 429, Fault.BLOCKED: 403, Fault.CHAT_NOT_FOUND: 400, Fault.SERVER_ERROR: 502}[
        fault
    ]


async def test_retry_after_body_is_exactly_telegrams(fake: FakeTelegram) -> None:
    fake.inject(Fault.RETRY_AFTER, retry_after=3)
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{fake.base_url}{fake.token}/sendMessage", data={"chat_id": "1", "text": "x"}
        )
    assert response.status_code == 429
    assert response.json() == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 3",
        "parameters": {"retry_after": 3},
    }
    assert fake.http_429 == 1 and fake.limit_hits == {"injected": 1}


async def test_fault_scope_count_and_permanent_block(fake: FakeTelegram, app: App) -> None:
    fake.inject("CHAT_NOT_FOUND", chat_id=1, times=2)
    await app.bot.send_message(2, "other chats are unaffected")
    for _ in range(2):
        with pytest.raises(BadRequest):
            await app.bot.send_message(1, "x")
    await app.bot.send_message(1, "third time works")

    fake.block_chat(3)
    for _ in range(3):
        with pytest.raises(Forbidden):
            await app.bot.send_message(3, "x")
    assert [c.status for c in fake.calls("sendMessage", 3)] == [403, 403, 403]


async def test_migrated_group_keeps_failing_and_new_id_works(fake: FakeTelegram, app: App) -> None:
    new_id = fake.migrate_chat(-4001, notify=False)
    assert new_id == -1000000004001
    for _ in range(2):
        with pytest.raises(ChatMigrated) as caught:
            await app.bot.send_message(-4001, "x")
        assert caught.value.new_chat_id == new_id
    message = await app.bot.send_message(new_id, "moved")
    assert message.chat.type == "supergroup"


async def test_slow_response_and_failing_get_updates(fake: FakeTelegram, app: App) -> None:
    fake.inject(Fault.SLOW, delay_s=0.5)
    with pytest.raises(TimedOut):
        await app.bot.send_message(42, "x", read_timeout=0.1)
    fake.inject(Fault.SERVER_ERROR, methods=["getUpdates"], status=503)
    with pytest.raises(NetworkError, match="Service Unavailable"):
        await app.bot.get_updates()
    assert await app.bot.get_updates() == ()


# flood limits ---------------------------------------------------------------------------------------------
async def test_limit_mode_caps_a_burst_at_30_per_second() -> None:
    with FakeTelegram(enforce_limits=True) as fake:
        application = build_app(fake)
        async with application:
            results = await asyncio.gather(
                *(application.bot.send_message(chat_id, "alert") for chat_id in range(1, 36)),
                return_exceptions=True,
            )
    refused = [r for r in results if isinstance(r, RetryAfter)]
    # 35 sends in one burst: the 31st onwards within the same second is refused. On a loaded machine the
    # burst may straddle a window boundary, which lets a few more through, but never more than 30 a second.
    assert 1 <= len(refused) <= 5 and len(fake.calls("sendMessage")) == 35
    assert all(r.retry_after == dtm.timedelta(seconds=1) for r in refused)
    assert fake.http_429 == len(refused) and fake.limit_hits == {"overall": len(refused)}


async def test_limit_mode_private_chat_one_per_second_and_spacing() -> None:
    with FakeTelegram(enforce_limits=True) as fake:
        application = build_app(fake)
        async with application:
            await application.bot.send_message(7, "first")
            with pytest.raises(RetryAfter) as caught:
                await application.bot.send_message(7, "second")
            assert caught.value.retry_after == dtm.timedelta(seconds=1)
            await application.bot.send_message(8, "another chat is fine")
            assert fake.limit_hits == {"private_chat": 1}

            fake.set_limits(private_period_s=0.2)  # a shorter window, so spacing costs little time
            await application.bot.send_message(7, "first")
            await asyncio.sleep(0.25)
            await application.bot.send_message(7, "spaced")
    assert [c.status for c in fake.calls("sendMessage", 7)] == [200, 429, 200, 200]


async def test_limit_mode_group_twenty_per_minute() -> None:
    with FakeTelegram(enforce_limits=True) as fake:
        application = build_app(fake)
        async with application:
            for n in range(20):
                await application.bot.send_message(-4001, f"alert {n}")
            with pytest.raises(RetryAfter) as caught:
                await application.bot.send_message(-4001, "one too many")
    retry_after = caught.value.retry_after
    assert isinstance(retry_after, dtm.timedelta) and 58 <= retry_after.total_seconds() <= 60
    assert fake.limit_hits == {"group": 1}


# commands, chats, parsing ---------------------------------------------------------------------------------
async def test_set_my_commands_recorded_per_language_and_scope(fake: FakeTelegram, app: App) -> None:
    await app.bot.set_my_commands([BotCommand("price", "BTC price"), BotCommand("hashprice", "Hashprice")])
    await app.bot.set_my_commands([("price", "BTC-Preis")], language_code="de")
    await app.bot.set_my_commands([("subscribe", "Alerts here")], scope=BotCommandScopeAllGroupChats())

    assert [c["command"] for c in fake.my_commands()] == ["price", "hashprice"]
    assert fake.my_commands("de") == [{"command": "price", "description": "BTC-Preis"}]
    assert fake.my_commands(scope={"type": "all_group_chats"})[0]["command"] == "subscribe"
    assert [c.command for c in await app.bot.get_my_commands(language_code="de")] == ["price"]
    await app.bot.delete_my_commands(language_code="de")
    assert fake.my_commands("de") == []
    with pytest.raises(BadRequest, match="Bot_command_invalid"):
        await app.bot.set_my_commands([("Price", "capitals are refused")])


async def test_chat_members_admins_and_chat_info(fake: FakeTelegram, app: App) -> None:
    fake.send_user_message(-4001, "hi", user_id=5, title="Miners")
    fake.set_admins(-4001, [5, 6, fake.bot_id], creator_id=5)

    owner = await app.bot.get_chat_member(-4001, 5)
    assert isinstance(owner, ChatMemberOwner)
    admin = await app.bot.get_chat_member(-4001, 6)
    assert isinstance(admin, ChatMemberAdministrator) and admin.can_delete_messages
    assert (await app.bot.get_chat_member(-4001, 9)).status == ChatMemberStatus.MEMBER
    admins = await app.bot.get_chat_administrators(-4001)
    assert [m.user.id for m in admins] == [5, 6, fake.bot_id]
    chat = await app.bot.get_chat(-4001)
    assert (chat.type, chat.title) == ("group", "Miners")
    with pytest.raises(BadRequest, match="no administrators in the private chat"):
        await app.bot.get_chat_administrators(42)
    assert await app.bot.send_chat_action(42, "typing") is True


async def test_html_is_checked_like_telegram(fake: FakeTelegram, app: App) -> None:
    ok = await app.bot.send_message(
        42, "<b>1 BTC</b> &lt; <a href='https://x.test'>$100k</a> &amp; more", "HTML"
    )
    assert ok.text == "1 BTC < $100k & more"
    assert (await app.bot.send_message(42, "1 < 2 & 3 > 2")).text == "1 < 2 & 3 > 2"  # no parse_mode
    unmatched = 'unmatched end tag at byte offset 4, expected "</b>", found "</i>"'
    bad = {
        "1 < 2": 'Can\'t parse entities: unsupported start tag "" at byte offset 2',
        "<b>open": "Can't parse entities: can't find end tag corresponding to start tag \"b\"",
        "<b>x</i>": f"Can't parse entities: {unmatched}",
        "<br>": 'Can\'t parse entities: unsupported start tag "br" at byte offset 0',
    }
    for text, description in bad.items():
        with pytest.raises(BadRequest) as caught:
            await app.bot.send_message(42, text, parse_mode="HTML")
        assert str(caught.value).lower() == description.lower()
    with pytest.raises(BadRequest, match="Message is too long"):
        await app.bot.send_message(42, "x" * 4097)


async def test_form_and_json_bodies_are_decoded_per_field(fake: FakeTelegram, app: App) -> None:
    await app.bot.send_message(42, "123")  # PTB sends a form: the text must stay a string
    async with httpx.AsyncClient() as client:
        url = f"{fake.base_url}{fake.token}"
        markup = {"inline_keyboard": [[{"text": "a", "callback_data": "1"}]]}
        response = await client.post(
            f"{url}/sendMessage", json={"chat_id": 43, "text": "9", "reply_markup": markup}
        )
        assert response.json()["result"]["reply_markup"] == markup
        assert (await client.post(f"{url}/getMe")).json()["result"]["username"] == BOT_USERNAME
        unknown = await client.post(f"{url}/sendDice", data={"chat_id": "42"})
        assert unknown.status_code == 404
        assert unknown.json() == {
            "ok": False,
            "error_code": 404,
            "description": "Not Found: method not found",
        }
        assert (await client.post(f"{fake.base_url}1:WRONG/getMe")).status_code == 401
    first, second = fake.calls("sendMessage")
    assert (first.chat_id, first.text, second.chat_id, second.text) == (42, "123", 43, "9")
    assert second.reply_markup == markup


async def test_webhook_is_recorded_and_conflicts_with_polling(fake: FakeTelegram, app: App) -> None:
    fake.send_user_message(42, "/start")
    await app.bot.set_webhook("https://bot.example.test/hook")
    assert fake.webhook_url == "https://bot.example.test/hook"
    with pytest.raises(Conflict):
        await app.bot.get_updates()
    await app.bot.delete_webhook(drop_pending_updates=True)
    assert fake.webhook_url is None and fake.pending_updates == 0


# test-side helpers and the subprocess mode ----------------------------------------------------------------
async def test_wait_for_fails_with_the_recent_calls(fake: FakeTelegram, app: App) -> None:
    await app.bot.send_message(42, "only this")
    with pytest.raises(AssertionError, match="only this"):
        await fake.wait_for(lambda: fake.messages_to(99), timeout=0.05)


def test_wait_for_sync_wakes_up_from_another_thread(fake: FakeTelegram) -> None:
    def user_writes() -> None:
        time.sleep(0.05)
        fake.send_user_message(42, "/price")

    writer = threading.Thread(target=user_writes)
    writer.start()
    assert fake.wait_for_sync(lambda: fake.pending_updates, timeout=2) == 1
    writer.join()


async def test_subprocess_mode_and_control_api(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.fakes.telegram_api",
        "--port",
        "0",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    try:
        lines = [(await asyncio.wait_for(process.stdout.readline(), 10)).decode().strip() for _ in range(4)]
        base_url, token, control = (
            lines[0],
            lines[1].removeprefix("TOKEN="),
            lines[2].removeprefix("CONTROL="),
        )
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/bot") and lines[3] == ""

        application: App = ApplicationBuilder().token(token).base_url(base_url).job_queue(None).build()

        async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            assert update.effective_message is not None
            await update.effective_message.reply_text("hello from the bot")

        application.add_handler(CommandHandler("start", start))
        async with httpx.AsyncClient() as client, polling(application):
            queued = await client.post(f"{control}/send_user_message", json={"chat_id": 42, "text": "/start"})
            assert queued.json()["result"]["message"]["text"] == "/start"
            waited = await client.get(f"{control}/wait", params={"method": "sendMessage", "chat_id": 42})
            assert [c["text"] for c in waited.json()] == ["hello from the bot"]
            inject = {"args": ["RETRY_AFTER"], "kwargs": {"retry_after": 2}}
            assert (await client.post(f"{control}/inject", json=inject)).json() == {
                "ok": True,
                "result": None,
            }
            with pytest.raises(RetryAfter):
                await application.bot.send_message(42, "x")
            state = (await client.get(f"{control}/state")).json()
            assert state["http_429"] == 1 and state["limit_hits"] == {"injected": 1}
            sent = (await client.get(f"{control}/sent", params={"method": "sendMessage"})).json()
            assert [c["status"] for c in sent] == [200, 429]
            assert (await client.post(f"{control}/shutdown")).status_code == 404
    finally:
        process.terminate()
        assert await asyncio.wait_for(process.wait(), 10) == 0
