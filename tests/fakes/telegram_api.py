"""A loopback fake of the Telegram Bot API for end-to-end tests with the real python-telegram-bot.

``FakeTelegram`` serves ``/bot<token>/<method>`` on 127.0.0.1 from a background thread, so it works for a bot
in the test's own event loop and for a bot in another process::

    python -m tests.fakes.telegram_api --port 8081  # prints base URL, TOKEN=..., CONTROL=..., blank line

Tests play the users (``send_user_message``, ``press_button``, ``bot_blocked``, ...), inject faults with the
exact bodies Telegram sends (``inject(Fault.RETRY_AFTER, retry_after=3)``, ``migrate_chat``, ``block_chat``),
can enforce Telegram's flood limits (``enforce_limits=True``) and read what the bot did from ``sent``.
Another process drives it with ``POST /_control/<op>`` and a JSON body ``{"args": [...], "kwargs": {...}}``
(or just the keyword arguments) and reads ``GET /_control/sent[?method=&chat_id=]``, ``GET /_control/state``
and ``GET /_control/wait?method=sendMessage&chat_id=42&count=1&timeout=5`` (blocks until that many calls).

Bodies may be JSON, form-urlencoded or multipart (PTB sends the latter two); form values are decoded per
field as Telegram does (``chat_id``/``offset``/... numeric, ``text``/``caption`` raw, ``reply_markup``/...
JSON), so a text of ``"123"`` stays a string. ``parse_mode="HTML"`` texts are checked as Telegram's
parser checks them.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import copy
import enum
import hashlib
import itertools
import json
import math
import re
import signal
import socket
import struct
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, parse_qsl, urlsplit

from tests.fakes import Waiting

HOST = "127.0.0.1"
TOKEN = "123456:TEST"
BOT_ID = 123456
BOT_USERNAME = "minerwatch_test_bot"
DEFAULT_USER_ID = 1001
"""The user who acts in group chats when a test names nobody."""
ANONYMOUS_ADMIN_BOT = {
    "id": 1087968824,
    "is_bot": True,
    "first_name": "Group",
    "username": "GroupAnonymousBot",
}
"""The placeholder ``from`` Telegram puts on a group message sent by an anonymous administrator."""
CHANNEL_BOT = {"id": 136817688, "is_bot": True, "first_name": "Channel", "username": "Channel_Bot"}
"""The placeholder ``from`` Telegram puts on a group message sent on behalf of a channel."""

JSON = dict[str, Any]


class Fault(enum.Enum):
    """What ``inject`` makes matching calls answer instead of the normal result."""

    RETRY_AFTER = "429 Too Many Requests: retry after N, with parameters.retry_after"
    BLOCKED = "403 Forbidden: bot was blocked by the user"
    CHAT_NOT_FOUND = "400 Bad Request: chat not found"
    SERVER_ERROR = "a 5xx (502 Bad Gateway unless status= says otherwise)"
    SLOW = "the normal answer, after delay_s"


@dataclass(frozen=True)
class Limits:
    """The flood limits ``enforce_limits=True`` applies to sendMessage/sendPhoto (Telegram bot FAQ).

    Windows slide; a negative chat id is a group. Shrink the periods to test spacing without long sleeps.
    """

    overall_max: int = 30
    overall_period_s: float = 1.0
    private_max: int = 1
    private_period_s: float = 1.0
    group_max: int = 20
    group_period_s: float = 60.0


@dataclass(frozen=True)
class SentCall:
    """One Bot API call the bot made (any method but getUpdates) and how the fake answered it."""

    method: str
    chat_id: int | str | None
    text: str | None
    parse_mode: str | None
    reply_markup: JSON | None
    photo: bytes | None
    caption: str | None
    params: JSON
    time: float
    status: int
    description: str | None = None
    message_id: int | None = None

    @property
    def ok(self) -> bool:
        return self.status == HTTPStatus.OK

    def to_json(self) -> JSON:
        """JSON-safe form (``photo`` base64-encoded), as served by ``GET /_control/sent``."""
        data = asdict(self)
        data["photo"] = base64.b64encode(self.photo).decode() if self.photo is not None else None
        return data


class _ApiError(Exception):
    """A Bot API error answer: HTTP status == error_code, Telegram's description and parameters."""

    def __init__(self, status: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def body(self) -> JSON:
        body: JSON = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def _bad_request(what: str) -> _ApiError:
    return _ApiError(400, f"Bad Request: {what}")


def _retry_after(seconds: int) -> _ApiError:
    return _ApiError(429, f"Too Many Requests: retry after {seconds}", {"retry_after": seconds})


_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the same as a "
    "current content and reply markup of the message"
)
_MIGRATED = "group chat was upgraded to a supergroup chat"
_WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
_POLL_CONFLICT = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
)
_SUPERGROUP_BASE = 10**12
"""Supergroup ids look like -100xxxxxxxxxx."""


@dataclass
class _Injection:
    fault: Fault
    chat_id: int | None
    methods: frozenset[str] | None
    remaining: int | None
    retry_after: int
    status: int
    delay_s: float


@dataclass(frozen=True)
class _Reply:
    status: int
    body: bytes


def _json_reply(status: int, payload: Any) -> _Reply:
    return _Reply(status, json.dumps(payload, ensure_ascii=False).encode())


# request decoding ----------------------------------------------------------------------------------------
_INT_FIELDS = frozenset(
    [
        "chat_id",
        "from_chat_id",
        "offset",
        "limit",
        "message_id",
        "user_id",
        "cache_time",
        "message_thread_id",
        "reply_to_message_id",
        "max_connections",
        "until_date",
    ]
)
_FLOAT_FIELDS = frozenset({"timeout"})
_JSON_FIELDS = frozenset(
    [
        "reply_markup",
        "entities",
        "caption_entities",
        "allowed_updates",
        "commands",
        "scope",
        "link_preview_options",
        "reply_parameters",
        "media",
        "permissions",
        "rights",
    ]
)
_BOOL_FIELDS = frozenset(
    [
        "disable_notification",
        "protect_content",
        "show_alert",
        "drop_pending_updates",
        "disable_web_page_preview",
        "allow_sending_without_reply",
        "has_spoiler",
        "show_caption_above_media",
        "allow_paid_broadcast",
        "for_channels",
    ]
)


def _decode_field(name: str, value: Any) -> Any:
    """Telegram-style per-field decoding of a form value (JSON body values pass through if already typed)."""
    if not isinstance(value, str):
        return value
    if name in _JSON_FIELDS:
        try:
            return json.loads(value)
        except ValueError as exc:
            raise _bad_request(f"can't parse {name} JSON object") from exc
    if name in _INT_FIELDS:
        try:
            return int(value)
        except ValueError:
            return value
    if name in _FLOAT_FIELDS:
        try:
            return float(value)
        except ValueError:
            return value
    if name in _BOOL_FIELDS and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    return value


def _header_param(header: str, name: str) -> str | None:
    match = re.search(rf'(?:^|;)\s*{name}="?([^";]*)"?', header)
    return match.group(1) if match else None


