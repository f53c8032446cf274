"""Command name -> handler, and parsing of a typed line into a ``Request``."""

from __future__ import annotations

import difflib
import html
import logging
from collections.abc import Awaitable, Callable

from handlers import help as help_commands
from handlers import market, profile, subscriptions
from handlers.context import Chat, Request, Services
from handlers.reply import Reply

log = logging.getLogger(__name__)

Handler = Callable[[Request, Services], Awaitable[Reply]]

HANDLERS: dict[str, Handler] = {
    "start": help_commands.start,
    "help": help_commands.help_,
    "status": market.status,
    "breakeven": market.breakeven,
    "margin": market.margin,
    "cost": market.cost,
    "hashprice": market.hashprice,
    "difficulty": market.difficulty,
    "machines": market.machines,
    "profile": profile.profile,
    "lang": profile.lang,
    "subscribe": subscriptions.subscribe,
    "alerts": subscriptions.alerts,
    "unsubscribe": subscriptions.unsubscribe,
}
MAX_ARGS_CHARS = 200


def parse_command(chat: Chat, text: str) -> Request | None:
    """``/breakeven@minerwatch_bot s19 5c`` -> Request; ``None`` when the text is not a command."""
    stripped = text.strip()
    if not stripped.startswith("/"):
        return None
    head, _, args = stripped[1:].partition(" ")
    command = head.split("@", 1)[0].lower()
    return Request(chat=chat, command=command, args=args.strip())


async def dispatch(request: Request, services: Services) -> Reply:
    """Run the handler for ``request``; unknown commands and unexpected errors get a clear reply."""
    handler = HANDLERS.get(request.command)
    if handler is None:
        close = difflib.get_close_matches(request.command, HANDLERS, n=1)
        hint = f" Did you mean /{close[0]}?" if close else ""
        return Reply(f"Unknown command /{html.escape(request.command[:40])}.{hint} See /help.", error=True)
    if len(request.args) > MAX_ARGS_CHARS:
        return Reply(f"That is too long for /{request.command}; see /help for examples.", error=True)
    try:
        return await handler(request, services)
    except Exception:
        log.exception("handler /%s failed", request.command)
        return Reply(
            "Sorry, something went wrong on my side; nothing was changed. Please try again.", error=True
        )
