"""SQLite storage behind one async facade: ``Store`` runs the sync repositories in its worker thread.

Repositories: ``chats`` (chats, profiles), ``fleet`` (fleet lines, tariffs), ``subscriptions`` (rules and
their indexed evaluation), ``outbox`` (messages to deliver), ``snapshots`` (polls, daily series, engine
state, event log).
"""

from bot.store.db import StorageUnavailable, Store, StoreError, connect, default_db_path

__all__ = ["StorageUnavailable", "Store", "StoreError", "connect", "default_db_path"]
