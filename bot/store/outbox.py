"""The outbox: every message is written here (one row per event and destination) before it is sent.

Rows go out by ``priority`` (``Priority``: personal alerts, then broadcasts; command replies do not queue
here, the transports send them at once), then by due time. A row goes ``pending -> sending -> sent``, or back
to ``pending`` (retry later), or ends ``dead`` (the platform refused it, with the reason), ``dropped`` (its
chat is gone) or ``expired`` (undelivered past the alert expiry). Per destination, rows are delivered strictly
in id order: only the oldest undelivered row of a destination may be claimed, and only when nothing of that
destination is in flight. ``sending`` is persisted when claimed, with a lease (``lease_until``), so after a
crash ``recover_inflight`` puts those rows back (one process) or, where replicas share the database, the next
claim after the lease runs out takes them again: a message whose send completed but whose ``sent`` mark was
lost goes out twice, nothing is lost. Concurrent claims never share a row (PostgreSQL: ``FOR UPDATE SKIP
LOCKED``; SQLite: one writer at a time). A destination's rows keep their order across priorities: a personal
alert queued behind a broadcast row of the same chat lifts that row to its own priority, so it waits for one
message, not for the whole broadcast. Retention (``prune``) deletes only finished rows, never a pending or
in-flight one.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Any

from bot.store.connection import Connection


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DEAD = "dead"
    DROPPED = "dropped"
    EXPIRED = "expired"


class Priority(IntEnum):
    """Which rows go first (lower first; 0 is kept for command replies, which are not queued today)."""

    PERSONAL = 1
    """An alert on a chat's own rule."""
    BROADCAST = 2
    """The same alert to every subscriber (network events, data notices)."""


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message to enqueue; ``dedupe_key`` is unique per (event, destination)."""

    dedupe_key: str
    chat_ref: int
    platform: str
    destination: str
    event_kind: str
    text: str
    image: bytes | None = None
    priority: Priority = Priority.PERSONAL


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    id: int
    dedupe_key: str
    chat_ref: int
    chat_kind: str
    platform: str
    destination: str
    event_kind: str
    text: str
    image: bytes | None
    status: OutboxStatus
    attempts: int
    """Failed send attempts so far."""
    next_attempt_at: float
    last_error: str | None
    created_at: float
    sent_at: float | None
    priority: Priority = Priority.PERSONAL


_UNDELIVERED = "('pending', 'sending')"
_SELECT = "SELECT o.*, c.kind AS chat_kind FROM outbox o JOIN chats c ON c.id = o.chat_ref"
LEASE_S = 300.0
"""How long a claim owns its rows: past it, a ``sending`` row (its claimer died mid-send) is claimed again."""


LEASE_RESET = """UPDATE outbox SET status = 'pending', lease_until = NULL
    WHERE status = 'sending' AND COALESCE(lease_until, 0) <= ?"""
"""In-flight rows whose lease ran out go back to pending (a lease from before m010 is NULL: run out)."""


def _is_head(db: Connection) -> str:
    return f"""NOT EXISTS (
    SELECT 1 FROM outbox e{db.indexed_by("outbox_destination")}
    WHERE e.destination = o.destination AND e.status IN {_UNDELIVERED} AND e.id < o.id
      AND e.platform = o.platform)"""


def _message(row: dict[str, Any]) -> OutboxMessage:
    return OutboxMessage(
        id=row["id"],
        dedupe_key=row["dedupe_key"],
        chat_ref=row["chat_ref"],
        chat_kind=row["chat_kind"],
        platform=row["platform"],
        destination=row["destination"],
        event_kind=row["event_kind"],
        text=row["text"],
        image=row["image"],
        status=OutboxStatus(row["status"]),
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        last_error=row["last_error"],
        created_at=row["created_at"],
        sent_at=row["sent_at"],
        priority=Priority(row["priority"]),
    )


def enqueue(db: Connection, messages: Iterable[NewMessage], now: float) -> int:
    """Insert the messages, due at ``now``; a repeated dedupe key is ignored. Returns how many were new.

    Undelivered rows of the same destination with a lower priority are lifted to the new message's, so
    per-destination order holds without making it wait behind a whole broadcast."""
    rows = list(messages)
    params = (
        (
            m.dedupe_key,
            m.chat_ref,
            m.platform,
            m.destination,
            m.event_kind,
            m.text,
            m.image,
            int(m.priority),
            now,
            now,
        )
        for m in rows
    )
    lifts = [
        (int(m.priority), m.destination, m.platform, int(m.priority))
        for m in rows
        if m.priority < Priority.BROADCAST
    ]
    with db.atomic():
        added = db.executemany(
            """INSERT INTO outbox (dedupe_key, chat_ref, platform, destination, event_kind, text, image,
                   priority, next_attempt_at, created_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING""",
            params,
        )
        if lifts:
            db.executemany(
                f"""UPDATE outbox SET priority = ? WHERE destination = ? AND platform = ?
                    AND status IN {_UNDELIVERED} AND priority > ?""",
                lifts,
            )
        return added


def _platforms(skip: Collection[str], only: str | None) -> tuple[str, list[str]]:
    """SQL condition and parameters restricting rows to ``only`` (when given) minus ``skip``."""
    sql, params = "", list(skip)
    if skip:
        sql += f" AND o.platform NOT IN ({','.join('?' * len(skip))})"
    if only is not None:
        sql += " AND o.platform = ?"
        params.append(only)
    return sql, params


def claim_due(
    db: Connection,
    now: float,
    limit: int,
    *,
    skip: Collection[str] = (),
    only: str | None = None,
    lease_s: float = LEASE_S,
) -> list[OutboxMessage]:
    """Mark ``sending``, leased until ``now + lease_s``, and return the head row of up to ``limit``
    destinations: by priority, then oldest due.

    A destination's head is its oldest pending-or-sending row; it is claimed only when pending and due,
    so a later message never overtakes an earlier one, even one waiting for a retry. A ``sending`` row whose
    lease ran out (its claimer died mid-send) is pending again, keeping its due time, and claimed anew.
    Concurrent claims (replicas on PostgreSQL) skip each other's rows (``FOR UPDATE SKIP LOCKED``), so no
    row goes to two claimers; SQLite has one writer at a time. Rows of the platforms in ``skip`` are left
    alone; with ``only``, only that platform's rows are claimed.
    """
    where, params = _platforms(skip, only)
    with db.atomic():
        db.execute(LEASE_RESET, [now])
        ids = [
            row[0]
            for row in db.execute(
                f"""SELECT o.id FROM outbox o{db.indexed_by("outbox_claim")}
                    WHERE o.status = 'pending' AND o.priority IN (0, 1, 2) AND o.next_attempt_at <= ?{where}
                      AND {_is_head(db)}
                    ORDER BY o.priority, o.next_attempt_at, o.id LIMIT ?{db.for_update(skip_locked=True)}""",
                [now, *params, limit],
            )
        ]
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        db.execute(
            f"UPDATE outbox SET status = 'sending', lease_until = ? WHERE id IN ({marks})",
            [now + lease_s, *ids],
        )
        claimed = {row["id"]: _message(row) for row in db.fetch(f"{_SELECT} WHERE o.id IN ({marks})", ids)}
    return [claimed[row_id] for row_id in ids]


def next_due_at(db: Connection, *, skip: Collection[str] = (), only: str | None = None) -> float | None:
    """When the earliest destination head becomes due (platforms as ``claim_due``); ``None``: none pending.
    Leases running out are not due times: a worker's idle poll finds those rows."""
    where, params = _platforms(skip, only)
    value: float | None = db.execute(
        f"SELECT MIN(o.next_attempt_at) FROM outbox o WHERE o.status = 'pending'{where} AND {_is_head(db)}",
        params,
    ).one()[0]
    return value


def get_message(db: Connection, row_id: int) -> OutboxMessage | None:
    rows = list(db.fetch(f"{_SELECT} WHERE o.id = ?", [row_id]))
    return _message(rows[0]) if rows else None


def counts(db: Connection) -> dict[OutboxStatus, int]:
    """Rows per status (every status present, zero when none)."""
    found = {
        row["status"]: row["n"] for row in db.fetch("SELECT status, COUNT(*) AS n FROM outbox GROUP BY 1")
    }
    return {status: found.get(status.value, 0) for status in OutboxStatus}


def mark_sent(db: Connection, row_id: int, now: float) -> None:
    mark_all_sent(db, [(row_id, now)])


def mark_all_sent(db: Connection, sent: Iterable[tuple[int, float]]) -> None:
    """Mark rows delivered, each ``(id, sent_at)``, in one statement (a round's sends, one commit)."""
    db.executemany(
        "UPDATE outbox SET status = 'sent', sent_at = ?, lease_until = NULL WHERE id = ?",
        ((at, i) for i, at in sent),
    )


def reschedule(db: Connection, row_id: int, at: float, error: str, *, count_attempt: bool = True) -> None:
    """Back to pending, due at ``at``, remembering ``error``; counts a failed attempt unless told not to."""
    db.execute(
        """UPDATE outbox SET status = 'pending', next_attempt_at = ?, last_error = ?,
               attempts = attempts + ?, lease_until = NULL WHERE id = ?""",
        [at, error, int(count_attempt), row_id],
    )


def release(db: Connection, row_id: int, at: float) -> None:
    """Un-claim a row nothing was attempted for (a rate limit defers it to ``at``)."""
    db.execute(
        "UPDATE outbox SET status = 'pending', next_attempt_at = ?, lease_until = NULL WHERE id = ?",
        [at, row_id],
    )


def retry_now(db: Connection, platform: str, now: float) -> int:
    """Make due at ``now`` every pending row of ``platform`` waiting to retry a failed send (the platform
    answers again after an outage); returns how many."""
    cursor = db.execute(
        """UPDATE outbox SET next_attempt_at = ?
           WHERE status = 'pending' AND platform = ? AND attempts > 0 AND next_attempt_at > ?""",
        [now, platform, now],
    )
    return cursor.rowcount


def dead_letter(db: Connection, row_id: int, reason: str) -> None:
    """Give up on a row after a failed attempt, keeping the reason."""
    db.execute(
        """UPDATE outbox SET status = 'dead', last_error = ?, attempts = attempts + 1, lease_until = NULL
           WHERE id = ?""",
        [reason, row_id],
    )


def drop_for_chat(db: Connection, chat_ref: int, reason: str) -> int:
    """Drop every undelivered row of a chat (it blocked the bot or vanished); returns how many."""
    cursor = db.execute(
        f"""UPDATE outbox SET status = 'dropped', last_error = ?, lease_until = NULL
            WHERE chat_ref = ? AND status IN {_UNDELIVERED}""",
        [reason, chat_ref],
    )
    return cursor.rowcount


def redirect(db: Connection, chat_ref: int, new_destination: str, *, new_chat_ref: int | None = None) -> int:
    """Point a chat's undelivered rows at its new id (and chat row, when it merged into another)."""
    cursor = db.execute(
        f"""UPDATE outbox SET destination = ?, chat_ref = ?
            WHERE chat_ref = ? AND status IN {_UNDELIVERED}""",
        [new_destination, chat_ref if new_chat_ref is None else new_chat_ref, chat_ref],
    )
    return cursor.rowcount


def recover_inflight(db: Connection) -> int:
    """At start-up: rows left ``sending`` by a crash go back to ``pending``, keeping their due time. Only
    where no other process may be sending (every row in flight is this process's own or a dead one's); where
    replicas may send, let the leases run out instead (``claim_due``)."""
    return db.execute(
        "UPDATE outbox SET status = 'pending', lease_until = NULL WHERE status = 'sending'"
    ).rowcount


@dataclass(frozen=True, slots=True)
class Expired:
    """A row given up on because it stayed undelivered past the expiry."""

    id: int
    platform: str
    destination: str
    event_kind: str
    created_at: float


def expire(db: Connection, created_before: float) -> list[Expired]:
    """Mark ``expired`` every pending row created before ``created_before``; returns them, oldest first."""
    with db.atomic():
        rows = db.execute(
            """SELECT id, platform, destination, event_kind, created_at FROM outbox
               WHERE status = 'pending' AND created_at < ? ORDER BY id""",
            [created_before],
        ).fetchall()
        expired = [Expired(*row) for row in rows]
        if expired:
            marks = ",".join("?" * len(expired))
            db.execute(
                f"""UPDATE outbox SET status = 'expired', last_error = 'expired undelivered'
                    WHERE id IN ({marks})""",
                [row.id for row in expired],
            )
    return expired


_PRUNABLE = """(status = 'sent' AND sent_at < :sent_before)
    OR (status IN ('dead', 'dropped', 'expired') AND created_at < :failed_before)"""


def count_prunable(db: Connection, sent_before: float, failed_before: float) -> dict[OutboxStatus, int]:
    """Finished rows ``prune`` would delete, per status: sent before ``sent_before``, dead, dropped or
    expired rows created before ``failed_before``."""
    found = dict(
        db.execute(
            f"SELECT status, COUNT(*) FROM outbox WHERE {_PRUNABLE} GROUP BY 1",
            {"sent_before": sent_before, "failed_before": failed_before},
        ).fetchall()
    )
    return {status: found.get(status.value, 0) for status in OutboxStatus if status.value in found}


def prune(db: Connection, sent_before: float, failed_before: float, limit: int) -> int:
    """Delete up to ``limit`` of the rows ``count_prunable`` counts (one short transaction); returns how
    many. Pending and in-flight rows are never deleted."""
    cursor = db.execute(
        f"DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE {_PRUNABLE} LIMIT :limit)",
        {"sent_before": sent_before, "failed_before": failed_before, "limit": limit},
    )
    return cursor.rowcount