def _parse_multipart(body: bytes, content_type: str) -> tuple[dict[str, str], dict[str, bytes]]:
    """Split a multipart/form-data body into text fields and files, byte-exact."""
    boundary = _header_param(content_type, "boundary")
    if not boundary:
        raise _bad_request("multipart boundary is missing")
    values: dict[str, str] = {}
    files: dict[str, bytes] = {}
    for chunk in body.split(b"--" + boundary.encode())[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, content = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        content = content.removesuffix(b"\r\n")
        headers = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        disposition = headers.get("content-disposition", "")
        name = _header_param(disposition, "name")
        if name is None:
            continue
        if _header_param(disposition, "filename") is not None:
            files[name] = content
        else:
            values[name] = content.decode("utf-8")
    return values, files


def _decode_request(content_type: str, body: bytes, query: str) -> tuple[JSON, dict[str, bytes]]:
    raw: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    files: dict[str, bytes] = {}
    media_type = content_type.split(";")[0].strip().lower()
    if media_type == "application/json" and body:
        try:
            document = json.loads(body)
        except ValueError as exc:
            raise _bad_request("can't parse JSON object") from exc
        if not isinstance(document, dict):
            raise _bad_request("JSON object expected")
        raw.update(document)
    elif media_type == "application/x-www-form-urlencoded":
        raw.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    elif media_type == "multipart/form-data":
        values, files = _parse_multipart(body, content_type)
        raw.update(values)
    return {name: _decode_field(name, value) for name, value in raw.items()}, files


# text, HTML and photos -----------------------------------------------------------------------------------
def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


_HTML_TAGS = frozenset(
    {"a", "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "tg-emoji"}
    | {"code", "pre", "blockquote"}
)
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY_RE = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z]+);")


def _parse_html(text: str) -> str:
    """The visible text of a Telegram-HTML message; raises Telegram's "can't parse entities" errors.

    Follows the rules of TDLib's ``parse_html``: only Telegram's tags, ``<span>`` only as ``tg-spoiler``, tags
    must nest, unknown ``&...;`` entities stay literal. Entities (bold, links, ...) are not computed.
    """
    text = text.strip()
    out: list[str] = []
    stack: list[str] = []
    i, n = 0, len(text)

    def fail(what: str, at: int | None = None) -> _ApiError:
        where = f" at byte offset {len(text[:at].encode())}" if at is not None else ""
        return _bad_request(f"can't parse entities: {what}{where}")

    while i < n:
        char = text[i]
        if char == "&" and (entity := _ENTITY_RE.match(text, i)):
            name = entity.group(1)
            if name.startswith("#"):
                code = int(name[2:], 16) if name[1] in "xX" else int(name[1:])
                decoded: str | None = (
                    chr(code) if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else None
                )
            else:
                decoded = _NAMED_ENTITIES.get(name)
            if decoded is not None:
                out.append(decoded)
                i = entity.end()
                continue
        if char != "<":
            out.append(char)
            i += 1
            continue
        start = i
        if text.startswith("</", i):
            if not stack:
                raise fail("Unexpected end tag", start)
            j = i + 2
            while j < n and not text[j].isspace() and text[j] != ">":
                j += 1
            name = text[i + 2 : j].lower()
            while j < n and text[j].isspace():
                j += 1
            if j >= n or text[j] != ">":
                raise fail("Unclosed end tag", start)
            if name and name != stack[-1]:
                offset = len(text[:start].encode())
                raise fail(
                    f'Unmatched end tag at byte offset {offset}, expected "</{stack[-1]}>", found "</{name}>"'
                )
            stack.pop()
            i = j + 1
            continue
        j = i + 1
        while j < n and not text[j].isspace() and text[j] != ">":
            j += 1
        if j >= n:
            raise fail("Unclosed start tag", start)
        name = text[i + 1 : j].lower()
        if name not in _HTML_TAGS:
            raise fail(f'Unsupported start tag "{name}"', start)
        quote: str | None = None
        k = j
        while k < n and (quote is not None or text[k] != ">"):
            if text[k] in "\"'" and quote in (None, text[k]):
                quote = None if quote else text[k]
            k += 1
        if k >= n:
            raise fail(f'Unclosed start tag "{name}"', start)
        if name == "span" and not re.search(r"""class\s*=\s*["']?tg-spoiler""", text[j:k]):
            raise fail('Tag "span" must have class "tg-spoiler"', start)
        stack.append(name)
        i = k + 1
    if stack:
        raise fail(f'Can\'t find end tag corresponding to start tag "{stack[-1]}"')
    return "".join(out)


def _visible_text(text: str, parse_mode: Any) -> str:
    if parse_mode in (None, ""):
        return text.strip()
    if not isinstance(parse_mode, str) or parse_mode.lower() not in ("html", "markdown", "markdownv2"):
        raise _bad_request("unsupported parse_mode")
    return _parse_html(text) if parse_mode.lower() == "html" else text.strip()


