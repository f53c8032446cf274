"""Discord end to end: the real discord.py client (REST + gateway) against the fake Discord, with the real
store, watch, outbox worker and sources polling the fake upstreams."""

from __future__ import annotations

import asyncio
import bisect
import re
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest.mock import ANY

import discord
import pytest

from bot.app import BotApp
from bot.chat.kinds import ChatKind
from bot.config import Settings
from bot.delivery import notifier as outcomes
from bot.economics.history import DailyRow
from bot.ops.health import TransportState, app_probe
from bot.store.chats import upsert_chat
from bot.store.connection import Connection
from bot.store.outbox import NewMessage, enqueue
from bot.transports import discord as discord_transport
from bot.transports.discord import GLOBAL_PER_S, SILENCE_LIMIT_S, outcome_of
from handlers.router import COMMANDS as CHAT_COMMANDS
from tests.e2e.market import move_price, price_polls, steady_history, store_daily
from tests.e2e.process import bot_environment, start_run
from tests.fakes.discord_api import (
    EPHEMERAL,
    MANAGE_CHANNELS,
    Call,
    FakeDiscord,
    Fault,
    channel,
    configure_discord_py,
    member,
)
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.upstreams import FakeUpstreams

GUILD_ID = 900000000000000001
ALERTS = 900000000000000011
GENERAL = 900000000000000012
ADMIN, MINER = 3001, 3002
TELEGRAM_USER = 1001
COMMANDS = {
    "status",
    "breakeven",
    "margin",
    "cost",
    "stress",
    "hashprice",
    "difficulty",
    "machines",
    "profile",
    "fleet",
    "tariff",
    "subscribe",
    "alerts",
    "unsubscribe",
    "chart",
    "lang",
    "help",
}
MESSAGES = "POST /channels/{channel_id}/messages"


@pytest.fixture
def discord_shards() -> int:
    """Shards the fake recommends (``GET /gateway/bot``); GUILD_ID is on shard 1 of 2."""
    return 1


@pytest.fixture
def fake_discord(discord_shards: int) -> Iterator[FakeDiscord]:
    with (
        FakeDiscord(shards=discord_shards) as fake,
        configure_discord_py(fake),
    ):  # restores discord.py's globals
        fake.guild(
            GUILD_ID,
            "Hash House",
            channels=[channel(ALERTS, "alerts"), channel(GENERAL, "general")],
            members=[member(ADMIN, MANAGE_CHANNELS, name="admin"), member(MINER, name="miner")],
        )
        yield fake
        assert fake.server_errors == [] and fake.unknown_routes == []


def discord_settings(fake: FakeDiscord) -> dict[str, str]:
    return {
        "discord_token": fake.token,
        "discord_api_base": fake.api_base,
        "discord_gateway_url": fake.gateway_url,
    }


@pytest.fixture
def daily_history() -> list[DailyRow]:
    """Daily rows stored before the bot starts; none by default (the bot seeds the shipped history)."""
    return []


@pytest.fixture
async def bot(
    tmp_path: Path,
    fake_discord: FakeDiscord,
    fake_upstreams: FakeUpstreams,
    monkeypatch: pytest.MonkeyPatch,
    daily_history: list[DailyRow],
) -> AsyncIterator[BotApp]:
    monkeypatch.setattr(discord_transport, "GUILD_READY_TIMEOUT_S", 0.05)
    if daily_history:
        await store_daily(tmp_path / "bot.db", daily_history)
    settings = Settings.model_validate(
        {
            **fake_upstreams.settings_overrides(),
            **discord_settings(fake_discord),
            "db": str(tmp_path / "bot.db"),
            "price_poll_s": 1,
            "network_poll_s": 1,
            "source_retries": 0,
            "source_timeout_s": 2.0,
        }
    )
    app = BotApp(settings, CHAT_COMMANDS)
    await app.start()
    assert app.discord is not None and app.console is None
    await fake_discord.wait_for(lambda: app.discord and app.discord.client.get_guild(GUILD_ID))
    yield app
    await app.stop()


