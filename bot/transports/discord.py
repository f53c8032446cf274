"""Discord transport: a discord.py 2.7 client with slash commands, sharing the bot's one event loop.

Every handler is a slash command with typed options (machine names autocompleted, rules and alert numbers
suggested, chart window/metric and language as choices); the options become the handlers' command text
(``/breakeven machine:s19xp power:5.5c`` -> ``/breakeven s19xp 5.5c``). Replies are embeds (a bold first
line is the title, the rest goes through ``markup``), charts are attachments, errors are ephemeral, and
a reply's buttons are message buttons whose custom_id is the command they stand for: a press runs it
like the slash command, with the presser's permissions (``on_interaction``, so buttons keep working
after a restart). A chat is a channel: a server channel, or a DM for personal
alerts. In servers, changing subscriptions, profile or language needs Manage Channels: declared as those
commands' default permissions and checked again from the interaction. As the outbox ``Notifier`` it maps
discord.py's errors to typed outcomes
(https://discord.com/developers/docs/topics/opcodes-and-status-codes#json); leaving a server or a deleted
channel deactivates the chats concerned.

``discord_api_base`` and ``discord_gateway_url`` overwrite ``discord.http.Route.BASE`` and
``DiscordWebSocket.DEFAULT_GATEWAY``: class attributes, so they apply to every client in the process.
"""

from __future__ import annotations

import asyncio
import io
import logging
from dataclasses import replace
from typing import Literal

import aiohttp
import discord
import discord.http
import yarl
from discord import app_commands
from discord.app_commands import Choice, locale_str
from discord.gateway import DiscordWebSocket

from bot.config import Settings
from bot.delivery import notifier as outcomes
from bot.delivery.notifier import Destination, OutboundMessage, SendOutcome
from bot.economics.machines import list_machines, normalise_machine_name
from bot.membership import chat_left
from bot.render.i18n import LANGUAGE_NAMES, SUPPORTED, t
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
from bot.transports.markup import split_title, to_markdown, truncate
from handlers.context import Chat, Services
from handlers.reply import Reply
from handlers.router import dispatch, parse_command
from handlers.subscriptions import QUICK_RULES

log = logging.getLogger(__name__)

PLATFORM = "discord"
GONE_CODES = frozenset({50001, 50007})
"""403 codes meaning the chat is out of reach for good: Missing Access, Cannot send messages to this user."""
GUILD_READY_TIMEOUT_S = 2.0
"""discord.py waits this long after the last GUILD_CREATE before ``on_ready``."""
SILENCE_LIMIT_S = 120.0
"""/healthz turns 503 when the last gateway frame or REST success is older than this: Discord asks for a
heartbeat every ~41.25 s and acknowledges each, so this is about three missed heartbeats."""
NOT_CONNECTED_RETRY_S = 5.0
"""An alert for Discord while the bot is not logged in waits this long in the outbox (no attempt counted)."""
CLOSE_TIMEOUT_S = 5.0
"""How long a closed client's gateway task may take to end before it is cancelled."""
AUTHENTICATION_FAILED = 4004
"""Gateway close code for a bad token
(https://discord.com/developers/docs/topics/opcodes-and-status-codes#gateway-gateway-close-event-codes)."""
DEFER_AFTER_S = 2.0
"""A reply not ready by then is deferred (Discord wants an answer within 3 s) and edited in later."""
DEFAULT_RETRY_AFTER_S = 5.0
COLOUR, ERROR_COLOUR = 0xF7931A, 0xD9534F
CHART_FILE = "chart.png"
TITLE_LIMIT, DESCRIPTION_LIMIT, CHOICE_LIMIT = 256, 4096, 100
MAX_CHOICES = 25
BUTTON_PREFIX = "mw:"
"""A button's custom_id is this prefix and the command it runs (``mw:/unsubscribe all``)."""
MAX_BUTTONS, LABEL_LIMIT, CUSTOM_ID_LIMIT = 25, 80, 100
RULE_SUGGESTIONS = ("network", *QUICK_RULES)

Interaction = discord.Interaction[discord.Client]


def aim_discord_py(settings: Settings) -> None:
    """Point discord.py's REST base and gateway at the configured URLs (process-global)."""
    if settings.discord_api_base:
        discord.http.Route.BASE = settings.discord_api_base.rstrip("/")
    if settings.discord_gateway_url:
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)


