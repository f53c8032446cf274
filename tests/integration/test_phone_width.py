"""Every reply of every command, in every language and on every platform, reads on a phone: no line of a
monospace block (Telegram's <pre>/<code>, Discord's code, the console's table) is wider than 32
characters, table replies become Discord embed fields, and each platform gets its own wording."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import discord
import pytest

from bot.chat.commands import parse_command
from bot.chat.context import Chat, Request
from bot.chat.kinds import ChatKind
from bot.chat.reply import Reply
from bot.chat.services import StoreServices
from bot.config import Settings
from bot.data import load_difficulty_regression, load_history
from bot.render.table import PHONE_WIDTH, compact_table
from bot.sources.snapshot import AdjustmentEstimate, MarketSnapshot, NetworkState, PriceQuote, SourceOutcome
from bot.store.db import Store
from bot.store.snapshots import insert_snapshot, upsert_daily
from bot.transports import console
from bot.transports import discord as discord_transport
from handlers.router import COMMANDS, HANDLERS, MAX_ARGS_CHARS, dispatch

NOW = datetime(2026, 2, 5, 12, 0, tzinfo=UTC)
TAKEN = NOW - timedelta(minutes=5)
PLATFORMS = ("telegram", "discord", "console")

ARGUMENTS: dict[str, tuple[str, ...]] = {
    "start": ("",),
    "help": ("", "status"),
    "status": ("",),
    "breakeven": (
        "",
        "s19xp 5.5c",
        "21.5 0.06",
        "200TH@3500W $0.055",
        "Antminer S21 XP Hyd 0.05",
        "Whatsminer M60 6c",
        "antminer s99",
        "s19 banana$",
        "12/3 5c",
    ),
    "margin": ("", "s21 0.06", "17.5J/TH 5c", "s19 99c", "foo"),
    "cost": ("",),
    "stress": ("",),
    "hashprice": ("",),
    "difficulty": ("",),
    "machines": ("",),
    "chart": ("", "30d hashprice", "1y stress", "2y", "banana", "fleet"),
    "fleet": ("", "add s19jpro 40 5.5c site=north", "1", "set 1 s21 20 6c", "remove 9", "banana"),
    "tariff": ("", "add texas 0.045; 14:00-20:00 0.12 America/Chicago", "remove texas", "add bad"),
    "profile": (
        "",
        "s19xp 5.5c count 3 fee 2 uptime 97 pue 1.05",
        "count x",
        "fee 90",
        "uptime 0",
        "pue 9",
        "nonsense-machine",
    ),
    "lang": ("", "xx"),
    "subscribe": (
        "",
        "network",
        "network",
        "price below 60k",
        "margin below 0",
        "stress below 25 band 5 repeat every 6h",
        "breakeven above 8c every 30m",
        "pricee below 5",
        "zzz below 5",
        "price",
        "price below",
        "price below banana",
        "price below 60k louder",
    ),
    "alerts": ("",),
    "unsubscribe": ("", "x", "99", "1", "keep", "all", "all"),
}
"""Representative arguments for each command, errors included; order matters (alerts exist to list)."""


def snapshot() -> MarketSnapshot:
    """A full market: fees, hashrate and a retarget estimate, so every row of every table is present."""
    quote = PriceQuote(
        104_321.0,
        TAKEN,
        (SourceOutcome("coinbase", TAKEN, True, 104_321.0), SourceOutcome("kraken", TAKEN, True, 104_300.0)),
    )
    adjustment = AdjustmentEstimate(
        progress_pct=61.5,
        difficulty_change_pct=-12.3456,
        remaining_blocks=777,
        next_retarget_height=937_440,
        estimated_retarget_at=NOW + timedelta(days=5, hours=9),
        previous_retarget_pct=3.21,
        epoch_start_at=NOW - timedelta(days=8),
    )
    network = NetworkState(
        148.19e12,
        936_663,
        0.02345,
        1.067e21,
        adjustment,
        TAKEN,
        "mempool",
        (SourceOutcome("mempool", TAKEN, True),),
    )
    return MarketSnapshot(quote, network, TAKEN)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "bot.db")
    await opened.run(insert_snapshot, snapshot())
    await opened.run(upsert_daily, load_history(), "shipped")
    yield opened
    await opened.close()


@pytest.fixture
def services(store: Store) -> StoreServices:
    return StoreServices(store, Settings.model_validate({}), load_difficulty_regression(), clock=lambda: NOW)


def monospace_lines(text: str) -> list[str]:
    """Every line inside a <pre> or <code> element of Telegram HTML, as the user sees it."""
    blocks = re.findall(r"<(pre|code)>(.*?)</\1>", text, flags=re.DOTALL)
    return [line for _, block in blocks for line in html.unescape(block).split("\n")]


def discord_code_lines(embeds: list[discord.Embed]) -> list[str]:
    """Every line of a fenced code block in the embeds' descriptions and fields (inline code flows with the
    text on Discord, so it wraps like text)."""
    texts = [embed.description or "" for embed in embeds]
    texts += [f"{field.name}\n{field.value}" for embed in embeds for field in embed.fields]
    return [
        line
        for text in texts
        for block in re.findall(r"```(.*?)```", text, flags=re.DOTALL)
        for line in block.split("\n")
    ]


async def every_reply(services: StoreServices, chat: Chat) -> list[tuple[str, Reply]]:
    """Each command with each of its arguments, then an unknown command and an overlong one."""
    lines = [f"/{command} {args}".strip() for command, cases in ARGUMENTS.items() for args in cases]
    lines += ["/stauts", "/zzz", "/status " + "x" * (MAX_ARGS_CHARS + 1)]
    replies = []
    for line in lines:
        request = parse_command(chat, line)
        assert request is not None
        replies.append((line, await dispatch(request, services)))
    return replies


def test_every_command_has_representative_arguments() -> None:
    assert set(ARGUMENTS) == set(HANDLERS)


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("lang", ["en", "ru"])
async def test_no_monospace_line_is_wider_than_a_phone(
    services: StoreServices, store: Store, platform: str, lang: str
) -> None:
    chat = Chat(platform=platform, chat_id="42")
    await services.set_language(chat, lang)
    replies = await every_reply(services, chat)
    settings = Settings.model_validate({"discord_token": "not-used"})
    slash_options = discord_transport.DiscordTransport(settings, services, COMMANDS, store).slash_options
    tables = 0
    for line, reply in replies:
        wide = [text for text in monospace_lines(reply.text) if len(text) > PHONE_WIDTH]
        assert wide == [], f"{lang} {line}: {wide}"
        if platform == "discord":
            embeds, _, _ = discord_transport.render_reply(reply, slash_options)
            wide = [text for text in discord_code_lines(embeds) if len(text) > PHONE_WIDTH]
            assert wide == [], f"{lang} {line} on Discord: {wide}"
            if reply.table is not None:  # label -> value fields, no code block at all
                assert embeds[0].fields and not discord_code_lines(embeds), line
        if reply.table is not None:
            tables += 1
            table_lines = compact_table(reply.table.rows).split("\n")
            assert all(len(text) <= PHONE_WIDTH for text in table_lines), f"{lang} {line}"
            if platform == "console":
                printed = console.render_reply(reply)
                assert all(text in printed for text in table_lines) and "<" not in printed
    assert tables >= 12  # status, every breakeven and margin that worked, cost, stress, machines


async def test_table_replies_carry_their_explanations_outside_the_block(services: StoreServices) -> None:
    chat = Chat(platform="telegram", chat_id="42")
    for lang, label, note in (
        ("en", "Cost per BTC", "Regression: market cap"),
        ("ru", "Себестоимость", "Регрессия:"),
    ):
        await services.set_language(chat, lang)
        request = parse_command(chat, "/status")
        assert request is not None
        reply = await dispatch(request, services)
        pre = "\n".join(monospace_lines(reply.text))
        assert label in pre and note not in pre and note in reply.text.split("</pre>")[1]
        assert "UTC" in pre  # the retarget's ETA fits in the value column


WORDING: dict[str, dict[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    "en": {
        "telegram": (("Tap a button", "only administrators"), ()),
        "discord": (
            ("Press a button below", "Manage Channels permission", "this channel"),
            ("Tap", "administrator", "this chat"),
        ),
        "console": (("Type one of the commands below",), ("Tap", "Press", "button")),
    },
    "ru": {
        "telegram": (("Нажмите кнопку", "только администраторы"), ()),
        "discord": (
            ("Нажмите кнопку ниже", "«Управлять каналами»", "этого канала"),
            ("администратор", "этом чате", "этого чата"),
        ),
        "console": (("Введите одну из команд ниже",), ("Нажмите", "кнопк")),
    },
}
"""Per language and platform: what its texts must say, and what they must not."""


@pytest.mark.parametrize("lang", ["en", "ru"])
@pytest.mark.parametrize("platform", PLATFORMS)
async def test_each_platform_gets_its_own_wording(services: StoreServices, lang: str, platform: str) -> None:
    """Discord and the console have no "tap", Discord no "administrators": its check is Manage Channels;
    the console has no buttons, only the commands they stand for."""
    kind = ChatKind.CHANNEL if platform == "discord" else ChatKind.GROUP
    admin = Chat(platform=platform, chat_id="-7", kind=kind, is_admin=True)
    member = Chat(platform=platform, chat_id="-7", kind=kind, is_admin=False)
    await services.set_language(admin, lang)
    texts = []
    for chat, line in (
        (admin, "/subscribe"),
        (admin, "/subscribe network"),
        (admin, "/subscribe network"),
        (admin, "/unsubscribe"),
        (admin, f"/lang {lang}"),
        (member, "/profile s19 5c"),
    ):
        reply = await dispatch(Request(chat, line.split()[0][1:], " ".join(line.split()[1:])), services)
        texts.append(reply.text if platform != "console" else console.render_reply(reply))
    text = "\n".join(texts)
    required, banned = WORDING[lang][platform]
    assert all(word in text for word in required), text
    assert not any(word in text for word in banned), text
