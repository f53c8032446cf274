"""Open the store at a test's location, whichever backend it names (a SQLite path or a PostgreSQL URL)."""

from __future__ import annotations

from bot.store import Store, connect
from bot.store.connection import Adapter


def connect_to(location: str) -> Adapter:
    """A migrated sync connection to ``location`` (a SQLite path or a ``postgresql://`` URL)."""
    if location.startswith("postgresql://"):
        from bot.store.postgres import connect_postgresql

        return connect_postgresql(location)
    return connect(location)


async def open_at(location: str) -> Store:
    """The async store at ``location`` (a SQLite path or a ``postgresql://`` URL)."""
    if location.startswith("postgresql://"):
        return await Store.open_url(location)
    return await Store.open(location)
