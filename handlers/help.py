"""/start and /help: what the bot does and every command with an example; the platforms' command menus."""

from __future__ import annotations

import html

from bot.chat.context import Request, Services
from bot.chat.reply import Reply
from bot.render.i18n import t
from handlers.format import html_t

COMMANDS: tuple[tuple[str, str], ...] = (
    ("status", "/status"),
    ("breakeven", "/breakeven s19xp 5.5c"),
    ("margin", "/margin s21 0.06"),
    ("cost", "/cost"),
    ("stress", "/stress"),
    ("hashprice", "/hashprice"),
    ("difficulty", "/difficulty"),
    ("chart", "/chart 1y price"),
    ("machines", "/machines"),
    ("profile", "/profile s19xp 5.5c count 3"),
    ("fleet", "/fleet add s19jpro 40 5.5c"),
    ("tariff", "/tariff add texas 0.045"),
    ("subscribe", "/subscribe price below 60k"),
    ("alerts", "/alerts"),
    ("unsubscribe", "/unsubscribe 2"),
    ("lang", "/lang ru"),
    ("help", "/help"),
)
"""Every command (names stay English in every language) with an example; descriptions are in the catalog
under ``command.NAME``."""
MAX_MENU_DESCRIPTION = 256
"""Telegram's limit for a ``BotCommand`` description (Discord's slash-command limit is 100)."""


def command_menu(lang: str) -> list[tuple[str, str]]:
    """``(command, short description)`` for every command, in ``lang``: Telegram's setMyCommands menu."""
    return [(name, t(lang, f"command.{name}")[:MAX_MENU_DESCRIPTION]) for name, _ in COMMANDS]


def help_text(lang: str) -> str:
    """The introduction, then each command with what it does and an example."""
    lines = [html_t(lang, "help.intro"), ""]
    lines += [
        f"/{name} — {html_t(lang, f'command.{name}')}\n   <code>{html.escape(example)}</code>"
        for name, example in COMMANDS
    ]
    lines += ["", html_t(lang, "help.values"), html_t(lang, "help.rules")]
    return "\n".join(lines)


async def start(request: Request, services: Services) -> Reply:
    """/start — the introduction and the first steps."""
    lang = request.chat.language
    return Reply(f"{html_t(lang, 'help.intro')}\n\n{html_t(lang, 'help.start')}")


async def help_(request: Request, services: Services) -> Reply:
    """/help — every command with an example."""
    return Reply(help_text(request.chat.language))
