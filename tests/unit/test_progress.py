"""The command line's progress bar: drawn in place on a terminal, nothing on a pipe or file."""

from __future__ import annotations

import io

from bot.ops.progress import ProgressBar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_bar_redrawn_in_place_and_a_line_when_done() -> None:
    screen = Terminal()
    bar = ProgressBar(screen)
    bar("snapshots", 0, 2000)
    bar("snapshots", 1000, 2000)
    bar("snapshots", 2000, 2000)
    frames = screen.getvalue().split("\r")[1:]
    assert frames[1] == "snapshots       [" + "=" * 15 + " " * 15 + "] 1,000/2,000"
    assert frames[2] == "snapshots       [" + "=" * 30 + "] 2,000/2,000\n"


def test_an_empty_table_is_shown_complete() -> None:
    screen = Terminal()
    ProgressBar(screen)("state", 0, 0)
    assert screen.getvalue() == "\rstate           [" + "=" * 30 + "] 0/0\n"


def test_a_pipe_or_file_gets_nothing() -> None:
    piped = io.StringIO()
    ProgressBar(piped)("chats", 5, 10)
    assert piped.getvalue() == ""
