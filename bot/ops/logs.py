"""Logging: human-readable lines by default, one JSON object per line with ``MINERWATCH_LOG_FORMAT=json``.

Every root handler gets a ``RedactingFilter``: the configured secrets (chat tokens, the bitcoind password,
the webhook secret) and anything shaped like a bot token or URL credentials become ``***`` in the message,
its arguments, the formatted traceback and stack, so httpx's request lines
(``POST .../bot<TOKEN>/getUpdates``) and an exception quoting a token are safe to ship. ``protect`` puts
the same redaction on every other path that prints: uncaught exceptions (``sys.excepthook``,
``threading.excepthook``, ``sys.unraisablehook``), ``warnings`` (routed into logging) and logging's
last-resort handler.

Every root handler also gets a ``RepeatFilter``: a WARNING or worse that repeats (same logger, level, text
and exception) is written in full once, then at most one line per
``REPEAT_INTERVAL_S`` saying how many were held back, so a full disk or a lost database file cannot flood
the log with a traceback per poll.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import time
import traceback
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Literal, TextIO

from bot.config import Settings

LogFormat = Literal["text", "json"]
MASK = "***"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
MIN_SECRET_CHARS = 4
"""Shorter configured values are not masked by value: masking them everywhere would garble every line."""
TOKEN_PATTERNS = (
    r"(?<![0-9])[0-9]{3,}:[A-Za-z0-9_-]{20,}",  # Telegram: <bot id>:<secret>, bare or in /bot<TOKEN>/
    r"[A-Za-z0-9_-]{23,28}\.[A-Za-z0-9_-]{6,7}\.[A-Za-z0-9_-]{27,}",  # Discord: <id>.<time>.<hmac>
    r"(?<=://)[^/\s@]+(?=@)",  # the user-info (user:password) of a URL
)
NOISY_LOGGERS = ("httpx", "httpcore", "apscheduler")
"""Chatty at INFO (every request, every job run); shown only at DEBUG."""
"""Log every request at INFO/DEBUG; kept at WARNING unless the level is DEBUG."""


class RedactingFilter(logging.Filter):
    """Masks secrets in a record before any handler formats it (the record is rewritten in place)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        values = sorted({s for s in secrets if len(s) >= MIN_SECRET_CHARS}, key=len, reverse=True)
        patterns = [re.escape(value) for value in values] + list(TOKEN_PATTERNS)
        self._pattern = re.compile("|".join(patterns))

    def redact(self, text: str) -> str:
        return self._pattern.sub(MASK, text)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.exc_info = None  # formatters fall back to the (redacted) exc_text
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


REPEAT_INTERVAL_S = 60.0
"""A repeated warning or error is written once in full, then at most one summary line per this many s."""
REPEAT_MEMORY = 1024
"""Distinct repeating messages remembered; the least recently seen is forgotten first."""


@dataclass(slots=True)
class _Run:
    last_written: float
    held: int = 0


class RepeatFilter(logging.Filter):
    """Holds back repeats of one WARNING+ message: the first in full, then a count every ``interval_s``.

    A record's verdict is kept on the record, so one record passed through several handlers counts once.
    Below ``min_level`` everything passes.
    """

    def __init__(
        self,
        interval_s: float = REPEAT_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
        min_level: int = logging.WARNING,
    ) -> None:
        super().__init__()
        self._interval_s = interval_s
        self._clock = clock
        self._min_level = min_level
        self._runs: dict[Hashable, _Run] = {}

    @staticmethod
    def _key(record: logging.LogRecord) -> Hashable:
        error = record.exc_info[1] if record.exc_info else None
        failure = None if error is None else (type(error).__name__, str(error))
        return record.name, record.levelno, record.getMessage(), failure

    def filter(self, record: logging.LogRecord) -> bool:
        verdict = getattr(record, "minerwatch_repeat_verdict", None)
        if verdict is None:
            verdict = record.levelno < self._min_level or self._admit(record)
            record.minerwatch_repeat_verdict = verdict
        return bool(verdict)

    def _admit(self, record: logging.LogRecord) -> bool:
        key, now = self._key(record), self._clock()
        run = self._runs.pop(key, None)
        if run is None or (run.held == 0 and now - run.last_written >= self._interval_s):
            self._remember(key, _Run(now))
            return True
        if now - run.last_written < self._interval_s:
            run.held += 1
            self._remember(key, run)
            return False
        record.msg = (
            f"{record.getMessage()} (repeated {run.held + 1} times in the last "
            f"{now - run.last_written:.0f} s; the first was logged in full)"
        )
        record.args, record.exc_info, record.exc_text, record.stack_info = None, None, None, None
        self._remember(key, _Run(now))
        return True

    def _remember(self, key: Hashable, run: _Run) -> None:
        self._runs[key] = run
        if len(self._runs) > REPEAT_MEMORY:
            del self._runs[next(iter(self._runs))]


