"""The lean broadcast path's request body: what python-telegram-bot would send, as JSON."""

from __future__ import annotations

import json

from bot.transports.telegram_broadcast import BroadcastSender, answer_error


def test_the_body_has_the_chat_as_telegram_takes_it_and_the_flag_only_when_paid() -> None:
    sender = BroadcastSender("http://127.0.0.1/botX/sendMessage", 1, 1.0, lambda: None)
    text = '<b>Capitulation</b> — "BTC" < cost'
    assert json.loads(sender.body("-1001234", text, paid=True)) == {
        "chat_id": -1001234,
        "text": text,
        "parse_mode": "HTML",
        "allow_paid_broadcast": True,
    }
    assert json.loads(sender.body("@minerwatch_news", text, paid=False)) == {
        "chat_id": "@minerwatch_news",
        "text": text,
        "parse_mode": "HTML",
    }


def test_an_unparsable_error_answer_keeps_the_status() -> None:
    error = answer_error(502, b"<html>Bad Gateway</html>")
    assert type(error).__name__ == "NetworkError"
    assert str(error).startswith("Bad Gateway (502). Parsing the server response")
