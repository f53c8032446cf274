"""Chat formatting: catalog texts with escaped values, reports as tables (``Table``) a phone can read."""

from __future__ import annotations

import html

from bot.chat.reply import Reply, Table
from bot.render.i18n import t
from bot.render.table import compact_table
from bot.reports.figures import Report

MAX_MESSAGE_CHARS = 4096
"""Telegram's limit for one message (Discord's is 2,000 for content but 4,096 for an embed description)."""


def html_t(lang: str, key: str, platform: str | None = None, /, **values: object) -> str:
    """The catalog text ``key`` (HTML markup allowed in the template) with every value HTML-escaped, in the
    platform's own wording where the catalog has one."""
    return t(lang, key, platform, **{name: html.escape(str(value)) for name, value in values.items()})


def table_html(table: Table) -> str:
    """``<b>title</b>``, the rows as a ``<pre>`` block no wider than a phone's screen, then the notes;
    every piece escaped, so user-typed names cannot inject tags."""
    text = f"<b>{html.escape(table.title)}</b>\n<pre>{html.escape(compact_table(table.rows))}</pre>"
    if table.notes:
        text += f"\n{table.notes}"
    return text[:MAX_MESSAGE_CHARS]


def table_reply(report: Report, footer: str = "") -> Reply:
    """A report as a ``Table`` reply: its notes (escaped) and ``footer`` (HTML) after the rows."""
    notes = "\n".join([*(html.escape(note) for note in report.notes), *([footer] if footer else [])])
    table = Table(report.title, tuple(report.rows), notes)
    return Reply(table_html(table), table=table)


def error_reply(lang: str, key: str, example: str | None = None, **values: object) -> Reply:
    """A one-line explanation (catalog ``key``) and, when given, a correct example on the next line."""
    text = html_t(lang, key, **values)
    if example:
        text += "\n" + html_t(lang, "error.example", example=example)
    return Reply(text, error=True)
