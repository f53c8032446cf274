"""The handlers' Telegram-flavoured HTML as Discord markdown (pure functions, no discord import).

Tags become markdown: ``<b>`` ``**``, ``<i>`` ``*``, ``<u>`` ``__``, ``<s>`` ``~~``, ``<code>`` backticks,
``<pre>`` a fenced block, ``<a href>`` ``[text](url)``; unknown tags are dropped, their text kept. Entities
are unescaped as the tags are converted, then text outside code is escaped only where Discord would read
it as markup: inline markers (``\\ * _ ~ ` |``), mention-like ``<@`` / ``<#`` / ``<t:``, a masked link's
``](`` and, at a line start, headings, quotes and list markers. Code keeps its characters as written.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from html.parser import HTMLParser

INLINE_MARKS = {
    "b": "**",
    "strong": "**",
    "i": "*",
    "em": "*",
    "u": "__",
    "ins": "__",
    "s": "~~",
    "strike": "~~",
    "del": "~~",
    "tg-spoiler": "||",
}
FENCE = "```"
_URL = re.compile(r"https?://[^\s<>]+")
_INLINE_SPECIAL = re.compile(r"[\\*_~`|]|<(?=[@#]|a?:\w+:\d|t:-?\d|/[-\w ]+:\d)|\](?=\()")
_LINE_START_MARK = re.compile(r"^([ \t]*(?:#{1,3}|-#|>{1,3}|[-*+]|\d+\.))(?=[ \t])", re.MULTILINE)
_FENCED = re.compile(r"```.*?```", re.DOTALL)
_TITLE_LINE = re.compile(r"\s*<b>([^<]+)</b>[ \t]*(?:\n|$)")


def escape_text(text: str) -> str:
    """Backslash-escape inline markdown in plain text; URLs stay as they are so they still link."""
    parts, position = [], 0
    for url in _URL.finditer(text):
        parts += [_INLINE_SPECIAL.sub(_backslash, text[position : url.start()]), url.group()]
        position = url.end()
    parts.append(_INLINE_SPECIAL.sub(_backslash, text[position:]))
    return "".join(parts)


def _backslash(match: re.Match[str]) -> str:
    return "\\" + match.group()


def _fenced(code: str, language: str = "") -> str:
    body = code.strip("\n").replace(FENCE, "`\u200b``")
    return f"{FENCE}{language}\n{body}\n{FENCE}"


def _inline_code(code: str) -> str:
    if not code:
        return ""
    if "\n" in code:
        return _fenced(code)
    ticks = "``" if "`" in code else "`"
    padded = f" {code} " if code.startswith("`") or code.endswith("`") else code
    return f"{ticks}{padded}{ticks}"


def _marked(mark: str, inner: str) -> str:
    """``inner`` between ``mark``s, its edge whitespace moved outside (``** x**`` does not render)."""
    core = inner.strip()
    if not core:
        return inner
    lead, trail = inner[: len(inner) - len(inner.lstrip())], inner[len(inner.rstrip()) :]
    return f"{lead}{mark}{core}{mark}{trail}"


class _Converter(HTMLParser):
    """Builds markdown with one buffer per open tag; a closed tag's buffer is wrapped into its parent's."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._open: list[tuple[str, dict[str, str], list[str]]] = [("", {}, [])]
        self._in_code = 0
        self._text: list[str] = []
        """Data since the last tag: the parser may split one text run into several calls."""

    def _flush(self) -> None:
        text = "".join(self._text)
        self._text.clear()
        if text:
            self._open[-1][2].append(text if self._in_code else escape_text(text))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._flush()
        if tag == "br":
            self._open[-1][2].append("\n")
            return
        self._open.append((tag, {name: value or "" for name, value in attrs}, []))
        self._in_code += tag in ("code", "pre")

    def handle_endtag(self, tag: str) -> None:
        self._flush()
        if any(name == tag for name, _, _ in self._open[1:]):
            while self._close() != tag:
                pass

    def handle_data(self, data: str) -> None:
        self._text.append(data)

    def _close(self) -> str:
        tag, attrs, parts = self._open.pop()
        self._in_code -= tag in ("code", "pre")
        parent_tag, parent_attrs, parent = self._open[-1]
        inner = "".join(parts)
        if tag == "code" and parent_tag == "pre":
            parent_attrs.setdefault("language", attrs.get("class", "").removeprefix("language-"))
            parent.append(inner)
        elif tag == "pre":
            parent.append(_fenced(inner, attrs.get("language", "")))
        elif tag == "code":
            parent.append(_inline_code(inner))
        elif tag in INLINE_MARKS:
            parent.append(_marked(INLINE_MARKS[tag], inner))
        elif tag == "a" and attrs.get("href", "").startswith(("https://", "http://")) and inner.strip():
            parent.append(f"[{inner}]({attrs['href']})")
        else:
            parent.append(inner)
        return tag

    def markdown(self) -> str:
        self.close()
        self._flush()
        while len(self._open) > 1:
            self._close()
        return "".join(self._open[0][2])


