"""Logs: text or JSON lines, and no token or password ever reaches a log line (httpx, tracebacks, args)."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from bot.config import Settings
from bot.ops.logs import RedactingFilter, RepeatFilter, configure, setup_logging

TELEGRAM_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
DISCORD_TOKEN = "MTA4NzQ1Njc4OTAxMjM0NTY3OA.GhIjKl.abcdefghijklmnopqrstuvwxyz0123456789AB"
PASSWORD = "hunter2-rpc-password"
SECRETS = (TELEGRAM_TOKEN, DISCORD_TOKEN, PASSWORD)

log = logging.getLogger("minerwatch.test")


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    filters = {handler: list(handler.filters) for handler in handlers}
    noisy = {name: logging.getLogger(name).level for name in ("httpx", "httpcore")}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for handler, kept in filters.items():
        handler.filters[:] = kept
    for name, noisy_level in noisy.items():
        logging.getLogger(name).setLevel(noisy_level)


class _NotFound(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # keep the server quiet
        pass


@pytest.fixture
def loopback() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def settings(fmt: str) -> Settings:
    return Settings.model_validate(
        {
            "telegram_token": TELEGRAM_TOKEN,
            "discord_token": DISCORD_TOKEN,
            "bitcoind_password": PASSWORD,
            "log_level": "DEBUG",
            "log_format": fmt,
        }
    )


def exercise(base_url: str) -> None:
    """Real code paths that carry the secrets: httpx request logs, an HTTP error, log args, tracebacks."""
    url = f"{base_url}/bot{TELEGRAM_TOKEN}/getMe"
    with httpx.Client() as client:
        response = client.get(url)
    try:
        response.raise_for_status()  # its message quotes the URL
    except httpx.HTTPStatusError:
        log.exception("telegram call failed")
    try:
        raise RuntimeError(f"discord login with {DISCORD_TOKEN} refused; rpc password {PASSWORD}")
    except RuntimeError:
        log.exception("login failed")
    log.warning("token %s, url %s", TELEGRAM_TOKEN, url)
    log.info("stack here", stack_info=True, extra={"ignored": TELEGRAM_TOKEN})


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_no_secret_reaches_any_log_line(fmt: str, loopback: str) -> None:
    out = io.StringIO()
    setup_logging(settings(fmt), stream=out)
    exercise(loopback)
    text = out.getvalue()
    assert "HTTP Request: GET" in text, "httpx's request line was logged"
    assert "Traceback" in text and "RuntimeError" in text and "HTTPStatusError" in text
    assert "/bot***/getMe" in text
    for secret in SECRETS:
        assert secret not in text
    assert "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw" not in text
    if fmt == "json":
        entries = [json.loads(line) for line in text.splitlines()]
        assert {"time", "level", "logger", "message"} <= entries[0].keys()
        assert any("exception" in entry for entry in entries)


def test_other_handlers_get_the_filter_too(loopback: str, caplog: pytest.LogCaptureFixture) -> None:
    setup_logging(settings("text"), stream=io.StringIO())
    exercise(loopback)
    captured = caplog.text + "".join(str(r.exc_text) for r in caplog.records)
    assert "login failed" in captured
    for secret in SECRETS:
        assert secret not in captured


def test_tokens_are_masked_by_shape_when_not_configured() -> None:
    redact = RedactingFilter().redact
    assert redact("POST https://api.telegram.org/bot987654:ABCdefGHIjklMNOpqrSTUvwx_yz-0123/send") == (
        "POST https://api.telegram.org/bot***/send"
    )
    assert redact(f"Authorization: Bot {DISCORD_TOKEN}") == "Authorization: Bot ***"
    assert redact("http://rpcuser:s3cret@127.0.0.1:8332/") == "http://***@127.0.0.1:8332/"
    assert (
        redact("difficulty 1.2e14 at 12:30:45, height 925000")
        == "difficulty 1.2e14 at 12:30:45, height 925000"
    )


def test_short_configured_values_are_not_masked_everywhere() -> None:
    assert RedactingFilter(["abc", "longer-secret"]).redact("abc longer-secret") == "abc ***"


def test_configure_replaces_its_own_handler_and_quietens_httpx() -> None:
    configure("INFO", "text", stream=io.StringIO())
    configure("INFO", "json", stream=io.StringIO())
    root = logging.getLogger()
    assert sum(type(h).__name__ == "_RootHandler" for h in root.handlers) == 1
    assert logging.getLogger("httpx").level == logging.WARNING
    configure("DEBUG", "text", stream=io.StringIO())
    assert logging.getLogger("httpx").level == logging.DEBUG


def test_text_format_is_one_readable_line() -> None:
    out = io.StringIO()
    configure("INFO", "text", stream=out)
    log.info("database %s", "/data/minerwatch.db")
    assert out.getvalue().rstrip().endswith("INFO minerwatch.test: database /data/minerwatch.db")


def _disk_full() -> None:
    try:
        raise OSError(28, "No space left on device")
    except OSError:
        log.exception("job poll_price failed; it runs again at its next time")


def test_a_full_disk_writes_one_traceback_not_seventy_six() -> None:
    """The measured flood: ~76 identical tracebacks in 45 s. Now one, and nothing else within a minute."""
    stream = io.StringIO()
    configure("INFO", "text", (), stream)
    for _ in range(76):
        _disk_full()
    log.info("an info line is never held back")
    lines = stream.getvalue().splitlines()
    assert sum("Traceback" in line for line in lines) == 1
    assert sum("job poll_price failed" in line for line in lines) == 1
    assert lines[-1].endswith("an info line is never held back")


def test_repeats_are_counted_once_per_interval() -> None:
    now = [0.0]
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RepeatFilter(interval_s=60, clock=lambda: now[0]))
    handler.addFilter(RedactingFilter())
    quiet = logging.getLogger("minerwatch.test.repeats")
    quiet.addHandler(handler)
    quiet.propagate = False
    try:
        for second in range(0, 150, 2):  # 75 errors, one every 2 s
            now[0] = float(second)
            quiet.error("storage unavailable: %s", "database file /data/bot.db was deleted")
        quiet.error("another error is its own run")
    finally:
        quiet.removeHandler(handler)
    assert stream.getvalue().splitlines() == [
        "storage unavailable: database file /data/bot.db was deleted",
        "storage unavailable: database file /data/bot.db was deleted"
        " (repeated 30 times in the last 60 s; the first was logged in full)",
        "storage unavailable: database file /data/bot.db was deleted"
        " (repeated 30 times in the last 60 s; the first was logged in full)",
        "another error is its own run",
    ]


def test_a_record_through_two_handlers_counts_once() -> None:
    repeats = RepeatFilter(clock=lambda: 0.0)
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "same", None, None)
    assert repeats.filter(record) and repeats.filter(record)  # second handler, same record
    again = logging.LogRecord("x", logging.ERROR, __file__, 1, "same", None, None)
    assert not repeats.filter(again)
