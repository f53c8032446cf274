"""Telegram pacing per chat: no chat's burst draws a 429 or holds up the other chats.

Telegram allows a bot about 30 messages per second overall, one per second in a private chat and 20 per
minute in a group (https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this).
python-telegram-bot's ``AIORateLimiter`` paces the overall rate and groups but not private chats, and a 429
makes it halt every request for the retry period
(https://docs.python-telegram-bot.org/en/stable/telegram.ext.aioratelimiter.html): two quick commands from
one user drew a 429 on the second reply, and every send, alerts included, then waited about a second.

``ChatPacer`` (PTB's ``BaseRateLimiter``) instead keeps each chat under its own limit and the bot under the
overall one:

* per chat, one request at a time, each starting at least ``PRIVATE_PERIOD_S`` after the previous one to
  that chat *finished* (groups and channels: ``GROUP_MAX`` per ``GROUP_PERIOD_S``): measured from the
  answer, the gap Telegram sees is never shorter, whatever the network delay. The window is the chat's
  ``SendGate`` in the transport's ``ChatGates``, which the outbox takes too (a reply first): a reply right
  after an alert to the same chat waits for the chat's second instead of drawing a 429;
* overall, the bot's ``SendGate`` (``bot.delivery.rates``): 30 slots, each held from a request's start until
  one second after its answer, so Telegram never sees more than 30 in any second, whatever the network
  delay, while a burst of replies to different users goes out at once. The outbox's alerts take the same
  gate, and a reply takes the next free slot before them: replies and alerts together stay under 30/s;
* a 429 pauses only the chat that drew it, for the period Telegram names, then the request is retried
  ``rate_limit_args`` times (default ``max_retries``); other chats go on.

``PerChatUpdates`` (PTB's ``BaseUpdateProcessor``) runs updates of different chats concurrently and those
of one chat in order, so a reply waiting for its chat's slot holds up no one else's commands.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from telegram import Update
from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter, BaseUpdateProcessor

from bot.delivery.rates import ChatGates, SendGate, Window

log = logging.getLogger(__name__)

JSONResult = bool | dict[str, Any] | list[dict[str, Any]]
PRIVATE_PERIOD_S = 1.0
GROUP_MAX, GROUP_PERIOD_S = 20, 60.0
TRACKED_CHATS = 4096
"""Idle chats are forgotten once more than this many are tracked."""


def chat_windows(
    clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
) -> ChatGates:
    """Telegram's per-chat windows, counted from answers: one message a second to a private chat,
    ``GROUP_MAX`` per ``GROUP_PERIOD_S`` to a group or channel."""
    return ChatGates(
        Window(1, PRIVATE_PERIOD_S), Window(GROUP_MAX, GROUP_PERIOD_S), clock, sleep, tracked=TRACKED_CHATS
    )


@dataclass
class _Chat:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    paused_until: float = 0.0


class ChatPacer(BaseRateLimiter[int]):
    """The rate limiter described in the module docstring; ``clock``/``sleep`` are monotonic seconds."""

    def __init__(
        self,
        gate: SendGate,
        max_retries: int = 0,
        *,
        chats: ChatGates | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """``gate``: the bot's overall ceiling; ``chats``: the chats' windows (shared with the outbox; by
        default the pacer's own); both on the same ``clock``."""
        self._gate = gate
        self._windows = chats or chat_windows(clock, sleep)
        self._max_retries = max_retries
        self._clock = clock
        self._sleep = sleep
        self._chats: dict[str, _Chat] = {}

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, JSONResult]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> JSONResult:
        """Run one Bot API call: calls naming no chat (getUpdates, answerCallbackQuery) at once."""
        chat_id = data.get("chat_id")
        if chat_id is None:
            return await callback(*args, **kwargs)
        retries = self._max_retries if rate_limit_args is None else rate_limit_args
        key = str(chat_id)
        chat = self._chat(key)
        window = self._windows.gate(key, group=key.startswith(("-", "@")))  # negative ids, @channelusernames
        attempt = 0
        async with chat.lock:
            while True:
                await self._wait_until(chat.paused_until)
                await window.take(first=True)
                try:
                    await self._gate.take(first=True)
                    try:
                        return await callback(*args, **kwargs)
                    finally:
                        self._gate.give_back()
                except RetryAfter as error:
                    wait_s = retry_after_s(error)
                    chat.paused_until = self._clock() + wait_s
                    if attempt == retries:
                        raise
                    attempt += 1
                    log.info("telegram: chat %s rate limited; retrying in %.1f s", chat_id, wait_s)
                finally:
                    window.give_back()

    async def _wait_until(self, at: float) -> None:
        delay = at - self._clock()
        if delay > 0:
            await self._sleep(delay)

    def _chat(self, chat_id: str) -> _Chat:
        chat = self._chats.get(chat_id)
        if chat is None:
            if len(self._chats) >= TRACKED_CHATS:
                self._forget_idle()
            chat = self._chats[chat_id] = _Chat()
        return chat

    def _forget_idle(self) -> None:
        now = self._clock()
        for chat_id, chat in list(self._chats.items()):
            if not chat.lock.locked() and chat.paused_until <= now:
                del self._chats[chat_id]


def retry_after_s(error: RetryAfter) -> float:
    """The wait a 429 asks for, in seconds (PTB gives an int or, with ``PTB_TIMEDELTA``, a timedelta)."""
    value: int | timedelta = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class PerChatUpdates(BaseUpdateProcessor):
    """Updates of one chat in arrival order, different chats concurrently (at most ``max_concurrent``)."""

    def __init__(self, max_concurrent: int) -> None:
        super().__init__(max_concurrent)
        self._locks: dict[int | None, tuple[asyncio.Lock, int]] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        chat = update.effective_chat if isinstance(update, Update) else None
        async with self._turn(chat.id if chat is not None else None):
            await coroutine

    @asynccontextmanager
    async def _turn(self, key: int | None) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""
