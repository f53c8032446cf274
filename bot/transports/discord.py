"""Discord transport: a discord.py 2.7 client with slash commands, sharing the bot's one event loop.

The client is discord.py's ``AutoShardedClient``: it runs as many gateway shards as Discord recommends
(``GET /gateway/bot``, https://discord.com/developers/docs/topics/gateway#sharding; Discord refuses a
session that would hold more than 2,500 servers), all in this process; the log says how many.

Every handler is a slash command with typed options (machine names autocompleted, rules and alert numbers
suggested, chart window/metric and language as choices); the options become the handlers' command text
(``/breakeven machine:s19xp power:5.5c`` -> ``/breakeven s19xp 5.5c``). Replies are embeds (a bold first
line is the title, the rest goes through ``markup``; a table reply's rows become inline fields, label ->
value, so nothing is laid out in a monospace block a phone would wrap; typed examples read as the slash
commands take them, ``/breakeven machine:s19xp power:5.5c``), charts are attachments, errors are
ephemeral, and
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
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Literal

import aiohttp
import discord
import discord.http
import yarl
from discord import app_commands
from discord.app_commands import Choice, locale_str
from discord.gateway import DiscordWebSocket

from bot.chat.commands import CommandSet, parse_command
from bot.chat.context import Chat, Services
from bot.chat.kinds import ChatKind
from bot.chat.membership import chat_left
from bot.chat.reply import Reply, Table
from bot.config import Settings
from bot.delivery import notifier as outcomes
from bot.delivery.notifier import Destination, OutboundMessage, SendOutcome
from bot.delivery.rates import SendGate, SendRates, Window
from bot.economics.machines import list_machines, normalise_machine_name
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
from bot.transports.markup import (
    escape_text,
    slash_examples,
    split_title,
    table_fields,
    to_markdown,
    truncate,
)

log = logging.getLogger(__name__)

PLATFORM = "discord"
CHANNEL_WINDOW = Window(5, 5.0)
GLOBAL_PER_S = 50
GLOBAL_CEILING = Window(GLOBAL_PER_S, 1.0)
RATES = SendRates(per_s=GLOBAL_PER_S, private=CHANNEL_WINDOW, group=CHANNEL_WINDOW, ceiling=GLOBAL_CEILING)
"""Discord allows a bot 50 requests/s globally, and message creation is limited per channel (a top-level
resource), 5 per 5 s as Discord's X-RateLimit headers announce it
(https://discord.com/developers/docs/topics/rate-limits); a DM is a channel too. "Interaction endpoints are
not bound to the bot's Global Rate Limit" (same page, #global-rate-limit): command replies (the interaction
response, deferral, edits of the original response, follow-ups;
https://discord.com/developers/docs/interactions/receiving-and-responding#endpoints) do not draw from it, so
only the outbox's channel messages take the transport's ``gate``, one request per send. discord.py keeps the
per-route buckets itself from the X-RateLimit headers."""
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
MAX_FIELDS, FIELD_NAME_LIMIT, FIELD_VALUE_LIMIT, EMBEDS_TOTAL_LIMIT, MAX_EMBEDS = 25, 256, 1024, 6000, 10
"""Embed limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits); the
total counts every title, description, field name and value of all the embeds of one message."""
EMPTY_FIELD = "\u200b"
"""A field's name and value may not be empty: a zero-width space stands in."""
MAX_CHOICES = 25
BUTTON_PREFIX = "mw:"
"""A button's custom_id is this prefix and the command it runs (``mw:/unsubscribe all``)."""
MAX_BUTTONS, LABEL_LIMIT, CUSTOM_ID_LIMIT = 25, 80, 100

Interaction = discord.Interaction[discord.Client]
SlashOptions = Mapping[str, Sequence[str]]
"""Each slash command's option names in order: typed examples in replies are shown in this form."""


def aim_discord_py(settings: Settings) -> None:
    """Point discord.py's REST base and gateway at the configured URLs (process-global)."""
    if settings.discord_api_base:
        discord.http.Route.BASE = settings.discord_api_base.rstrip("/")
    if settings.discord_gateway_url:
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)


