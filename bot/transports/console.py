"""The console transport: commands typed on stdin, replies and pushed alerts printed with timestamps.

With no chat tokens configured ``minerwatch run`` serves this one "chat" so a fresh machine has a working
bot. It is also the outbox ``Notifier`` for platform ``console``.
"""

from __future__ import annotations

import asyncio
import html
import re
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TextIO

from bot.chat.commands import CommandSet, parse_command
from bot.chat.context import Chat, Services
from bot.chat.reply import Reply
from bot.delivery.notifier import Destination, OutboundMessage, SendOutcome, Sent, TransientFailure
from bot.render.table import compact_table

PLATFORM = "console"
CONSOLE_CHAT = Chat(platform=PLATFORM, chat_id="console", is_admin=True)
_TAG = re.compile(r"<[^>]+>")


def plain_text(html_text: str) -> str:
    """Telegram-style HTML to terminal text: tags dropped, entities unescaped."""
    return html.unescape(_TAG.sub("", html_text))


def live_stamp() -> str:
    """The current UTC time, as pushed alerts are stamped outside a replay."""
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def render_reply(reply: Reply) -> str:
    """The reply's text (a table as its title, aligned rows and notes), then its buttons as the commands
    they stand for."""
    table = reply.table
    if table is None:
        lines = [plain_text(reply.text)]
    else:
        lines = [table.title, compact_table(table.rows), *([plain_text(table.notes)] if table.notes else [])]
    for row in reply.buttons:
        lines.append("  " + "   ".join(f"[{button.label} → {button.data}]" for button in row))
    if reply.image_png is not None:
        lines.append(f"  (image, {len(reply.image_png):,} bytes)")
    return "\n".join(lines)


class ConsoleTransport:
    """Reads commands from ``stdin`` and writes to ``stdout``; ``send`` prints pushed alerts."""

    platform = PLATFORM

    def __init__(
        self,
        services: Services,
        commands: CommandSet,
        stdin: TextIO = sys.stdin,
        stdout: TextIO = sys.stdout,
        stamp: Callable[[], str] = live_stamp,
    ) -> None:
        self._services = services
        self._commands = commands
        self._stdin = stdin
        self._stdout = stdout
        self._stamp = stamp
        self._lines: asyncio.Queue[str | None] = asyncio.Queue()
        self.closed = asyncio.Event()
        """Set when stdout's reader went away (``minerwatch run | head``): the bot should stop."""

    def _print(self, text: str) -> bool:
        """Write a line; ``False`` (and ``closed`` set) once the reader of stdout has gone away."""
        if self.closed.is_set():
            return False
        try:
            self._stdout.write(text + "\n")
            self._stdout.flush()
        except BrokenPipeError:
            self.closed.set()
            return False
        return True

    async def send(self, destination: Destination, message: OutboundMessage) -> SendOutcome:
        """Print a pushed alert with its stamp (the UTC time; in a replay, the replayed day)."""
        if self._print(f"[{self._stamp()}] ALERT {plain_text(message.text)}"):
            return Sent()
        return TransientFailure("the console's output was closed")  # it waits in the outbox

    def announce(self, text: str) -> None:
        """Print a line from the bot itself (not a reply, not an alert)."""
        self._print(f"minerwatch: {text}")

    def _read_stdin(self, loop: asyncio.AbstractEventLoop) -> None:
        for line in self._stdin:
            loop.call_soon_threadsafe(self._lines.put_nowait, line)
        loop.call_soon_threadsafe(self._lines.put_nowait, None)

    async def serve(self, stop: asyncio.Event) -> None:
        """Answer typed commands until ``stop`` is set or stdin closes (then only alerts keep printing)."""
        loop = asyncio.get_running_loop()
        threading.Thread(target=self._read_stdin, args=(loop,), name="console-stdin", daemon=True).start()
        self._print("minerwatch console: type /help for commands, Ctrl-C to stop.")
        while not stop.is_set():
            line = await self._lines.get()
            if line is None:
                return
            await self.handle_line(line)

    async def handle_line(self, line: str) -> None:
        """Route one typed line through the handlers and print the reply."""
        if not line.strip():
            return
        request = parse_command(CONSOLE_CHAT, line if line.lstrip().startswith("/") else "/" + line.strip())
        if request is None:
            return
        reply = await self._commands.dispatch(request, self._services)
        self._print(render_reply(reply))
