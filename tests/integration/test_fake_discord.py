"""The fake Discord REST API and gateway, exercised with the real discord.py client and app commands."""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import discord
import httpx
import pytest
from discord import app_commands

from tests.fakes.discord_api import (
    ADMINISTRATOR,
    APPLICATION_ID,
    BOT_USER_ID,
    EPHEMERAL,
    MANAGE_CHANNELS,
    FakeDiscord,
    Fault,
    channel,
    configure_discord_py,
    member,
)

ROOT = Path(__file__).resolve().parents[2]
GUILD_ID = 900000000000000001
ALERTS = 900000000000000011
GENERAL = 900000000000000012
ADMIN = 3001
MINER = 3002
COINS = ["bitcoin", "bitcoin-cash", "litecoin"]
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


class MinerBot(discord.Client):
    """A small slash-command bot; callbacks record what they saw."""

    def __init__(self) -> None:
        super().__init__(intents=discord.Intents.default(), guild_ready_timeout=0.05)
        self.tree = app_commands.CommandTree(self)
        self.seen: list[tuple[str, discord.Interaction, dict[str, Any]]] = []
        self.events: list[tuple[str, int]] = []

    async def on_guild_remove(self, guild: discord.Guild) -> None:
        self.events.append(("guild_remove", guild.id))

    async def on_guild_channel_delete(self, deleted: discord.abc.GuildChannel) -> None:
        self.events.append(("channel_delete", deleted.id))

    async def on_resumed(self) -> None:
        self.events.append(("resumed", 0))


def build_bot() -> MinerBot:
    bot = MinerBot()

    async def coin_choices(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=c.title(), value=c) for c in COINS if c.startswith(current)]

    @bot.tree.command(name="ping", description="Check the bot is alive")
    @app_commands.describe(coin="Which coin", count="How many pongs")
    @app_commands.autocomplete(coin=coin_choices)
    async def ping(interaction: discord.Interaction, coin: str, count: int = 1) -> None:
        bot.seen.append(("ping", interaction, {"coin": coin, "count": count}))
        await interaction.response.send_message(f"pong {coin} x{count}", ephemeral=True)

    @bot.tree.command(name="stats", description="Network stats as an embed")
    async def stats(interaction: discord.Interaction) -> None:
        embed = discord.Embed(title="Hashprice", description="$52.10/PH/day", colour=0xF7931A)
        embed.add_field(name="Difficulty", value="101.6 T").set_image(url="attachment://chart.png")
        await interaction.response.send_message(embed=embed, file=discord.File(io.BytesIO(PNG), "chart.png"))

    @bot.tree.command(name="report", description="Defer, then follow up with a chart")
    async def report(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True, ephemeral=True)
        await interaction.edit_original_response(content="chart below")
        await interaction.followup.send("chart", file=discord.File(io.BytesIO(PNG), filename="chart.png"))
        await interaction.edit_original_response(attachments=[discord.File(io.BytesIO(b"csv"), "data.csv")])

    @bot.tree.command(name="whoami", description="Show what the bot sees of you")
    async def whoami(interaction: discord.Interaction) -> None:
        bot.seen.append(("whoami", interaction, {}))
        await interaction.response.send_message("noted", ephemeral=True)

    return bot


@pytest.fixture
def fake() -> Iterator[FakeDiscord]:
    with FakeDiscord() as server, configure_discord_py(server):
        server.guild(
            GUILD_ID,
            "Hash House",
            channels=[channel(ALERTS, "alerts"), channel(GENERAL, "general")],
            members=[member(ADMIN, MANAGE_CHANNELS, name="admin"), member(MINER, name="miner")],
        )
        yield server
        assert server.server_errors == [] and server.unknown_routes == []


@pytest.fixture
async def bot(fake: FakeDiscord) -> AsyncIterator[MinerBot]:
    """A connected, ready client in the test's loop (login + gateway), closed afterwards."""
    client = build_bot()
    await client.login(fake.token)
    runner = asyncio.create_task(client.connect())
    try:
        await asyncio.wait_for(client.wait_until_ready(), 5)
        await fake.wait_for(
            lambda: client.get_guild(GUILD_ID)
        )  # a slow machine may outlast guild_ready_timeout
        yield client
    finally:
        await client.close()
        await asyncio.wait_for(runner, 5)