def render(
    text: str, image_png: bytes | None = None, *, error: bool = False, options: SlashOptions | None = None
) -> tuple[discord.Embed, list[discord.File]]:
    """An embed for handler HTML (and the chart as an attachment shown in it); with ``options``, typed
    examples read as the slash commands take them (``/breakeven machine:s19xp power:5.5c``)."""
    title, body = split_title(text)
    body = slash_examples(body, options) if options else body
    embed = discord.Embed(
        title=title[:TITLE_LIMIT] if title else None,
        description=truncate(to_markdown(body).strip(), DESCRIPTION_LIMIT) or None,
        colour=ERROR_COLOUR if error else COLOUR,
    )
    if image_png is None:
        return embed, []
    embed.set_image(url=f"attachment://{CHART_FILE}")
    return embed, [discord.File(io.BytesIO(image_png), filename=CHART_FILE)]


def _table_embeds(table: Table, *, error: bool, options: SlashOptions | None) -> list[discord.Embed]:
    """The table's rows as inline fields (25 to an embed, more embeds for longer tables), its notes as
    the first embed's description; whatever would pass Discord's total of 6,000 characters is left out."""
    colour = ERROR_COLOUR if error else COLOUR
    title = table.title[:TITLE_LIMIT] or None
    notes = slash_examples(table.notes, options) if options else table.notes
    description = truncate(to_markdown(notes).strip(), DESCRIPTION_LIMIT) or None
    embeds = [discord.Embed(title=title, description=description, colour=colour)]
    budget = EMBEDS_TOTAL_LIMIT - len(title or "") - len(description or "")
    for label, lines in table_fields(table.rows):
        name = escape_text(label)[:FIELD_NAME_LIMIT] or EMPTY_FIELD
        value = truncate("\n".join(escape_text(line) for line in lines), FIELD_VALUE_LIMIT) or EMPTY_FIELD
        budget -= len(name) + len(value)
        if budget < 0:
            break
        if len(embeds[-1].fields) == MAX_FIELDS:
            if len(embeds) == MAX_EMBEDS:
                break
            embeds.append(discord.Embed(colour=colour))
        embeds[-1].add_field(name=name, value=value, inline=True)
    return embeds


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


def render_reply(
    reply: Reply, options: SlashOptions | None = None
) -> tuple[list[discord.Embed], list[discord.File], discord.ui.View]:
    """The embeds (fields for a table reply), attachments and buttons of a reply; ``options`` as in
    ``render``."""
    if reply.table is not None:
        return _table_embeds(reply.table, error=reply.error, options=options), [], buttons_view(reply)
    embed, files = render(reply.text, reply.image_png, error=reply.error, options=options)
    return [embed], files, buttons_view(reply)


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


def rule_choices(current: str, quick_rules: tuple[str, ...]) -> list[Choice[str]]:
    """Common rules (network news, then ``quick_rules``) containing what was typed, after the typed text
    itself (any rule may be submitted)."""
    typed = current.strip()[:CHOICE_LIMIT]
    rules = [rule for rule in ("network", *quick_rules) if typed.lower() in rule]
    if typed and typed.lower() not in rules:
        rules.insert(0, typed)
    return [Choice(name=rule, value=rule) for rule in rules[:MAX_CHOICES]]


def _description(command: str) -> locale_str:
    key = f"command.{command}"
    return locale_str(t("en", key, PLATFORM)[:CHOICE_LIMIT], key=key)


class _CatalogTranslator(app_commands.Translator):
    """Command descriptions in the catalog's other languages (Discord shows them by the user's locale)."""

    async def translate(
        self, string: locale_str, locale: discord.Locale, context: app_commands.TranslationContextTypes
    ) -> str | None:
        key = string.extras.get("key")
        language = locale.value.split("-")[0]
        if key is None or language == "en" or language not in SUPPORTED:
            return None
        return t(language, key, PLATFORM)[:CHOICE_LIMIT]


