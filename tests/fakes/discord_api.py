"""A loopback fake of the Discord REST API and gateway for end-to-end tests with the real discord.py.

``FakeDiscord`` serves the REST API under ``/api/v10/...`` and the gateway websocket at ``/gateway`` from one
aiohttp server on 127.0.0.1, run by a background thread with its own event loop, so the bot under test can
live in the test's loop or in another process. Point discord.py at it with ``configure_discord_py(fake)``
(``Route.BASE`` and ``DiscordWebSocket.DEFAULT_GATEWAY`` are process-global), then ``await
client.login(fake.token)`` and ``client.connect()``; use ``Client(guild_ready_timeout=0.05)`` so ``on_ready``
does not wait the default 2 s after the last GUILD_CREATE.

Tests configure guilds (``guild(id, name, channels=[channel(...)], members=[member(uid, MANAGE_CHANNELS)])``),
play users (``invoke``, ``autocomplete``), change the world (``delete_channel``, ``remove_from_guild``),
inject faults with Discord's exact answers (``fail(channel_id, Fault.RATE_LIMITED, retry_after=0.2)``) and
read what the bot did (``sent``, ``responses_to``, ``messages_in``, ``commands``). Another process drives
it with ``POST /_control/<op>`` (JSON ``{"args": [...], "kwargs": {...}}`` or bare keywords) and reads
``GET /_control/sent[?route=&channel_id=&interaction_id=]``, ``GET /_control/state`` and
``GET /_control/wait?route=...&count=1&timeout=5`` (successful calls unless ``ok=0``)::

    python -m tests.fakes.discord_api --port 8082  # prints ROOT=, API_BASE=, GATEWAY=, TOKEN=, ..., ""
    python -m tests.fakes.discord_api --run bot.cli --fake http://127.0.0.1:8082 -- ARGS  # a bot aimed at it
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import copy
import enum
import hashlib
import itertools
import json
import math
import re
import runpy
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Self
from urllib.parse import urlsplit

from aiohttp import BodyPartReader, WSMsgType, web

from tests.fakes import Waiting

HOST = "127.0.0.1"
API_PREFIX = "/api/v10"
TOKEN = "MTMwMDAwMDAwMDAwMDAwMDAwMg.Fake.discord-bot-token-for-tests"
APPLICATION_ID = 1300000000000000001
BOT_USER_ID = 1300000000000000002
"""Distinct from APPLICATION_ID on purpose (modern apps share them), so code that mixes them up fails."""
OWNER_USER_ID = 1300000000000000003
DEFAULT_USER_ID = 2001
"""The user who invokes commands when a test names nobody."""
BOT_USERNAME = "minerwatch-test"

# Permission bits (developers/topics/permissions.mdx).
CREATE_INSTANT_INVITE = 0x1
ADMINISTRATOR = 0x8
MANAGE_CHANNELS = 0x10
MANAGE_GUILD = 0x20
ADD_REACTIONS = 0x40
VIEW_CHANNEL = 0x400
SEND_MESSAGES = 0x800
EMBED_LINKS = 0x4000
ATTACH_FILES = 0x8000
READ_MESSAGE_HISTORY = 0x10000
USE_EXTERNAL_EMOJIS = 0x40000
CHANGE_NICKNAME = 0x4000000
USE_APPLICATION_COMMANDS = 0x80000000
BOT_PERMISSIONS = VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS | ATTACH_FILES | READ_MESSAGE_HISTORY
"""What the bot's managed role grants unless ``guild(bot_permissions=...)`` says otherwise."""
EVERYONE_PERMISSIONS = (
    BOT_PERMISSIONS
    | CREATE_INSTANT_INVITE
    | ADD_REACTIONS
    | USE_EXTERNAL_EMOJIS
    | CHANGE_NICKNAME
    | USE_APPLICATION_COMMANDS
)
ALL_PERMISSIONS = (1 << 51) - 1

EPHEMERAL = 1 << 6
LOADING = 1 << 7
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024
DISCORD_EPOCH_MS = 1420070400000

JSON = dict[str, Any]


class Fault(enum.Enum):
    """What ``fail`` makes matching ``/channels/{id}/...`` calls answer instead of the normal result."""

    RATE_LIMITED = "429 You are being rate limited (Via: 1.1 google, retry_after, X-RateLimit-*)"
    MISSING_ACCESS = "403 Missing Access (50001)"
    CANNOT_DM = "403 Cannot send messages to this user (50007)"
    MISSING_PERMISSIONS = "403 Missing Permissions (50013)"
    UNKNOWN_CHANNEL = "404 Unknown Channel (10003)"
    SERVER_ERROR = "5xx (500 unless status= says otherwise; discord.py retries 500/502/504/524 after 1+2n s)"


_FAULT_ERRORS: dict[Fault, tuple[int, str, int]] = {
    Fault.MISSING_ACCESS: (403, "Missing Access", 50001),
    Fault.CANNOT_DM: (403, "Cannot send messages to this user", 50007),
    Fault.MISSING_PERMISSIONS: (403, "Missing Permissions", 50013),
    Fault.UNKNOWN_CHANNEL: (404, "Unknown Channel", 10003),
}


@dataclass(frozen=True)
class ChannelSpec:
    """A guild channel for ``FakeDiscord.guild`` (type 0 text, 2 voice, 4 category, 5 announcement)."""

    id: int
    name: str
    type: int = 0
    position: int = 0


@dataclass(frozen=True)
class MemberSpec:
    """A guild member; ``permissions`` are granted by a role on top of @everyone."""

    user_id: int
    permissions: int = 0
    name: str | None = None


def channel(channel_id: int, name: str | None = None, *, type: int = 0, position: int = 0) -> ChannelSpec:
    return ChannelSpec(channel_id, name or f"channel-{channel_id}", type, position)


def member(user_id: int, permissions: int = 0, *, name: str | None = None) -> MemberSpec:
    """A member spec, e.g. ``member(42, MANAGE_CHANNELS)`` for a server admin or ``member(43)`` for a user."""
    return MemberSpec(user_id, permissions, name)


@dataclass(frozen=True)
class UploadedFile:
    """One multipart file part (``files[N]``) of a request."""

    field: str
    filename: str
    data: bytes
    content_type: str | None = None


@dataclass(frozen=True)
class Call:
    """One REST call the bot made and how the fake answered it."""

    method: str
    path: str
    """Below ``/api/v10``, without the query, e.g. ``/channels/10/messages``."""
    route: str
    """The route template, e.g. ``POST /channels/{channel_id}/messages``."""
    query: dict[str, str]
    channel_id: int | None
    interaction_id: int | None
    payload: Any
    """The JSON body (``payload_json`` for multipart), or None."""
    files: tuple[UploadedFile, ...]
    time: float
    """``time.monotonic()`` when the request arrived."""
    status: int
    response: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def callback_type(self) -> int | None:
        """The interaction callback type (4 reply, 5 defer, 6/7 component, 8 autocomplete, 9 modal)."""
        if self.route.endswith("/callback") and isinstance(self.payload, dict):
            return int(self.payload.get("type", 0))
        return None

    @property
    def message(self) -> JSON:
        """The message part of the payload (``data`` of an interaction callback)."""
        if not isinstance(self.payload, dict):
            return {}
        if self.callback_type is not None:
            data = self.payload.get("data")
            return data if isinstance(data, dict) else {}
        return self.payload

    @property
    def content(self) -> str | None:
        return self.message.get("content")

    @property
    def embeds(self) -> list[JSON]:
        return list(self.message.get("embeds") or [])

    @property
    def components(self) -> list[JSON]:
        return list(self.message.get("components") or [])

    @property
    def flags(self) -> int:
        return int(self.message.get("flags") or 0)

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    @property
    def choices(self) -> list[JSON]:
        """Autocomplete choices of a type 8 callback."""
        return list(self.message.get("choices") or [])

    @property
    def message_id(self) -> int | None:
        """The id of the message this call created: a sent message, or an interaction's reply."""
        if not self.ok or not isinstance(self.response, dict):
            return None
        message = (self.response.get("resource") or {}).get("message") or self.response
        return int(message["id"]) if isinstance(message, dict) and "id" in message else None

    @property
    def error_code(self) -> int | None:
        return self.response.get("code") if not self.ok and isinstance(self.response, dict) else None

    def to_json(self) -> JSON:
        """JSON-safe form (file bytes base64-encoded), as served by ``GET /_control/sent``."""
        data = asdict(self)
        data["files"] = [{**asdict(f), "data": base64.b64encode(f.data).decode()} for f in self.files]
        return data


