"""Two-column tables: ``format_table`` for terminals, ``compact_table`` for a phone's monospace block.

A row is ``(label, value)``; a row whose value is empty is a section heading, and a row whose label is
empty continues the value above it.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable

PHONE_WIDTH = 32
"""Characters of a monospace line a phone shows without wrapping (about 32-36 at the default font size of
Telegram's and Discord's mobile apps); every chat table fits in it."""
MAX_LABEL = 12
"""A longer label gets a line of its own, its value on the next line under the value column."""


def format_table(rows: Iterable[tuple[str, str]], title: str | None = None) -> str:
    """Render ``(label, value)`` rows; a row whose value is empty is printed as a section heading."""
    materialised = list(rows)
    width = max((len(label) for label, value in materialised if value), default=0)
    lines = [title] if title else []
    for label, value in materialised:
        lines.append(f"{label:<{width}}  {value}" if value else label)
    return "\n".join(lines)


def _wrap(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width`` characters, broken at spaces (a no-break space holds a number
    and its unit together) and, for a word longer than a line, inside it."""
    return textwrap.wrap(text, width, break_on_hyphens=False) or [""]


def compact_table(rows: Iterable[tuple[str, str]], width: int = PHONE_WIDTH) -> str:
    """``(label, value)`` rows in lines of at most ``width`` characters: labels left, values aligned one
    space after the longest label of at most ``MAX_LABEL`` characters, long values wrapped under their
    column; a longer label, or a heading, takes a line of its own."""
    materialised = list(rows)
    column = max(
        (len(label) for label, value in materialised if value and len(label) <= MAX_LABEL), default=1
    )
    indent = " " * (column + 1)
    lines: list[str] = []
    for label, value in materialised:
        if not value:
            lines += _wrap(label, width)
            continue
        values = _wrap(value, width - len(indent))
        if len(label) > column:
            lines += _wrap(label, width)
            lines += [indent + line for line in values]
            continue
        lines.append(f"{label:<{column}} {values[0]}")
        lines += [indent + line for line in values[1:]]
    return "\n".join(line.rstrip() for line in lines)