def text_channel(bot: MinerBot, channel_id: int) -> discord.TextChannel:
    found = bot.get_channel(channel_id)
    assert isinstance(found, discord.TextChannel)
    return found


async def test_login_ready_and_guild_create(fake: FakeDiscord, bot: MinerBot) -> None:
    assert bot.user is not None and bot.user.id == BOT_USER_ID and bot.user.bot
    assert bot.application_id == APPLICATION_ID
    guild = bot.get_guild(GUILD_ID)
    assert guild is not None and guild.name == "Hash House"
    assert [c.name for c in guild.text_channels] == ["alerts", "general"]
    assert guild.me is not None and guild.me.guild_permissions.send_messages
    assert fake.identifies[0]["intents"] == discord.Intents.default().value
    assert [c.route for c in fake.sent[:2]] == ["GET /users/@me", "GET /oauth2/applications/@me"]
    assert fake.connected == 1
    assert fake.server_errors == [] and fake.unknown_routes == []


async def test_sync_records_commands(fake: FakeDiscord, bot: MinerBot) -> None:
    synced = await bot.tree.sync()
    registered = {c["name"]: c for c in fake.commands}
    assert set(registered) == {"ping", "stats", "report", "whoami"}
    assert {c.name: c.id for c in synced} == {name: int(c["id"]) for name, c in registered.items()}
    options = {o["name"]: o for o in registered["ping"]["options"]}
    assert options["coin"]["type"] == 3 and options["coin"]["autocomplete"] is True
    assert options["count"]["type"] == 4 and not options["count"]["required"]
    assert fake.calls("PUT /applications/{application_id}/commands")[0].status == 200

    bot.tree.copy_global_to(guild=discord.Object(GUILD_ID))
    await bot.tree.sync(guild=discord.Object(GUILD_ID))
    assert {c["name"] for c in fake.guild_commands(GUILD_ID)} == set(registered)


async def test_slash_command_ephemeral_reply(fake: FakeDiscord, bot: MinerBot) -> None:
    await bot.tree.sync()
    interaction_id = fake.invoke("ping", {"coin": "bitcoin", "count": 3}, channel_id=ALERTS, user_id=MINER)
    (reply,) = await fake.wait_for(lambda: fake.responses_to(interaction_id))
    assert reply.route == "POST /interactions/{interaction_id}/{token}/callback"
    assert reply.query == {"with_response": "1"} and reply.status == 200
    assert reply.callback_type == 4 and reply.content == "pong bitcoin x3"
    assert reply.flags == EPHEMERAL and reply.ephemeral and reply.channel_id == ALERTS
    name, interaction, args = bot.seen[0]
    assert (name, args) == ("ping", {"coin": "bitcoin", "count": 3})
    assert interaction.id == interaction_id and interaction.guild_id == GUILD_ID
    assert interaction.channel is not None and interaction.channel.id == ALERTS
    assert isinstance(interaction.user, discord.Member) and interaction.user.id == MINER


async def test_embed_reply_with_file(fake: FakeDiscord, bot: MinerBot) -> None:
    interaction_id = fake.invoke("stats", guild_id=GUILD_ID)
    (reply,) = await fake.wait_for(lambda: fake.responses_to(interaction_id))
    (embed,) = reply.embeds
    assert embed["title"] == "Hashprice" and embed["color"] == 0xF7931A
    assert embed["fields"] == [{"name": "Difficulty", "value": "101.6 T", "inline": True}]
    assert embed["image"] == {"url": "attachment://chart.png"}
    assert reply.callback_type == 4 and not reply.ephemeral and reply.status == 200
    assert [(f.field, f.filename, f.data) for f in reply.files] == [("files[0]", "chart.png", PNG)]
    assert reply.response["resource"]["message"]["attachments"][0]["size"] == len(PNG)


async def test_defer_edit_and_followup_with_file(fake: FakeDiscord, bot: MinerBot) -> None:
    interaction_id = fake.invoke("report", channel_id=GENERAL)
    await fake.wait_for(lambda: len(fake.responses_to(interaction_id)) >= 4)
    calls = fake.responses_to(interaction_id)
    defer, edit, followup, edit_file = calls
    assert defer.callback_type == 5 and defer.ephemeral
    assert edit.route == "PATCH /webhooks/{application_id}/{token}/messages/{message_id}"
    assert edit.path.endswith("/messages/@original") and edit.content == "chart below"
    assert followup.route == "POST /webhooks/{application_id}/{token}" and followup.content == "chart"
    assert [(f.filename, f.data) for f in followup.files] == [("chart.png", PNG)]
    assert [(f.filename, f.data) for f in edit_file.files] == [("data.csv", b"csv")]
    assert [a["filename"] for a in edit_file.response["attachments"]] == ["data.csv"]
    assert edit_file.response["content"] == "chart below" and not edit_file.response["flags"] & 128
    assert all(c.ok for c in calls)


