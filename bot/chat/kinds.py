"""The kinds of chat on every platform: one vocabulary for transports, handlers and the store (which
persists the values)."""

from __future__ import annotations

from enum import StrEnum


class ChatKind(StrEnum):
    """Telegram's chat types, a Discord DM or server channel (``DM``, ``CHANNEL``), the local console."""

    PRIVATE = "private"
    GROUP = "group"
    SUPERGROUP = "supergroup"
    CHANNEL = "channel"
    DM = "dm"
    CONSOLE = "console"


GROUP_KINDS = frozenset({ChatKind.GROUP, ChatKind.SUPERGROUP, ChatKind.CHANNEL})
