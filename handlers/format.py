"""Chat formatting: catalog texts with escaped values, reports as a bold title and an aligned table."""

from __future__ import annotations

import html

from bot.chat.reply import Reply
from bot.render.i18n import t
from bot.render.table import format_table
from bot.reports.figures import Report

MAX_MESSAGE_CHARS = 4096
"""Telegram's limit for one message (Discord's is 2,000 for content but 4,096 for an embed description)."""


def html_t(lang: str, key: str, **values: object) -> str:
    """The catalog text ``key`` (HTML markup allowed in the template) with every value HTML-escaped."""
    return t(lang, key, **{name: html.escape(str(value)) for name, value in values.items()})


def report_html(report: Report, footer: str = "") -> str:
    """``<b>title</b>`` then ``<pre>`` rows; every piece escaped, so user-typed names cannot inject tags."""
    table = html.escape(format_table(report.rows))
    text = f"<b>{html.escape(report.title)}</b>\n<pre>{table}</pre>"
    if footer:
        text += f"\n{footer}"
    return text[:MAX_MESSAGE_CHARS]


def error_reply(lang: str, key: str, example: str | None = None, **values: object) -> Reply:
    """A one-line explanation (catalog ``key``) and, when given, a correct example on the next line."""
    text = html_t(lang, key, **values)
    if example:
        text += "\n" + html_t(lang, "error.example", example=example)
    return Reply(text, error=True)