async def test_autocomplete_returns_choices(fake: FakeDiscord, bot: MinerBot) -> None:
    await bot.tree.sync()
    interaction_id = fake.autocomplete("ping", "coin", "bit", options={"count": 2}, channel_id=ALERTS)
    (answer,) = await fake.wait_for(lambda: fake.responses_to(interaction_id))
    assert answer.callback_type == 8
    assert answer.choices == [
        {"name": "Bitcoin", "value": "bitcoin"},
        {"name": "Bitcoin-Cash", "value": "bitcoin-cash"},
    ]
    focused = fake.interaction(interaction_id)["data"]["options"]
    assert {"name": "coin", "type": 3, "value": "bit", "focused": True} in focused
    assert bot.seen == []


async def test_channel_send_with_file_records_bytes(fake: FakeDiscord, bot: MinerBot) -> None:
    sent = await text_channel(bot, ALERTS).send(
        "Hashprice alert", file=discord.File(io.BytesIO(PNG), "chart.png")
    )
    (call,) = fake.messages_in(ALERTS)
    assert call.content == "Hashprice alert" and call.files[0].data == PNG
    assert call.files[0].field == "files[0]" and call.payload["attachments"] == [
        {"id": 0, "filename": "chart.png"}
    ]
    assert sent.attachments[0].filename == "chart.png" and sent.attachments[0].size == len(PNG)
    assert await sent.attachments[0].read() == PNG


async def test_dm_via_create_dm(fake: FakeDiscord, bot: MinerBot) -> None:
    user = await bot.fetch_user(MINER)
    dm = await user.create_dm()
    assert dm.id == fake.dm_channel_id(MINER)
    message = await dm.send("Your alert fired")
    assert message.channel.id == dm.id
    (call,) = fake.messages_in(dm.id)
    assert call.content == "Your alert fired"
    assert fake.calls("POST /users/@me/channels")[0].payload == {"recipient_id": MINER}


async def test_dm_interaction(fake: FakeDiscord, bot: MinerBot) -> None:
    interaction_id = fake.invoke("whoami", dm_user_id=MINER)
    (reply,) = await fake.wait_for(lambda: fake.responses_to(interaction_id))
    assert reply.channel_id == fake.dm_channel_id(MINER) and reply.ephemeral
    _, interaction, _ = bot.seen[0]
    assert interaction.guild_id is None and isinstance(interaction.channel, discord.DMChannel)
    assert not isinstance(interaction.user, discord.Member) and interaction.user.id == MINER


async def test_rate_limit_429_is_waited_and_retried(fake: FakeDiscord, bot: MinerBot) -> None:
    fake.fail(ALERTS, Fault.RATE_LIMITED, retry_after=0.2)
    started = time.monotonic()
    message = await text_channel(bot, ALERTS).send("after the limit")
    assert message.content == "after the limit" and time.monotonic() - started >= 0.2
    first, second = fake.calls("POST /channels/{channel_id}/messages", channel_id=ALERTS)
    assert (first.status, second.status) == (429, 200)
    assert first.response == {"message": "You are being rate limited.", "retry_after": 0.2, "global": False}
    assert second.time - first.time >= 0.2


async def test_rate_limit_without_via_is_not_retried(fake: FakeDiscord, bot: MinerBot) -> None:
    fake.fail(ALERTS, Fault.RATE_LIMITED, retry_after=0.2, via=False)
    with pytest.raises(discord.HTTPException) as caught:
        await text_channel(bot, ALERTS).send("banned?")
    assert caught.value.status == 429
    assert len(fake.calls(channel_id=ALERTS)) == 1


