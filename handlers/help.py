"""/start and /help: what the bot does and every command with an example."""

from __future__ import annotations

import html

from handlers.context import Request, Services
from handlers.reply import Reply

COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("status", "price, difficulty, hashprice, production cost, next adjustment", "/status"),
    ("breakeven", "breakeven power price and BTC price for a machine", "/breakeven s19xp 5.5c"),
    ("margin", "revenue, power cost and profit per day", "/margin s21 0.06"),
    ("cost", "the network's cost to produce one BTC (two models)", "/cost"),
    ("hashprice", "USD per PH/s per day and sats per TH/s per day", "/hashprice"),
    ("difficulty", "difficulty and the estimated next adjustment", "/difficulty"),
    ("machines", "the machine catalog", "/machines"),
    ("profile", "this chat's machine, power price, pool fee, uptime", "/profile s19xp 5.5c count 3"),
    ("subscribe", "capitulation/recovery news or your own threshold", "/subscribe price below 60k"),
    ("alerts", "this chat's alerts", "/alerts"),
    ("unsubscribe", "remove an alert (or all)", "/unsubscribe 2"),
    ("lang", "reply language: en or ru", "/lang ru"),
    ("help", "this list", "/help"),
)

INTRO = (
    "⛏ <b>minerwatch</b> tells miners whether their machines make money and warns when miners "
    "capitulate or recover: price against the network's production cost, hashprice, breakevens and "
    "difficulty, for your machine and your power price."
)


def help_text() -> str:
    lines = [INTRO, ""]
    lines += [
        f"/{name} — {html.escape(what)}\n   <code>{html.escape(example)}</code>"
        for name, what, example in COMMANDS
    ]
    lines.append(
        "\nRules: metric (price, hashprice, margin, breakeven, premium, difficulty) below|above value."
    )
    return "\n".join(lines)


async def start(request: Request, services: Services) -> Reply:
    """/start — the introduction and the first steps."""
    return Reply(f"{INTRO}\n\nStart with /status, set your machine with /profile, then /subscribe.")


async def help_(request: Request, services: Services) -> Reply:
    """/help — every command with an example."""
    return Reply(help_text())
