"""Retention: delete per-poll snapshots and finished outbox rows older than their windows, in short chunks.

Windows (settings): snapshots ``MINERWATCH_SNAPSHOT_RETENTION_DAYS`` (30), sent outbox rows
``MINERWATCH_OUTBOX_SENT_RETENTION_DAYS`` (7, by send time), dead/dropped/expired outbox rows
``MINERWATCH_OUTBOX_FAILED_RETENTION_DAYS`` (30, by creation time). Never pruned: the daily series, the latest
snapshot, a pending or in-flight outbox row, chats, subscriptions, state and the event log. Each chunk of
``CHUNK_ROWS`` is its own short transaction, so the database thread serves other calls between chunks.
SQLite reuses the freed pages for new rows: with daily pruning the file stops growing; ``VACUUM`` shrinks it.
PostgreSQL's autovacuum does the same for its tables (https://www.postgresql.org/docs/current/routine-vacuuming.html).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Self

from bot.config import Settings
from bot.store import outbox, snapshots
from bot.store.connection import Connection
from bot.store.db import Store
from bot.store.outbox import OutboxStatus

log = logging.getLogger(__name__)

DAY_S = 86400.0
CHUNK_ROWS = 500


@dataclass(frozen=True, slots=True)
class Retention:
    """How long rows are kept, in days."""

    snapshot_days: float = 30.0
    outbox_sent_days: float = 7.0
    outbox_failed_days: float = 30.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        return cls(
            settings.snapshot_retention_days,
            settings.outbox_sent_retention_days,
            settings.outbox_failed_retention_days,
        )


@dataclass(frozen=True, slots=True)
class Cutoffs:
    """Unix times before which rows go: snapshots taken, outbox rows sent, failed outbox rows created."""

    snapshots_before: float
    sent_before: float
    failed_before: float

    @classmethod
    def at(cls, retention: Retention, now: float) -> Self:
        return cls(
            now - retention.snapshot_days * DAY_S,
            now - retention.outbox_sent_days * DAY_S,
            now - retention.outbox_failed_days * DAY_S,
        )


@dataclass(frozen=True, slots=True)
class Prunable:
    """Rows a prune removes: snapshots, and outbox rows per status."""

    snapshots: int
    outbox: dict[OutboxStatus, int]

    @property
    def total(self) -> int:
        return self.snapshots + sum(self.outbox.values())


def count_prunable(db: Connection, cutoffs: Cutoffs) -> Prunable:
    return Prunable(
        snapshots.count_old_snapshots(db, cutoffs.snapshots_before),
        outbox.count_prunable(db, cutoffs.sent_before, cutoffs.failed_before),
    )


def prune_chunk(db: Connection, cutoffs: Cutoffs, limit: int = CHUNK_ROWS) -> int:
    """Delete up to ``limit`` prunable rows, snapshots first; returns how many (0: nothing left)."""
    deleted = snapshots.prune_snapshots(db, cutoffs.snapshots_before, limit)
    if deleted < limit:
        deleted += outbox.prune(db, cutoffs.sent_before, cutoffs.failed_before, limit - deleted)
    return deleted


def prune(db: Connection, cutoffs: Cutoffs, limit: int = CHUNK_ROWS) -> int:
    """Delete every prunable row, chunk by chunk; returns how many (sync, for the command line)."""
    total = 0
    while deleted := prune_chunk(db, cutoffs, limit):
        total += deleted
    return total


async def prune_store(store: Store, retention: Retention, now: float, limit: int = CHUNK_ROWS) -> int:
    """The daily job: delete every prunable row, one chunk per database call; logs and returns how many."""
    cutoffs = Cutoffs.at(retention, now)
    started = time.monotonic()
    total = 0
    while deleted := await store.run(prune_chunk, cutoffs, limit):
        total += deleted
    log.info("retention: pruned %d row(s) in %.1f s", total, time.monotonic() - started)
    return total
