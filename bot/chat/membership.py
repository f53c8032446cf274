"""Chat lifecycle events every transport reports: the bot was added, removed or blocked, a chat moved.

Kept apart from the command handlers: these come from platform updates, not from what a user typed.
"""

from __future__ import annotations

import time

from bot.chat.kinds import ChatKind
from bot.store import chats as chat_repo
from bot.store import outbox
from bot.store.connection import Connection
from bot.store.db import Store


async def chat_joined(store: Store, platform: str, chat_id: str, kind: ChatKind) -> None:
    """The bot was added to (or unblocked in) a chat: create or reactivate it with its subscriptions."""
    await store.run(chat_repo.upsert_chat, platform, chat_id, kind, time.time())


async def chat_left(store: Store, platform: str, chat_id: str, reason: str) -> None:
    """The bot was blocked or removed: the chat turns inactive and its pending alerts are dropped."""

    def leave(db: Connection) -> None:
        chat = chat_repo.find_chat(db, platform, chat_id)
        if chat is not None and chat.active:
            chat_repo.deactivate_chat(db, chat.id, reason)
            outbox.drop_for_chat(db, chat.id, reason)

    await store.atomic(leave)


async def chat_moved(store: Store, platform: str, old_chat_id: str, new_chat_id: str) -> None:
    """A Telegram group became a supergroup: keep its subscriptions and pending alerts under the new id."""

    def move(db: Connection) -> None:
        chat = chat_repo.find_chat(db, platform, old_chat_id)
        if chat is not None:
            chat_repo.migrate_chat(db, chat.id, new_chat_id)  # moves subscriptions and pending alerts

    await store.atomic(move)