class _ApiError(Exception):
    def __init__(self, status: int, message: str, code: int = 0, errors: JSON | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.errors = errors

    def body(self) -> JSON:
        body: JSON = {"message": self.message, "code": self.code}
        if self.errors is not None:
            body["errors"] = self.errors
        return body


def _invalid_form(field_path: str, message: str, code: str = "BASE_TYPE_MAX_LENGTH") -> _ApiError:
    errors: JSON = {"_errors": [{"code": code, "message": message}]}
    for part in reversed(field_path.split(".")):
        errors = {part: errors}
    return _ApiError(400, "Invalid Form Body", 50035, errors)


@dataclass
class _Guild:
    id: int
    name: str
    owner_id: int
    bot_permissions: int
    channels: dict[int, ChannelSpec] = field(default_factory=dict)
    members: dict[int, MemberSpec] = field(default_factory=dict)
    perm_roles: dict[int, int] = field(default_factory=dict)
    """permission bits -> role id."""
    bot_role_id: int = 0
    present: bool = True


@dataclass
class _Interaction:
    id: int
    token: str
    type: int
    command: str
    channel_id: int
    guild_id: int | None
    user_id: int
    payload: JSON
    acked: int | None = None
    original: JSON | None = None
    followups: dict[int, JSON] = field(default_factory=dict)


@dataclass
class _FaultRule:
    channel_id: int | None
    fault: Fault
    remaining: int | None
    retry_after: float
    status: int
    global_: bool
    via: bool


@dataclass
class _Session:
    ws: web.WebSocketResponse
    queue: asyncio.Queue[tuple[int, str | None, Any] | None]
    session_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    seq: int = 0
    identified: bool = False
    shard: tuple[int, int] = (0, 1)

    def covers(self, guild_id: int | None) -> bool:
        shard_id, count = self.shard
        return (guild_id >> 22) % count == shard_id if guild_id is not None else shard_id == 0


@dataclass
class _Request:
    method: str
    path: str
    query: dict[str, str]
    headers: Mapping[str, str]
    payload: Any
    files: tuple[UploadedFile, ...]
    channel_id: int | None = None
    interaction_id: int | None = None


_Handler = Callable[[_Request, "re.Match[str]"], tuple[int, Any]]
_COMMAND_NAME = re.compile(r"^[-_\w]{1,32}$")
_SNOWFLAKE_TYPES = {6, 7, 8, 9}


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


def _bucket(route: str) -> str:
    return hashlib.sha1(route.encode()).hexdigest()[:32]


def _infer_option_type(value: Any) -> int:
    if isinstance(value, bool):
        return 5
    if isinstance(value, int):
        return 4
    if isinstance(value, float):
        return 10
    return 3


class FakeDiscord(Waiting):
    """The fake Discord server: a context manager, or ``start()``/``stop()``. Its state is thread-safe."""

    def __init__(
        self,
        port: int = 0,
        *,
        token: str = TOKEN,
        application_id: int = APPLICATION_ID,
        bot_user_id: int = BOT_USER_ID,
        heartbeat_interval_ms: int = 41250,
        shards: int = 1,
    ) -> None:
        self._port = port
        self.shards = shards
        """The shard count ``GET /gateway/bot`` recommends; each session covers the guilds of the shard it
        identified as (``(guild_id >> 22) % count``, DMs on shard 0)."""
        self.token = token
        self.application_id = application_id
        self.bot_user_id = bot_user_id
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._counter = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._bound_port: int | None = None
        self._sessions: list[_Session] = []
        self._guilds: dict[int, _Guild] = {}
        self._users: dict[int, JSON] = {}
        self._dm_channels: dict[int, int] = {}
        self._dm_users: dict[int, int] = {}
        self._deleted_channels: set[int] = set()
        self._routes: list[tuple[str, re.Pattern[str], str, _Handler, bool]] = []
        for method, template, handler, auth in [
            ("GET", "/gateway", self._get_gateway, False),
            ("GET", "/gateway/bot", self._get_gateway_bot, True),
            ("GET", "/users/@me", self._get_me, True),
            ("GET", "/oauth2/applications/@me", self._get_application, True),
            ("GET", "/applications/@me", self._get_application, True),
            ("POST", "/users/@me/channels", self._create_dm, True),
            ("GET", "/users/{user_id}", self._get_user, True),
            ("GET", "/applications/{application_id}/commands", self._get_commands, True),
            ("PUT", "/applications/{application_id}/commands", self._put_commands, True),
            ("POST", "/applications/{application_id}/commands", self._post_command, True),
            ("DELETE", "/applications/{application_id}/commands/{command_id}", self._delete_command, True),
            ("GET", "/applications/{application_id}/guilds/{guild_id}/commands", self._get_commands, True),
            ("PUT", "/applications/{application_id}/guilds/{guild_id}/commands", self._put_commands, True),
            ("POST", "/applications/{application_id}/guilds/{guild_id}/commands", self._post_command, True),
            (
                "DELETE",
                "/applications/{application_id}/guilds/{guild_id}/commands/{command_id}",
                self._delete_command,
                True,
            ),
            ("POST", "/interactions/{interaction_id}/{token}/callback", self._callback, False),
            ("POST", "/webhooks/{application_id}/{token}", self._followup, False),
            (
                "GET",
                "/webhooks/{application_id}/{token}/messages/{message_id}",
                self._get_webhook_message,
                False,
            ),
            (
                "PATCH",
                "/webhooks/{application_id}/{token}/messages/{message_id}",
                self._edit_webhook_message,
                False,
            ),
            (
                "DELETE",
                "/webhooks/{application_id}/{token}/messages/{message_id}",
                self._delete_webhook_message,
                False,
            ),
            ("GET", "/channels/{channel_id}", self._get_channel, True),
            ("POST", "/channels/{channel_id}/messages", self._create_message, True),
            ("PATCH", "/channels/{channel_id}/messages/{message_id}", self._edit_message, True),
            ("DELETE", "/channels/{channel_id}/messages/{message_id}", self._delete_message, True),
            ("POST", "/channels/{channel_id}/typing", self._typing, True),
        ]:
            pattern = re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "$")
            self._routes.append((method, pattern, f"{method} {template}", handler, auth))
        self._clear_state()

    def _clear_state(self) -> None:
        self._calls: list[Call] = []
        self._interactions: dict[int, _Interaction] = {}
        self._tokens: dict[str, int] = {}
        self._commands: dict[int | None, list[JSON]] = {}
        self._command_ids: dict[tuple[int | None, str, int], int] = {}
        self._messages: dict[int, JSON] = {}
        self._attachments: dict[int, bytes] = {}
        self._faults: list[_FaultRule] = []
        self._backlog: list[tuple[str, JSON, int | None]] = []
        self._gateway_received: list[JSON] = []
        self.unknown_routes: list[str] = []
        """``METHOD /path`` of calls to routes the fake does not serve (answered 404 code 0)."""
        self.server_errors: list[str] = []
        """Unexpected exceptions inside the fake (answered 500); a test may assert this stays empty."""

    # lifecycle -----------------------------------------------------------------------------------------
    def start(self) -> Self:
        started = threading.Event()
        failure: list[BaseException] = []
        self._thread = threading.Thread(
            target=self._run, args=(started, failure), name="fake-discord", daemon=True
        )
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("FakeDiscord did not start within 10 s")
        if failure:
            raise RuntimeError("FakeDiscord failed to start") from failure[0]
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and thread.is_alive():
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _run(self, started: threading.Event, failure: list[BaseException]) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:
            failure.append(exc)
            started.set()
            loop.close()
            self._loop = None
            return
        started.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._shutdown())
            loop.close()
            self._loop = None
            self._bound_port = None

    async def _serve(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._api)
        app.router.add_get("/attachments/{channel_id}/{attachment_id}/{filename}", self._attachment)
        app.router.add_route("*", "/_control/{op}", self._control)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, self._port))
        self._bound_port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    async def _shutdown(self) -> None:
        for session in list(self._sessions):
            session.queue.put_nowait(None)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(session.ws.close(code=1001, message=b"fake stopped"), 1.0)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # addresses -----------------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._bound_port is None:
            raise RuntimeError("FakeDiscord is not running")
        return self._bound_port

    @property
    def root_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def api_base(self) -> str:
        """The value for ``discord.http.Route.BASE``."""
        return self.root_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        """The value for ``DiscordWebSocket.DEFAULT_GATEWAY`` (also answered by ``GET /gateway/bot``)."""
        return f"ws://{HOST}:{self.port}/gateway"

    @property
    def control_url(self) -> str:
        return self.root_url + "/_control"

    # JSON shapes ---------------------------------------------------------------------------------------
    def _snowflake(self) -> int:
        millis = int(time.time() * 1000) - DISCORD_EPOCH_MS
        return (millis << 22) | (next(self._counter) & 0x3FFFFF)

    def _user(self, user_id: int, name: str | None = None, *, bot: bool = False) -> JSON:
        user = self._users.get(user_id)
        if user is None:
            username = name or f"user{user_id}"
            user = {
                "id": str(user_id),
                "username": username,
                "discriminator": "0",
                "global_name": None if bot else username.title(),
                "avatar": None,
                "public_flags": 0,
                "flags": 0,
                "banner": None,
                "accent_color": None,
                "avatar_decoration_data": None,
                "collectibles": None,
                "primary_guild": None,
            }
            if bot:
                user["bot"] = True
            self._users[user_id] = user
        elif name is not None:
            user["username"] = name
        return dict(user)

    @property
    def bot_user(self) -> JSON:
        with self._lock:
            return {
                **self._user(self.bot_user_id, BOT_USERNAME, bot=True),
                "verified": True,
                "mfa_enabled": False,
                "locale": "en-US",
            }

    def _application(self) -> JSON:
        return {
            "id": str(self.application_id),
            "name": "MinerWatch Test",
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "bot": self.bot_user,
            "bot_public": True,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "owner": self._user(OWNER_USER_ID, "owner"),
            "team": None,
            "flags": 0,
            "rpc_origins": [],
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "tags": [],
            "approximate_guild_count": len(self._guilds),
            "integration_types_config": {"0": {}},
        }

    def _role(self, role_id: int, name: str, permissions: int, position: int, **extra: Any) -> JSON:
        return {
            "id": str(role_id),
            "name": name,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "position": position,
            "permissions": str(permissions),
            "managed": False,
            "mentionable": False,
            "flags": 0,
            **extra,
        }

    def _roles(self, guild: _Guild) -> list[JSON]:
        roles = [
            self._role(guild.id, "@everyone", EVERYONE_PERMISSIONS, 0),
            self._role(
                guild.bot_role_id,
                BOT_USERNAME,
                guild.bot_permissions,
                1,
                managed=True,
                tags={"bot_id": str(self.bot_user_id)},
            ),
        ]
        for position, (perms, role_id) in enumerate(sorted(guild.perm_roles.items()), start=2):
            roles.append(self._role(role_id, f"perms-{perms:#x}", perms, position))
        return roles

    def _perm_role(self, guild: _Guild, permissions: int) -> tuple[int, bool]:
        """The role granting ``permissions`` and whether it was just created."""
        if permissions in guild.perm_roles:
            return guild.perm_roles[permissions], False
        guild.perm_roles[permissions] = self._snowflake()
        return guild.perm_roles[permissions], True

    def _member_json(self, guild: _Guild, user_id: int, extra: int | None = None) -> JSON:
        if user_id == self.bot_user_id:
            roles = [str(guild.bot_role_id)]
            user = self.bot_user
        else:
            spec = guild.members.get(user_id)
            perms = extra if extra is not None else (spec.permissions if spec else 0)
            roles = [str(self._perm_role(guild, perms)[0])] if perms else []
            user = self._user(user_id, spec.name if spec else None)
        return {
            "user": user,
            "roles": roles,
            "nick": None,
            "avatar": None,
            "banner": None,
            "joined_at": "2024-01-01T00:00:00+00:00",
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "pending": False,
            "flags": 0,
            "communication_disabled_until": None,
        }

    def _total_permissions(self, guild: _Guild, user_id: int, extra: int | None = None) -> int:
        if user_id == guild.owner_id:
            return ALL_PERMISSIONS
        if user_id == self.bot_user_id:
            perms = EVERYONE_PERMISSIONS | guild.bot_permissions
        else:
            spec = guild.members.get(user_id)
            perms = EVERYONE_PERMISSIONS | (extra if extra is not None else (spec.permissions if spec else 0))
        return ALL_PERMISSIONS if perms & ADMINISTRATOR else perms

    def _channel_json(self, guild: _Guild | None, spec: ChannelSpec, *, with_guild_id: bool = True) -> JSON:
        data: JSON = {
            "id": str(spec.id),
            "type": spec.type,
            "name": spec.name,
            "position": spec.position,
            "permission_overwrites": [],
            "parent_id": None,
            "nsfw": False,
            "flags": 0,
        }
        if spec.type in (0, 5):
            data.update(topic=None, last_message_id=None, rate_limit_per_user=0)
        if spec.type in (2, 13):
            data.update(bitrate=64000, user_limit=0, rtc_region=None, last_message_id=None)
        if guild is not None and with_guild_id:
            data["guild_id"] = str(guild.id)
        return data

    def _dm_json(self, channel_id: int) -> JSON:
        user_id = self._dm_users[channel_id]
        return {
            "id": str(channel_id),
            "type": 1,
            "last_message_id": None,
            "flags": 0,
            "recipients": [self._user(user_id)],
        }

    def _guild_create(self, guild: _Guild) -> JSON:
        members = [self._member_json(guild, self.bot_user_id)]
        members += [self._member_json(guild, uid) for uid in guild.members]
        return {
            "id": str(guild.id),
            "name": guild.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(guild.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "roles": self._roles(guild),
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "max_members": 500000,
            "vanity_url_code": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "premium_progress_bar_enabled": False,
            "preferred_locale": "en-US",
            "nsfw_level": 0,
            "joined_at": "2024-01-01T00:00:00+00:00",
            "large": False,
            "unavailable": False,
            "member_count": len(members),
            "voice_states": [],
            "members": members,
            "channels": [self._channel_json(guild, c, with_guild_id=False) for c in guild.channels.values()],
            "threads": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "lazy": True,
        }

    def _ready(self, session: _Session) -> JSON:
        return {
            "v": 10,
            "user": self.bot_user,
            "guilds": [
                {"id": str(g.id), "unavailable": True}
                for g in self._guilds.values()
                if g.present and session.covers(g.id)
            ],
            "session_id": session.session_id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "shard": list(session.shard),
            "application": {"id": str(self.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": ["us-east"],
            "user_settings": {},
            "auth": {},
            "_trace": ["fake-discord"],
        }

    def _message_json(
        self,
        channel_id: int,
        payload: JSON,
        files: tuple[UploadedFile, ...],
        *,
        message_type: int = 0,
        flags: int = 0,
        webhook: bool = False,
    ) -> JSON:
        message_id = self._snowflake()
        attachments = self._attachments_json(channel_id, payload, files)
        message: JSON = {
            "id": str(message_id),
            "channel_id": str(channel_id),
            "type": message_type,
            "author": self.bot_user,
            "content": payload.get("content") or "",
            "embeds": list(payload.get("embeds") or []),
            "attachments": attachments,
            "components": list(payload.get("components") or []),
            "flags": flags,
            "timestamp": _now_iso(),
            "edited_timestamp": None,
            "tts": bool(payload.get("tts", False)),
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "pinned": False,
        }
        if payload.get("nonce") is not None:
            message["nonce"] = payload["nonce"]
        guild = self._guild_of_channel(channel_id)
        if guild is not None:
            message["guild_id"] = str(guild.id)
        if webhook:
            message["webhook_id"] = str(self.application_id)
            message["application_id"] = str(self.application_id)
        self._messages[message_id] = message
        return message

    def _attachments_json(
        self, channel_id: int, payload: JSON, files: tuple[UploadedFile, ...]
    ) -> list[JSON]:
        by_index: dict[int, UploadedFile] = {}
        for part in files:
            match = re.fullmatch(r"files\[(\d+)\]", part.field)
            by_index[int(match.group(1)) if match else len(by_index)] = part
        result: list[JSON] = []
        for entry in payload.get("attachments") or [{"id": i} for i in by_index]:
            index = entry.get("id")
            upload = by_index.get(int(index)) if str(index).isdigit() else None
            if upload is None:
                existing = next((a for a in self._all_attachments() if a["id"] == str(index)), None)
                if existing is not None:
                    result.append(existing)
                continue
            attachment_id = self._snowflake()
            filename = entry.get("filename") or upload.filename
            url = f"{self.root_url}/attachments/{channel_id}/{attachment_id}/{filename}"
            self._attachments[attachment_id] = upload.data
            result.append(
                {
                    "id": str(attachment_id),
                    "filename": filename,
                    "description": entry.get("description"),
                    "content_type": upload.content_type,
                    "size": len(upload.data),
                    "url": url,
                    "proxy_url": url,
                    "ephemeral": False,
                }
            )
        return result

    def _all_attachments(self) -> Iterable[JSON]:
        for message in self._messages.values():
            yield from message.get("attachments", [])

    # configuration and the users' side -----------------------------------------------------------------
    def guild(
        self,
        guild_id: int,
        name: str | None = None,
        *,
        channels: Iterable[ChannelSpec | int | Mapping[str, Any]] = (),
        members: Iterable[MemberSpec | int | Mapping[str, Any]] = (),
        owner_id: int = OWNER_USER_ID,
        bot_permissions: int = BOT_PERMISSIONS,
    ) -> JSON:
        """Add the bot to a guild (or replace it); once connected the bot gets its GUILD_CREATE.

        Channels are ``channel(...)`` specs or ids (text channels); members are ``member(...)`` specs or ids
        (no extra permissions). Returns the GUILD_CREATE payload.
        """
        with self._lock:
            old = self._guilds.get(guild_id)
            guild = _Guild(guild_id, name or f"guild-{guild_id}", owner_id, bot_permissions)
            guild.bot_role_id = old.bot_role_id if old else self._snowflake()
            guild.perm_roles = dict(old.perm_roles) if old else {}
            for i, c in enumerate(channels):
                spec = self._as_channel(c, i)
                guild.channels[spec.id] = spec
                self._deleted_channels.discard(spec.id)
            for m in members:
                spec_m = self._as_member(m)
                guild.members[spec_m.user_id] = spec_m
                self._user(spec_m.user_id, spec_m.name)
                if spec_m.permissions:
                    self._perm_role(guild, spec_m.permissions)
            self._guilds[guild_id] = guild
            payload = self._guild_create(guild)
            del payload["unavailable"]  # a join (not a lazy load after READY): discord.py fires on_guild_join
        self._emit("GUILD_CREATE", payload, guild_id, keep=False)
        return payload

    @staticmethod
    def _as_channel(value: ChannelSpec | int | Mapping[str, Any], index: int) -> ChannelSpec:
        if isinstance(value, ChannelSpec):
            return value
        if isinstance(value, int):
            return channel(value, position=index)
        return channel(
            int(value["id"]),
            value.get("name"),
            type=int(value.get("type", 0)),
            position=value.get("position", index),
        )

    @staticmethod
    def _as_member(value: MemberSpec | int | Mapping[str, Any]) -> MemberSpec:
        if isinstance(value, MemberSpec):
            return value
        if isinstance(value, int):
            return member(value)
        return member(int(value["user_id"]), int(value.get("permissions", 0)), name=value.get("name"))

    channel = staticmethod(channel)
    member = staticmethod(member)

    def add_channel(self, guild_id: int, spec: ChannelSpec | int | Mapping[str, Any]) -> JSON:
        """Create a channel in a configured guild (CHANNEL_CREATE); returns the channel payload."""
        with self._lock:
            guild = self._guilds[guild_id]
            new = self._as_channel(spec, len(guild.channels))
            guild.channels[new.id] = new
            self._deleted_channels.discard(new.id)
            payload = self._channel_json(guild, new)
        self._emit("CHANNEL_CREATE", payload, guild_id, keep=False)
        return payload

    def delete_channel(self, channel_id: int) -> None:
        """Delete a guild channel: CHANNEL_DELETE now, 404 Unknown Channel (10003) on later calls."""
        with self._lock:
            guild = self._guild_of_channel(channel_id)
            if guild is None:
                raise KeyError(f"no guild channel {channel_id}")
            payload = self._channel_json(guild, guild.channels.pop(channel_id))
            self._deleted_channels.add(channel_id)
        self._emit("CHANNEL_DELETE", payload, guild.id, keep=False)

    def remove_from_guild(self, guild_id: int) -> None:
        """Kick the bot: GUILD_DELETE without ``unavailable``; its channels then answer 403 Missing Access."""
        with self._lock:
            self._guilds[guild_id].present = False
        self._emit("GUILD_DELETE", {"id": str(guild_id)}, guild_id, keep=False)

    def dm_channel_id(self, user_id: int) -> int:
        """The DM channel id the fake uses for ``user_id`` (what ``user.create_dm()`` will return)."""
        with self._lock:
            if user_id not in self._dm_channels:
                channel_id = self._snowflake()
                self._dm_channels[user_id] = channel_id
                self._dm_users[channel_id] = user_id
                self._user(user_id)
            return self._dm_channels[user_id]

    def invoke(
        self,
        command_name: str,
        options: Mapping[str, Any] | None = None,
        *,
        guild_id: int | None = None,
        channel_id: int | None = None,
        dm_user_id: int | None = None,
        user_id: int | None = None,
        permissions: int | None = None,
        locale: str = "en-US",
    ) -> int:
        """Push an INTERACTION_CREATE (type 2) for ``/command_name`` and return the interaction id.

        ``command_name`` may name a subcommand (``"alerts add"``). Option types come from the synced commands,
        else from the Python values; user/channel/role option values (ids) get ``resolved`` data. Without
        ``dm_user_id`` the interaction happens in ``channel_id`` (or the first channel of ``guild_id`` /
        of the only guild); ``permissions`` (bits on top of @everyone) override the member's configured ones.
        """
        return self._push_interaction(
            2,
            command_name,
            dict(options or {}),
            None,
            guild_id,
            channel_id,
            dm_user_id,
            user_id,
            permissions,
            locale,
        )

    def autocomplete(
        self,
        command_name: str,
        option_name: str,
        partial: str,
        *,
        options: Mapping[str, Any] | None = None,
        guild_id: int | None = None,
        channel_id: int | None = None,
        dm_user_id: int | None = None,
        user_id: int | None = None,
        permissions: int | None = None,
        locale: str = "en-US",
    ) -> int:
        """Push an autocomplete interaction (type 4) with ``option_name`` focused at ``partial``."""
        values = {**(options or {}), option_name: partial}
        return self._push_interaction(
            4,
            command_name,
            values,
            option_name,
            guild_id,
            channel_id,
            dm_user_id,
            user_id,
            permissions,
            locale,
        )

    def press_button(
        self,
        message_id: int,
        custom_id: str,
        *,
        user_id: int | None = None,
        permissions: int | None = None,
        locale: str = "en-US",
    ) -> int:
        """Push the component interaction (type 3) of a user pressing the button ``custom_id`` on a message
        the bot sent; returns the interaction id. Raises ValueError if the message has no such button."""
        with self._lock:
            message = self._messages.get(message_id)
            if message is None:
                raise ValueError(f"the bot sent no message {message_id}")
            found = [
                button
                for row in message.get("components") or []
                for button in row.get("components") or []
                if button.get("custom_id") == custom_id
            ]
            if not found:
                raise ValueError(f"message {message_id} has no button {custom_id!r}")
            channel_id = int(message["channel_id"])
            dm_user = self._dm_users.get(channel_id)
        return self._push_interaction(
            3,
            "",
            {},
            None,
            None,
            None if dm_user is not None else channel_id,
            dm_user,
            user_id,
            permissions,
            locale,
            (message, found[0]),
        )

    def push_event(self, event: str, data: JSON, *, guild_id: int | None = None) -> None:
        """Dispatch a raw gateway event (op 0) to the connected sessions covering ``guild_id``."""
        self._emit(event, data, guild_id, keep=True)

    def reconnect_gateway(self) -> None:
        """Send op 7 RECONNECT: discord.py closes and RESUMEs at ``resume_gateway_url`` (answered RESUMED)."""
        loop = self._loop
        if loop is not None:
            loop.call_soon_threadsafe(self._broadcast_op, 7, None)

    def fail(
        self,
        channel_id: int | None,
        fault: Fault | str,
        *,
        count: int | None = 1,
        retry_after: float = 0.5,
        status: int | None = None,
        global_: bool = False,
        via: bool = True,
    ) -> None:
        """Make the next ``count`` calls to ``/channels/{channel_id}/...`` (None: any channel) fail.

        ``count=None`` fails until ``clear_faults()``. For RATE_LIMITED, ``retry_after`` goes to the body,
        ``Retry-After`` and ``X-RateLimit-Reset-After``; ``global_`` sets ``"global": true``; ``via=False``
        drops the ``Via`` header (discord.py then raises ``HTTPException`` at once: "banned by Cloudflare").
        """
        if not isinstance(fault, Fault):
            fault = Fault[fault] if fault in Fault.__members__ else Fault(fault)
        with self._lock:
            self._faults.append(
                _FaultRule(channel_id, fault, count, retry_after, status or 500, global_, via)
            )

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def clear_calls(self) -> None:
        with self._lock:
            self._calls.clear()

    # readers -------------------------------------------------------------------------------------------
    @property
    def sent(self) -> list[Call]:
        """Every REST call so far, in arrival order."""
        with self._lock:
            return list(self._calls)

    def calls(
        self,
        route: str | None = None,
        *,
        channel_id: int | None = None,
        interaction_id: int | None = None,
        method: str | None = None,
    ) -> list[Call]:
        """Calls filtered by route template (``"POST /channels/{channel_id}/messages"``), ids or method."""
        return [
            c
            for c in self.sent
            if (route is None or c.route == route)
            and (channel_id is None or c.channel_id == channel_id)
            and (interaction_id is None or c.interaction_id == interaction_id)
            and (method is None or c.method == method)
        ]

    def responses_to(self, interaction_id: int) -> list[Call]:
        """The callback, original-response edits and follow-ups for one interaction."""
        return self.calls(interaction_id=interaction_id)

    def messages_in(self, channel_id: int) -> list[Call]:
        """Successful ``POST /channels/{channel_id}/messages`` calls (not interaction replies)."""
        return [c for c in self.calls("POST /channels/{channel_id}/messages", channel_id=channel_id) if c.ok]

    @property
    def commands(self) -> list[JSON]:
        """The registered global commands (as the last bulk overwrite left them)."""
        return self.guild_commands(None)

    def guild_commands(self, guild_id: int | None) -> list[JSON]:
        with self._lock:
            return [dict(c) for c in self._commands.get(guild_id, [])]

    def interaction(self, interaction_id: int) -> JSON:
        """The INTERACTION_CREATE payload pushed for ``interaction_id``."""
        with self._lock:
            return self._interactions[interaction_id].payload

    @property
    def identifies(self) -> list[JSON]:
        """The ``d`` of every IDENTIFY received (token, intents, shard, ...)."""
        with self._lock:
            return [dict(p["d"]) for p in self._gateway_received if p.get("op") == 2]

    @property
    def connected(self) -> int:
        """How many gateway sessions are identified right now."""
        return sum(1 for s in list(self._sessions) if s.identified)

    def _timeout_message(self, timeout: float) -> str:
        recent = "\n".join(
            f"  {c.method} {c.path} status={c.status} payload={json.dumps(c.payload)[:160]}"
            for c in self.sent[-10:]
        )
        return f"condition not met within {timeout}s; last calls:\n{recent or '  (none)'}"

    # gateway -------------------------------------------------------------------------------------------
    def _emit(self, event: str, data: JSON, guild_id: int | None, *, keep: bool) -> None:
        """Queue a dispatch from any thread; ``keep`` holds it for the next session if none is connected."""
        loop = self._loop
        if loop is None:
            if keep:
                with self._lock:
                    self._backlog.append((event, data, guild_id))
            return
        loop.call_soon_threadsafe(self._route_event, event, data, guild_id, keep)

    def _route_event(self, event: str, data: JSON, guild_id: int | None, keep: bool) -> None:
        targets = [s for s in self._sessions if s.identified and s.covers(guild_id)]
        if not targets and keep:
            with self._lock:
                self._backlog.append((event, data, guild_id))
        for session in targets:
            session.queue.put_nowait((0, event, data))

    def _broadcast_op(self, op: int, data: Any) -> None:
        for session in self._sessions:
            session.queue.put_nowait((op, None, data))

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        session = _Session(ws, asyncio.Queue())
        self._sessions.append(session)
        writer = asyncio.create_task(self._gateway_writer(session))
        session.queue.put_nowait((10, None, {"heartbeat_interval": self.heartbeat_interval_ms, "_trace": []}))
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    self._gateway_message(session, json.loads(msg.data))
                elif msg.type is WSMsgType.BINARY:
                    session.queue.put_nowait((-1, None, 4002))  # decode error: the fake speaks JSON text only
        finally:
            session.identified = False
            with contextlib.suppress(ValueError):
                self._sessions.remove(session)
            session.queue.put_nowait(None)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer, 1.0)
        return ws

    async def _gateway_writer(self, session: _Session) -> None:
        while (item := await session.queue.get()) is not None:
            op, event, data = item
            try:
                if op == -1:
                    await session.ws.close(code=int(data))
                    return
                frame: JSON = {"op": op, "d": data, "s": None, "t": None}
                if op == 0:
                    session.seq += 1
                    frame.update(s=session.seq, t=event)
                await session.ws.send_str(json.dumps(frame))
            except (ConnectionError, RuntimeError):
                return

    def _gateway_message(self, session: _Session, payload: JSON) -> None:
        op = payload.get("op")
        data = payload.get("d")
        with self._lock:
            self._gateway_received.append(payload)
        if op == 1:
            session.queue.put_nowait((11, None, None))
        elif op == 2:
            if not isinstance(data, dict) or data.get("token") != self.token:
                session.queue.put_nowait((-1, None, 4004))
                return
            shard = data.get("shard") or [0, 1]
            session.shard = (int(shard[0]), int(shard[1]))
            with self._lock:
                session.queue.put_nowait((0, "READY", self._ready(session)))
                for guild in self._guilds.values():
                    if guild.present and session.covers(guild.id):
                        session.queue.put_nowait((0, "GUILD_CREATE", self._guild_create(guild)))
                kept = [item for item in self._backlog if session.covers(item[2])]
                self._backlog = [item for item in self._backlog if not session.covers(item[2])]
            session.identified = True
            for event, event_data, _ in kept:
                session.queue.put_nowait((0, event, event_data))
        elif op == 6:
            if not isinstance(data, dict) or data.get("token") != self.token:
                session.queue.put_nowait((-1, None, 4004))
                return
            session.session_id = str(data.get("session_id") or session.session_id)
            session.seq = int(data.get("seq") or 0)
            session.identified = True
            session.queue.put_nowait((0, "RESUMED", {"_trace": ["fake-discord"]}))

    # interactions --------------------------------------------------------------------------------------
    def _find_command(self, name: str, guild_id: int | None) -> tuple[JSON | None, bool]:
        """The registered command spec and whether it is a guild command."""
        if guild_id is not None:
            for spec in self._commands.get(guild_id, []):
                if spec["name"] == name and spec.get("type", 1) == 1:
                    return spec, True
        for spec in self._commands.get(None, []):
            if spec["name"] == name and spec.get("type", 1) == 1:
                return spec, False
        return None, False

    def _push_interaction(
        self,
        itype: int,
        command_name: str,
        values: dict[str, Any],
        focused: str | None,
        guild_id: int | None,
        channel_id: int | None,
        dm_user_id: int | None,
        user_id: int | None,
        permissions: int | None,
        locale: str,
        pressed: tuple[JSON, JSON] | None = None,
    ) -> int:
        """Push an interaction; ``pressed`` = (message, button) makes it a component press (type 3)."""
        with self._lock:
            guild: _Guild | None = None
            if dm_user_id is not None:
                invoker = user_id if user_id is not None else dm_user_id
                where = self.dm_channel_id(dm_user_id)
            else:
                guild, where = self._locate(guild_id, channel_id)
                invoker = user_id if user_id is not None else DEFAULT_USER_ID
            data: JSON
            if pressed is not None:
                data = {"custom_id": pressed[1]["custom_id"], "component_type": pressed[1]["type"]}
            else:
                parts = command_name.split()
                spec, is_guild_command = self._find_command(parts[0], guild.id if guild else None)
                resolved: JSON = {}
                options = self._options(parts, spec, values, focused, resolved, guild)
                data = {
                    "id": str(spec["id"]) if spec else str(self._snowflake()),
                    "name": parts[0],
                    "type": 1,
                    "options": options,
                }
                if resolved:
                    data["resolved"] = resolved
                if is_guild_command and guild is not None:
                    data["guild_id"] = str(guild.id)
            interaction_id = self._snowflake()
            token = f"aW50ZXJhY3Rpb24{uuid.uuid4().hex}{uuid.uuid4().hex}"
            payload: JSON = {
                "id": str(interaction_id),
                "application_id": str(self.application_id),
                "type": itype,
                "data": data,
                "channel_id": str(where),
                "token": token,
                "version": 1,
                "locale": locale,
                "entitlements": [],
                "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
            }
            if pressed is not None:
                payload["message"] = copy.deepcopy(pressed[0])
            new_role: JSON | None = None
            if guild is not None:
                spec_m = guild.members.get(invoker)
                extra = permissions if permissions is not None else (spec_m.permissions if spec_m else 0)
                if extra:
                    role_id, created = self._perm_role(guild, extra)
                    if created:
                        new_role = {
                            "guild_id": str(guild.id),
                            "role": self._role(
                                role_id, f"perms-{extra:#x}", extra, len(guild.perm_roles) + 1
                            ),
                        }
                member_payload = self._member_json(guild, invoker, extra)
                member_payload["permissions"] = str(self._total_permissions(guild, invoker, extra))
                payload.update(
                    guild_id=str(guild.id),
                    guild={"id": str(guild.id), "locale": "en-US", "features": []},
                    guild_locale="en-US",
                    channel={
                        **self._channel_json(guild, guild.channels[where]),
                        "permissions": member_payload["permissions"],
                    },
                    member=member_payload,
                    app_permissions=str(self._total_permissions(guild, self.bot_user_id)),
                    authorizing_integration_owners={"0": str(guild.id)},
                    context=0,
                )
            else:
                payload.update(
                    channel=self._dm_json(where),
                    user=self._user(invoker),
                    app_permissions=str(EVERYONE_PERMISSIONS),
                    authorizing_integration_owners={"0": "0"},
                    context=1,
                )
            self._interactions[interaction_id] = _Interaction(
                interaction_id,
                token,
                itype,
                command_name,
                where,
                guild.id if guild else None,
                invoker,
                payload,
            )
            self._tokens[token] = interaction_id
        if new_role is not None and guild is not None:
            self._emit("GUILD_ROLE_CREATE", new_role, guild.id, keep=False)
        self._emit("INTERACTION_CREATE", payload, guild.id if guild else None, keep=True)
        return interaction_id

    def _locate(self, guild_id: int | None, channel_id: int | None) -> tuple[_Guild, int]:
        if channel_id is not None:
            guild = self._guild_of_channel(channel_id)
            if guild is None or (guild_id is not None and guild.id != guild_id):
                raise ValueError(f"channel {channel_id} is not a channel of a configured guild")
            return guild, channel_id
        if guild_id is None:
            present = [g for g in self._guilds.values() if g.present]
            if len(present) != 1:
                raise ValueError("name guild_id, channel_id or dm_user_id: there is not exactly one guild")
            guild = present[0]
        else:
            guild = self._guilds[guild_id]
        text = [c.id for c in guild.channels.values() if c.type in (0, 5)]
        if not text:
            raise ValueError(f"guild {guild.id} has no text channel")
        return guild, text[0]

    def _options(
        self,
        parts: list[str],
        spec: JSON | None,
        values: Mapping[str, Any],
        focused: str | None,
        resolved: JSON,
        guild: _Guild | None,
    ) -> list[JSON]:
        chain: list[tuple[str, int]] = []
        current = spec
        for depth, name in enumerate(parts[1:], start=2):
            sub = next((o for o in (current or {}).get("options", []) if o.get("name") == name), None)
            chain.append((name, int(sub["type"]) if sub else (1 if depth == len(parts) else 2)))
            current = sub
        specs = {o["name"]: o for o in (current or {}).get("options", []) if o.get("type") not in (1, 2)}
        leaf: list[JSON] = []
        for name, value in values.items():
            opt_type = int(specs[name]["type"]) if name in specs else _infer_option_type(value)
            option: JSON = {"name": name, "type": opt_type}
            if name == focused:
                option.update(value=str(value), focused=True)
            elif opt_type in _SNOWFLAKE_TYPES:
                option["value"] = str(value)
                self._resolve(opt_type, int(value), resolved, guild)
            elif opt_type == 4:
                option["value"] = int(value)
            elif opt_type == 10:
                option["value"] = float(value)
            elif opt_type == 5:
                option["value"] = bool(value)
            else:
                option["value"] = value if isinstance(value, str) else str(value)
            leaf.append(option)
        for name, opt_type in reversed(chain):
            leaf = [{"name": name, "type": opt_type, "options": leaf}]
        return leaf

    def _resolve(self, opt_type: int, object_id: int, resolved: JSON, guild: _Guild | None) -> None:
        if guild is not None and opt_type in (7, 9) and object_id in guild.channels:
            data = self._channel_json(guild, guild.channels[object_id])
            data["permissions"] = str(self._total_permissions(guild, DEFAULT_USER_ID))
            resolved.setdefault("channels", {})[str(object_id)] = data
        elif guild is not None and opt_type in (8, 9) and object_id in {guild.id, *guild.perm_roles.values()}:
            role = next(r for r in self._roles(guild) if r["id"] == str(object_id))
            resolved.setdefault("roles", {})[str(object_id)] = role
        elif opt_type in (6, 9):
            resolved.setdefault("users", {})[str(object_id)] = self._user(object_id)
            if guild is not None and (object_id in guild.members or object_id == self.bot_user_id):
                member_data = self._member_json(guild, object_id)
                member_data.pop("user")
                member_data["permissions"] = str(self._total_permissions(guild, object_id))
                resolved.setdefault("members", {})[str(object_id)] = member_data

    # REST ----------------------------------------------------------------------------------------------
    async def _api(self, request: web.Request) -> web.StreamResponse:
        arrived = time.monotonic()
        path = "/" + request.match_info["tail"]
        query = {k: v for k, v in request.query.items()}
        try:
            payload, files = await self._read_body(request)
        except (ValueError, UnicodeDecodeError) as exc:
            return self._respond(400, {"message": f"400: Bad Request ({exc})", "code": 50109}, route=path)
        req = _Request(request.method, path, query, request.headers, payload, files)
        route_name = f"{request.method} {path}"
        status: int
        body: Any
        extra_headers: dict[str, str] = {}
        with self._lock:
            try:
                handler, match, route_name, auth = self._match(request.method, path)
                if match is not None and "channel_id" in match.groupdict():
                    req.channel_id = int(match["channel_id"]) if match["channel_id"].isdigit() else None
                if auth and request.headers.get("Authorization") != f"Bot {self.token}":
                    raise _ApiError(401, "401: Unauthorized", 0)
                fault = self._take_fault(req.channel_id) if req.channel_id is not None else None
                if fault is not None:
                    status, body, extra_headers = self._fault_answer(fault, route_name)
                else:
                    assert match is not None
                    status, body = handler(req, match)
            except _ApiError as exc:
                status, body = exc.status, exc.body()
            except Exception as exc:
                self.server_errors.append(f"{route_name}: {type(exc).__name__}: {exc}")
                status, body = 500, {"message": "500: Internal Server Error", "code": 0}
            self._calls.append(
                Call(
                    request.method,
                    path,
                    route_name,
                    query,
                    req.channel_id,
                    req.interaction_id,
                    payload,
                    files,
                    arrived,
                    status,
                    body,
                )
            )
            self._changed.notify_all()
        return self._respond(status, body, route=route_name, headers=extra_headers)

    def _match(self, method: str, path: str) -> tuple[_Handler, re.Match[str] | None, str, bool]:
        for route_method, pattern, name, handler, auth in self._routes:
            match = pattern.match(path)
            if match is not None and route_method == method:
                return handler, match, name, auth
        self.unknown_routes.append(f"{method} {path}")
        raise _ApiError(404, "404: Not Found", 0)

    @staticmethod
    async def _read_body(request: web.Request) -> tuple[Any, tuple[UploadedFile, ...]]:
        content_type = request.headers.get("Content-Type", "")
        if content_type.startswith("multipart/"):
            payload: Any = None
            files: list[UploadedFile] = []
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if not isinstance(part, BodyPartReader):
                    continue
                data = await part.read(decode=False)
                if part.name == "payload_json":
                    payload = json.loads(bytes(data).decode())
                else:
                    files.append(
                        UploadedFile(
                            part.name or "",
                            part.filename or "",
                            bytes(data),
                            part.headers.get("Content-Type"),
                        )
                    )
            return payload, tuple(files)
        raw = await request.read()
        if not raw:
            return None, ()
        if content_type != "application/json":
            raise ValueError(f"Content-Type {content_type!r} is not application/json")
        return json.loads(raw.decode()), ()

    def _respond(
        self, status: int, body: Any, *, route: str, headers: Mapping[str, str] | None = None
    ) -> web.Response:
        bucket = _bucket(route)
        reset_after = 5.0
        out: dict[str, str] = {
            "Via": "1.1 google",
            "X-RateLimit-Bucket": bucket,
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "4",
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
        }
        out.update(headers or {})
        for name in [k for k, v in out.items() if v == ""]:
            del out[name]
        if status == 204 or body is None:
            return web.Response(status=204 if 200 <= status < 300 else status, headers=out)
        out["Content-Type"] = "application/json"
        return web.Response(status=status, body=json.dumps(body).encode(), headers=out)

    def _take_fault(self, channel_id: int) -> _FaultRule | None:
        for rule in self._faults:
            if rule.channel_id is None or rule.channel_id == channel_id:
                if rule.remaining is not None:
                    rule.remaining -= 1
                    if rule.remaining <= 0:
                        self._faults.remove(rule)
                return rule
        return None

    @staticmethod
    def _fault_answer(rule: _FaultRule, route: str) -> tuple[int, JSON, dict[str, str]]:
        if rule.fault is Fault.RATE_LIMITED:
            retry_after = rule.retry_after
            headers = {
                "Retry-After": str(max(1, math.ceil(retry_after))),
                "X-RateLimit-Limit": "5",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
                "X-RateLimit-Reset-After": f"{retry_after:.3f}",
                "X-RateLimit-Scope": "global" if rule.global_ else "user",
                "Via": "1.1 google" if rule.via else "",
            }
            if rule.global_:
                headers["X-RateLimit-Global"] = "true"
            body = {
                "message": "You are being rate limited.",
                "retry_after": retry_after,
                "global": rule.global_,
            }
            return 429, body, headers
        if rule.fault is Fault.SERVER_ERROR:
            return rule.status, {"message": f"{rule.status}: Server Error", "code": 0}, {}
        status, message, code = _FAULT_ERRORS[rule.fault]
        return status, {"message": message, "code": code}, {}

    # REST handlers (called with the lock held) ---------------------------------------------------------
    def _get_gateway(self, req: _Request, m: re.Match[str]) -> tuple[int, Any]:
        return 200, {"url": self.gateway_url}

    def _get_gateway_bot(self, req: _Request, m: re.Match[str]) -> tuple[int, Any]:
        limit = {"total": 1000, "remaining": 999, "reset_after": 86_400_000, "max_concurrency": 1}
        return 200, {"url": self.gateway_url, "shards": self.shards, "session_start_limit": limit}

    def _get_me(self, req: _Request, m: re.Match[str]) -> tuple[int, Any]:
        return 200, self.bot_user

    def _get_application(self, req: _Request, m: re.Match[str]) -> tuple[int, Any]:
        return 200, self._application()

    def _get_user(self, req: _Request, m: re.Match[str]) -> tuple[int, Any]:
        user_id = int(m["user_id"]) if m["user_id"].isdigit() else -1
        if user_id not in self._users:
            raise _ApiError(404, "Unknown User", 10013)
        return 200, self._user(user_id)

    def _create_dm(self, req: _Request, m: re.Match[str]) -> tuple[int, Any]:
        recipient = (req.payload or {}).get("recipient_id")
        if recipient is None or not str(recipient).isdigit():
            raise _invalid_form("recipient_id", "This field is required", "BASE_TYPE_REQUIRED")
        channel_id = self.dm_channel_id(int(recipient))
        req.channel_id = channel_id
        return 200, self._dm_json(channel_id)

    def _check_app(self, m: re.Match[str]) -> int | None:
        if m["application_id"] != str(self.application_id):
            raise _ApiError(403, "Missing Access", 50001)
        guild_id = m.groupdict().get("guild_id")
        if guild_id is None:
            return None
        guild = self._guilds.get(int(guild_id)) if guild_id.isdigit() else None
        if guild is None or not guild.present:
            raise _ApiError(403, "Missing Access", 50001)
        return guild.id

    def _command_record(self, guild_id: int | None, data: JSON, index: int) -> JSON:
        cmd_type = int(data.get("type", 1))
        name = data.get("name")
        if (
            not isinstance(name, str)
            or not _COMMAND_NAME.match(name)
            or (cmd_type == 1 and name != name.lower())
        ):
            raise _invalid_form(
                f"{index}.name", "Command name is invalid", "APPLICATION_COMMAND_INVALID_NAME"
            )
        description = data.get("description", "")
        if cmd_type == 1 and not 1 <= len(description) <= 100:
            raise _invalid_form(f"{index}.description", "Must be between 1 and 100 in length.")
        self._check_options(f"{index}.options", data.get("options") or [])
        key = (guild_id, name, cmd_type)
        command_id = self._command_ids.setdefault(key, self._snowflake())
        record: JSON = {
            **data,
            "id": str(command_id),
            "application_id": str(self.application_id),
            "version": str(self._snowflake()),
            "type": cmd_type,
            "description": description,
            "default_member_permissions": data.get("default_member_permissions"),
            "nsfw": bool(data.get("nsfw", False)),
        }
        if guild_id is not None:
            record["guild_id"] = str(guild_id)
        return record

    def _check_options(self, where: str, options: list[JSON]) -> None:
        if len(options) > 25:
            raise _invalid_form(where, "Must be 25 or fewer in length.")
        names: set[str] = set()
        for i, option in enumerate(options):
            name = option.get("name", "")
            if not _COMMAND_NAME.match(name) or name != name.lower() or name in names:
                raise _invalid_form(f"{where}.{i}.name", "Option name is invalid or duplicated")
            names.add(name)
            if not 1 <= len(option.get("description", "")) <= 100:
                raise _invalid_form(f"{where}.{i}.description", "Must be between 1 and 100 in length.")
            if len(option.get("choices") or []) > 25:
                raise _invalid_form(f"{where}.{i}.choices", "Must be 25 or fewer in length.")
            if option.get("type") in (1, 2):
                self._check_options(f"{where}.{i}.options", option.get("options") or [])

    def _get_commands(self, req: _Request, m: re.Match[str]) -> tuple[int, Any]:
        guild_id = self._check_app(m)
        return 200, list(self._commands.get(guild_id, []))

    def _put_commands(self, req: _Request, m: re.Match[str]) -> tuple[int, Any]:
        guild_id = self._check_app(m)
        if not isinstance(req.payload, list):
            raise _invalid_form("_", "Must be an array", "LIST_TYPE_CONVERT")
        if len([c for c in req.payload if int(c.get("type", 1)) == 1]) > 100:
            raise _invalid_form("_", "Must be 100 or fewer chat input commands.")
        records = [self._command_record(guild_id, c, i) for i, c in enumerate(req.payload)]
        keys = [(r["name"], r["type"]) for r in records]
        if len(set(keys)) != len(keys):
            raise _ApiError(
                400,
                "Invalid Form Body",
                50035,
                {"_errors": [{"code": "APPLICATION_COMMANDS_DUPLICATE_NAME"}]},
            )
        self._commands[guild_id] = records
        return 200, records

    def _post_command(self, req: _Request, m: re.Match[str]) -> tuple[int, Any]:
        guild_id = self._check_app(m)
        if not isinstance(req.payload, dict):
            raise _invalid_form("_", "Must be an object", "DICT_TYPE_CONVERT")
        record = self._command_record(guild_id, req.payload, 0)
        existing = self._commands.setdefault(guild_id, [])
        replaced = [
            i for i, c in enumerate(existing) if (c["name"], c["type"]) == (record["name"], record["type"])
        ]
        if replaced:
            existing[replaced[0]] = record
            return 200, record
        existing.append(record)
        return 201, record

    def _delete_command(self, req: _Request, m: re.Match[str]) -> tuple[int, Any]:
        guild_id = self._check_app(m)
        existing = self._commands.get(guild_id, [])
        kept = [c for c in existing if c["id"] != m["command_id"]]
        if len(kept) == len(existing):
            raise _ApiError(404, "Unknown application command", 10063)
        self._commands[guild_id] = kept
        return 204, None

    def _validate_message(
        self, payload: Any, files: tuple[UploadedFile, ...], *, allow_empty: bool = False
    ) -> JSON:
        if not isinstance(payload, dict):
            if allow_empty and payload is None:
                return {}
            raise _ApiError(400, "Cannot send an empty message", 50006)
        content = payload.get("content")
        if content is not None and len(str(content)) > 2000:
            raise _invalid_form("content", "Must be 2000 or fewer in length.")
        embeds = payload.get("embeds") or []
        if len(embeds) > 10:
            raise _invalid_form("embeds", "Must be 10 or fewer in length.")
        total = 0
        for i, embed in enumerate(embeds):
            limits = {"title": 256, "description": 4096}
            for key, limit in limits.items():
                if len(embed.get(key) or "") > limit:
                    raise _invalid_form(f"embeds.{i}.{key}", f"Must be {limit} or fewer in length.")
            fields = embed.get("fields") or []
            if len(fields) > 25:
                raise _invalid_form(f"embeds.{i}.fields", "Must be 25 or fewer in length.")
            for j, f in enumerate(fields):
                if len(f.get("name") or "") > 256 or len(f.get("value") or "") > 1024:
                    raise _invalid_form(f"embeds.{i}.fields.{j}", "Field name/value too long.")
            footer = (embed.get("footer") or {}).get("text") or ""
            author = (embed.get("author") or {}).get("name") or ""
            if len(footer) > 2048 or len(author) > 256:
                raise _invalid_form(f"embeds.{i}", "Footer/author too long.")
            total += (
                len(embed.get("title") or "")
                + len(embed.get("description") or "")
                + len(footer)
                + len(author)
            )
            total += sum(len(f.get("name") or "") + len(f.get("value") or "") for f in fields)
        if total > 6000:
            raise _ApiError(400, "Embed size exceeds maximum size of 6000", 50035)
        rows = payload.get("components") or []
        if len(rows) > 5:
            raise _invalid_form("components", "Must be 5 or fewer in length.")
        for i, row in enumerate(rows):
            buttons = row.get("components") or []
            if row.get("type") != 1 or not 1 <= len(buttons) <= 5:
                raise _invalid_form(f"components.{i}", "An action row holds 1 to 5 components.")
            for j, button in enumerate(buttons):
                link = button.get("style") == 5  # a link button has a url instead of a custom_id
                custom_id_ok = link or 1 <= len(button.get("custom_id") or "") <= 100
                if len(button.get("label") or "") > 80 or not custom_id_ok:
                    raise _invalid_form(f"components.{i}.components.{j}", "Must be 100 or fewer in length.")
        has_body = any(payload.get(k) for k in ("content", "embeds", "components", "sticker_ids", "poll"))
        if not (has_body or files or payload.get("attachments") or allow_empty):
            raise _ApiError(400, "Cannot send an empty message", 50006)
        return payload

    def _guild_of_channel(self, channel_id: int) -> _Guild | None:
        return next((g for g in self._guilds.values() if channel_id in g.channels), None)

    def _check_channel(self, channel_id: int | None) -> _Guild | None:
        if channel_id is None or channel_id in self._deleted_channels:
            raise _ApiError(404, "Unknown Channel", 10003)
        if channel_id in self._dm_users:
            return None
        guild = self._guild_of_channel(channel_id)
        if guild is None:
            raise _ApiError(404, "Unknown Channel", 10003)
        if not guild.present:
            raise _ApiError(403, "Missing Access", 50001)
        return guild

    def _get_channel(self, req: _Request, m: re.Match[str]) -> tuple[int, Any]:
        guild = self._check_channel(req.channel_id)
        assert req.channel_id is not None
        if guild is None:
            return 200, self._dm_json(req.channel_id)
        return 200, self._channel_json(guild, guild.channels[req.channel_id])

    def _create_message(self, req: _Request, m: re.Match[str]) -> tuple[int, Any]:
        self._check_channel(req.channel_id)
        assert req.channel_id is not None
        payload = self._validate_message(req.payload, req.files)
        flags = int(payload.get("flags") or 0) & ~EPHEMERAL
        return 200, self._message_json(req.channel_id, payload, req.files, flags=flags)

    def _stored_message(self, channel_id: int | None, message_id: str) -> JSON:
        message = self._messages.get(int(message_id)) if message_id.isdigit() else None
        if message is None or (channel_id is not None and message["channel_id"] != str(channel_id)):
            raise _ApiError(404, "Unknown Message", 10008)
        return message

    def _apply_edit(self, message: JSON, payload: JSON, files: tuple[UploadedFile, ...]) -> JSON:
        for key in ("content", "embeds", "components"):
            if key in payload:
                message[key] = payload[key] if payload[key] is not None else ([] if key != "content" else "")
        if "attachments" in payload or files:
            message["attachments"] = self._attachments_json(int(message["channel_id"]), payload, files)
        if "flags" in payload and payload["flags"] is not None:
            message["flags"] = (message["flags"] & EPHEMERAL) | (int(payload["flags"]) & ~EPHEMERAL)
        message["flags"] &= ~LOADING
        message["edited_timestamp"] = _now_iso()
        return message

    def _edit_message(self, req: _Request, m: re.Match[str]) -> tuple[int, Any]:
        self._check_channel(req.channel_id)
        message = self._stored_message(req.channel_id, m["message_id"])
        payload = self._validate_message(req.payload, req.files, allow_empty=True)
        return 200, self._apply_edit(message, payload, req.files)

    def _delete_message(self, req: _Request, m: re.Match[str]) -> tuple[int, Any]:
        self._check_channel(req.channel_id)
        message = self._stored_message(req.channel_id, m["message_id"])
        del self._messages[int(message["id"])]
        return 204, None

    def _typing(self, req: _Request, m: re.Match[str]) -> tuple[int, Any]:
        self._check_channel(req.channel_id)
        return 204, None

    def _interaction_for(self, req: _Request, token: str, interaction_id: int | None = None) -> _Interaction:
        found = self._tokens.get(token)
        if found is None or (interaction_id is not None and found != interaction_id):
            raise _ApiError(404, "Unknown interaction", 10062)
        interaction = self._interactions[found]
        req.interaction_id = interaction.id
        req.channel_id = interaction.channel_id
        return interaction

    def _callback(self, req: _Request, m: re.Match[str]) -> tuple[int, Any]:
        raw_id = m["interaction_id"]
        interaction = self._interaction_for(req, m["token"], int(raw_id) if raw_id.isdigit() else -1)
        if not isinstance(req.payload, dict) or "type" not in req.payload:
            raise _invalid_form("type", "This field is required", "BASE_TYPE_REQUIRED")
        if interaction.acked is not None:
            raise _ApiError(400, "Interaction has already been acknowledged.", 40060)
        callback_type = int(req.payload["type"])
        data = req.payload.get("data") or {}
        allowed = {2: {4, 5, 9}, 4: {8}}.get(interaction.type, {4, 5, 6, 7, 9})
        if callback_type not in allowed:
            raise _ApiError(400, "Interaction callback type is not valid for this interaction type", 50035)
        message: JSON | None = None
        if callback_type == 4:
            payload = self._validate_message(data, req.files)
            flags = int(payload.get("flags") or 0) & (EPHEMERAL | 4 | 4096)
            message = self._message_json(
                interaction.channel_id, payload, req.files, message_type=20, flags=flags, webhook=True
            )
        elif callback_type == 5:
            flags = (int(data.get("flags") or 0) & EPHEMERAL) | LOADING
            message = self._message_json(
                interaction.channel_id, {}, (), message_type=20, flags=flags, webhook=True
            )
        elif callback_type == 8 and len(data.get("choices") or []) > 25:
            raise _invalid_form("data.choices", "Must be 25 or fewer in length.")
        interaction.acked = callback_type
        interaction.original = message
        if req.query.get("with_response") not in ("1", "true", "True"):
            return 204, None
        answer: JSON = {
            "interaction": {
                "id": str(interaction.id),
                "type": interaction.type,
                "activity_instance_id": None,
                "response_message_id": message["id"] if message else None,
                "response_message_loading": callback_type == 5,
                "response_message_ephemeral": bool(message and message["flags"] & EPHEMERAL),
            }
        }
        if message is not None:
            answer["resource"] = {"type": callback_type, "message": message}
        return 200, answer

    def _webhook_interaction(self, req: _Request, m: re.Match[str]) -> _Interaction:
        if m["application_id"] != str(self.application_id) or m["token"] not in self._tokens:
            raise _ApiError(404, "Unknown Webhook", 10015)
        interaction = self._interaction_for(req, m["token"])
        if interaction.acked is None:
            raise _ApiError(404, "Unknown Webhook", 10015)
        return interaction

    def _webhook_message(self, interaction: _Interaction, message_id: str) -> JSON:
        if message_id == "@original":
            if interaction.original is None:
                raise _ApiError(404, "Unknown Message", 10008)
            return interaction.original
        message = interaction.followups.get(int(message_id)) if message_id.isdigit() else None
        if message is None:
            raise _ApiError(404, "Unknown Message", 10008)
        return message

    def _followup(self, req: _Request, m: re.Match[str]) -> tuple[int, Any]:
        interaction = self._webhook_interaction(req, m)
        payload = self._validate_message(req.payload, req.files)
        flags = int(payload.get("flags") or 0) & (EPHEMERAL | 4 | 4096)
        message = self._message_json(interaction.channel_id, payload, req.files, flags=flags, webhook=True)
        interaction.followups[int(message["id"])] = message
        if req.query.get("wait") in ("1", "true", "True"):
            return 200, message
        return 204, None

    def _get_webhook_message(self, req: _Request, m: re.Match[str]) -> tuple[int, Any]:
        interaction = self._webhook_interaction(req, m)
        return 200, self._webhook_message(interaction, m["message_id"])

    def _edit_webhook_message(self, req: _Request, m: re.Match[str]) -> tuple[int, Any]:
        interaction = self._webhook_interaction(req, m)
        message = self._webhook_message(interaction, m["message_id"])
        payload = self._validate_message(req.payload, req.files, allow_empty=True)
        return 200, self._apply_edit(message, payload, req.files)

    def _delete_webhook_message(self, req: _Request, m: re.Match[str]) -> tuple[int, Any]:
        interaction = self._webhook_interaction(req, m)
        message = self._webhook_message(interaction, m["message_id"])
        if m["message_id"] == "@original":
            interaction.original = None
        else:
            interaction.followups.pop(int(message["id"]), None)
        return 204, None

    async def _attachment(self, request: web.Request) -> web.Response:
        raw = request.match_info["attachment_id"]
        with self._lock:
            data = self._attachments.get(int(raw)) if raw.isdigit() else None
        if data is None:
            return web.Response(status=404)
        return web.Response(body=data, content_type="application/octet-stream")

    # control API ---------------------------------------------------------------------------------------
    _CONTROL_OPS = frozenset(
        {
            "guild",
            "add_channel",
            "invoke",
            "autocomplete",
            "press_button",
            "delete_channel",
            "remove_from_guild",
            "dm_channel_id",
            "push_event",
            "reconnect_gateway",
            "fail",
            "clear_faults",
            "clear_calls",
        }
    )

    def state(self) -> JSON:
        """Guilds, commands, sessions and problems, as served by ``GET /_control/state``."""
        with self._lock:
            return {
                "api_base": self.api_base,
                "gateway_url": self.gateway_url,
                "token": self.token,
                "application_id": self.application_id,
                "bot_user_id": self.bot_user_id,
                "connected": self.connected,
                "identifies": len([p for p in self._gateway_received if p.get("op") == 2]),
                "guilds": {
                    str(g.id): {"name": g.name, "present": g.present, "channels": sorted(g.channels)}
                    for g in self._guilds.values()
                },
                "commands": {str(k) if k else "global": v for k, v in self._commands.items()},
                "calls": len(self._calls),
                "unknown_routes": list(self.unknown_routes),
                "server_errors": list(self.server_errors),
            }

    def _filtered(self, query: Mapping[str, str]) -> list[Call]:
        def as_int(name: str) -> int | None:
            value = query.get(name)
            return int(value) if value else None

        return self.calls(
            query.get("route"),
            channel_id=as_int("channel_id"),
            interaction_id=as_int("interaction_id"),
            method=query.get("method"),
        )

    async def _control(self, request: web.Request) -> web.Response:
        op = request.match_info["op"]
        query = request.query
        if request.method == "GET" and op == "sent":
            return self._control_reply(200, [c.to_json() for c in self._filtered(query)])
        if request.method == "GET" and op == "state":
            return self._control_reply(200, self.state())
        if request.method == "GET" and op == "wait":
            count, timeout = int(query.get("count", "1")), float(query.get("timeout", "5"))
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                found = [c for c in self._filtered(query) if c.ok or query.get("ok") == "0"]
                if len(found) >= count:
                    return self._control_reply(200, [c.to_json() for c in found])
                await asyncio.sleep(0.01)
            return self._control_reply(408, {"ok": False, "error": self._timeout_message(timeout)})
        if request.method != "POST" or op not in self._CONTROL_OPS:
            return self._control_reply(
                404, {"ok": False, "error": f"unknown control operation {request.method} {op}"}
            )
        try:
            raw = await request.read()
            call = json.loads(raw or b"{}")
            if not isinstance(call, dict):
                raise TypeError("the body must be a JSON object")
            if {"args", "kwargs"} & call.keys():
                result = getattr(self, op)(*call.get("args", []), **call.get("kwargs", {}))
            else:
                result = getattr(self, op)(**call)
        except (ValueError, KeyError, TypeError) as exc:
            return self._control_reply(400, {"ok": False, "error": f"{type(exc).__name__}: {exc}"})
        if isinstance(result, int) and not isinstance(result, bool):
            result = str(result)  # snowflakes exceed JSON's safe integers
        return self._control_reply(200, {"ok": True, "result": result})

    @staticmethod
    def _control_reply(status: int, body: Any) -> web.Response:
        return web.Response(
            status=status, body=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
        )


class DiscordPyPatch:
    """discord.py's process-global settings aimed at a fake; ``undo()`` or leaving ``with`` restores them."""

    def __init__(self, api_base: str, gateway_url: str) -> None:
        import discord.http
        import yarl
        from discord.gateway import DiscordWebSocket

        self.api_base = api_base
        self.gateway_url = gateway_url
        self._saved: tuple[str, yarl.URL] | None = (discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)
        discord.http.Route.BASE = api_base
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)

    def undo(self) -> None:
        if self._saved is None:
            return
        import discord.http
        from discord.gateway import DiscordWebSocket

        discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = self._saved
        self._saved = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.undo()


def configure_discord_py(fake: FakeDiscord | str) -> DiscordPyPatch:
    """Aim discord.py (REST, interaction webhooks and the gateway) at a fake, given it or its root URL.

    Sets ``discord.http.Route.BASE`` (used by ``HTTPClient`` and the interaction/webhook adapter) and
    ``DiscordWebSocket.DEFAULT_GATEWAY`` (used by ``Client.connect``; ``AutoShardedClient`` asks
    ``GET /gateway/bot``, which the fake answers with its own URL). Use as a context manager or ``undo()``.
    """
    if isinstance(fake, FakeDiscord):
        return DiscordPyPatch(fake.api_base, fake.gateway_url)
    parts = urlsplit(fake)
    return DiscordPyPatch(f"{fake.rstrip('/')}{API_PREFIX}", f"ws://{parts.netloc}/gateway")


def main(argv: list[str] | None = None) -> None:
    """Serve until SIGINT/SIGTERM (print KEY=VALUE lines, a blank line), or ``--run`` a bot aimed at it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 = any free port)")
    parser.add_argument("--token", default=TOKEN)
    parser.add_argument("--shards", type=int, default=1, help="shard count GET /gateway/bot recommends")
    parser.add_argument(
        "--run", metavar="MODULE_OR_PATH", help="run this module (or .py file) aimed at --fake"
    )
    parser.add_argument("--fake", metavar="ROOT_URL", help="with --run: the fake's ROOT= URL")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="with --run: arguments for it (after --)")
    args = parser.parse_args(argv)
    if args.run:
        if not args.fake:
            parser.error("--run needs --fake ROOT_URL")
        configure_discord_py(args.fake)
        rest = args.args[1:] if args.args[:1] == ["--"] else args.args
        sys.argv = [args.run, *rest]
        if args.run.endswith(".py"):
            runpy.run_path(args.run, run_name="__main__")
        else:
            runpy.run_module(args.run, run_name="__main__", alter_sys=True)
        return
    done = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: done.set())
    with FakeDiscord(args.port, token=args.token, shards=args.shards) as fake:
        print(f"ROOT={fake.root_url}")
        print(f"API_BASE={fake.api_base}")
        print(f"GATEWAY={fake.gateway_url}")
        print(f"TOKEN={fake.token}")
        print(f"APPLICATION_ID={fake.application_id}")
        print(f"BOT_USER_ID={fake.bot_user_id}")
        print(f"CONTROL={fake.control_url}")
        print(flush=True)
        done.wait()


if __name__ == "__main__":
    main()