async def test_error_codes_raise_discord_exceptions(fake: FakeDiscord, bot: MinerBot) -> None:
    alerts = text_channel(bot, ALERTS)
    fake.fail(ALERTS, Fault.MISSING_ACCESS)
    with pytest.raises(discord.Forbidden) as forbidden:
        await alerts.send("x")
    assert (forbidden.value.status, forbidden.value.code, forbidden.value.text) == (
        403,
        50001,
        "Missing Access",
    )
    fake.fail(ALERTS, Fault.UNKNOWN_CHANNEL)
    with pytest.raises(discord.NotFound) as not_found:
        await alerts.send("x")
    assert (not_found.value.status, not_found.value.code) == (404, 10003)
    fake.fail(ALERTS, Fault.SERVER_ERROR, status=503)
    with pytest.raises(discord.DiscordServerError):
        await alerts.send("x")
    dm = await (await bot.fetch_user(MINER)).create_dm()
    fake.fail(dm.id, Fault.CANNOT_DM, count=None)
    for _ in range(2):
        with pytest.raises(discord.Forbidden) as cannot_dm:
            await dm.send("x")
        assert cannot_dm.value.code == 50007
    assert (await alerts.send("fine")).content == "fine"


async def test_member_permissions_reflect_manage_channels(fake: FakeDiscord, bot: MinerBot) -> None:
    for user_id, permissions in [(ADMIN, None), (MINER, None), (4242, ADMINISTRATOR)]:
        fake.invoke("whoami", channel_id=ALERTS, user_id=user_id, permissions=permissions)
    await fake.wait_for(lambda: len(bot.seen) == 3)
    seen = {i.user.id: i for _, i, _ in bot.seen}
    assert seen[ADMIN].permissions.manage_channels and not seen[ADMIN].permissions.administrator
    assert not seen[MINER].permissions.manage_channels and seen[MINER].permissions.send_messages
    assert seen[4242].permissions.administrator
    admin, stranger = seen[ADMIN].user, seen[4242].user
    assert isinstance(admin, discord.Member) and admin.guild_permissions.manage_channels
    assert isinstance(stranger, discord.Member) and stranger.guild_permissions.administrator
    assert seen[MINER].app_permissions.send_messages and not seen[MINER].app_permissions.manage_channels


async def test_guild_delete_and_channel_delete(fake: FakeDiscord, bot: MinerBot) -> None:
    general, alerts = text_channel(bot, GENERAL), text_channel(bot, ALERTS)
    fake.delete_channel(GENERAL)
    await fake.wait_for(lambda: ("channel_delete", GENERAL) in bot.events)
    assert bot.get_channel(GENERAL) is None
    with pytest.raises(discord.NotFound) as gone:
        await general.send("x")
    assert gone.value.code == 10003
    fake.remove_from_guild(GUILD_ID)
    await fake.wait_for(lambda: ("guild_remove", GUILD_ID) in bot.events)
    assert bot.get_guild(GUILD_ID) is None
    with pytest.raises(discord.Forbidden) as kicked:
        await alerts.send("x")
    assert kicked.value.code == 50001


async def test_gateway_reconnect_resumes(fake: FakeDiscord, bot: MinerBot) -> None:
    fake.reconnect_gateway()
    await fake.wait_for(lambda: ("resumed", 0) in bot.events)
    interaction_id = fake.invoke("whoami", channel_id=ALERTS)
    await fake.wait_for(lambda: fake.responses_to(interaction_id))


async def test_cli_server_and_control_api() -> None:
    """``python -m tests.fakes.discord_api`` as a subprocess, driven via ``/_control``, real client."""
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.fakes.discord_api", cwd=ROOT, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert server.stdout is not None
        lines: dict[str, str] = {}
        while line := (await asyncio.wait_for(server.stdout.readline(), 10)).decode().strip():
            key, value = line.split("=", 1)
            lines[key] = value
        assert lines["API_BASE"] == lines["ROOT"] + "/api/v10"
        assert lines["GATEWAY"].startswith("ws://127.0.0.1:") and lines["GATEWAY"].endswith("/gateway")
        control = lines["CONTROL"]
        async with httpx.AsyncClient() as http:
            guild = {"args": [GUILD_ID, "Remote"], "kwargs": {"channels": [{"id": ALERTS, "name": "alerts"}]}}
            assert (await http.post(f"{control}/guild", json=guild)).status_code == 200
            with configure_discord_py(lines["ROOT"]):
                client = build_bot()
                await client.login(lines["TOKEN"])
                runner = asyncio.create_task(client.connect())
                await asyncio.wait_for(client.wait_until_ready(), 5)
                answer = await http.post(f"{control}/invoke", json={"command_name": "whoami", "options": {}})
                interaction_id = answer.json()["result"]
                waited = await http.get(
                    f"{control}/wait", params={"interaction_id": interaction_id, "timeout": 3}
                )
                await client.close()
                await asyncio.wait_for(runner, 5)
            assert waited.status_code == 200 and waited.json()[0]["payload"]["data"]["content"] == "noted"
            state = (await http.get(f"{control}/state")).json()
            assert state["guilds"][str(GUILD_ID)]["name"] == "Remote" and state["server_errors"] == []
    finally:
        server.terminate()
        await asyncio.wait_for(server.wait(), 5)


