"""The store's errors: one line each, naming the database (a path, or a URL without its password)."""

from __future__ import annotations


class StoreError(Exception):
    """The database cannot be opened, reached or written; the message is one line naming it."""


class StorageUnavailable(StoreError):  # noqa: N818 (reads as the condition)
    """The database file was deleted or replaced while running: no change is accepted any more."""


def first_line(exc: BaseException) -> str:
    """The first non-empty line of an exception's message, else its type's name."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__
