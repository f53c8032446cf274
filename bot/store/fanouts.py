"""Fan-outs: an event for every subscriber, turned into outbox rows a chunk at a time.

The job is written in the transaction that decides the event; each chunk enqueues the next chats (in chat
id order) and moves ``after_chat_ref`` in its own short transaction, so the store is never held for the
whole audience and a restart resumes where the last committed chunk ended (the outbox's dedupe key makes a
repeated chunk harmless).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.store.connection import Connection


class Audience(StrEnum):
    NETWORK = "network"
    """Chats subscribed to network events."""
    SUBSCRIBED = "subscribed"
    """Chats with any active subscription (data stale / fresh notices)."""


@dataclass(frozen=True, slots=True)
class Fanout:
    id: int
    event: str
    """The ``AlertEvent`` as JSON."""
    audience: Audience
    after_chat_ref: int
    """Chats up to this id have their row."""


@dataclass(frozen=True, slots=True)
class Recipient:
    chat_ref: int
    platform: str
    chat_id: str
    language: str


_IN_AUDIENCE = {
    Audience.NETWORK: "s.kind = 'network' AND s.active = 1",
    Audience.SUBSCRIBED: "s.active = 1",
}


def _audience(db: Connection, audience: Audience) -> str:
    # Walk the chats by primary key from the cursor (each chat is visited once over the whole fan-out), and
    # look their subscriptions up by index.
    return f"""SELECT c.id, c.platform, c.chat_id, c.language FROM chats c
        WHERE c.active = 1 AND c.id > ?
          AND EXISTS (SELECT 1 FROM subscriptions s{db.indexed_by("subscriptions_chat")}
                      WHERE s.chat_ref = c.id AND {_IN_AUDIENCE[audience]})
        ORDER BY c.id LIMIT ?"""


def add(db: Connection, event_json: str, audience: Audience, now: float) -> int:
    row = db.execute(
        "INSERT INTO fanouts (event, audience, created_at) VALUES (?, ?, ?) RETURNING id",
        [event_json, audience.value, now],
    ).fetchone()
    assert row is not None
    fanout_id: int = row[0]
    return fanout_id


def unfinished(db: Connection) -> list[int]:
    """Ids of the fan-outs not done yet, oldest first."""
    return [row[0] for row in db.execute("SELECT id FROM fanouts ORDER BY id").fetchall()]


def get(db: Connection, fanout_id: int) -> Fanout | None:
    row = db.execute(
        "SELECT id, event, audience, after_chat_ref FROM fanouts WHERE id = ?", [fanout_id]
    ).fetchone()
    return Fanout(row[0], row[1], Audience(row[2]), row[3]) if row else None


def recipients_after(db: Connection, audience: Audience, after_chat_ref: int, limit: int) -> list[Recipient]:
    """The next ``limit`` active chats of ``audience`` with an id above ``after_chat_ref``, in id order."""
    return [Recipient(*row) for row in db.execute(_audience(db, audience), [after_chat_ref, limit])]


def advance(db: Connection, fanout_id: int, after_chat_ref: int) -> None:
    db.execute("UPDATE fanouts SET after_chat_ref = ? WHERE id = ?", [after_chat_ref, fanout_id])


def finish(db: Connection, fanout_id: int) -> None:
    db.execute("DELETE FROM fanouts WHERE id = ?", [fanout_id])
