"""A one-line progress bar for long command-line work, drawn only on a terminal.

Redrawn in place with a carriage return; a pipe or a file (a log, CI) gets nothing, so the command's
real output stays clean there.
"""

from __future__ import annotations

from typing import TextIO

WIDTH = 30
"""Characters of the bar itself."""


class ProgressBar:
    """``bar(label, done, total)`` redraws ``label [=====     ] done/total``; a line ends when done."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._shown = stream.isatty()

    def __call__(self, label: str, done: int, total: int) -> None:
        if not self._shown:
            return
        filled = WIDTH if total <= 0 else WIDTH * done // total
        bar = "=" * filled + " " * (WIDTH - filled)
        self._stream.write(f"\r{label:<16}[{bar}] {done:,}/{total:,}")
        if done >= total:
            self._stream.write("\n")
        self._stream.flush()