def embed_text(call: Call) -> str:
    """Every embed's title, description and fields (``name`` and ``value`` on lines of their own)."""
    parts = []
    for embed in call.embeds:
        parts += [embed.get("title") or "", embed.get("description") or ""]
        parts += [f"{field['name']}\n{field['value']}" for field in embed.get("fields", [])]
    return "\n".join(parts)


def fields(call: Call) -> dict[str, str]:
    """The embeds' fields, name -> value."""
    return {field["name"]: field["value"] for embed in call.embeds for field in embed.get("fields", [])}


async def ask(fake: FakeDiscord, command: str, options: dict[str, Any] | None = None, **where: Any) -> Call:
    """Invoke ``/command`` as a user (in ALERTS unless told otherwise) and return the bot's answer."""
    if "dm_user_id" not in where:
        where.setdefault("channel_id", ALERTS)
    interaction_id = fake.invoke(command, options or {}, **where)
    answers = await fake.wait_for(
        lambda: [c for c in fake.responses_to(interaction_id) if c.ok and c.embeds], timeout=15
    )
    return answers[-1]


def custom_ids(call: Call) -> list[str]:
    return [button["custom_id"] for row in call.components for button in row["components"]]


async def press(fake: FakeDiscord, answer: Call, custom_id: str, **who: Any) -> Call:
    """Press the button ``custom_id`` under the bot's ``answer`` and return the bot's answer to the press."""
    assert answer.message_id is not None
    interaction_id = fake.press_button(answer.message_id, custom_id, **who)
    answers = await fake.wait_for(
        lambda: [c for c in fake.responses_to(interaction_id) if c.ok and c.embeds], timeout=15
    )
    return answers[-1]


async def market_ready(fake: FakeDiscord) -> None:
    """Wait until the first poll stored a snapshot (commands answer from it)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if "PH/day" in embed_text(await ask(fake, "hashprice")):
            return
    raise AssertionError("no market data after 10 s")


def alerts_in(fake: FakeDiscord, channel_id: int) -> list[str]:
    texts = [embed_text(call) for call in fake.messages_in(channel_id)]
    return [text for text in texts if "🔔" in text]


async def subscribe(fake: FakeDiscord, rule: str, **where: Any) -> int:
    """Subscribe as ADMIN in ALERTS (or where told) and return the alert's number."""
    where.setdefault("user_id", ADMIN)
    reply = await ask(fake, "subscribe", {"rule": rule}, **where)
    number = re.search(r"#(\d+)", embed_text(reply))
    assert number is not None and not reply.ephemeral, embed_text(reply)
    return int(number[1])


async def chats(app: BotApp) -> dict[str, int]:
    rows = await app.store.run(lambda db: list(db.fetch("SELECT chat_id, active FROM chats")))
    return {row["chat_id"]: row["active"] for row in rows}


async def outbox_statuses(app: BotApp) -> list[str]:
    rows = await app.store.run(lambda db: list(db.fetch("SELECT status FROM outbox ORDER BY id")))
    return [row["status"] for row in rows]


async def eventually(read: Callable[[], Awaitable[object]], expected: object) -> None:
    """Poll the async ``read()`` until it returns ``expected`` (at most 5 s)."""
    deadline = time.monotonic() + 5
    while (value := await read()) != expected:
        assert time.monotonic() < deadline, f"{value!r} != {expected!r} after 5 s"
        await asyncio.sleep(0.02)


async def wait_inactive(app: BotApp, *channel_ids: int) -> None:
    """Wait until the chats of ``channel_ids`` are inactive in the store."""

    async def states() -> list[int | None]:
        known = await chats(app)
        return [known.get(str(channel_id)) for channel_id in channel_ids]

    await eventually(states, [0] * len(channel_ids))