def _escape_mark(match: re.Match[str]) -> str:
    """``# `` -> ``\\# ``, ``1. `` -> ``1\\. `` (a backslash escapes punctuation only)."""
    mark = match.group(1)
    stripped = mark.rstrip(".")
    if stripped != mark:
        return f"{stripped}\\."
    indent = mark[: len(mark) - len(mark.lstrip())]
    return f"{indent}\\{mark.lstrip()}"


def _escape_line_starts(markdown: str) -> str:
    """Escape heading, quote and list markers that begin a line, outside fenced code."""
    pieces, position = [], 0
    for block in _FENCED.finditer(markdown):
        pieces += [_LINE_START_MARK.sub(_escape_mark, markdown[position : block.start()]), block.group()]
        position = block.end()
    pieces.append(_LINE_START_MARK.sub(_escape_mark, markdown[position:]))
    return "".join(pieces)


def to_markdown(html_text: str) -> str:
    """Telegram HTML (the handlers' subset) as Discord markdown."""
    converter = _Converter()
    converter.feed(html_text)
    return _escape_line_starts(converter.markdown())


def split_title(html_text: str) -> tuple[str | None, str]:
    """A first line that is all bold becomes the title (plain text); returns ``(title, rest)``."""
    line = _TITLE_LINE.match(html_text)
    if line is None or not line.group(1).strip():
        return None, html_text
    return html.unescape(line.group(1)).strip(), html_text[line.end() :]


def truncate(markdown: str, limit: int) -> str:
    """At most ``limit`` characters, ending in "…"; a code block cut open is closed again."""
    if len(markdown) <= limit:
        return markdown
    cut = markdown[: limit - 1] + "…"
    if cut.count(FENCE) % 2:
        cut = markdown[: limit - len(FENCE) - 2] + "…\n" + FENCE
    return cut


def table_fields(rows: Iterable[tuple[str, str]]) -> list[tuple[str, list[str]]]:
    """``(label, value)`` rows as ``(name, lines)`` fields: a labelled row opens a field, a heading opens
    one with no lines yet; a sub-row (label starting with a space) adds ``label: value`` to the open
    field, a row without a label adds its value as the next line."""
    fields: list[tuple[str, list[str]]] = []
    for label, value in rows:
        if not value:
            fields.append((label.strip(), []))
        elif not fields or (label and not label.startswith(" ")):
            fields.append((label.strip(), [value]))
        elif label:
            fields[-1][1].append(f"{label.strip()}: {value}")
        else:
            fields[-1][1].append(value)
    return fields


_EXAMPLE = re.compile(r"<code>/(?P<command>[a-z]+) (?P<args>[^<]+)</code>")


def slash_examples(html_text: str, options: Mapping[str, Sequence[str]]) -> str:
    """Typed examples in ``<code>`` (``/breakeven s19xp 5.5c``) as a slash command's options
    (``/breakeven machine:s19xp power:5.5c``): with one option it takes all the words; with two, a single
    word goes to the first, more words to the first but the last, which goes to the second (the handlers'
    examples of two-option commands give both). A command without options stays as it is."""

    def rewrite(match: re.Match[str]) -> str:
        names = options.get(match["command"], ())
        words = match["args"].split()
        if not names or not words:
            return match.group()
        if len(names) == 1 or len(words) == 1:
            values = [" ".join(words)]
        else:
            values = [" ".join(words[:-1]), words[-1]]
        filled = " ".join(f"{name}:{value}" for name, value in zip(names, values, strict=False))
        return f"<code>/{match['command']} {filled}</code>"

    return _EXAMPLE.sub(rewrite, html_text)
