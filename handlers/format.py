"""Chat formatting of reports: a bold title and an aligned monospaced table, HTML-escaped."""

from __future__ import annotations

import html

from bot.render.table import format_table
from bot.reports import Report

MAX_MESSAGE_CHARS = 4096
"""Telegram's limit for one message (Discord's is 2,000 for content but 4,096 for an embed description)."""


def report_html(report: Report, footer: str = "") -> str:
    """``<b>title</b>`` then ``<pre>`` rows; every piece escaped, so user-typed names cannot inject tags."""
    table = html.escape(format_table(report.rows))
    text = f"<b>{html.escape(report.title)}</b>\n<pre>{table}</pre>"
    if footer:
        text += f"\n{footer}"
    return text[:MAX_MESSAGE_CHARS]


def error_html(message: str, example: str | None = None) -> str:
    """A one-line explanation and, when given, a correct example."""
    text = html.escape(message)
    if example:
        text += f"\nExample: <code>{html.escape(example)}</code>"
    return text