async def test_commands_are_registered_with_typed_options(bot: BotApp, fake_discord: FakeDiscord) -> None:
    registered = {c["name"]: c for c in fake_discord.commands}
    assert set(registered) == COMMANDS
    breakeven = {o["name"]: o for o in registered["breakeven"]["options"]}
    assert breakeven["machine"]["required"] and breakeven["machine"]["autocomplete"]
    assert not breakeven["power"].get("required")
    chart = {o["name"]: [c["value"] for c in o["choices"]] for o in registered["chart"]["options"]}
    assert chart == {"window": ["30d", "90d", "1y"], "metric": ["price", "hashprice", "stress", "fleet"]}
    assert [c["value"] for c in registered["lang"]["options"][0]["choices"]] == ["en", "ru"]
    guarded = {name for name, c in registered.items() if c["default_member_permissions"]}
    assert guarded == {"subscribe", "unsubscribe", "profile", "lang", "fleet", "tariff"}
    assert int(registered["subscribe"]["default_member_permissions"]) == MANAGE_CHANNELS
    assert re.search("[а-я]{4}", registered["status"]["description_localizations"]["ru"])


async def test_commands_answer_with_the_right_numbers(bot: BotApp, fake_discord: FakeDiscord) -> None:
    await market_ready(fake_discord)
    status = embed_text(await ask(fake_discord, "status"))
    assert "$85,864" in status and "132.72 T" in status and "regression: $80k" in status
    breakeven = await ask(fake_discord, "breakeven", {"machine": "s19xp", "power": "0.055"})
    # recorded market: $85,864, D 132.716e12, fees 0.1312 BTC/block; 2 % pool fee -> $0.0805/kWh.
    (embed,) = breakeven.embeds
    assert "Antminer S19 XP" in embed["title"] and "```" not in embed["description"]
    assert all(field["inline"] for field in embed["fields"])  # label -> value, side by side on a wide screen
    shown = fields(breakeven)
    assert shown["Power price"] == "$0.0550/kWh" and shown["Machine"] == "140 TH/s, 21.5 J/TH"
    assert shown["Breaks even at"].startswith("power: $0.0805/kWh\nBTC price: $")
    assert "Breaks even: the power price" in embed["description"]
    margin = embed_text(await ask(fake_discord, "margin", {"machine": "Antminer S21", "power": "6c"}))
    assert "power cost: $5.04\n84.0 kWh" in margin  # 200 TH/s x 17.5 J/TH x 24 h = 84 kWh at $0.06
    assert "Cost per BTC\nbottom-up: $" in embed_text(await ask(fake_discord, "cost"))
    assert "-1.91%" in embed_text(await ask(fake_discord, "difficulty"))
    machines = embed_text(await ask(fake_discord, "machines"))
    assert "Antminer S21 XP Hyd" in machines and "Whatsminer M66S+" in machines
    assert "Avalon A1346\n110 TH/s, power unknown, 30.0 J/TH" in machines and " 0 W" not in machines
    help_text = embed_text(await ask(fake_discord, "help"))  # examples as the slash commands take them
    assert (
        "`/breakeven machine:s19xp power:5.5c`" in help_text
        and "`/subscribe rule:price below 60k`" in help_text
    )
    assert "`/chart window:1y metric:price`" in help_text and "`/status`" in help_text
    mistake = embed_text(await ask(fake_discord, "margin", {"machine": "antminer s99"}))
    assert "Example: `/margin machine:s19xp power:5.5c`" in mistake
    assert "<b>" not in status and "<code>" not in status


SHARD_0_GUILD, SHARD_0_CHANNEL = GUILD_ID + (1 << 22), 900000000000000021


@pytest.fixture
def discord_info_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """The transport's INFO lines, from before the bot starts (name this fixture before ``bot``)."""
    caplog.set_level("INFO", logger="bot.transports.discord")
    return caplog


def logged(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for phase in ("setup", "call") for r in caplog.get_records(phase))


@pytest.mark.parametrize("discord_shards", [2])
async def test_two_shards_each_serve_their_servers(
    discord_info_logs: pytest.LogCaptureFixture, bot: BotApp, fake_discord: FakeDiscord
) -> None:
    """The client runs the shards Discord recommends; a server on either answers, DMs come on shard 0."""
    assert sorted(identify["shard"] for identify in fake_discord.identifies) == [[0, 2], [1, 2]]
    fake_discord.guild(SHARD_0_GUILD, "Other House", channels=[channel(SHARD_0_CHANNEL, "mining")])
    assert app_discord(bot).client.shard_count == 2
    places: list[dict[str, Any]] = [
        {"channel_id": ALERTS},
        {"channel_id": SHARD_0_CHANNEL},
        {"dm_user_id": MINER},
    ]
    for where in places:
        assert "/subscribe" in embed_text(await ask(fake_discord, "help", **where)), where
    await fake_discord.wait_for(lambda: app_discord(bot).liveness.connected and fake_discord.connected == 2)
    await fake_discord.wait_for(lambda: "on 2 shard(s)" in logged(discord_info_logs))
    assert app_probe(bot).transports()["discord"] == TransportState(True, ANY, SILENCE_LIMIT_S, shards=2)