def render(
    text: str, image_png: bytes | None = None, *, error: bool = False
) -> tuple[discord.Embed, list[discord.File]]:
    """An embed for handler HTML (and the chart as an attachment shown in it)."""
    title, body = split_title(text)
    embed = discord.Embed(
        title=title[:TITLE_LIMIT] if title else None,
        description=truncate(to_markdown(body).strip(), DESCRIPTION_LIMIT) or None,
        colour=ERROR_COLOUR if error else COLOUR,
    )
    if image_png is None:
        return embed, []
    embed.set_image(url=f"attachment://{CHART_FILE}")
    return embed, [discord.File(io.BytesIO(image_png), filename=CHART_FILE)]


def buttons_view(reply: Reply) -> discord.ui.View:
    """The reply's buttons (rows of up to five); each custom_id carries the command the button runs.

    The view only lays the buttons out: it is stopped before it is sent, so discord.py does not keep it,
    and a press arrives at ``DiscordTransport.on_interaction``.
    """
    view = discord.ui.View(timeout=None)
    for button in [button for row in reply.buttons for button in row][:MAX_BUTTONS]:
        custom_id = BUTTON_PREFIX + button.data
        if len(custom_id) <= CUSTOM_ID_LIMIT:
            view.add_item(discord.ui.Button(label=button.label[:LABEL_LIMIT], custom_id=custom_id))
    view.stop()
    return view


def render_reply(reply: Reply) -> tuple[discord.Embed, list[discord.File], discord.ui.View]:
    embed, files = render(reply.text, reply.image_png, error=reply.error)
    return embed, files, buttons_view(reply)


def _retry_after(error: discord.HTTPException) -> float:
    headers = getattr(error.response, "headers", None) or {}
    for name in ("X-RateLimit-Reset-After", "Retry-After"):
        try:
            return float(headers[name])
        except (KeyError, ValueError):
            continue
    return DEFAULT_RETRY_AFTER_S


def outcome_of(error: Exception) -> SendOutcome:
    """discord.py's error for one send as the outbox's typed outcome."""
    if isinstance(error, discord.Forbidden):
        gone = error.code in GONE_CODES
        return outcomes.ChatGone(str(error)) if gone else outcomes.PermanentFailure(str(error))
    if isinstance(error, discord.NotFound):
        return outcomes.ChatGone(str(error))
    if isinstance(error, discord.RateLimited):
        return outcomes.RetryAfter(error.retry_after)
    if isinstance(error, discord.HTTPException):
        if error.status == 429:
            return outcomes.RetryAfter(_retry_after(error))
        if error.status >= 500:
            return outcomes.TransientFailure(str(error))
        return outcomes.PermanentFailure(str(error))
    if isinstance(error, aiohttp.ClientError | TimeoutError | OSError):
        return outcomes.TransientFailure(str(error) or type(error).__name__)
    return outcomes.PermanentFailure(str(error) or type(error).__name__)


def machine_choices(current: str) -> list[Choice[str]]:
    """Catalog machines whose normalised name or alias contains what was typed; prefix matches first."""
    key = normalise_machine_name(current)
    found = []
    for machine in list_machines():
        keys = [normalise_machine_name(name) for name in (machine.name, *machine.aliases)]
        if any(key in k for k in keys):
            label = f"{machine.name} (power unknown)" if machine.power_unknown else machine.name
            found.append((not any(k.startswith(key) for k in keys), machine.name, label))
    return [Choice(name=label, value=name) for _, name, label in sorted(found)[:MAX_CHOICES]]


def rule_choices(current: str) -> list[Choice[str]]:
    """Common rules containing what was typed, after the typed text itself (any rule may be submitted)."""
    typed = current.strip()[:CHOICE_LIMIT]
    rules = [rule for rule in RULE_SUGGESTIONS if typed.lower() in rule]
    if typed and typed.lower() not in rules:
        rules.insert(0, typed)
    return [Choice(name=rule, value=rule) for rule in rules[:MAX_CHOICES]]


def _description(command: str) -> locale_str:
    key = f"command.{command}"
    return locale_str(t("en", key)[:CHOICE_LIMIT], key=key)


class _CatalogTranslator(app_commands.Translator):
    """Command descriptions in the catalog's other languages (Discord shows them by the user's locale)."""

    async def translate(
        self, string: locale_str, locale: discord.Locale, context: app_commands.TranslationContextTypes
    ) -> str | None:
        key = string.extras.get("key")
        language = locale.value.split("-")[0]
        if key is None or language == "en" or language not in SUPPORTED:
            return None
        return t(language, key)[:CHOICE_LIMIT]