class DiscordTransport:
    """Serves Discord channels and DMs and delivers their alerts."""

    platform = PLATFORM
    rates = RATES

    def __init__(self, settings: Settings, services: Services, commands: CommandSet, store: Store) -> None:
        if settings.discord_token is None:
            raise ValueError("MINERWATCH_DISCORD_TOKEN is not set")
        self.gate = SendGate(GLOBAL_CEILING)
        """The bot's global 50/s, counted from answers, for the outbox's sends (replies are exempt: RATES)."""
        aim_discord_py(settings)
        self._token = settings.discord_token.get_secret_value()
        self._services = services
        self._commands = commands
        self._store = store
        self._guild_of: dict[int, int] = {}
        """Channel -> server, for channels that talked to the bot (threads may be missing from the cache)."""
        self.liveness = Liveness(SILENCE_LIMIT_S)
        self._logged_in = False
        self._new_client()

    def _new_client(self) -> None:
        """A fresh client and command tree (a discord.py client that failed or closed is not reused)."""
        self._shards_up: set[int] = set()
        self.client = discord.AutoShardedClient(
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
            self.on_shard_ready,
            self.on_shard_resumed,
            self.on_shard_disconnect,
        ):
            self.client.event(handler)
        self.tree: app_commands.CommandTree[discord.Client] = app_commands.CommandTree(self.client)
        self._add_commands()
        self.slash_options: SlashOptions = {
            command.name: tuple(parameter.name for parameter in command.parameters)
            for command in self.tree.get_commands()
            if isinstance(command, app_commands.Command)
        }

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
        """Every shard is up (once per client; a shard coming back later reports ``on_shard_*``)."""
        log.info("discord: connected as %s on %d shard(s)", self.client.user, self.client.shard_count or 1)

    async def on_shard_ready(self, shard_id: int) -> None:
        self._shard_changed(shard_id, up=True)

    async def on_shard_resumed(self, shard_id: int) -> None:
        self._shard_changed(shard_id, up=True)

    async def on_shard_disconnect(self, shard_id: int) -> None:
        self._shard_changed(shard_id, up=False)

    def _shard_changed(self, shard_id: int, *, up: bool) -> None:
        """Connected means every shard is: a shard down leaves its servers without commands."""
        if up:
            self._shards_up.add(shard_id)
        else:
            self._shards_up.discard(shard_id)
        count = self.client.shard_count
        self.liveness.shards = count
        self.liveness.connected = count is not None and len(self._shards_up) >= count

    async def send(self, destination: Destination, message: OutboundMessage) -> SendOutcome:
        """Deliver one outbox message as an embed; discord.py errors become typed outcomes."""
        if not self._logged_in:
            return outcomes.RetryAfter(NOT_CONNECTED_RETRY_S)
        channel_id = int(destination.chat_id)
        embed, files = render(message.text, message.image_png)
        try:
            # Not cached (a DM after a restart): a partial channel, so the send stays one request (no GET
            # first), the one the outbox's slot of the global limit counts; an unknown channel fails as a 404.
            channel = self.client.get_channel(channel_id) or self.client.get_partial_messageable(channel_id)
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
            return Chat(platform=PLATFORM, chat_id=str(channel_id), kind=ChatKind.DM, is_admin=True)
        self._guild_of[channel_id] = interaction.guild_id
        is_admin = interaction.permissions.manage_channels
        return Chat(platform=PLATFORM, chat_id=str(channel_id), kind=ChatKind.CHANNEL, is_admin=is_admin)

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
        answer = asyncio.ensure_future(self._commands.dispatch(request, self._services))
        try:
            reply = await asyncio.wait_for(asyncio.shield(answer), DEFER_AFTER_S)
        except TimeoutError:
            await interaction.response.defer(thinking=True)
            await self._answer_late(interaction, await answer)
            return
        embeds, files, view = render_reply(reply, self.slash_options)
        await interaction.response.send_message(embeds=embeds, files=files, view=view, ephemeral=reply.error)

    async def _answer_late(self, interaction: Interaction, reply: Reply) -> None:
        embeds, files, view = render_reply(reply, self.slash_options)
        if reply.error:  # the deferred answer is public: replace it by a private one
            await interaction.delete_original_response()
            await interaction.followup.send(embeds=embeds, files=files, view=view, ephemeral=True)
        else:
            await interaction.edit_original_response(embeds=embeds, attachments=files, view=view)

    async def _machine_autocomplete(self, interaction: Interaction, current: str) -> list[Choice[str]]:
        return machine_choices(current)

    async def _rule_autocomplete(self, interaction: Interaction, current: str) -> list[Choice[str]]:
        return rule_choices(current, self._commands.quick_rules)

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
        machine_help = "catalog name (e.g. S19 XP), 21.5 (J/TH) or 200@3500 (TH/s at W)"
        power_help = "$0.06 or 6c; a bare number is $/kWh below 1, cents from 1 up; default: /profile"
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
