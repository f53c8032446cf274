"""Typed lines into requests, and the command set every transport serves.

The commands themselves live in the ``handlers`` package, the outer layer: the core never imports it. The
composition root is handed a ``CommandSet``; ``installed_commands`` finds the one the distribution registers
under the ``minerwatch.commands`` entry-point group (pyproject.toml), the standard plug-in mechanism
(https://packaging.python.org/en/latest/specifications/entry-points/).
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Protocol

from bot.chat.context import Chat, Request, Services
from bot.chat.reply import Reply

ENTRY_POINT_GROUP = "minerwatch.commands"


class CommandSet(Protocol):
    """What a transport needs from the chat commands: run one, list them for a menu, suggest rules."""

    @property
    def quick_rules(self) -> tuple[str, ...]:
        """Ready-made alert rules a platform may offer as choices (``price below 60k``)."""
        ...

    async def dispatch(self, request: Request, services: Services) -> Reply:
        """Run ``request``'s command; every failure comes back as an error ``Reply``, never an exception."""
        ...

    def menu(self, lang: str) -> list[tuple[str, str]]:
        """``(command, short description)`` for every command, in ``lang``."""
        ...


class CommandsNotInstalledError(RuntimeError):
    """No distribution registers a command set: the package was not installed (``pip install -e .``)."""


def installed_commands() -> CommandSet:
    """The command set registered under ``minerwatch.commands`` (``chat = "handlers.router:COMMANDS"``)."""
    found = entry_points(group=ENTRY_POINT_GROUP, name="chat")
    if not found:
        raise CommandsNotInstalledError(
            f"no chat commands registered under the {ENTRY_POINT_GROUP!r} entry point: "
            "install minerwatch (make run does) instead of running it from a bare checkout"
        )
    commands: CommandSet = next(iter(found)).load()
    return commands


def split_command(text: str) -> tuple[str, str, str] | None:
    """``/breakeven@minerwatch_bot s19 5c`` -> ``("breakeven", "minerwatch_bot", "s19 5c")``; ``None`` when
    the text is not a command. A command with no name (``/`` alone, ``/@minerwatch_bot``) is ``help``."""
    stripped = text.strip()
    if not stripped.startswith("/"):
        return None
    head, _, args = stripped[1:].partition(" ")
    name, _, mention = head.partition("@")
    return name.lower() or "help", mention, args.strip()


def parse_command(chat: Chat, text: str) -> Request | None:
    """``/breakeven@minerwatch_bot s19 5c`` -> Request; ``None`` when the text is not a command."""
    parts = split_command(text)
    if parts is None:
        return None
    command, _, args = parts
    return Request(chat=chat, command=command, args=args)
