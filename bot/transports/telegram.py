"""Telegram transport: a python-telegram-bot 22 Application sharing the bot's one event loop.

Updates become ``handlers`` requests; replies become messages with inline keyboards and photos; button presses
are the commands they show; ``my_chat_member`` updates (blocked, removed, added) and group migrations keep the
store's chats true. Commands come from new messages and channel posts only: an edit never runs a command again
(updates handled: message, channel_post, callback_query, my_chat_member). Who may change a chat's alerts
follows ``Message.sender_chat`` (https://core.telegram.org/bots/api#message): a channel's own post and a
group's anonymous administrator speak as the chat and may; a message on behalf of another chat may not; anyone
else is looked up with getChatMember. As the outbox ``Notifier`` it maps Telegram's errors
(https://core.telegram.org/bots/api#responseparameters) to typed outcomes: RetryAfter -> retry, ChatMigrated
-> moved, Forbidden and "chat not found" -> gone, timeouts and network errors -> transient, other bad requests
-> permanent. Broadcast messages go with ``allow_paid_broadcast`` when ``MINERWATCH_TELEGRAM_PAID_BROADCAST``
is on, and ``rates`` tells the outbox Telegram's limits. Broadcast text rows take a lean path
(``telegram_broadcast``: aiohttp, no ``Message`` built from the answer; same outcomes); the rest of the
outbox goes through PTB's Bot. Replies and alerts draw from one 30/s ``gate`` and one window per chat
(``chats``), replies first. The Application runs with the manual lifecycle (not ``run_polling``) and without
PTB's JobQueue: our own scheduler owns time.

``run`` connects in the background with back-off (the bot serves everything else meanwhile); every 200
answer from the Bot API refreshes ``liveness``. Telegram is asked only for the update types the registered
handlers accept (``allowed_updates``), and a webhook checks Telegram's ``X-Telegram-Bot-Api-Secret-Token``
header (``secret_token``; PTB answers 403 without it).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any

from telegram import (
    BotCommand,
    ChatMember,
    ChatMemberUpdated,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    MessageEntity,
    Update,
)
from telegram import Chat as TelegramChat
from telegram.constants import ChatType, ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    BaseHandler,
    CallbackQueryHandler,
    ChatMemberHandler,
    ContextTypes,
    ExtBot,
    MessageHandler,
    filters,
)
from telegram.request import HTTPXRequest

from bot.chat.commands import CommandSet, parse_command, split_command
from bot.chat.context import Chat, Services
from bot.chat.kinds import ChatKind
from bot.chat.membership import chat_joined, chat_left, chat_moved
from bot.chat.reply import Reply
from bot.config import Settings
from bot.delivery import notifier as outcomes
from bot.delivery.notifier import Destination, OutboundMessage, SendOutcome
from bot.delivery.rates import SendGate, SendRates, Window
from bot.render.i18n import SUPPORTED
from bot.store.db import Store
from bot.transports.lifecycle import (
    BACKOFF,
    Backoff,
    Liveness,
    TokenRejectedError,
    describe,
    pause,
    retry_soft,
)
from bot.transports.telegram_broadcast import BroadcastSender
from bot.transports.telegram_pacing import ChatPacer, PerChatUpdates, chat_windows, retry_after_s

log = logging.getLogger(__name__)

PLATFORM = "telegram"
MUTATING_COMMANDS = frozenset({"subscribe", "unsubscribe", "profile", "lang", "fleet", "tariff"})
ADMIN_STATUSES = frozenset({ChatMember.ADMINISTRATOR, ChatMember.OWNER})
GONE_STATUSES = frozenset({ChatMember.BANNED, ChatMember.LEFT})
CAPTION_LIMIT = 1024
SENDS_PER_S = 30
"""Telegram's ~30 messages/s per bot, all chats together; at most one message a second to a private chat and
20 a minute to a group (https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this).
Replies and the outbox's free-tier sends hold it together: one ``SendGate`` per bot, counted from Telegram's
answers, replies first (``TelegramTransport.gate``); likewise each chat's window
(``TelegramTransport.chats``)."""
PAID_BROADCAST_PER_S = 950.0
"""Paid broadcasts: up to 1000 messages/s (Bot API sendMessage ``allow_paid_broadcast``), less the free tier's
share for personal alerts and replies."""
PAID_CEILING = Window(1000 - SENDS_PER_S, 1.0)
"""The paid bucket's hard limit, counted from answers: with the free tier's 30 never over 1000 in a second."""
OUTBOX_POOL_SIZE = 4
"""HTTP connections for the outbox's personal alerts and photos (PTB), apart from replies' (so a reply never
waits for one behind an alert). httpcore checks every open connection on each request, so the CPU per message
grows with the pool (measured: 4 ≈ 1.2 ms, 8 ≈ 1.5, 16 ≈ 1.9 per message)."""
BROADCAST_CONNECTIONS = 8
"""Keep-alive connections of the lean broadcast path (``telegram_broadcast``): aiohttp's pool costs the same
per request whatever its size, and 8 keep ~1000 msg/s going at up to ~8 ms per answer."""
SENDS_CEILING = Window(SENDS_PER_S, 1.0)
RATES = SendRates(
    per_s=SENDS_PER_S,
    private=Window(1, 1.0),
    group=Window(20, 60.0),
    in_flight=OUTBOX_POOL_SIZE,
    ceiling=SENDS_CEILING,
)
PAID_RATES = replace(
    RATES,
    broadcast_per_s=PAID_BROADCAST_PER_S,
    broadcast_ceiling=PAID_CEILING,
    in_flight=4 * BROADCAST_CONNECTIONS,
)
"""With ``MINERWATCH_TELEGRAM_PAID_BROADCAST``: broadcast rows on their own bucket, the rest as ``RATES``."""
REPLY_RETRIES = 3
"""A reply that meets a 429 waits and retries (the outbox handles retries for alerts itself)."""
CONCURRENT_UPDATES = 256
"""Updates handled at once, one chat's in order (``PerChatUpdates``)."""
REQUEST_TIMEOUT_S = 5.0
"""Connect/read/write timeout of one Bot API call (PTB's default); getUpdates adds ``POLL_TIMEOUT_S``."""
POLL_TIMEOUT_S = 10.0
"""getUpdates long-polls this long, so a healthy polling bot has a successful call at least this often."""
WEBHOOK_PROBE_S = 30.0
"""In webhook mode an idle bot calls nothing: getWebhookInfo is asked this often instead."""
SILENCE_LIMIT_S = 120.0
"""/healthz turns 503 when Telegram's last successful answer is older than this (12 poll timeouts, 4 webhook
probes; PTB's polling retries a failed getUpdates within at most 30 s)."""
NOT_CONNECTED_RETRY_S = 5.0
"""An alert for Telegram before the first connection waits this long in the outbox (attempts not counted)."""
WEBHOOK_PATH = "telegram"
MESSAGE_UPDATES = (
    Update.MESSAGE,
    Update.EDITED_MESSAGE,
    Update.CHANNEL_POST,
    Update.EDITED_CHANNEL_POST,
    Update.BUSINESS_MESSAGE,
    Update.EDITED_BUSINESS_MESSAGE,
)
"""The update types that carry a ``Message`` (what a ``MessageHandler`` can match)."""
NAMELESS_COMMAND = filters.Regex(r"^\s*/(?:@\w*)?(?:\s|$)")
"""``/`` alone or ``/@bot``: meant for the bot though Telegram marks no bot_command in it; gets the help."""
NEW_COMMANDS = (
    (filters.COMMAND | NAMELESS_COMMAND)
    & (filters.UpdateType.MESSAGE | filters.UpdateType.CHANNEL_POST)
    & ~filters.IS_AUTOMATIC_FORWARD
)
"""Commands in new messages and channel posts; not edits (a changed ``/subscribe`` must not subscribe again)
and not a linked channel's posts copied into its discussion group (the channel's own post was the command)."""
KIND_BY_TYPE = {
    ChatType.PRIVATE: ChatKind.PRIVATE,
    ChatType.GROUP: ChatKind.GROUP,
    ChatType.SUPERGROUP: ChatKind.SUPERGROUP,
    ChatType.CHANNEL: ChatKind.CHANNEL,
}


def keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    """The reply's buttons; each button's callback data is the command it runs."""
    if not reply.buttons:
        return None
    rows = [[InlineKeyboardButton(b.label, callback_data=b.data) for b in row] for row in reply.buttons]
    return InlineKeyboardMarkup(rows)


def outcome_of(error: TelegramError) -> SendOutcome:
    """Telegram's error for one send as the outbox's typed outcome."""
    if isinstance(error, RetryAfter):
        return outcomes.RetryAfter(retry_after_s(error))
    if isinstance(error, ChatMigrated):
        return outcomes.ChatMoved(str(error.new_chat_id))
    if isinstance(error, Forbidden):
        return outcomes.ChatGone(str(error))
    if isinstance(error, BadRequest):
        if "chat not found" in str(error).lower():
            return outcomes.ChatGone(str(error))
        return outcomes.PermanentFailure(str(error))
    if isinstance(error, NetworkError):
        return outcomes.TransientFailure(str(error) or type(error).__name__)
    return outcomes.PermanentFailure(str(error) or type(error).__name__)


def rejection(error: InvalidToken) -> TokenRejectedError:
    """The one-line error for a token Telegram refused (PTB's own message quotes the token)."""
    cause = error.__cause__ if isinstance(error.__cause__, InvalidToken) else error
    phrase = cause.message.strip()
    status = next((f"{s.value} {s.phrase}" for s in HTTPStatus if s.phrase == phrase), "invalid token")
    return TokenRejectedError("MINERWATCH_TELEGRAM_TOKEN", "Telegram", status)


