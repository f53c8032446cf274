"""What a transport implements to deliver outbox messages, and the typed outcomes of one send."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.chat.kinds import ChatKind


@dataclass(frozen=True, slots=True)
class Destination:
    platform: str
    chat_id: str
    kind: ChatKind


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    text: str
    image_png: bytes | None = None
    broadcast: bool = False
    """The same message goes to every subscriber (a platform may send it on a paid broadcast tier)."""


@dataclass(frozen=True, slots=True)
class Sent:
    """Delivered."""


@dataclass(frozen=True, slots=True)
class RetryAfter:
    """The platform rate-limited the bot (HTTP 429): nothing goes to that platform for ``seconds``."""

    seconds: float


@dataclass(frozen=True, slots=True)
class ChatGone:
    """The chat blocked the bot, removed it, or no longer exists."""

    reason: str


@dataclass(frozen=True, slots=True)
class ChatMoved:
    """The chat has a new id (Telegram group upgraded to a supergroup); resend there."""

    new_chat_id: str


@dataclass(frozen=True, slots=True)
class TransientFailure:
    """Network error, timeout, 5xx: worth retrying later."""

    error: str


@dataclass(frozen=True, slots=True)
class PermanentFailure:
    """The platform refused this message (e.g. malformed); retrying cannot help."""

    error: str


SendOutcome = Sent | RetryAfter | ChatGone | ChatMoved | TransientFailure | PermanentFailure


class Notifier(Protocol):
    """One platform's sender; ``send`` maps every platform answer onto a ``SendOutcome``."""

    platform: str

    async def send(self, destination: Destination, message: OutboundMessage) -> SendOutcome: ...