async def test_rest_answers_like_discord(fake: FakeDiscord) -> None:
    """Auth, validation, rate-limit headers and interaction-state errors, checked with plain HTTP."""
    auth = {"Authorization": f"Bot {fake.token}"}
    messages = f"{fake.api_base}/channels/{ALERTS}/messages"
    async with httpx.AsyncClient() as http:
        assert (await http.post(messages, json={"content": "x"})).status_code == 401
        empty = await http.post(messages, json={"content": ""}, headers=auth)
        assert (empty.status_code, empty.json()["code"]) == (400, 50006)
        too_long = await http.post(messages, json={"content": "x" * 2001}, headers=auth)
        assert (too_long.status_code, too_long.json()["code"]) == (400, 50035)
        assert "content" in too_long.json()["errors"]
        ok = await http.post(messages, json={"content": "x"}, headers=auth)
        assert ok.headers["Content-Type"] == "application/json" and ok.headers["Via"] == "1.1 google"
        assert ok.headers["X-RateLimit-Remaining"] == "4"
        fake.fail(ALERTS, "RATE_LIMITED", retry_after=1.5)
        limited = await http.post(messages, json={"content": "x"}, headers=auth)
        assert limited.status_code == 429 and limited.headers["Retry-After"] == "2"
        assert (
            limited.headers["X-RateLimit-Reset-After"] == "1.500" and limited.headers["Via"] == "1.1 google"
        )
        assert limited.headers["X-RateLimit-Scope"] == "user"
        interaction_id = fake.invoke("whoami", channel_id=ALERTS)
        token = fake.interaction(interaction_id)["token"]
        callback = f"{fake.api_base}/interactions/{interaction_id}/{token}/callback"
        reply = {"type": 4, "data": {"content": "hi"}}
        assert (await http.post(callback, json=reply)).status_code == 204
        again = await http.post(callback, json=reply)
        assert (again.status_code, again.json()["code"]) == (400, 40060)
        wrong = await http.post(f"{fake.api_base}/interactions/1/{token}/callback", json=reply)
        assert (wrong.status_code, wrong.json()["code"]) == (404, 10062)
        assert (await http.get(f"{fake.api_base}/nope", headers=auth)).status_code == 404
    assert fake.unknown_routes == ["GET /nope"]
    fake.unknown_routes.clear()


def test_configure_discord_py_is_undone() -> None:
    from discord.gateway import DiscordWebSocket
    from discord.http import Route

    before = (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)
    with configure_discord_py("http://127.0.0.1:9") as patch:
        assert Route.BASE == "http://127.0.0.1:9/api/v10" == patch.api_base
        assert str(DiscordWebSocket.DEFAULT_GATEWAY) == "ws://127.0.0.1:9/gateway"
    after = (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)
    assert after == before
    assert Route.BASE == "https://discord.com/api/v10"


BOT_SCRIPT = """
import discord

client = discord.Client(intents=discord.Intents.default(), guild_ready_timeout=0.05)

@client.event
async def on_ready():
    await client.get_channel({channel}).send("hello from a subprocess")
    await client.close()

client.run({token!r}, log_handler=None)
"""


def test_bot_in_subprocess_via_run(fake: FakeDiscord, tmp_path: Path) -> None:
    """``--run`` applies ``configure_discord_py`` in the child, so an unmodified bot talks to the fake."""
    script = tmp_path / "bot_script.py"
    script.write_text(BOT_SCRIPT.format(channel=ALERTS, token=fake.token))
    done = subprocess.run(
        [sys.executable, "-m", "tests.fakes.discord_api", "--run", str(script), "--fake", fake.root_url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert done.returncode == 0, done.stderr
    (call,) = fake.messages_in(ALERTS)
    assert call.content == "hello from a subprocess"