def _probes(update_type: str) -> list[Update]:
    """Updates of ``update_type`` carrying each kind of message the bot's handlers look at."""
    chat = TelegramChat(1, ChatType.CHANNEL if "channel" in update_type else ChatType.PRIVATE)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    command = [MessageEntity(MessageEntity.BOT_COMMAND, 0, 5)]
    messages = [
        Message(1, at, chat, text="/help", entities=command),
        Message(1, at, chat, text="/"),
        Message(1, at, chat, text="hello"),
        Message(1, at, chat, migrate_to_chat_id=-1001),
    ]
    probes = []
    for message in messages:
        fields: dict[str, Any] = {update_type: message}
        probes.append(Update(0, **fields))
    return probes


def handled_updates(handler: BaseHandler[Any, Any, Any]) -> set[str]:
    """The update types ``handler`` can accept (message types found by offering it sample messages)."""
    if isinstance(handler, CallbackQueryHandler):
        return {Update.CALLBACK_QUERY}
    if isinstance(handler, ChatMemberHandler):
        if handler.chat_member_types == ChatMemberHandler.MY_CHAT_MEMBER:
            return {Update.MY_CHAT_MEMBER}
        if handler.chat_member_types == ChatMemberHandler.CHAT_MEMBER:
            return {Update.CHAT_MEMBER}
        return {Update.MY_CHAT_MEMBER, Update.CHAT_MEMBER}
    if isinstance(handler, MessageHandler):
        return {kind for kind in MESSAGE_UPDATES if any(handler.check_update(u) for u in _probes(kind))}
    raise TypeError(f"allowed_updates: no update types known for {type(handler).__name__}")


def allowed_updates(app: Application) -> list[str]:  # type: ignore[type-arg]
    """What Telegram should send: the update types the registered handlers accept, nothing else."""
    kinds = set().union(*(handled_updates(h) for group in app.handlers.values() for h in group))
    return [kind for kind in Update.ALL_TYPES if kind in kinds]