def app_discord(app: BotApp) -> discord_transport.DiscordTransport:
    assert app.discord is not None
    return app.discord


@pytest.mark.parametrize("daily_history", [steady_history(80_000.0)])
async def test_stress_through_the_command_tree(bot: BotApp, fake_discord: FakeDiscord) -> None:
    await market_ready(fake_discord)
    reply = await ask(fake_discord, "stress")
    (embed,) = reply.embeds
    assert "Miner-stress index (open proxy" in embed["title"] and not reply.ephemeral
    shown = fields(reply)
    assert "\nPuell: 1.07 → 100" in shown["Components → score"] and "not CryptoQuant" in embed["description"]
    assert re.fullmatch(r"\d+/100, \w+", shown["Index"]) and "```" not in embed["description"]
    chart = await ask(fake_discord, "chart", {"window": "90d", "metric": "stress"})
    assert "Miner-stress index (open proxy) on the last day" in embed_text(chart)


async def test_mistakes_are_explained_privately(bot: BotApp, fake_discord: FakeDiscord) -> None:
    reply = await ask(fake_discord, "breakeven", {"machine": "antminer s99"})
    assert reply.ephemeral and "Closest" in embed_text(reply)
    reply = await ask(fake_discord, "breakeven", {"machine": "Avalon A1346"})
    assert reply.ephemeral and "Power of Avalon A1346 is unknown; give it as 200TH@3500W" in embed_text(reply)
    reply = await ask(fake_discord, "subscribe", {"rule": "prise below 60k"}, user_id=ADMIN)
    assert reply.ephemeral and "price" in embed_text(reply)


async def test_chart_is_an_attachment_shown_in_the_embed(bot: BotApp, fake_discord: FakeDiscord) -> None:
    reply = await ask(fake_discord, "chart", {"window": "1y", "metric": "hashprice"})
    (embed,) = reply.embeds
    assert embed["image"] == {"url": "attachment://chart.png"}
    (png,) = reply.files
    assert png.filename == "chart.png" and png.data[:8] == b"\x89PNG\r\n\x1a\n"
    assert not reply.ephemeral and embed["description"]