def _image_size(data: bytes) -> tuple[int, int]:
    """(width, height) of a PNG or JPEG; (0, 0) for anything else (the fake accepts it anyway)."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                i += 1
                continue
            marker = data[i + 1]
            if marker in (0xFF, 0x01) or 0xD0 <= marker <= 0xD8:
                i += 1 if marker == 0xFF else 2
                continue
            (segment,) = struct.unpack(">H", data[i + 2 : i + 4])
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height, width = struct.unpack(">HH", data[i + 5 : i + 9])
                return int(width), int(height)
            i += 2 + int(segment)
    return 0, 0


def _photo_sizes(data: bytes) -> list[JSON]:
    """PhotoSize list as Telegram returns it: thumbnails smaller than the image, then the image (≤1280 px)."""
    digest = hashlib.sha256(data).hexdigest()
    width, height = _image_size(data)
    longest = max(width, height, 1)
    sizes: list[JSON] = []
    for tag, side in (("s", 90), ("m", 320), ("x", 800), ("y", 1280)):
        last = side >= longest or tag == "y"
        scale = min(1.0, side / longest)
        sizes.append(
            {
                "file_id": f"AgACAgIAAxkBAAI{digest[:32]}{tag}",
                "file_unique_id": f"AQAD{digest[:12]}{tag}",
                "width": round(width * scale),
                "height": round(height * scale),
                "file_size": len(data) if last else max(1, round(len(data) * scale * scale)),
            }
        )
        if last:
            break
    return sizes


_COMMAND_RE = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?")
_INLINE_ACTIONS = frozenset(
    [
        "url",
        "callback_data",
        "web_app",
        "login_url",
        "switch_inline_query",
        "switch_inline_query_current_chat",
        "switch_inline_query_chosen_chat",
        "copy_text",
        "callback_game",
        "pay",
    ]
)
_CHAT_ACTIONS = frozenset(
    [
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    ]
)
_NOT_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
"""Update types Telegram sends only when ``allowed_updates`` names them
(https://core.telegram.org/bots/api#getupdates)."""
_LIMITED = frozenset({"sendmessage", "sendphoto"})
_BLOCKABLE = frozenset(
    {"sendmessage", "sendphoto", "sendchataction", "editmessagetext", "editmessagereplymarkup"}
)
_ADMIN_RIGHTS = (
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
    "can_pin_messages",
)


def _command_entities(text: str) -> list[JSON]:
    return [
        {"type": "bot_command", "offset": _utf16_len(text[: m.start()]), "length": _utf16_len(m.group())}
        for m in _COMMAND_RE.finditer(text)
    ]


def _chat_type_for(chat_id: int) -> str:
    if chat_id > 0:
        return "private"
    return "supergroup" if chat_id <= -_SUPERGROUP_BASE else "group"


def _scope_key(scope: JSON | None) -> str:
    return json.dumps(scope or {"type": "default"}, sort_keys=True, separators=(",", ":"))


class FakeTelegram(Waiting):
    """The fake Bot API server: a context manager, or ``start()``/``stop()``. Its state is thread-safe."""

    def __init__(
        self,
        port: int = 0,
        *,
        token: str = TOKEN,
        enforce_limits: bool = False,
        limits: Limits | None = None,
        max_poll_s: float = 0.5,
    ) -> None:
        self._port = port
        self.token = token
        self.bot_id = int(token.split(":")[0]) if token.split(":")[0].isdigit() else BOT_ID
        self.enforce_limits = enforce_limits
        self.limits = limits or Limits()
        self.max_poll_s = max_poll_s
        """getUpdates long-polls at most this long, whatever ``timeout`` the bot asks for."""
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._stopped = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._update_ids = itertools.count(700_000_001)
        self._query_ids = itertools.count(4_000_000_000_000_001)
        self._methods: dict[str, Callable[[JSON, dict[str, bytes]], Any]] = {
            name.lower(): handler
            for name, handler in {
                "getMe": self._get_me,
                "deleteWebhook": self._delete_webhook,
                "setWebhook": self._set_webhook,
                "getWebhookInfo": self._get_webhook_info,
                "sendMessage": self._send_message,
                "sendPhoto": self._send_photo,
                "editMessageText": self._edit_message_text,
                "editMessageReplyMarkup": self._edit_message_reply_markup,
                "answerCallbackQuery": self._answer_callback_query,
                "setMyCommands": self._set_my_commands,
                "getMyCommands": self._get_my_commands,
                "deleteMyCommands": self._delete_my_commands,
                "getChatMember": self._get_chat_member,
                "getChatAdministrators": self._get_chat_administrators,
                "getChat": self._get_chat,
                "sendChatAction": self._send_chat_action,
            }.items()
        }
        self._chats: dict[int, JSON] = {}
        self._users: dict[int, JSON] = {}
        self._last_message_id: dict[int, int] = {}
        self._clear_state()

    def _clear_state(self) -> None:
        self._sent: list[SentCall] = []
        self._updates: list[JSON] = []
        self._delivered: list[int] = []
        self._messages: dict[tuple[int, int], JSON] = {}
        self._user_messages: dict[tuple[int, int], tuple[str, JSON]] = {}
        """Messages users sent (by chat and message id) with the update field they came in, for edits."""
        self._allowed_updates: frozenset[str] | None = None
        self._sources: dict[tuple[int, int], tuple[str, Any]] = {}
        self._callbacks: dict[str, bool] = {}
        self._photos: dict[str, list[JSON]] = {}
        self._admins: dict[int, tuple[frozenset[int], int | None]] = {}
        self._bot_status: dict[int, str] = {}
        self._blocked: dict[int, str] = {}
        self._migrated: dict[int, int] = {}
        self._injections: list[_Injection] = []
        self._commands: dict[tuple[str, str], list[JSON]] = {}
        self._overall_window: deque[float] = deque()
        self._chat_windows: dict[int, deque[float]] = {}
        self._poll_generation = 0
        self.webhook_url: str | None = None
        self.get_updates_calls = 0
        self.http_429 = 0
        self._limit_hits: Counter[str] = Counter()
        self.server_errors: list[str] = []
        """Unexpected exceptions inside the fake (answered 500); a test may assert this stays empty."""

    # lifecycle -----------------------------------------------------------------------------------------
    def start(self) -> Self:
        self._stopped.clear()
        self._server = _Server(self._port, self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-telegram",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        with self._changed:
            self._changed.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.close_connections()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def close_port(self) -> None:
        """An outage: stop listening (connections are refused), keeping the port and every recorded call;
        ``reopen_port`` ends it."""
        assert self._server is not None, "FakeTelegram is not running"
        self._port = self._server.server_address[1]
        self.stop()

    def reopen_port(self) -> None:
        """Listen again on the same port after ``close_port``."""
        self.start()

    @property
    def closed(self) -> bool:
        return self._server is None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def root_url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeTelegram is not running")
        return f"http://{HOST}:{self._server.server_address[1]}"

    @property
    def base_url(self) -> str:
        """For ``ApplicationBuilder().base_url(...)``: PTB appends the token and ``/<method>``."""
        return f"{self.root_url}/bot"

    @property
    def control_url(self) -> str:
        return f"{self.root_url}/_control"

    @property
    def bot_user(self) -> JSON:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "MinerWatch Test",
            "username": BOT_USERNAME,
        }

    # the users' side -----------------------------------------------------------------------------------
    def send_user_message(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int | None = None,
        chat_type: str | None = None,
        first_name: str | None = None,
        title: str | None = None,
        username: str | None = None,
        language_code: str = "en",
        sender_chat_id: int | None = None,
        automatic_forward: bool = False,
    ) -> JSON:
        """Queue an Update with a user's text Message (``bot_command`` entities marked); returns the Update.

        ``chat_type`` defaults from the id: positive = private (the user is the chat), -100… = supergroup,
        other negative = group (sent by ``user_id``, default ``DEFAULT_USER_ID``). In a group,
        ``sender_chat_id`` sends on behalf of a chat as Telegram shows it: the group's own id is an anonymous
        administrator, another id a channel (``automatic_forward``: the linked channel's post copied into its
        discussion group); ``from`` is then Telegram's placeholder bot.
        """
        with self._lock:
            chat_type = chat_type or _chat_type_for(chat_id)
            if chat_type == "private":
                if user_id not in (None, chat_id) or sender_chat_id is not None:
                    raise ValueError("in a private chat the user id is the chat id")
                user_id = chat_id
            user = self._user(user_id or DEFAULT_USER_ID, first_name, username, language_code)
            chat = self._ensure_chat(chat_id, chat_type, title=title, user=user)
            content: JSON = {"text": text}
            if sender_chat_id == chat_id:
                user, content["sender_chat"] = copy.deepcopy(ANONYMOUS_ADMIN_BOT), chat
            elif sender_chat_id is not None:
                user, content["sender_chat"] = (
                    copy.deepcopy(CHANNEL_BOT),
                    self._ensure_chat(sender_chat_id, "channel"),
                )
            if automatic_forward:
                if sender_chat_id in (None, chat_id):
                    raise ValueError(
                        "an automatic forward comes from a linked channel: give its sender_chat_id"
                    )
                content["is_automatic_forward"] = True
            if entities := _command_entities(text):
                content["entities"] = entities
            message = self._new_message(chat, user, **content)
            self._user_messages[(chat_id, message["message_id"])] = ("message", message)
            return self.push_update({"message": message})

    def post_in_channel(self, chat_id: int, text: str, *, title: str | None = None) -> JSON:
        """Queue a channel_post Update: an administrator posts ``text`` in channel ``chat_id`` (Telegram
        shows the channel itself as ``sender_chat`` and no ``from``); returns the Update."""
        with self._lock:
            chat = self._ensure_chat(chat_id, "channel", title=title)
            chat_id = chat["id"]
            self._last_message_id[chat_id] = message_id = self._last_message_id.get(chat_id, 0) + 1
            message: JSON = {
                "message_id": message_id,
                "sender_chat": chat,
                "chat": chat,
                "date": int(time.time()),
                "text": text,
            }
            if entities := _command_entities(text):
                message["entities"] = entities
            self._user_messages[(chat_id, message_id)] = ("channel_post", message)
            return self.push_update({"channel_post": message})

    def edit_user_message(self, chat_id: int, message_id: int, text: str) -> JSON:
        """Queue the edited_message (or edited_channel_post) Update of a user editing a message they sent
        through ``send_user_message`` / ``post_in_channel`` to read ``text``; returns the Update."""
        with self._lock:
            found = self._user_messages.get((chat_id, message_id))
            if found is None:
                raise ValueError(f"no user message {message_id} in chat {chat_id}")
            kind, message = found
            edited = {k: v for k, v in message.items() if k != "entities"}
            edited |= {"text": text, "edit_date": int(time.time())}
            if entities := _command_entities(text):
                edited["entities"] = entities
            self._user_messages[(chat_id, message_id)] = (kind, edited)
            return self.push_update({f"edited_{kind}": edited})

    def press_button(self, chat_id: int, message_id: int, data: str, *, user_id: int | None = None) -> JSON:
        """Queue a callback_query Update for the inline button with ``callback_data == data`` on a message the
        bot sent (as it is now, after edits); raises ValueError if there is no such message or button."""
        with self._lock:
            message = self._messages.get((chat_id, message_id))
            if message is None:
                raise ValueError(f"the bot has no message {message_id} in chat {chat_id}")
            keyboard = (message.get("reply_markup") or {}).get("inline_keyboard", [])
            choices = [button.get("callback_data") for row in keyboard for button in row]
            if data not in choices:
                raise ValueError(f"message {message_id} has no button {data!r}; it has {choices}")
            user = self._user(user_id or (chat_id if chat_id > 0 else DEFAULT_USER_ID))
            query_id = str(next(self._query_ids))
            self._callbacks[query_id] = False
            query = {
                "id": query_id,
                "from": user,
                "message": copy.deepcopy(message),
                "chat_instance": str(abs(chat_id) * 7919 + 13),
                "data": data,
            }
            return self.push_update({"callback_query": query})

    def bot_blocked(self, chat_id: int) -> JSON:
        """The user blocks the bot: a my_chat_member update (member → kicked) and 403 on every later send."""
        with self._lock:
            if chat_id <= 0:
                raise ValueError("only a private chat (positive id) can block the bot")
            self._blocked[chat_id] = "Forbidden: bot was blocked by the user"
            return self._my_chat_member(chat_id, chat_id, "member", "kicked")

    def bot_unblocked(self, chat_id: int) -> JSON:
        """The user restarts the bot: my_chat_member kicked → member, sends work again."""
        with self._lock:
            self._blocked.pop(chat_id, None)
            return self._my_chat_member(chat_id, chat_id, "kicked", "member")

    def bot_removed_from_group(self, chat_id: int, *, by_user_id: int = DEFAULT_USER_ID) -> JSON:
        """The bot is removed: my_chat_member → "left" (group) / "kicked" (supergroup); sends then get 403."""
        with self._lock:
            chat = self._ensure_chat(chat_id)
            if chat["type"] == "private":
                raise ValueError("use bot_blocked for a private chat")
            new = "kicked" if chat["type"] == "supergroup" else "left"
            self._blocked[chat_id] = f"Forbidden: bot was kicked from the {chat['type']} chat"
            old = self._bot_status.get(chat_id, "member")
            self._bot_status[chat_id] = new
            return self._my_chat_member(chat_id, by_user_id, old, new)

    def bot_added_to_group(
        self,
        chat_id: int,
        title: str,
        *,
        by_user_id: int = DEFAULT_USER_ID,
        chat_type: str | None = None,
        as_admin: bool = False,
    ) -> JSON:
        """The bot is added to a group: my_chat_member left → member (or administrator); sends work again."""
        with self._lock:
            chat_type = chat_type or _chat_type_for(chat_id)
            if chat_type == "private":
                raise ValueError("a group needs a negative chat id")
            self._ensure_chat(chat_id, chat_type, title=title)
            self._blocked.pop(chat_id, None)
            old = self._bot_status.get(chat_id, "left")
            new = "administrator" if as_admin else "member"
            self._bot_status[chat_id] = new
            return self._my_chat_member(chat_id, by_user_id, old, new)

    def set_admins(self, chat_id: int, user_ids: Iterable[int], *, creator_id: int | None = None) -> None:
        """Who getChatMember/getChatAdministrators report as "administrator" (and "creator"); others are
        "member". Include the bot's id to make the bot an administrator."""
        with self._lock:
            self._ensure_chat(chat_id)
            self._admins[chat_id] = (frozenset(user_ids), creator_id)

    def push_update(self, payload: JSON) -> JSON:
        """Queue any Update payload (``{"edited_message": ...}``); the fake assigns ``update_id``."""
        with self._lock:
            update = {"update_id": next(self._update_ids), **copy.deepcopy(payload)}
            self._updates.append(update)
            self._changed.notify_all()
            return copy.deepcopy(update)

    # faults and limits ---------------------------------------------------------------------------------
    def inject(
        self,
        fault: Fault | str,
        *,
        chat_id: int | None = None,
        times: int | None = 1,
        methods: Iterable[str] | None = None,
        retry_after: int = 1,
        status: int = 502,
        delay_s: float = 1.0,
    ) -> None:
        """Make the next ``times`` (None = all) matching calls fail with ``fault`` (a Fault or its name).

        Matching calls: those to ``chat_id`` (any chat if None) of ``methods`` (default: every method that
        targets a chat; name ``getUpdates`` explicitly to break polling). The oldest matching injection wins.
        """
        fault = Fault[fault] if isinstance(fault, str) else fault
        with self._lock:
            self._injections.append(
                _Injection(
                    fault=fault,
                    chat_id=chat_id,
                    methods=frozenset(m.lower() for m in methods) if methods is not None else None,
                    remaining=times,
                    retry_after=retry_after,
                    status=status,
                    delay_s=delay_s,
                )
            )

    def clear_faults(self) -> None:
        with self._lock:
            self._injections.clear()

    def block_chat(self, chat_id: int, description: str = "Forbidden: bot was blocked by the user") -> None:
        """Every later send/edit to ``chat_id`` answers 403 ``description`` (no update is queued)."""
        with self._lock:
            self._blocked[chat_id] = description

    def migrate_chat(self, old_chat_id: int, new_chat_id: int | None = None, *, notify: bool = True) -> int:
        """Upgrade a group to a supergroup: calls to the old id answer 400 with ``migrate_to_chat_id``, the
        new id works. ``notify`` queues the service messages (migrate_to/from_chat_id). Returns the new id."""
        with self._lock:
            new_id = new_chat_id if new_chat_id is not None else -(_SUPERGROUP_BASE + abs(old_chat_id))
            old = self._ensure_chat(old_chat_id, "group")
            new = self._ensure_chat(new_id, "supergroup", title=old.get("title"))
            self._migrated[old_chat_id] = new_id
            if old_chat_id in self._admins:
                self._admins[new_id] = self._admins[old_chat_id]
            if notify:
                user = self._user(DEFAULT_USER_ID)
                self.push_update({"message": self._new_message(old, user, migrate_to_chat_id=new_id)})
                self.push_update({"message": self._new_message(new, user, migrate_from_chat_id=old_chat_id)})
            return new_id

    def set_limits(self, enabled: bool = True, **overrides: float) -> None:
        """Switch limit enforcement on/off; keyword overrides replace fields of ``limits``."""
        with self._lock:
            self.enforce_limits = enabled
            self.limits = replace(self.limits, **overrides)  # type: ignore[arg-type]
            self._overall_window.clear()
            self._chat_windows.clear()

    @property
    def limit_hits(self) -> Counter[str]:
        """429s by reason: "overall", "private_chat", "group" (limit mode) and "injected"."""
        with self._lock:
            return Counter(self._limit_hits)

    def reset(self) -> None:
        """Forget calls, updates, faults, counters, blocks, migrations, commands; chats and users stay."""
        with self._lock:
            self._clear_state()

    # the record ----------------------------------------------------------------------------------------
    @property
    def sent(self) -> list[SentCall]:
        with self._lock:
            return list(self._sent)

    def calls(self, method: str | None = None, chat_id: int | str | None = None) -> list[SentCall]:
        """Recorded calls of ``method`` (case-insensitive) to ``chat_id``, successful or not."""
        with self._lock:
            return [
                call
                for call in self._sent
                if (method is None or call.method.lower() == method.lower())
                and (chat_id is None or call.chat_id == chat_id)
            ]

    def messages_to(self, chat_id: int | str) -> list[SentCall]:
        """Successful sendMessage/sendPhoto calls to ``chat_id``, oldest first."""
        with self._lock:
            return [c for c in self._sent if c.ok and c.chat_id == chat_id and c.method.lower() in _LIMITED]

    def message(self, chat_id: int, message_id: int) -> JSON | None:
        """A message the bot sent, as it is now (after edits)."""
        with self._lock:
            found = self._messages.get((chat_id, message_id))
            return copy.deepcopy(found) if found is not None else None

    def my_commands(self, language_code: str = "", scope: JSON | None = None) -> list[JSON]:
        """The command list set for ``scope`` (default scope if None) and ``language_code``."""
        with self._lock:
            return copy.deepcopy(self._commands.get((_scope_key(scope), language_code), []))

    @property
    def pending_updates(self) -> int:
        """Queued updates not yet confirmed by the bot (getUpdates with a higher offset)."""
        with self._lock:
            return len(self._updates)

    @property
    def delivered_update_ids(self) -> list[int]:
        """update_ids in the order getUpdates returned them; a repeat means an update was delivered twice."""
        with self._lock:
            return list(self._delivered)

    def _timeout_message(self, timeout: float) -> str:
        recent = "\n".join(
            f"  {c.method} chat={c.chat_id} status={c.status} text={c.text!r} {c.description or ''}"
            for c in self.sent[-10:]
        )
        return f"condition not met within {timeout}s; last calls:\n{recent or '  (none)'}"

    # state helpers (callers hold the lock) -------------------------------------------------------------
    def _user(
        self,
        user_id: int,
        first_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
    ) -> JSON:
        user = self._users.setdefault(
            user_id, {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"}
        )
        if first_name:
            user["first_name"] = first_name
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        return copy.deepcopy(user)

    def _ensure_chat(
        self,
        chat_id: int,
        chat_type: str | None = None,
        *,
        title: str | None = None,
        user: JSON | None = None,
    ) -> JSON:
        chat = self._chats.get(chat_id)
        if chat is None:
            chat_type = chat_type or _chat_type_for(chat_id)
            chat = {"id": chat_id, "type": chat_type}
            if chat_type == "private":
                chat["first_name"] = self._user(chat_id)["first_name"]
            else:
                chat["title"] = f"Group {chat_id}"
            self._chats[chat_id] = chat
        elif chat_type is not None and chat_type != chat["type"]:
            raise ValueError(f"chat {chat_id} is a {chat['type']}, not a {chat_type}")
        if title and chat["type"] != "private":
            chat["title"] = title
        if user is not None and chat["type"] == "private":
            chat["first_name"] = user["first_name"]
            if "username" in user:
                chat["username"] = user["username"]
        return copy.deepcopy(chat)

    def _new_message(self, chat: JSON, sender: JSON, **content: Any) -> JSON:
        chat_id = chat["id"]
        self._last_message_id[chat_id] = message_id = self._last_message_id.get(chat_id, 0) + 1
        return {"message_id": message_id, "from": sender, "chat": chat, "date": int(time.time()), **content}

    def _member(self, user: JSON, status: str) -> JSON:
        member: JSON = {"user": user, "status": status}
        if status == "creator":
            member["is_anonymous"] = False
        elif status == "administrator":
            member |= {"can_be_edited": False, "is_anonymous": False} | dict.fromkeys(_ADMIN_RIGHTS, True)
        elif status == "kicked":
            member["until_date"] = 0
        return member

    def _member_of(self, chat_id: int, user_id: int) -> JSON:
        user = self.bot_user if user_id == self.bot_id else self._user(user_id)
        admins, creator = self._admins.get(chat_id, (frozenset(), None))
        if user_id == creator:
            return self._member(user, "creator")
        if user_id in admins:
            return self._member(user, "administrator")
        if user_id == self.bot_id:
            return self._member(user, self._bot_status.get(chat_id, "member"))
        return self._member(user, "member")

    def _my_chat_member(self, chat_id: int, by_user_id: int, old: str, new: str) -> JSON:
        chat = self._ensure_chat(chat_id)
        update = {
            "chat": chat,
            "from": self._user(by_user_id),
            "date": int(time.time()),
            "old_chat_member": self._member(self.bot_user, old),
            "new_chat_member": self._member(self.bot_user, new),
        }
        return self.push_update({"my_chat_member": update})

    def _resolve_chat_id(self, raw: Any) -> int | None:
        if raw is None or raw == "":
            return None
        if isinstance(raw, int):
            return raw
        name = str(raw).removeprefix("@").lower()
        for chat_id, chat in self._chats.items():
            if str(chat.get("username", "")).lower() == name:
                return chat_id
        raise _bad_request("chat not found")

    def _chat_for(self, params: JSON) -> JSON:
        chat_id = self._resolve_chat_id(params.get("chat_id"))
        if chat_id is None:
            raise _bad_request("chat_id is empty")
        return self._ensure_chat(chat_id)

    def _take_injection(self, method: str, chat_id: int | None) -> _Injection | None:
        for injection in self._injections:
            if injection.methods is None and chat_id is None:
                continue
            if injection.methods is not None and method not in injection.methods:
                continue
            if injection.chat_id is not None and injection.chat_id != chat_id:
                continue
            if injection.remaining is not None:
                injection.remaining -= 1
                if injection.remaining <= 0:
                    self._injections.remove(injection)
            return injection
        return None

    def _fault_error(self, injection: _Injection) -> _ApiError:
        if injection.fault is Fault.RETRY_AFTER:
            self._limit_hits["injected"] += 1
            return _retry_after(injection.retry_after)
        if injection.fault is Fault.BLOCKED:
            return _ApiError(403, "Forbidden: bot was blocked by the user")
        if injection.fault is Fault.CHAT_NOT_FOUND:
            return _bad_request("chat not found")
        return _ApiError(injection.status, HTTPStatus(injection.status).phrase)

    def _check_limits(self, chat_id: int) -> None:
        now = time.monotonic()
        limits = self.limits
        overall = self._overall_window
        while overall and overall[0] <= now - limits.overall_period_s:
            overall.popleft()
        window = self._chat_windows.setdefault(chat_id, deque())
        if chat_id < 0:
            reason, cap, period = "group", limits.group_max, limits.group_period_s
        else:
            reason, cap, period = "private_chat", limits.private_max, limits.private_period_s
        while window and window[0] <= now - period:
            window.popleft()
        if len(overall) >= limits.overall_max:
            reason, free_at = "overall", overall[0] + limits.overall_period_s
        elif len(window) >= cap:
            free_at = window[0] + period
        else:
            overall.append(now)
            window.append(now)
            return
        self._limit_hits[reason] += 1
        raise _retry_after(max(1, math.ceil(free_at - now)))

    # HTTP entry points ---------------------------------------------------------------------------------
    def _dispatch(self, command: str, target: str, headers: dict[str, str], body: bytes) -> _Reply:
        split = urlsplit(target)
        if split.path.startswith("/_control/"):
            return self._control(command, split.path.removeprefix("/_control/"), split.query, body)
        match = re.fullmatch(r"/bot([^/]*)/([A-Za-z]+)", split.path)
        if match is None:
            return _json_reply(404, _ApiError(404, "Not Found").body())
        if match.group(1) != self.token:
            return _json_reply(401, _ApiError(401, "Unauthorized").body())
        method = match.group(2)
        try:
            params, files = _decode_request(headers.get("content-type", ""), body, split.query)
        except _ApiError as error:
            return _json_reply(error.status, error.body())
        try:
            if method.lower() == "getupdates":
                return self._get_updates(params)
            return self._call(method, params, files)
        except Exception as exc:  # the fake's own bug: answer 500 and keep it for the test to see
            self.server_errors.append(f"{method}: {exc!r}")
            return _json_reply(500, _ApiError(500, f"Internal Server Error: {exc!r}").body())

    def _call(self, method: str, params: JSON, files: dict[str, bytes]) -> _Reply:
        name = method.lower()
        handler = self._methods.get(name)
        with self._lock:
            try:
                if handler is None:
                    raise _ApiError(404, "Not Found: method not found")
                chat_id = self._resolve_chat_id(params.get("chat_id"))
            except _ApiError as error:
                return self._answer(method, params, files, error)
            injection = self._take_injection(name, chat_id)
        if injection is not None and injection.fault is Fault.SLOW:
            self._stopped.wait(injection.delay_s)
            injection = None
        with self._lock:
            try:
                if injection is not None:
                    raise self._fault_error(injection)
                if chat_id is not None:
                    if chat_id in self._migrated:
                        raise _ApiError(
                            400, f"Bad Request: {_MIGRATED}", {"migrate_to_chat_id": self._migrated[chat_id]}
                        )
                    if name in _BLOCKABLE and chat_id in self._blocked:
                        raise _ApiError(403, self._blocked[chat_id])
                    if name in _LIMITED and self.enforce_limits:
                        self._check_limits(chat_id)
                result = handler(params, files)
            except _ApiError as error:
                return self._answer(method, params, files, error)
            return self._answer(method, params, files, result)

    def _answer(self, method: str, params: JSON, files: dict[str, bytes], outcome: Any) -> _Reply:
        """Record the call and build the envelope (callers hold the lock)."""
        error = outcome if isinstance(outcome, _ApiError) else None
        photo = params.get("photo")
        if isinstance(photo, str) and photo.startswith("attach://"):
            uploaded = files.get(photo.removeprefix("attach://"))
        else:
            uploaded = files.get("photo")
        markup = params.get("reply_markup")
        self._sent.append(
            SentCall(
                method=method,
                chat_id=params.get("chat_id"),
                text=params.get("text") if isinstance(params.get("text"), str) else None,
                parse_mode=params.get("parse_mode"),
                reply_markup=markup if isinstance(markup, dict) else None,
                photo=uploaded,
                caption=params.get("caption"),
                params={k: v for k, v in params.items() if k not in files},
                time=time.time(),
                status=error.status if error else 200,
                description=error.description if error else None,
                message_id=outcome.get("message_id") if isinstance(outcome, dict) else None,
            )
        )
        if error is not None and error.status == 429:
            self.http_429 += 1
        self._changed.notify_all()
        if error is not None:
            return _json_reply(error.status, error.body())
        return _json_reply(200, {"ok": True, "result": outcome})

    def _get_updates(self, params: JSON) -> _Reply:
        with self._changed:
            self.get_updates_calls += 1
            injection = self._take_injection("getupdates", None)
            if injection is not None and injection.fault is not Fault.SLOW:
                error = self._fault_error(injection)
                if error.status == 429:
                    self.http_429 += 1
                return _json_reply(error.status, error.body())
            if self.webhook_url:
                conflict = _WEBHOOK_CONFLICT
                return _json_reply(409, _ApiError(409, conflict).body())
            allowed = params.get("allowed_updates")
            if isinstance(allowed, list):  # kept until a later call changes it
                self._allowed_updates = frozenset(map(str, allowed)) if allowed else None
            self._drop_unwanted_updates()
            offset = params.get("offset")
            if isinstance(offset, int):
                if offset < 0:
                    self._updates = self._updates[offset:]
                else:
                    self._updates = [u for u in self._updates if u["update_id"] >= offset]
            limit = params.get("limit")
            limit = min(max(limit, 1), 100) if isinstance(limit, int) else 100
            timeout = params.get("timeout")
            wait_s = min(float(timeout), self.max_poll_s) if isinstance(timeout, int | float) else 0.0
            if injection is not None:  # SLOW: answer late, even if updates are queued
                wait_s = max(wait_s, injection.delay_s)
            self._poll_generation += 1
            generation = self._poll_generation
            deadline = time.monotonic() + wait_s
            while (not self._updates or injection is not None) and not self._stopped.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._changed.wait(remaining)
                if self._poll_generation != generation:
                    conflict = _POLL_CONFLICT
                    return _json_reply(409, _ApiError(409, conflict).body())
            self._drop_unwanted_updates()
            batch = copy.deepcopy(self._updates[:limit])
            self._delivered.extend(u["update_id"] for u in batch)
            return _json_reply(200, {"ok": True, "result": batch})

    def _drop_unwanted_updates(self) -> None:
        """Forget queued updates of types outside the bot's ``allowed_updates`` (Telegram never delivers
        them; without a list, every type but chat_member and the message reactions)."""
        wanted = self._allowed_updates
        self._updates = [
            update
            for update in self._updates
            if (wanted & update.keys() if wanted is not None else not _NOT_BY_DEFAULT & update.keys())
        ]

    # Bot API methods (called with the lock held) -------------------------------------------------------
    def _get_me(self, params: JSON, files: dict[str, bytes]) -> JSON:
        return self.bot_user | {
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _delete_webhook(self, params: JSON, files: dict[str, bytes]) -> bool:
        self.webhook_url = None
        if params.get("drop_pending_updates") is True:
            self._updates.clear()
        return True

    def _set_webhook(self, params: JSON, files: dict[str, bytes]) -> bool:
        url = str(params.get("url") or "")
        if url and not url.startswith("https://"):
            raise _bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        self.webhook_url = url or None
        if params.get("drop_pending_updates") is True:
            self._updates.clear()
        return True

    def _get_webhook_info(self, params: JSON, files: dict[str, bytes]) -> JSON:
        return {
            "url": self.webhook_url or "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

    def _inline_markup(self, markup: Any) -> JSON | None:
        """The reply_markup Telegram echoes in the Message (inline keyboards only), validated."""
        if not isinstance(markup, dict) or "inline_keyboard" not in markup:
            return None
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _bad_request("can't parse inline keyboard button: InlineKeyboardButton must be an Object")
        for button in itertools.chain.from_iterable(rows):
            if not isinstance(button, dict) or not button.get("text"):
                raise _bad_request("can't parse inline keyboard button: Text must be non-empty")
            if not _INLINE_ACTIONS & button.keys():
                raise _bad_request("text buttons are unallowed in the inline keyboard")
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= 64:
                raise _bad_request("BUTTON_DATA_INVALID")
        return copy.deepcopy(markup)

    def _send_message(self, params: JSON, files: dict[str, bytes]) -> JSON:
        chat = self._chat_for(params)
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            raise _bad_request("message text is empty")
        visible = _visible_text(text, params.get("parse_mode"))
        if not visible:
            raise _bad_request("message text is empty")
        if _utf16_len(visible) > 4096:
            raise _bad_request("message is too long")
        content: JSON = {"text": visible}
        if markup := self._inline_markup(params.get("reply_markup")):
            content["reply_markup"] = markup
        message = self._new_message(chat, self.bot_user, **content)
        if chat["type"] == "channel":  # a post in a channel is the channel's, whoever wrote it
            message["sender_chat"] = chat
        key = (chat["id"], message["message_id"])
        self._messages[key] = message
        self._sources[key] = (text, params.get("parse_mode"))
        return copy.deepcopy(message)

    def _send_photo(self, params: JSON, files: dict[str, bytes]) -> JSON:
        chat = self._chat_for(params)
        photo = params.get("photo")
        if isinstance(photo, str) and photo.startswith("attach://"):
            data = files.get(photo.removeprefix("attach://"))
        else:
            data = files.get("photo")
        if data is not None:
            if not data:
                raise _bad_request("file must be non-empty")
            sizes = _photo_sizes(data)
        elif isinstance(photo, str) and photo.startswith(("http://", "https://")):
            sizes = _photo_sizes(photo.encode())
        elif isinstance(photo, str) and photo in self._photos:
            sizes = self._photos[photo]
        else:
            raise _bad_request("wrong file identifier/HTTP URL specified")
        self._photos.update((size["file_id"], sizes) for size in sizes)
        content: JSON = {"photo": copy.deepcopy(sizes)}
        caption = params.get("caption")
        if isinstance(caption, str) and caption:
            visible = _visible_text(caption, params.get("parse_mode"))
            if _utf16_len(visible) > 1024:
                raise _bad_request("message caption is too long")
            if visible:
                content["caption"] = visible
        if markup := self._inline_markup(params.get("reply_markup")):
            content["reply_markup"] = markup
        message = self._new_message(chat, self.bot_user, **content)
        key = (chat["id"], message["message_id"])
        self._messages[key] = message
        self._sources[key] = (str(caption or ""), params.get("parse_mode"))
        return copy.deepcopy(message)

    def _stored_message(self, params: JSON, missing: str) -> tuple[tuple[int, int], JSON]:
        chat = self._chat_for(params)
        message_id = params.get("message_id")
        key = (chat["id"], message_id if isinstance(message_id, int) else -1)
        if key not in self._messages:
            raise _bad_request(missing)
        return key, self._messages[key]

    def _edit_message_text(self, params: JSON, files: dict[str, bytes]) -> JSON | bool:
        if params.get("inline_message_id"):
            return True
        key, message = self._stored_message(params, "message to edit not found")
        if "text" not in message:
            raise _bad_request("there is no text in the message to edit")
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            raise _bad_request("message text is empty")
        visible = _visible_text(text, params.get("parse_mode"))
        if not visible:
            raise _bad_request("message text is empty")
        if _utf16_len(visible) > 4096:
            raise _bad_request("message is too long")
        markup = self._inline_markup(params.get("reply_markup"))
        if (text, params.get("parse_mode")) == self._sources[key] and markup == message.get("reply_markup"):
            raise _bad_request(_NOT_MODIFIED)
        edited = {k: v for k, v in message.items() if k != "reply_markup"}
        edited |= {"text": visible, "edit_date": int(time.time())}
        if markup:
            edited["reply_markup"] = markup
        self._messages[key] = edited
        self._sources[key] = (text, params.get("parse_mode"))
        return copy.deepcopy(edited)

    def _edit_message_reply_markup(self, params: JSON, files: dict[str, bytes]) -> JSON | bool:
        if params.get("inline_message_id"):
            return True
        key, message = self._stored_message(params, "message to edit not found")
        markup = self._inline_markup(params.get("reply_markup"))
        if markup == message.get("reply_markup"):
            raise _bad_request(_NOT_MODIFIED)
        edited = {k: v for k, v in message.items() if k != "reply_markup"} | {"edit_date": int(time.time())}
        if markup:
            edited["reply_markup"] = markup
        self._messages[key] = edited
        return copy.deepcopy(edited)

    def _answer_callback_query(self, params: JSON, files: dict[str, bytes]) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        if self._callbacks.get(query_id, True):
            raise _bad_request("query is too old and response timeout expired or query ID is invalid")
        self._callbacks[query_id] = True
        return True

    def _commands_key(self, params: JSON) -> tuple[str, str]:
        scope = params.get("scope")
        return _scope_key(scope if isinstance(scope, dict) else None), str(params.get("language_code") or "")

    def _set_my_commands(self, params: JSON, files: dict[str, bytes]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _bad_request("can't parse commands JSON object")
        for command in commands:
            name = command.get("command") if isinstance(command, dict) else None
            if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                raise _bad_request("BOT_COMMAND_INVALID")
        key = self._commands_key(params)
        if commands:
            self._commands[key] = [
                {"command": c["command"], "description": c.get("description", "")} for c in commands
            ]
        else:
            self._commands.pop(key, None)
        return True

    def _get_my_commands(self, params: JSON, files: dict[str, bytes]) -> list[JSON]:
        return copy.deepcopy(self._commands.get(self._commands_key(params), []))

    def _delete_my_commands(self, params: JSON, files: dict[str, bytes]) -> bool:
        self._commands.pop(self._commands_key(params), None)
        return True

    def _get_chat_member(self, params: JSON, files: dict[str, bytes]) -> JSON:
        chat = self._chat_for(params)
        user_id = params.get("user_id")
        if not isinstance(user_id, int):
            raise _bad_request("invalid user_id specified")
        return self._member_of(chat["id"], user_id)

    def _get_chat_administrators(self, params: JSON, files: dict[str, bytes]) -> list[JSON]:
        chat = self._chat_for(params)
        if chat["type"] == "private":
            raise _bad_request("there are no administrators in the private chat")
        admins, creator = self._admins.get(chat["id"], (frozenset(), None))
        ordered = ([creator] if creator is not None else []) + sorted(admins - {creator})
        return [self._member_of(chat["id"], user_id) for user_id in ordered]

    def _get_chat(self, params: JSON, files: dict[str, bytes]) -> JSON:
        gifts = dict.fromkeys(
            (
                "unlimited_gifts",
                "limited_gifts",
                "unique_gifts",
                "premium_subscription",
                "gifts_from_channels",
            ),
            False,
        )
        extra = {"accent_color_id": 0, "max_reaction_count": 11, "accepted_gift_types": gifts}
        return self._chat_for(params) | extra

    def _send_chat_action(self, params: JSON, files: dict[str, bytes]) -> bool:
        self._chat_for(params)
        if params.get("action") not in _CHAT_ACTIONS:
            raise _bad_request("wrong parameter action in request")
        return True

    # control API ---------------------------------------------------------------------------------------
    _CONTROL_OPS = frozenset(
        {
            "send_user_message",
            "post_in_channel",
            "edit_user_message",
            "press_button",
            "bot_blocked",
            "bot_unblocked",
            "bot_removed_from_group",
            "bot_added_to_group",
            "set_admins",
            "push_update",
            "inject",
            "clear_faults",
            "block_chat",
            "migrate_chat",
            "set_limits",
            "reset",
        }
    )

    def state(self) -> JSON:
        """Counters and settings, as served by ``GET /_control/state``."""
        with self._lock:
            return {
                "http_429": self.http_429,
                "limit_hits": dict(self._limit_hits),
                "get_updates_calls": self.get_updates_calls,
                "pending_updates": len(self._updates),
                "delivered_update_ids": list(self._delivered),
                "webhook_url": self.webhook_url,
                "commands": [
                    {"scope": json.loads(scope), "language_code": lang, "commands": cmds}
                    for (scope, lang), cmds in self._commands.items()
                ],
                "enforce_limits": self.enforce_limits,
                "limits": asdict(self.limits),
                "server_errors": list(self.server_errors),
            }

    def _control(self, command: str, op: str, query: str, body: bytes) -> _Reply:
        args = {key: values[-1] for key, values in parse_qs(query).items()}
        chat_id = (
            int(args["chat_id"]) if args.get("chat_id", "").lstrip("-").isdigit() else args.get("chat_id")
        )
        if command == "GET" and op == "sent":
            return _json_reply(200, [c.to_json() for c in self.calls(args.get("method"), chat_id)])
        if command == "GET" and op == "state":
            return _json_reply(200, self.state())
        if command == "GET" and op == "wait":
            count = int(args.get("count", "1"))

            def enough() -> list[SentCall]:
                done = [c for c in self.calls(args.get("method"), chat_id) if c.ok]
                return done if len(done) >= count else []

            try:
                found = self.wait_for_sync(enough, timeout=float(args.get("timeout", "5")))
            except AssertionError as exc:
                return _json_reply(408, {"ok": False, "error": str(exc)})
            return _json_reply(200, [c.to_json() for c in found])
        if command != "POST" or op not in self._CONTROL_OPS:
            return _json_reply(404, {"ok": False, "error": f"unknown control operation {command} {op}"})
        try:
            call = json.loads(body or b"{}")
            if not isinstance(call, dict):
                raise TypeError("the body must be a JSON object")
            if {"args", "kwargs"} & call.keys():
                result = getattr(self, op)(*call.get("args", []), **call.get("kwargs", {}))
            else:
                result = getattr(self, op)(**call)
        except (ValueError, KeyError, TypeError) as exc:
            return _json_reply(400, {"ok": False, "error": f"{type(exc).__name__}: {exc}"})
        return _json_reply(200, {"ok": True, "result": result})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    """listen() backlog: socketserver's default of 5 drops a burst of new connections (the bot opens its
    pool's worth at once), which then wait for a SYN retry (1 s) or fail; Telegram's servers do not."""

    def __init__(self, port: int, fake: FakeTelegram) -> None:
        super().__init__((HOST, port), _Handler)
        self.fake = fake
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Break idle keep-alive connections so their threads end with the server."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: avoid the 40 ms delayed-ACK stall

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _serve(self) -> None:
        assert isinstance(self.server, _Server)
        try:
            body = self._read_body()
        except (ValueError, OSError):
            self.close_connection = True
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        reply = self.server.fake._dispatch(self.command, self.path, headers, body)
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request stderr log."""


def main(argv: list[str] | None = None) -> None:
    """Serve until SIGINT/SIGTERM; print the base URL, ``TOKEN=...``, ``CONTROL=...`` and a blank line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 = any free port)")
    parser.add_argument("--token", default=TOKEN)
    parser.add_argument(
        "--enforce-limits", action="store_true", help="answer 429 like Telegram's flood limits"
    )
    parser.add_argument("--max-poll", type=float, default=0.5, help="cap on getUpdates long-polling, seconds")
    args = parser.parse_args(argv)
    done = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: done.set())
    with FakeTelegram(
        args.port, token=args.token, enforce_limits=args.enforce_limits, max_poll_s=args.max_poll
    ) as fake:
        print(fake.base_url)
        print(f"TOKEN={fake.token}")
        print(f"CONTROL={fake.control_url}")
        print(flush=True)
        done.wait()


if __name__ == "__main__":
    main()
