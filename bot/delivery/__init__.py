"""Outbox delivery: ``OutboxWorker`` sends stored messages through each platform's ``Notifier``."""

from bot.delivery.notifier import (
    ChatGone,
    ChatMoved,
    Destination,
    Notifier,
    OutboundMessage,
    PermanentFailure,
    RetryAfter,
    SendOutcome,
    Sent,
    TransientFailure,
)
from bot.delivery.worker import OutboxWorker, exponential_backoff

__all__ = [
    "ChatGone",
    "ChatMoved",
    "Destination",
    "Notifier",
    "OutboundMessage",
    "OutboxWorker",
    "PermanentFailure",
    "RetryAfter",
    "SendOutcome",
    "Sent",
    "TransientFailure",
    "exponential_backoff",
]
