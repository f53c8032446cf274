"""Row locks that keep a chat's read-then-write changes whole when replicas share a PostgreSQL database."""

from __future__ import annotations

from bot.store.connection import Connection


def lock_chat(db: Connection, chat_ref: int) -> None:
    """Inside ``atomic``: hold the chat's row until the transaction ends, so another replica's change to the
    same chat (a cap checked then an insert, a rule replaced) waits for this one. Nothing on SQLite, whose
    single writer already serialises them."""
    db.execute(f"SELECT id FROM chats WHERE id = ?{db.for_update()}", [chat_ref])