class _RootHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler ``configure`` installs, so a second call replaces it instead of adding another."""


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message"[, "exception"][, "stack"]}`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False)


def configure(
    level: str = "INFO", fmt: LogFormat = "text", secrets: Iterable[str] = (), stream: TextIO | None = None
) -> logging.Handler:
    """Install one root handler (replacing the one installed before); hold back repeats and redact on every
    root handler."""
    root = logging.getLogger()
    for old_handler in [h for h in root.handlers if isinstance(h, _RootHandler)]:
        root.removeHandler(old_handler)
    handler = _RootHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root.addHandler(handler)
    root.setLevel(level)
    repeats = RepeatFilter()
    for each in root.handlers:
        for old in [f for f in each.filters if isinstance(f, RepeatFilter)]:
            each.removeFilter(old)
        each.addFilter(repeats)  # before the redactor, so a held-back record is not redacted for nothing
    _attach(RedactingFilter(secrets))
    noisy_level = logging.DEBUG if root.level <= logging.DEBUG else logging.WARNING
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(noisy_level)
    return handler


def _attach(redactor: RedactingFilter) -> None:
    """Put ``redactor`` on every root handler and on logging's last resort, replacing an older one."""
    handlers = [*logging.getLogger().handlers, *([logging.lastResort] if logging.lastResort else [])]
    for each in handlers:
        for old in [f for f in each.filters if isinstance(f, RedactingFilter)]:
            each.removeFilter(old)
        each.addFilter(redactor)


_redactor = RedactingFilter()


def redact(text: str) -> str:
    """``text`` with the secrets ``protect`` was given (and every token shape) masked."""
    return _redactor.redact(text)


def _print_exception(header: str, error: BaseException | None) -> None:
    text = header + ("".join(traceback.format_exception(error)) if error is not None else "")
    sys.stderr.write(redact(text))
    sys.stderr.flush()


def _excepthook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
    _print_exception("", value.with_traceback(tb))


def _thread_excepthook(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:  # as the default hook: a thread's SystemExit is silent
        return
    name = args.thread.name if args.thread is not None else threading.get_ident()
    _print_exception(f"Exception in thread {name}:\n", args.exc_value)


def _unraisablehook(unraisable: sys.UnraisableHookArgs) -> None:
    header = f"{unraisable.err_msg or 'Exception ignored in'}: {unraisable.object!r}\n"
    _print_exception(header, unraisable.exc_value)


def protect(secrets: Iterable[str] = ()) -> None:
    """Redact ``secrets`` (and token shapes) on every path that prints: log handlers, logging's last
    resort, uncaught exceptions in the main thread, other threads and finalizers, and warnings."""
    global _redactor
    _redactor = RedactingFilter(secrets)
    _attach(_redactor)
    sys.excepthook = _excepthook
    threading.excepthook = _thread_excepthook
    sys.unraisablehook = _unraisablehook
    logging.captureWarnings(True)


def setup_logging(settings: Settings, stream: TextIO | None = None) -> None:
    """Configure logging from ``MINERWATCH_LOG_LEVEL`` / ``MINERWATCH_LOG_FORMAT`` and protect every output
    path from the configured secrets."""
    configure(settings.log_level, settings.log_format, settings.secrets(), stream)
    protect(settings.secrets())
