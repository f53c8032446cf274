"""Command name -> handler, run in the chat's language; ``COMMANDS`` is the set transports are given."""

from __future__ import annotations

import difflib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from bot.chat.context import Request, Services
from bot.chat.reply import Reply
from bot.ops.metrics import observe_command
from bot.render.i18n import resolve_language
from bot.store.db import StoreError
from handlers import chart, fleet, market, profile, subscriptions
from handlers import help as help_commands
from handlers.format import html_t

log = logging.getLogger(__name__)

Handler = Callable[[Request, Services], Awaitable[Reply]]

HANDLERS: dict[str, Handler] = {
    "start": help_commands.start,
    "help": help_commands.help_,
    "status": market.status,
    "breakeven": market.breakeven,
    "margin": market.margin,
    "cost": market.cost,
    "stress": market.stress,
    "hashprice": market.hashprice,
    "difficulty": market.difficulty,
    "machines": market.machines,
    "chart": chart.chart,
    "profile": profile.profile,
    "fleet": fleet.fleet,
    "tariff": fleet.tariff,
    "lang": profile.lang,
    "subscribe": subscriptions.subscribe,
    "alerts": subscriptions.alerts,
    "unsubscribe": subscriptions.unsubscribe,
}
MAX_ARGS_CHARS = 200


async def dispatch(request: Request, services: Services) -> Reply:
    """Run the handler for ``request`` in the chat's stored language (``request.chat.language`` is filled
    in before the handler runs); unknown commands and unexpected errors get a clear reply."""
    lang = request.chat.language
    try:
        lang = resolve_language(await services.language(request.chat))
        request = replace(request, chat=replace(request.chat, language=lang))
        started = time.perf_counter()
        reply = await _run(request, services)
        name = request.command if request.command in HANDLERS else "unknown"
        observe_command(name, time.perf_counter() - started)
        return reply
    except StoreError as error:  # nothing was saved, so nothing may be confirmed
        log.warning("handler /%s: %s", request.command, error)
        return Reply(html_t(lang, "error.storage"), error=True)
    except Exception:
        log.exception("handler /%s failed", request.command)
        return Reply(html_t(lang, "error.internal"), error=True)


async def _run(request: Request, services: Services) -> Reply:
    lang = request.chat.language
    handler = HANDLERS.get(request.command)
    if handler is None:
        close = difflib.get_close_matches(request.command, HANDLERS, n=1)
        key = "error.unknown_command_close" if close else "error.unknown_command"
        return Reply(
            html_t(lang, key, command=request.command[:40], close=close[0] if close else ""), error=True
        )
    if len(request.args) > MAX_ARGS_CHARS:
        return Reply(html_t(lang, "error.too_long", command=request.command), error=True)
    return await handler(request, services)


@dataclass(frozen=True, slots=True)
class HandlerCommands:
    """The handlers as the ``bot.chat.commands.CommandSet`` the composition root hands to transports."""

    quick_rules: tuple[str, ...] = subscriptions.QUICK_RULES

    async def dispatch(self, request: Request, services: Services) -> Reply:
        return await dispatch(request, services)

    def menu(self, lang: str) -> list[tuple[str, str]]:
        return help_commands.command_menu(lang)


COMMANDS = HandlerCommands()
"""Registered under the ``minerwatch.commands`` entry point (pyproject.toml)."""