async def test_slow_answers_are_deferred_then_filled_in(
    bot: BotApp, fake_discord: FakeDiscord, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past Discord's 3 s budget the bot defers; an error then replaces the public "thinking" privately."""
    monkeypatch.setattr(discord_transport, "DEFER_AFTER_S", 0)
    chart = await ask(fake_discord, "chart", {"window": "30d"})
    defer, edit = fake_discord.responses_to(chart.interaction_id or 0)
    assert defer.callback_type == 5 and edit.path.endswith("/messages/@original") and edit is chart
    assert chart.embeds[0]["image"] == {"url": "attachment://chart.png"} and chart.files
    error = await ask(fake_discord, "breakeven", {"machine": "antminer s99"})
    defer, delete, followup = fake_discord.responses_to(error.interaction_id or 0)
    assert defer.callback_type == 5 and not defer.ephemeral and delete.method == "DELETE"
    assert followup is error and error.ephemeral and "Closest" in embed_text(error)


async def test_autocomplete_offers_matching_machines_rules_and_alerts(
    bot: BotApp, fake_discord: FakeDiscord
) -> None:
    async def choices(command: str, option: str, typed: str, **where: Any) -> list[str]:
        interaction_id = fake_discord.autocomplete(command, option, typed, channel_id=ALERTS, **where)
        (answer,) = await fake_discord.wait_for(lambda: fake_discord.responses_to(interaction_id))
        assert answer.callback_type == 8
        return [choice["name"] for choice in answer.choices]

    s19 = await choices("breakeven", "machine", "s19")
    assert s19 and all("S19" in name for name in s19) and "Antminer S19 XP" in s19
    assert set(await choices("margin", "machine", "hydro")) >= {"Antminer S21 XP Hyd", "Whatsminer M63S"}
    assert await choices("breakeven", "machine", "a13") == [
        "Avalon A1346 (power unknown)",
        "Avalon A1366 (power unknown)",
    ]
    assert len(await choices("breakeven", "machine", "")) <= 25
    assert (await choices("subscribe", "rule", "price"))[:2] == ["price", "price below 60k"]
    number = await subscribe(fake_discord, "price below 80k")
    assert await choices("unsubscribe", "alert", "", user_id=ADMIN) == [
        f"#{number} price below $80,000",
        "all",
    ]


async def test_server_changes_need_manage_channels(bot: BotApp, fake_discord: FakeDiscord) -> None:
    refused = await ask(fake_discord, "subscribe", {"rule": "price below 60k"}, user_id=MINER)
    refusal = embed_text(refused)
    assert (
        refused.flags & EPHEMERAL
        and "Manage Channels permission" in refusal
        and "administrators" not in refusal
    )
    choices = await ask(fake_discord, "subscribe", user_id=ADMIN)  # no rule: the choices, as buttons
    assert "Press a button below" in embed_text(choices) and "Tap" not in embed_text(choices)
    assert "mw:/subscribe network" in custom_ids(choices)
    refused = await ask(fake_discord, "lang", {"language": "ru"}, user_id=MINER)
    assert refused.ephemeral
    accepted = await ask(fake_discord, "subscribe", {"rule": "price below 60k"}, user_id=ADMIN)
    assert not accepted.ephemeral and "Alert #" in embed_text(accepted)
    listing = await ask(fake_discord, "alerts", user_id=MINER)
    assert "price below $60,000" in embed_text(listing) and not listing.ephemeral
    assert "mw:/unsubscribe 1" in custom_ids(listing)  # buttons carry the command they run
    assert listing.message_id is not None
    pressed = await press(fake_discord, listing, "mw:/unsubscribe 1", user_id=MINER)
    assert pressed.ephemeral and "Manage Channels" in embed_text(pressed)  # a press needs the same right
    assert "price below $60,000" in embed_text(await ask(fake_discord, "alerts", user_id=MINER))


async def test_unsubscribe_without_an_alert_asks_first(bot: BotApp, fake_discord: FakeDiscord) -> None:
    await subscribe(fake_discord, "price below 60k")
    await subscribe(fake_discord, "price below 50k")
    question = await ask(fake_discord, "unsubscribe", user_id=ADMIN)
    assert "Remove all 2 alerts of this channel?" in embed_text(question) and not question.ephemeral
    assert custom_ids(question) == ["mw:/unsubscribe all", "mw:/unsubscribe keep"]
    kept = await press(fake_discord, question, "mw:/unsubscribe keep", user_id=ADMIN)
    assert "nothing was removed" in embed_text(kept)
    assert "price below $50,000" in embed_text(await ask(fake_discord, "alerts"))
    removed = await press(fake_discord, question, "mw:/unsubscribe all", user_id=ADMIN)
    assert "Removed 2 alerts" in embed_text(removed)
    assert "No alerts yet" in embed_text(await ask(fake_discord, "alerts"))
    explicit = await ask(fake_discord, "unsubscribe", {"alert": "all"}, user_id=ADMIN)
    assert "No alerts to remove" in embed_text(explicit)


async def test_fleet_commands_and_switch_off_alert_in_a_channel(
    bot: BotApp, fake_discord: FakeDiscord, fake_upstreams: FakeUpstreams
) -> None:
    """The figures of tests/e2e/test_telegram.py's fleet test (recorded market, 40 S19j Pro at 5.5c)."""
    await market_ready(fake_discord)
    saved = await ask(
        fake_discord, "tariff", {"change": "add texas 0.045; 14:00-20:00 0.12 America/Chicago"}, user_id=ADMIN
    )
    assert embed_text(saved).strip().startswith("✅ Tariff texas saved")
    refused = await ask(fake_discord, "fleet", {"change": "add s19jpro 40 5.5c"}, user_id=MINER)
    assert refused.ephemeral and "Manage Channels" in embed_text(refused)
    added = await ask(fake_discord, "fleet", {"change": "add s19jpro 40 5.5c site=north"}, user_id=ADMIN)
    text = embed_text(added)
    assert "✅ Run the 40 Antminer S19j Pro: $0.27 per machine per day at $0.0550/kWh" in text
    assert "```" in text and "<pre>" not in text and "<b>" not in text
    blocks = re.findall(r"```\n?(.*?)```", text, re.S)
    assert blocks and max(len(line) for block in blocks for line in block.split("\n")) <= 32
    shown = embed_text(await ask(fake_discord, "fleet", user_id=MINER))
    assert "Fleet: 1 line, 40 machines" in shown and not added.ephemeral

    await subscribe_fleet(fake_discord)
    await price_polls(fake_discord, fake_upstreams, 2)  # the line's advice is taken silently first
    move_price(fake_upstreams, 79_000)
    [alert] = await fake_discord.wait_for(lambda: alerts_in(fake_discord, ALERTS), timeout=15)
    assert (
        "🔔 Fleet line #1 · north: ⛔ Switch off the 40 Antminer S19j Pro: -$0.08 per machine per day at "
        "$0.0550/kWh; they turn positive above $80.5k BTC or below $0.0540/kWh."
    ) in alert
    await price_polls(fake_discord, fake_upstreams, 3)
    assert len(alerts_in(fake_discord, ALERTS)) == 1

    question = await ask(fake_discord, "fleet", {"change": "clear"}, user_id=ADMIN)
    assert custom_ids(question) == ["mw:/fleet clear yes", "mw:/fleet clear no"]
    cleared = await press(fake_discord, question, "mw:/fleet clear yes", user_id=ADMIN)
    assert "Removed 1 line." in embed_text(cleared)


async def subscribe_fleet(fake: FakeDiscord) -> None:
    reply = await ask(fake, "subscribe", {"rule": "fleet"}, user_id=ADMIN)
    assert "switched off or on again" in embed_text(reply) and not reply.ephemeral


async def test_channel_gets_one_alert_per_crossing(
    bot: BotApp, fake_discord: FakeDiscord, fake_upstreams: FakeUpstreams
) -> None:
    await market_ready(fake_discord)
    await subscribe(fake_discord, "price below 80k")
    move_price(fake_upstreams, 79_000)
    first = await fake_discord.wait_for(lambda: alerts_in(fake_discord, ALERTS), timeout=10)
    assert "price below $80,000" in first[0] and "$79,000" in first[0]
    await price_polls(fake_discord, fake_upstreams, 3)  # the price stays below: no second alert
    move_price(fake_upstreams, 78_000)
    await price_polls(fake_discord, fake_upstreams, 2)
    assert len(alerts_in(fake_discord, ALERTS)) == 1


async def test_dm_subscription_alerts_once(
    bot: BotApp, fake_discord: FakeDiscord, fake_upstreams: FakeUpstreams
) -> None:
    await market_ready(fake_discord)
    await subscribe(fake_discord, "price below 80k", dm_user_id=MINER, user_id=MINER)
    dm = fake_discord.dm_channel_id(MINER)
    move_price(fake_upstreams, 79_000)
    alert = await fake_discord.wait_for(lambda: alerts_in(fake_discord, dm), timeout=10)
    assert "$79,000" in alert[0]
    await price_polls(fake_discord, fake_upstreams, 3)
    assert len(alerts_in(fake_discord, dm)) == 1 and alerts_in(fake_discord, ALERTS) == []


@pytest.mark.parametrize("via", [True, False], ids=["discord.py-waits", "outbox-waits"])
async def test_rate_limited_send_arrives_after_the_wait(
    bot: BotApp, fake_discord: FakeDiscord, fake_upstreams: FakeUpstreams, via: bool
) -> None:
    """With ``Via`` discord.py sleeps and retries itself; without it raises and the outbox waits."""
    await market_ready(fake_discord)
    await subscribe(fake_discord, "price below 80k")
    fake_discord.fail(ALERTS, Fault.RATE_LIMITED, retry_after=1.5, via=via)
    move_price(fake_upstreams, 79_000)
    await fake_discord.wait_for(lambda: alerts_in(fake_discord, ALERTS), timeout=15)
    refused, delivered = fake_discord.calls(MESSAGES, channel_id=ALERTS)
    assert (refused.status, delivered.status) == (429, 200)
    assert delivered.time - refused.time >= 1.5
    await price_polls(fake_discord, fake_upstreams, 2)
    assert len(alerts_in(fake_discord, ALERTS)) == 1


def dm_alerts(channel_ids: list[int]) -> Callable[[Connection], None]:
    """One personal alert queued for each DM channel, as an evaluation that fired leaves it."""

    def queue(db: Connection) -> None:
        now = time.time()
        rows = []
        for channel_id in channel_ids:
            chat = upsert_chat(db, "discord", str(channel_id), ChatKind.DM, now)
            rows.append(
                NewMessage(f"alert|{chat.id}", chat.id, "discord", str(channel_id), "test", "🔔 alert")
            )
        enqueue(db, rows, now)

    return queue


async def test_alerts_to_uncached_dms_stay_within_the_global_limit(
    bot: BotApp, fake_discord: FakeDiscord
) -> None:
    """Discord counts every REST request but interaction ones against a bot's 50/s: an alert to a DM the
    client has not cached (after a restart) is one request, not a channel fetch and then the message."""
    assert bot.store is not None and bot.worker is not None
    dms = [fake_discord.dm_channel_id(user) for user in range(4001, 4121)]
    await bot.store.atomic(dm_alerts(dms))
    bot.worker.notify()
    await fake_discord.wait_for(lambda: all(alerts_in(fake_discord, dm) for dm in dms), timeout=20)
    assert [len(alerts_in(fake_discord, dm)) for dm in dms] == [1] * len(dms)
    rest = sorted(c.time for c in fake_discord.calls() if c.channel_id in dms)
    assert max(bisect.bisect_left(rest, at + 1.0) - n for n, at in enumerate(rest)) <= GLOBAL_PER_S
    assert len(rest) == len(dms)  # no GET /channels/{id} first


async def test_deleted_channel_deactivates_its_subscriptions(bot: BotApp, fake_discord: FakeDiscord) -> None:
    await subscribe(fake_discord, "price below 80k", channel_id=GENERAL)
    await subscribe(fake_discord, "price below 70k", channel_id=ALERTS)
    fake_discord.delete_channel(GENERAL)
    await wait_inactive(bot, GENERAL)
    assert (await chats(bot))[str(ALERTS)] == 1
    subscriptions = await bot.store.run(
        lambda db: list(
            db.fetch(
                "SELECT c.chat_id, s.active FROM subscriptions s JOIN chats c ON c.id = s.chat_ref",
            )
        )
    )
    assert {(row["chat_id"], row["active"]) for row in subscriptions} == {(str(GENERAL), 0), (str(ALERTS), 1)}


async def test_removal_from_a_server_deactivates_its_channels(bot: BotApp, fake_discord: FakeDiscord) -> None:
    await subscribe(fake_discord, "price below 80k", channel_id=GENERAL)
    await subscribe(fake_discord, "price below 70k", channel_id=ALERTS)
    await subscribe(fake_discord, "price below 60k", dm_user_id=MINER, user_id=MINER)
    fake_discord.remove_from_guild(GUILD_ID)
    await wait_inactive(bot, GENERAL, ALERTS)
    assert (await chats(bot))[str(fake_discord.dm_channel_id(MINER))] == 1


@pytest.mark.parametrize(
    ("fault", "active", "status"),
    [
        (Fault.MISSING_ACCESS, 0, "dropped"),
        (Fault.UNKNOWN_CHANNEL, 0, "dropped"),
        (Fault.MISSING_PERMISSIONS, 1, "dead"),
    ],
)
async def test_refused_send_deactivates_only_unreachable_chats(
    bot: BotApp,
    fake_discord: FakeDiscord,
    fake_upstreams: FakeUpstreams,
    fault: Fault,
    active: int,
    status: str,
) -> None:
    await market_ready(fake_discord)
    await subscribe(fake_discord, "price below 80k")
    fake_discord.fail(ALERTS, fault, count=None)
    move_price(fake_upstreams, 79_000)
    await fake_discord.wait_for(lambda: [c for c in fake_discord.calls(MESSAGES) if not c.ok], timeout=10)
    await eventually(lambda: outbox_statuses(bot), [status])
    assert (await chats(bot))[str(ALERTS)] == active


def http_error(
    kind: type[discord.HTTPException], status: int, code: int = 0, headers: dict[str, str] | None = None
) -> Exception:
    """What discord.py raises for an HTTP answer (its ``response`` needs only status, reason, headers)."""
    response = SimpleNamespace(status=status, reason="x", headers=headers or {})
    return kind(response, {"message": "x", "code": code})


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (http_error(discord.Forbidden, 403, 50001), outcomes.ChatGone),
        (http_error(discord.Forbidden, 403, 50007), outcomes.ChatGone),
        (http_error(discord.Forbidden, 403, 50013), outcomes.PermanentFailure),
        (http_error(discord.NotFound, 404, 10003), outcomes.ChatGone),
        (http_error(discord.HTTPException, 429, headers={"Retry-After": "7"}), outcomes.RetryAfter(7.0)),
        (discord.RateLimited(42.0), outcomes.RetryAfter(42.0)),
        (http_error(discord.DiscordServerError, 503), outcomes.TransientFailure),
        (http_error(discord.HTTPException, 400, 50035), outcomes.PermanentFailure),
        (TimeoutError(), outcomes.TransientFailure),
        (ConnectionResetError("reset"), outcomes.TransientFailure),
    ],
)
def test_errors_map_to_outbox_outcomes(error: Exception, outcome: object) -> None:
    mapped = outcome_of(error)
    assert mapped == outcome if not isinstance(outcome, type) else isinstance(mapped, outcome)