class DiscordTransport:
    """Serves Discord channels and DMs and delivers their alerts."""

    platform = PLATFORM

    def __init__(self, settings: Settings, services: Services, store: Store) -> None:
        if settings.discord_token is None:
            raise ValueError("MINERWATCH_DISCORD_TOKEN is not set")
        aim_discord_py(settings)
        self._token = settings.discord_token.get_secret_value()
        self._services = services
        self._store = store
        self._guild_of: dict[int, int] = {}
        """Channel -> server, for channels that talked to the bot (threads may be missing from the cache)."""
        self.liveness = Liveness(SILENCE_LIMIT_S)
        self._logged_in = False
        self._new_client()

    def _new_client(self) -> None:
        """A fresh client and command tree (a discord.py client that failed or closed is not reused)."""
        self.client = discord.Client(
            intents=discord.Intents.default(),
            guild_ready_timeout=GUILD_READY_TIMEOUT_S,
            allowed_mentions=discord.AllowedMentions.none(),
            enable_debug_events=True,  # on_socket_raw_receive: every gateway frame, heartbeat ACKs included
        )
        for handler in (
            self.on_guild_remove,
            self.on_interaction,
            self.on_guild_channel_delete,
            self.on_socket_raw_receive,
            self.on_ready,
            self.on_resumed,
            self.on_disconnect,
        ):
            self.client.event(handler)
        self.tree: app_commands.CommandTree[discord.Client] = app_commands.CommandTree(self.client)
        self._add_commands()

    async def run(self, stop: asyncio.Event, backoff: Backoff = BACKOFF) -> None:
        """Log in and keep the gateway connected until ``stop``, with back-off between failed sessions;
        slash commands are registered in the background (retried until Discord takes them). Raises
        ``TokenRejectedError``. Within a session discord.py itself resumes dropped gateway connections."""
        attempt = 0
        while not stop.is_set():
            try:
                await self._session(stop, backoff)
            except TokenRejectedError:
                raise
            except Exception as error:  # REST or gateway unreachable, 5xx, timeouts
                problem = describe(error)
            else:
                problem = "gateway connection ended"
            finally:
                await self._close()
            if stop.is_set():
                return
            attempt = 1 if self.liveness.connected else attempt + 1
            self.liveness.connected = False
            delay = backoff.delay(attempt)
            log.warning("discord: cannot connect (%s); retrying in %.0f s", problem, delay)
            if await pause(stop, delay):
                return
            self._new_client()

    async def _session(self, stop: asyncio.Event, backoff: Backoff) -> None:
        """One client's life: log in, register commands in the background, run the gateway."""
        try:
            await self.client.login(self._token)
        except discord.LoginFailure:
            raise TokenRejectedError("MINERWATCH_DISCORD_TOKEN", "Discord", "401 Unauthorized") from None
        self._logged_in = True
        self.liveness.succeeded()
        sync = asyncio.create_task(
            retry_soft("discord: registering slash commands", self._sync, stop, backoff)
        )
        gateway = asyncio.create_task(self.client.connect(), name="discord-gateway")
        stopping = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({gateway, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sync, stopping):
                task.cancel()
            if not gateway.done():
                await self.client.close()
                await asyncio.wait({gateway}, timeout=CLOSE_TIMEOUT_S)
                gateway.cancel()  # discord.py may be asleep in its own reconnect back-off
            await asyncio.gather(gateway, sync, stopping, return_exceptions=True)
        error = gateway.exception() if not gateway.cancelled() else None
        if isinstance(error, discord.ConnectionClosed) and error.code == AUTHENTICATION_FAILED:
            raise TokenRejectedError("MINERWATCH_DISCORD_TOKEN", "Discord", f"gateway close {error.code}")
        if error is not None:
            raise error

    async def _sync(self) -> None:
        await self.tree.set_translator(_CatalogTranslator())
        await self.tree.sync()

    async def _close(self) -> None:
        """Close the client's gateway and HTTP session (each attempt opens its own)."""
        self._logged_in = False
        await self.client.close()

    async def stop(self) -> None:
        """Close the gateway and the HTTP session."""
        self.liveness.connected = False
        await self._close()

    async def on_socket_raw_receive(self, message: str) -> None:
        self.liveness.succeeded()

    async def on_ready(self) -> None:
        self.liveness.connected = True
        log.info("discord: connected as %s", self.client.user)

    async def on_resumed(self) -> None:
        self.liveness.connected = True

    async def on_disconnect(self) -> None:
        self.liveness.connected = False

    async def send(self, destination: Destination, message: OutboundMessage) -> SendOutcome:
        """Deliver one outbox message as an embed; discord.py errors become typed outcomes."""
        if not self._logged_in:
            return outcomes.RetryAfter(NOT_CONNECTED_RETRY_S)
        channel_id = int(destination.chat_id)
        embed, files = render(message.text, message.image_png)
        try:
            channel = self.client.get_channel(channel_id) or await self.client.fetch_channel(channel_id)
            if not isinstance(channel, discord.abc.Messageable):
                return outcomes.PermanentFailure(f"channel {channel_id} cannot receive messages")
            await channel.send(embed=embed, files=files)
        except (discord.DiscordException, aiohttp.ClientError, OSError, TimeoutError) as error:
            return outcome_of(error)
        return outcomes.Sent()

    async def on_guild_remove(self, guild: discord.Guild) -> None:
        """The bot left or was removed from a server: every chat in it turns inactive."""
        channels = {channel.id for channel in (*guild.channels, *guild.threads)}
        channels |= {channel for channel, server in self._guild_of.items() if server == guild.id}
        for channel_id in channels:
            self._guild_of.pop(channel_id, None)
            await chat_left(self._store, PLATFORM, str(channel_id), "bot removed from the server")
        log.info("discord: removed from server %s", guild.id)

    async def on_guild_channel_delete(self, channel: discord.abc.GuildChannel) -> None:
        self._guild_of.pop(channel.id, None)
        await chat_left(self._store, PLATFORM, str(channel.id), "channel deleted")

    def _chat(self, interaction: Interaction, channel_id: int) -> Chat:
        if interaction.guild_id is None:
            return Chat(platform=PLATFORM, chat_id=str(channel_id), kind="dm", is_admin=True)
        self._guild_of[channel_id] = interaction.guild_id
        is_admin = interaction.permissions.manage_channels
        return Chat(platform=PLATFORM, chat_id=str(channel_id), kind="guild", is_admin=is_admin)

    async def on_interaction(self, interaction: Interaction) -> None:
        """A press on one of the bot's buttons runs the command it carries (slash commands go to the tree)."""
        if interaction.type is not discord.InteractionType.component or interaction.data is None:
            return
        custom_id = str(interaction.data.get("custom_id", ""))
        if custom_id.startswith(BUTTON_PREFIX):
            await self._run_text(interaction, custom_id.removeprefix(BUTTON_PREFIX))

    async def run_command(self, interaction: Interaction, command: str, *options: str | None) -> None:
        """Run ``/command options...`` through the handlers and answer the interaction."""
        text = " ".join([f"/{command}", *(option.strip() for option in options if option and option.strip())])
        await self._run_text(interaction, text)

    async def _run_text(self, interaction: Interaction, text: str) -> None:
        if interaction.channel_id is None:
            return
        request = parse_command(self._chat(interaction, interaction.channel_id), text)
        if request is None:
            return
        answer = asyncio.ensure_future(dispatch(request, self._services))
        try:
            reply = await asyncio.wait_for(asyncio.shield(answer), DEFER_AFTER_S)
        except TimeoutError:
            await interaction.response.defer(thinking=True)
            await self._answer_late(interaction, await answer)
            return
        embed, files, view = render_reply(reply)
        await interaction.response.send_message(embed=embed, files=files, view=view, ephemeral=reply.error)

    @staticmethod
    async def _answer_late(interaction: Interaction, reply: Reply) -> None:
        embed, files, view = render_reply(reply)
        if reply.error:  # the deferred answer is public: replace it by a private one
            await interaction.delete_original_response()
            await interaction.followup.send(embed=embed, files=files, view=view, ephemeral=True)
        else:
            await interaction.edit_original_response(embed=embed, attachments=files, view=view)

    async def _machine_autocomplete(self, interaction: Interaction, current: str) -> list[Choice[str]]:
        return machine_choices(current)

    async def _rule_autocomplete(self, interaction: Interaction, current: str) -> list[Choice[str]]:
        return rule_choices(current)

    async def _alert_autocomplete(self, interaction: Interaction, current: str) -> list[Choice[str]]:
        """This chat's alerts by number (``#3 price below $60,000``), then "all"."""
        if interaction.channel_id is None:
            return []
        chat = self._chat(interaction, interaction.channel_id)
        chat = replace(chat, language=await self._services.language(chat))
        choices = [
            Choice(name=f"#{view.id} {view.description}"[:CHOICE_LIMIT], value=str(view.id))
            for view in await self._services.subscriptions(chat)
        ]
        choices.append(Choice(name="all", value="all"))
        typed = current.strip().lstrip("#").lower()
        return [choice for choice in choices if typed in choice.name.lower()][:MAX_CHOICES]

    def _add_commands(self) -> None:
        tree, run = self.tree, self.run_command
        machine_help = "catalog name (e.g. S19 XP), 200TH@3500W or 17.5J/TH"
        power_help = "power price: 0.055, 5.5c or $0.055; default: this chat's /profile"
        manage = app_commands.default_permissions(manage_channels=True)

        @tree.command(name="status", description=_description("status"))
        async def status(interaction: Interaction) -> None:
            await run(interaction, "status")

        @tree.command(name="breakeven", description=_description("breakeven"))
        @app_commands.describe(machine=machine_help, power=power_help)
        @app_commands.autocomplete(machine=self._machine_autocomplete)
        async def breakeven(interaction: Interaction, machine: str, power: str | None = None) -> None:
            await run(interaction, "breakeven", machine, power)

        @tree.command(name="margin", description=_description("margin"))
        @app_commands.describe(machine=machine_help, power=power_help)
        @app_commands.autocomplete(machine=self._machine_autocomplete)
        async def margin(interaction: Interaction, machine: str, power: str | None = None) -> None:
            await run(interaction, "margin", machine, power)

        @tree.command(name="cost", description=_description("cost"))
        async def cost(interaction: Interaction) -> None:
            await run(interaction, "cost")

        @tree.command(name="stress", description=_description("stress"))
        async def stress(interaction: Interaction) -> None:
            await run(interaction, "stress")

        @tree.command(name="hashprice", description=_description("hashprice"))
        async def hashprice(interaction: Interaction) -> None:
            await run(interaction, "hashprice")

        @tree.command(name="difficulty", description=_description("difficulty"))
        async def difficulty(interaction: Interaction) -> None:
            await run(interaction, "difficulty")

        @tree.command(name="machines", description=_description("machines"))
        async def machines(interaction: Interaction) -> None:
            await run(interaction, "machines")

        @tree.command(name="profile", description=_description("profile"))
        @app_commands.describe(settings="e.g. s19xp 5.5c count 3 fee 2 uptime 97; empty: show the profile")
        @manage
        async def profile(interaction: Interaction, settings: str | None = None) -> None:
            await run(interaction, "profile", settings)

        @tree.command(name="fleet", description=_description("fleet"))
        @app_commands.describe(
            change="add s19jpro 40 5.5c site=north | set 2 … | remove 2 | clear; empty: show the fleet"
        )
        @manage
        async def fleet(interaction: Interaction, change: str | None = None) -> None:
            await run(interaction, "fleet", change)

        @tree.command(name="tariff", description=_description("tariff"))
        @app_commands.describe(change="add texas 0.045; 14:00-20:00 0.12 America/Chicago | remove texas")
        @manage
        async def tariff(interaction: Interaction, change: str | None = None) -> None:
            await run(interaction, "tariff", change)

        @tree.command(name="subscribe", description=_description("subscribe"))
        @app_commands.describe(rule="e.g. price below 60k, margin below 0, network; empty: the choices")
        @app_commands.autocomplete(rule=self._rule_autocomplete)
        @manage
        async def subscribe(interaction: Interaction, rule: str | None = None) -> None:
            await run(interaction, "subscribe", rule)

        @tree.command(name="alerts", description=_description("alerts"))
        async def alerts(interaction: Interaction) -> None:
            await run(interaction, "alerts")

        @tree.command(name="unsubscribe", description=_description("unsubscribe"))
        @app_commands.describe(
            alert="the alert's number from /alerts, or all; empty: asks before removing all"
        )
        @app_commands.autocomplete(alert=self._alert_autocomplete)
        @manage
        async def unsubscribe(interaction: Interaction, alert: str | None = None) -> None:
            await run(interaction, "unsubscribe", alert)

        @tree.command(name="chart", description=_description("chart"))
        @app_commands.describe(window="how far back (default 90d)", metric="what to draw (default price)")
        async def chart(
            interaction: Interaction,
            window: Literal["30d", "90d", "1y"] | None = None,
            metric: Literal["price", "hashprice", "stress", "fleet"] | None = None,
        ) -> None:
            await run(interaction, "chart", window, metric)

        @tree.command(name="lang", description=_description("lang"))
        @app_commands.describe(language="reply and alert language of this chat")
        @app_commands.choices(language=[Choice(name=LANGUAGE_NAMES[code], value=code) for code in SUPPORTED])
        @manage
        async def lang(interaction: Interaction, language: Choice[str]) -> None:
            await run(interaction, "lang", language.value)

        @tree.command(name="help", description=_description("help"))
        async def help_(interaction: Interaction) -> None:
            await run(interaction, "help")
