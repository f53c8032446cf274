"""Storage behind one async facade: ``Store`` runs the sync repositories in its worker thread, on SQLite (the
embedded default) or PostgreSQL (``MINERWATCH_DATABASE_URL``); ``open_store(settings)`` opens the one the
settings name.

Repositories take a ``Connection`` (``bot.store.connection``): ``chats`` (chats, profiles), ``fleet`` (fleet
lines, tariffs), ``subscriptions`` (rules and their indexed evaluation), ``outbox`` (messages to deliver,
claimed with leases), ``fanouts``, ``snapshots`` (polls, daily series, engine state, event log).
"""

from bot.store.connection import Connection
from bot.store.db import StorageUnavailable, Store, StoreError, connect, default_db_path, open_store

__all__ = [
    "Connection",
    "StorageUnavailable",
    "Store",
    "StoreError",
    "connect",
    "default_db_path",
    "open_store",
]