def test_run_as_a_process_serves_telegram_and_discord(
    tmp_path: Path, fake_upstreams: FakeUpstreams, fake_discord: FakeDiscord
) -> None:
    with FakeTelegram() as telegram:
        settings = {
            **fake_upstreams.settings_overrides(),
            **discord_settings(fake_discord),
            "telegram_token": telegram.token,
            "telegram_base_url": telegram.base_url,
        }
        process = start_run(bot_environment(tmp_path / "bot.db", settings))
        try:
            fake_discord.wait_for_sync(lambda: fake_discord.commands and fake_discord.connected, timeout=20)
            telegram.wait_for_sync(lambda: telegram.get_updates_calls, timeout=20)
            for _ in range(20):  # until the first poll stored a snapshot
                interaction_id = fake_discord.invoke("hashprice", channel_id=ALERTS)
                reply = fake_discord.wait_for_sync(
                    partial(fake_discord.responses_to, interaction_id), timeout=10
                )
                if "PH/day" in embed_text(reply[-1]):
                    break
                time.sleep(0.5)
            interaction_id = fake_discord.invoke("subscribe", {"rule": "price below 80k"}, user_id=ADMIN)
            reply = fake_discord.wait_for_sync(partial(fake_discord.responses_to, interaction_id), timeout=10)
            assert "Alert #" in embed_text(reply[-1])
            telegram.send_user_message(TELEGRAM_USER, "/subscribe price below 80k")
            telegram.wait_for_sync(
                lambda: any("Alert #" in (c.text or "") for c in telegram.messages_to(TELEGRAM_USER)),
                timeout=10,
            )
            move_price(fake_upstreams, 79_000)
            on_discord = fake_discord.wait_for_sync(lambda: alerts_in(fake_discord, ALERTS), timeout=15)
            on_telegram = telegram.wait_for_sync(
                lambda: [
                    c.text for c in telegram.messages_to(TELEGRAM_USER) if (c.text or "").startswith("🔔")
                ],
                timeout=15,
            )
            assert "$79,000" in on_discord[0] and "$79,000" in (on_telegram[0] or "")
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=15) == 0
            output = process.stdout.read() if process.stdout else ""
            assert fake_discord.token not in output and telegram.token not in output
        finally:
            if process.poll() is None:
                process.kill()
