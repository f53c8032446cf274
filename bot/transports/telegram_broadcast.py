"""The lean Telegram send path for broadcast rows: one sendMessage per subscriber at up to ~1000/s.

A broadcast sends the same text to every subscriber, so its cost is the bot's CPU per request. Through
python-telegram-bot over httpx that is ~1.5 ms a message (httpcore's pool bookkeeping, two socket writes per
request, ``Message.de_json`` of every answer): the bot, not Telegram's 1000/s paid-broadcast ceiling, set the
rate. Here the same Bot API call goes through aiohttp (already the bot's WebSocket and health-server library;
~0.2 ms a request on keep-alive connections) as a JSON body built once per text (only ``chat_id`` changes),
and the answer is not turned into a ``Message``.

An error answer is read as python-telegram-bot reads it (``BaseRequest`` in PTB 22: ``description``,
``parameters.migrate_to_chat_id``, ``parameters.retry_after``, then the HTTP status;
https://core.telegram.org/bots/api#making-requests) into the same ``TelegramError``, so
``telegram.outcome_of`` makes it the same outbox outcome as on PTB's path. Errors on the way (refused
connection, timeout) become PTB's ``NetworkError``/``TimedOut`` naming the error type, never the URL, which
holds the bot token.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from http import HTTPStatus

import aiohttp
import httpx
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

CONTENT_TYPE = {"Content-Type": "application/json"}
INTEGER = re.compile(r"-?[0-9]+")


def answer_error(status: int, payload: bytes) -> TelegramError:
    """The ``TelegramError`` PTB raises for a non-2xx Bot API answer."""
    try:
        message = f"{HTTPStatus(status).phrase} ({status})"
    except ValueError:
        message = f"Unknown HTTPError ({status})"
    try:
        answer = json.loads(payload)
    except ValueError:
        answer = None
    if isinstance(answer, dict):
        message = answer.get("description") or message
        parameters = answer.get("parameters")
        if isinstance(parameters, dict) and parameters:
            if migrate_to := parameters.get("migrate_to_chat_id"):
                return ChatMigrated(migrate_to)
            if retry_after := parameters.get("retry_after"):
                return RetryAfter(retry_after)
            message += f". The server response contained unknown parameters: {parameters}"
    else:
        message += f". Parsing the server response {payload!r} failed"
    if status == HTTPStatus.FORBIDDEN:
        return Forbidden(message)
    if status in (HTTPStatus.NOT_FOUND, HTTPStatus.UNAUTHORIZED):
        return InvalidToken(message)
    if status == HTTPStatus.BAD_REQUEST:
        return BadRequest(message)
    if status == HTTPStatus.CONFLICT:
        return Conflict(message)
    return NetworkError(message)


class BroadcastSender:
    """``sendMessage`` with HTML text over one aiohttp session of ``connections`` keep-alive connections;
    raises PTB's ``TelegramError`` like ``Bot.send_message`` but builds no ``Message`` from the answer.
    ``on_ok`` is called for every 200 answer (the transport's liveness)."""

    def __init__(self, url: str, connections: int, timeout_s: float, on_ok: Callable[[], None]) -> None:
        """``url``: the bot's sendMessage URL (it holds the token)."""
        self._url = url
        self._connections = connections
        self._timeout = aiohttp.ClientTimeout(total=None, connect=timeout_s, sock_read=timeout_s)
        self._on_ok = on_ok
        self._session: aiohttp.ClientSession | None = None
        self._tail: tuple[tuple[str, bool], bytes] | None = None
        """The last text's body after ``chat_id`` (a broadcast sends one text to every chat)."""

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            # As PTB's httpx client: certifi's CAs (a slim container may have no system store) and the
            # HTTP(S)_PROXY / NO_PROXY environment.
            connector = aiohttp.TCPConnector(
                limit=self._connections, limit_per_host=self._connections, ssl=httpx.create_ssl_context()
            )
            self._session = aiohttp.ClientSession(connector=connector, timeout=self._timeout, trust_env=True)

    async def shutdown(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def body(self, chat_id: str, text: str, paid: bool) -> bytes:
        """The JSON body: ``chat_id`` as a number where it is one (Telegram takes an Integer or an
        ``@channelusername`` String), then the text part, serialised once per text."""
        key = (text, paid)
        if self._tail is None or self._tail[0] != key:
            fields: dict[str, object] = {"text": text, "parse_mode": "HTML"}
            if paid:
                fields["allow_paid_broadcast"] = True
            self._tail = (key, json.dumps(fields, ensure_ascii=False).encode()[1:])
        chat = int(chat_id) if INTEGER.fullmatch(chat_id) else chat_id
        return b'{"chat_id":' + json.dumps(chat).encode() + b"," + self._tail[1]

    async def send_message(self, chat_id: str, text: str, *, paid: bool) -> None:
        if self._session is None:
            raise NetworkError("the broadcast connections are not open")
        body = self.body(chat_id, text, paid)
        try:
            async with self._session.post(self._url, data=body, headers=CONTENT_TYPE) as response:
                payload = await response.read()
        except TimeoutError:  # aiohttp's timeouts are asyncio's (TimeoutError since Python 3.11)
            raise TimedOut from None
        except (aiohttp.ClientError, OSError) as error:
            # The type only: some aiohttp errors quote the URL, and the URL holds the token.
            raise NetworkError(f"aiohttp.{type(error).__name__}") from None
        if not HTTPStatus.OK <= response.status < HTTPStatus.MULTIPLE_CHOICES:
            raise answer_error(response.status, payload)
        if response.status == HTTPStatus.OK:
            self._on_ok()