class _TrackedRequest(HTTPXRequest):
    """PTB's httpx request that records each 200 answer from the Bot API in ``liveness``."""

    def __init__(self, liveness: Liveness, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._liveness = liveness

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        code, payload = await super().do_request(*args, **kwargs)
        if code == HTTPStatus.OK:
            self._liveness.succeeded()
        return code, payload


class TelegramTransport:
    """Serves Telegram chats and delivers their alerts."""

    platform = PLATFORM

    def __init__(self, settings: Settings, services: Services, commands: CommandSet, store: Store) -> None:
        if settings.telegram_token is None:
            raise ValueError("MINERWATCH_TELEGRAM_TOKEN is not set")
        self._settings = settings
        self._services = services
        self._commands = commands
        self._store = store
        self._paid_broadcast = settings.telegram_paid_broadcast
        self.rates = PAID_RATES if self._paid_broadcast else RATES
        self.gate = SendGate(SENDS_CEILING)
        """Telegram's 30/s for this bot: command replies (first) and the outbox's free-tier sends."""
        self.chats = chat_windows()
        """Each chat's window (1/s private, 20/min group): command replies (first) and every outbox send."""
        self.liveness = Liveness(SILENCE_LIMIT_S)
        timeouts = dict.fromkeys(("connect_timeout", "read_timeout", "write_timeout"), REQUEST_TIMEOUT_S)
        self.app: Application = (  # type: ignore[type-arg]
            ApplicationBuilder()
            .token(settings.telegram_token.get_secret_value())
            .base_url(settings.telegram_base_url)
            .request(_TrackedRequest(self.liveness, **timeouts))
            .get_updates_request(_TrackedRequest(self.liveness, connection_pool_size=1, **timeouts))
            .rate_limiter(ChatPacer(self.gate, max_retries=0, chats=self.chats))
            .concurrent_updates(PerChatUpdates(CONCURRENT_UPDATES))
            .job_queue(None)
            .build()
        )
        # Outbox sends go through their own small pool, paced by the outbox alone (``rates``): a second
        # pacer in series (PTB's) would only lose slots to jitter.
        self.outbox_bot = ExtBot(
            settings.telegram_token.get_secret_value(),
            base_url=settings.telegram_base_url,
            request=_TrackedRequest(self.liveness, connection_pool_size=OUTBOX_POOL_SIZE, **timeouts),
        )
        # Broadcast rows (one text to every subscriber) take the lean path: same call, a fraction of the CPU.
        self.broadcast = BroadcastSender(
            f"{self.outbox_bot.base_url}/sendMessage",
            BROADCAST_CONNECTIONS,
            REQUEST_TIMEOUT_S,
            self.liveness.succeeded,
        )
        self.app.add_handler(
            MessageHandler(filters.StatusUpdate.MIGRATE & filters.UpdateType.MESSAGE, self._on_migrate)
        )
        self.app.add_handler(MessageHandler(NEW_COMMANDS, self._on_command))
        self.app.add_handler(CallbackQueryHandler(self._on_button))
        self.app.add_handler(ChatMemberHandler(self._on_membership, ChatMemberHandler.MY_CHAT_MEMBER))
        self.app.add_error_handler(self._on_error)

    async def connect(self) -> None:
        """Initialise (getMe) and start receiving updates; raises ``TokenRejectedError`` when Telegram refuses
        the token and whatever PTB raises when Telegram cannot be reached (safe to call again)."""
        try:
            await self.app.initialize()
            await self.outbox_bot.initialize()
            await self.broadcast.initialize()
        except InvalidToken as error:
            raise rejection(error) from None
        if not self.app.running:
            await self.app.start()
        updater = self.app.updater
        assert updater is not None
        webhook_url = self._settings.telegram_webhook_url
        allowed = allowed_updates(self.app)
        if updater.running:
            pass  # a previous attempt got this far
        elif webhook_url:
            await updater.start_webhook(
                listen=self._settings.telegram_webhook_listen,
                port=self._settings.telegram_webhook_port,
                url_path=WEBHOOK_PATH,
                webhook_url=webhook_url,
                allowed_updates=allowed,
                secret_token=self._settings.webhook_secret(),
            )
        else:
            await updater.start_polling(
                timeout=timedelta(seconds=POLL_TIMEOUT_S), allowed_updates=allowed, drop_pending_updates=False
            )
        self.liveness.connected = True
        log.info("telegram: connected as @%s", self.app.bot.username)

    async def set_menu(self) -> None:
        """The command menu in each language (``setMyCommands``)."""
        for language in SUPPORTED:
            commands = [BotCommand(name, text) for name, text in self._commands.menu(language)]
            await self.app.bot.set_my_commands(commands, language_code=None if language == "en" else language)

    async def run(self, stop: asyncio.Event, backoff: Backoff = BACKOFF) -> None:
        """Connect with back-off until ``stop``, then set the menu (retried until it succeeds) and, in
        webhook mode, probe Telegram every ``WEBHOOK_PROBE_S``. Raises ``TokenRejectedError``."""
        attempt = 0
        while not stop.is_set():
            try:
                await self.connect()
                break
            except TokenRejectedError:
                raise
            except Exception as error:  # unreachable, 5xx, timeouts, a webhook port in use: try again
                attempt += 1
                delay = backoff.delay(attempt)
                log.warning("telegram: cannot connect (%s); retrying in %.0f s", describe(error), delay)
                await pause(stop, delay)
        if stop.is_set():
            return
        await retry_soft("telegram: setting the command menu", self.set_menu, stop, backoff)
        if self._settings.telegram_webhook_url:
            await self._probe_webhook(stop)

    async def _probe_webhook(self, stop: asyncio.Event) -> None:
        """Nothing calls Telegram while a webhook bot is idle: ask getWebhookInfo now and then, so the
        last successful call stays fresh, and log the delivery errors Telegram reports."""
        reported: object = None
        while not await pause(stop, WEBHOOK_PROBE_S):
            try:
                info = await self.app.bot.get_webhook_info()
            except TelegramError as error:
                log.debug("telegram: getWebhookInfo failed: %s", describe(error))
                continue
            if info.last_error_date is not None and info.last_error_date != reported:
                reported = info.last_error_date
                log.warning("telegram: webhook delivery failing: %s", info.last_error_message)

    async def stop(self) -> None:
        """Stop receiving updates and release every connection (also after a connection that failed)."""
        self.liveness.connected = False
        updater = self.app.updater
        if updater is not None and updater.running:
            await updater.stop()
        if self.app.running:
            await self.app.stop()
        await self.app.shutdown()
        await self.app.bot.shutdown()  # an initialize() that failed at getMe left its clients open
        await self.outbox_bot.shutdown()
        await self.broadcast.shutdown()

    async def send(self, destination: Destination, message: OutboundMessage) -> SendOutcome:
        """Deliver one outbox message; Telegram errors become typed outcomes, never exceptions."""
        if not self.liveness.connected:
            return outcomes.RetryAfter(NOT_CONNECTED_RETRY_S)
        paid = True if self._paid_broadcast and message.broadcast else None  # None: parameter left out
        try:
            if message.broadcast and message.image_png is None:
                await self.broadcast.send_message(destination.chat_id, message.text, paid=bool(paid))
            elif message.image_png is not None:
                await self.outbox_bot.send_photo(
                    destination.chat_id,
                    message.image_png,
                    caption=message.text[:CAPTION_LIMIT],
                    parse_mode=ParseMode.HTML,
                    allow_paid_broadcast=paid,
                )
            else:
                await self.outbox_bot.send_message(
                    destination.chat_id, message.text, parse_mode=ParseMode.HTML, allow_paid_broadcast=paid
                )
        except TelegramError as error:
            return outcome_of(error)
        return outcomes.Sent()

    async def _may_change(
        self, chat: TelegramChat, user_id: int | None, sender_chat: TelegramChat | None
    ) -> bool | None:
        """Whether the sender may change ``chat``'s alerts; ``None`` when Telegram could not say.

        A message on behalf of a chat (``sender_chat``) is the chat itself — a channel's post, which only its
        administrators can make, or a group's anonymous administrator — or another chat (a channel posting
        into a group), which administers nothing here. Anyone else is looked up with getChatMember.
        """
        if sender_chat is not None:
            return sender_chat.id == chat.id
        if user_id is None:
            return False
        try:
            member = await self.app.bot.get_chat_member(chat.id, user_id)
        except TelegramError as error:
            log.warning("telegram: admin check in chat %s failed: %s", chat.id, type(error).__name__)
            return None
        return member.status in ADMIN_STATUSES

    async def _answer(
        self, message: Message, text: str, user_id: int | None, sender_chat: TelegramChat | None
    ) -> None:
        parts = split_command(text)
        if parts is None:
            return
        command, mention, _ = parts
        if mention and mention.lower() != (self.app.bot.username or "").lower():
            return  # /status@other_bot is for another bot in the group
        chat = message.chat
        kind = KIND_BY_TYPE.get(ChatType(chat.type), ChatKind.PRIVATE)
        is_admin: bool | None = kind is ChatKind.PRIVATE
        if not is_admin and command in MUTATING_COMMANDS:
            is_admin = await self._may_change(chat, user_id, sender_chat)
        asker = Chat(platform=PLATFORM, chat_id=str(chat.id), kind=kind, is_admin=is_admin)
        request = parse_command(asker, text)
        if request is None:
            return
        reply = await self._commands.dispatch(request, self._services)
        if reply.image_png is not None:
            await self.app.bot.send_photo(
                message.chat.id,
                reply.image_png,
                caption=reply.text[:CAPTION_LIMIT],
                parse_mode=ParseMode.HTML,
                reply_markup=keyboard(reply),
                rate_limit_args=REPLY_RETRIES,
            )
        else:
            await self.app.bot.send_message(
                message.chat.id,
                reply.text,
                parse_mode=ParseMode.HTML,
                reply_markup=keyboard(reply),
                rate_limit_args=REPLY_RETRIES,
            )

    async def _on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or message.text is None:
            return
        user = update.effective_user
        # A channel post is the channel speaking, even where Telegram leaves sender_chat out.
        sender_chat = message.sender_chat or (message.chat if update.channel_post else None)
        await self._answer(message, message.text, user.id if user else None, sender_chat)

    async def _on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None or query.data is None or not isinstance(query.message, Message):
            return
        await query.answer()
        # The button's message is the bot's own (in a channel its sender_chat is the channel): who pressed
        # it is ``from_user``, whatever chat sent the message.
        await self._answer(query.message, query.data, query.from_user.id, None)

    async def _on_membership(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        change: ChatMemberUpdated | None = update.my_chat_member
        if change is None:
            return
        chat_id = str(change.chat.id)
        status = change.new_chat_member.status
        if status in GONE_STATUSES:
            reason = (
                "blocked the bot" if change.chat.type == ChatType.PRIVATE else f"bot {status} from the chat"
            )
            await chat_left(self._store, PLATFORM, chat_id, reason)
            log.info("telegram: chat %s inactive (%s)", chat_id, reason)
            return
        kind = KIND_BY_TYPE.get(ChatType(change.chat.type), ChatKind.PRIVATE)
        await chat_joined(self._store, PLATFORM, chat_id, kind)
        was_out = change.old_chat_member.status in GONE_STATUSES
        if kind is not ChatKind.PRIVATE and was_out:
            chat = Chat(platform=PLATFORM, chat_id=chat_id, kind=kind, is_admin=False)
            request = parse_command(chat, "/start")
            assert request is not None
            reply = await self._commands.dispatch(request, self._services)
            await self.app.bot.send_message(change.chat.id, reply.text, parse_mode=ParseMode.HTML)

    async def _on_migrate(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is not None and message.migrate_to_chat_id is not None:
            await chat_moved(self._store, PLATFORM, str(message.chat.id), str(message.migrate_to_chat_id))

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error(
            "telegram: %s while handling an update", type(context.error).__name__, exc_info=context.error
        )
