"""What a handler returns: text (HTML), optional buttons, image or table. Transports only adapt it."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Button:
    """An inline button; ``data`` is the command text it stands for (``/subscribe price below 60k``)."""

    label: str
    data: str


@dataclass(frozen=True, slots=True)
class Table:
    """A titled table of ``(label, value)`` rows in plain text, and HTML ``notes`` shown after it.

    A row whose value is empty is a section heading; one whose label is empty continues the row above.
    Each transport lays it out for its platform: a compact ``<pre>`` block on Telegram, embed fields on
    Discord, aligned text on the console.
    """

    title: str
    rows: tuple[tuple[str, str], ...]
    notes: str = ""


@dataclass(frozen=True, slots=True)
class Reply:
    """A handler's answer. ``text`` is HTML-safe; ``error`` replies are shown privately where possible.

    With ``table``, ``text`` is the table already rendered as Telegram HTML (``handlers.format.table_reply``),
    so a transport that knows no better can still show ``text``.
    """

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    image_png: bytes | None = None
    error: bool = False
    extra: dict[str, str] = field(default_factory=dict)
    table: Table | None = None
