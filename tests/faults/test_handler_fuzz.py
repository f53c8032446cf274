"""Fuzz every handler through ``handlers.router.dispatch`` (real StoreServices, temp store, stored snapshot).

Generated arguments mix unicode, very long text, HTML and Markdown injection and hostile numbers. Every
reply must come from the handler itself (never the router's "something went wrong"), fit Telegram's
limits (4,096 characters, 1,024 for a photo caption, 64-byte button data) and parse as Telegram HTML with
the user's text only ever escaped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.alerts.rules import MAX_RULES_PER_CHAT
from bot.chat.commands import parse_command
from bot.chat.context import Chat
from bot.chat.kinds import ChatKind
from bot.chat.reply import Reply
from bot.chat.services import StoreServices
from bot.config import Settings
from bot.data import load_difficulty_regression, load_history
from bot.render.i18n import SUPPORTED, t
from bot.store import Store
from bot.store.snapshots import insert_snapshot, upsert_daily
from handlers.router import HANDLERS, dispatch
from tests.fakes.telegram_api import _parse_html
from tests.faults.conftest import START, market_snapshot

TEXT_LIMIT, CAPTION_LIMIT, CALLBACK_DATA_BYTES = 4096, 1024, 64
INTERNAL_ERRORS = frozenset(t(lang, "error.internal") for lang in SUPPORTED)
PLANTED = ("<u>", "<s>", "<tg-spoiler>", '<a href="http://evil.example">', "<span class=tg-spoiler>")
"""Tags a user might type that no reply template uses: if one shows up in a reply, it was not escaped."""
CHATS = (
    Chat(platform="telegram", chat_id="31"),
    Chat(platform="telegram", chat_id="-1032", kind=ChatKind.SUPERGROUP, is_admin=True),
    Chat(platform="telegram", chat_id="-1033", kind=ChatKind.GROUP, is_admin=False),
)

INJECTIONS = st.sampled_from(
    [
        *PLANTED,
        "</pre>",
        "<b>",
        "</b>",
        "<pre><code>",
        "&amp;",
        "&lt;",
        "&#0;",
        "&#x110000;",
        "&bogus;",
        "<",
        ">",
        "&",
        '"',
        "*bold*",
        "_it_",
        "`code`",
        "```",
        "[link](http://evil.example)",
        "||spoiler||",
        "\\",
        "@minerwatch_test_bot",
        "/start",
        "\x00",
        "\u202e",
        "\u200b",
        "🔥",
        "𝟘",
    ]
)
NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.sampled_from(
        ["nan", "-nan", "inf", "-inf", "Infinity", "1e309", "-0", "0", "1e-320", "0x10", "1_000"]
    ),
)
UNITS = st.sampled_from(["", "k", "m", "%", "c", "¢", "$", "/kwh", "j/th", "th", "h", "d", "y", "min"])
NUMBER_TOKENS = st.builds(
    lambda sign, number, unit: f"{sign}{number}{unit}", st.sampled_from(["", "$", "-", "+"]), NUMBERS, UNITS
)
WORDS = st.sampled_from(
    [
        "price",
        "hashprice",
        "margin",
        "breakeven",
        "premium",
        "difficulty",
        "network",
        "below",
        "above",
        "<",
        ">",
        "band",
        "repeat",
        "every",
        "s19",
        "s19xp",
        "S21 Pro",
        "200TH@3500W",
        "17.5J/TH",
        "count",
        "fee",
        "uptime",
        "pue",
        "ru",
        "en",
        "1y",
        "30d",
        "9999y",
        "0d",
        "all",
    ]
)
TOKENS = st.one_of(WORDS, NUMBER_TOKENS, INJECTIONS, st.text(max_size=12))
ARGUMENTS = st.one_of(
    st.lists(TOKENS, max_size=8).map(" ".join),
    st.text(max_size=60),
    st.text(min_size=201, max_size=5000),
    st.lists(TOKENS, min_size=40, max_size=120).map(" ".join),
)


@dataclass
class Bench:
    """An event loop and the services it runs, shared by every example of the module."""

    loop: asyncio.AbstractEventLoop
    services: StoreServices

    def say(self, chat: Chat, line: str) -> Reply:
        request = parse_command(chat, line)
        assert request is not None
        return self.loop.run_until_complete(dispatch(request, self.services))


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bench]:
    loop = asyncio.new_event_loop()
    path: Path = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    store = loop.run_until_complete(Store.open(path))
    loop.run_until_complete(store.run(insert_snapshot, market_snapshot()))
    loop.run_until_complete(store.run(upsert_daily, load_history(), "shipped"))
    services = StoreServices(
        store, Settings.model_validate({}), load_difficulty_regression(), clock=lambda: START
    )
    yield Bench(loop, services)
    loop.run_until_complete(store.close())
    loop.close()


def check(reply: Reply, args: str) -> None:
    assert reply.text not in INTERNAL_ERRORS
    assert reply.text.strip(), "an empty reply cannot be sent"
    limit = CAPTION_LIMIT if reply.image_png is not None else TEXT_LIMIT
    assert len(reply.text) <= limit
    _parse_html(reply.text)  # raises Telegram's "can't parse entities" error
    for planted in PLANTED:
        if planted in args:
            assert planted not in reply.text
    for row in reply.buttons:
        for button in row:
            assert button.label.strip()
            assert 1 <= len(button.data.encode()) <= CALLBACK_DATA_BYTES, button.data


@pytest.mark.parametrize("command", sorted(HANDLERS))
@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(args=ARGUMENTS, chat=st.sampled_from(CHATS), mention=st.booleans())
def test_every_handler_survives_hostile_arguments(
    bench: Bench, command: str, args: str, chat: Chat, mention: bool
) -> None:
    name = f"/{command}@minerwatch_test_bot" if mention else f"/{command}"
    check(bench.say(chat, f"{name} {args}"), args)


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(line=st.one_of(st.text(max_size=80).map(lambda text: "/" + text), st.text(max_size=80)))
def test_any_line_is_a_command_or_nothing(bench: Bench, line: str) -> None:
    request = parse_command(CHATS[0], line)
    if request is not None:
        check(bench.loop.run_until_complete(dispatch(request, bench.services)), line)


def test_unicode_digits_are_not_an_alert_number(bench: Bench) -> None:
    check(bench.say(CHATS[0], "/unsubscribe ²"), "²")


def test_a_long_alert_list_fits_one_message(bench: Bench) -> None:
    """A chat full to the cap with the longest rules (and network news) still gets its list in one message;
    what does not fit is counted in an "… and N more" line."""
    chat = Chat(platform="telegram", chat_id="77")
    bench.say(chat, "/subscribe network")
    for n in range(MAX_RULES_PER_CHAT):
        check(bench.say(chat, f"/subscribe breakeven below 0.{1000 + n} band 0.0055 repeat every 23h"), "")
    check(bench.say(chat, "/subscribe price below 60k"), "")
    reply = bench.say(chat, "/alerts")
    check(reply, "")
    assert "… and" in reply.text
