"""Chats (one row per platform chat) and their machine profiles (line 1 of the chat's fleet).

A chat's subscriptions are active exactly while the chat is: deactivating a chat (it blocked the bot or
vanished) switches its subscriptions off in the same transaction, so alert evaluation filters by index.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from bot.chat.kinds import ChatKind
from bot.store import fleet, outbox
from bot.store.connection import Connection


@dataclass(frozen=True, slots=True)
class Chat:
    id: int
    platform: str
    chat_id: str
    kind: ChatKind
    language: str
    active: bool
    reason: str | None
    """Why the chat was deactivated, or migrated away."""
    created_at: float


@dataclass(frozen=True, slots=True)
class Profile:
    """A chat's mining setup; percentages as the user gives them (2.0 = 2 %)."""

    j_per_th: float
    power_usd_per_kwh: float
    pool_fee_pct: float
    uptime_pct: float
    pue: float
    machine: str | None = None
    hashrate_ths: float | None = None
    """Per machine; ``None`` when only the efficiency is known."""
    count: int = 1


def _chat(row: dict[str, Any]) -> Chat:
    return Chat(
        id=row["id"],
        platform=row["platform"],
        chat_id=row["chat_id"],
        kind=ChatKind(row["kind"]),
        language=row["language"],
        active=bool(row["active"]),
        reason=row["reason"],
        created_at=row["created_at"],
    )


def get_chat(db: Connection, chat_ref: int) -> Chat | None:
    rows = list(db.fetch("SELECT * FROM chats WHERE id = ?", [chat_ref]))
    return _chat(rows[0]) if rows else None


def find_chat(db: Connection, platform: str, chat_id: str) -> Chat | None:
    rows = list(db.fetch("SELECT * FROM chats WHERE platform = ? AND chat_id = ?", [platform, chat_id]))
    return _chat(rows[0]) if rows else None


def upsert_chat(db: Connection, platform: str, chat_id: str, kind: ChatKind, now: float) -> Chat:
    """Create the chat, or update its kind and reactivate it (a chat that talks to the bot is reachable)."""
    with db.atomic():
        created = db.execute(
            """INSERT INTO chats (platform, chat_id, kind, created_at) VALUES (?, ?, ?, ?)
               ON CONFLICT (platform, chat_id) DO NOTHING RETURNING id""",
            [platform, chat_id, kind.value, now],
        ).fetchone()
        if created is None:  # it exists (a concurrent replica may have just created it)
            existing = find_chat(db, platform, chat_id)
            assert existing is not None
            db.execute(
                "UPDATE chats SET kind = ?, active = 1, reason = NULL WHERE id = ?", [kind.value, existing.id]
            )
            if not existing.active:
                db.execute("UPDATE subscriptions SET active = 1 WHERE chat_ref = ?", [existing.id])
        chat = find_chat(db, platform, chat_id)
    assert chat is not None
    return chat


def deactivate_chat(db: Connection, chat_ref: int, reason: str) -> None:
    """Stop everything for a chat that cannot be reached; its subscriptions stay, switched off."""
    with db.atomic():
        db.execute("UPDATE chats SET active = 0, reason = ? WHERE id = ?", [reason, chat_ref])
        db.execute("UPDATE subscriptions SET active = 0 WHERE chat_ref = ?", [chat_ref])


def set_language(db: Connection, chat_ref: int, language: str) -> None:
    db.execute("UPDATE chats SET language = ? WHERE id = ?", [language, chat_ref])


def migrate_chat(db: Connection, chat_ref: int, new_chat_id: str) -> int:
    """Follow a chat to a new id (a Telegram group upgraded to a supergroup); returns the chat's row id.

    Subscriptions, profile and undelivered outbox rows move with it. When the new id already has a row
    (the supergroup talked to the bot first), that row absorbs them and the old row is deactivated.
    """
    with db.atomic():
        old = get_chat(db, chat_ref)
        if old is None:
            raise LookupError(f"no chat {chat_ref}")
        target = find_chat(db, old.platform, new_chat_id)
        if target is None:
            db.execute(
                "UPDATE chats SET chat_id = ?, kind = ? WHERE id = ?",
                [
                    new_chat_id,
                    (ChatKind.SUPERGROUP if old.kind is ChatKind.GROUP else old.kind).value,
                    chat_ref,
                ],
            )
            outbox.redirect(db, chat_ref, new_chat_id)
            return chat_ref
        # Rules the target already has (its network / margin-warning subscription) win.
        db.execute(
            """DELETE FROM subscriptions WHERE chat_ref = :old AND kind != 'threshold'
               AND kind IN (SELECT kind FROM subscriptions WHERE chat_ref = :new)""",
            {"old": chat_ref, "new": target.id},
        )
        db.execute(
            "UPDATE subscriptions SET chat_ref = ?, active = ? WHERE chat_ref = ?",
            [target.id, int(target.active), chat_ref],
        )
        # The target's own fleet, if it has one, wins; so do its tariffs of the same names.
        if not fleet.lines(db, target.id):
            db.execute("UPDATE fleet_lines SET chat_ref = ? WHERE chat_ref = ?", [target.id, chat_ref])
        db.execute("DELETE FROM fleet_lines WHERE chat_ref = ?", [chat_ref])
        db.execute(
            """UPDATE tariffs SET chat_ref = :new WHERE chat_ref = :old
               AND name NOT IN (SELECT name FROM tariffs WHERE chat_ref = :new)""",
            {"old": chat_ref, "new": target.id},
        )
        db.execute("DELETE FROM tariffs WHERE chat_ref = ?", [chat_ref])
        outbox.redirect(db, chat_ref, new_chat_id, new_chat_ref=target.id)
        db.execute(
            "UPDATE chats SET active = 0, reason = ? WHERE id = ?", [f"migrated to {new_chat_id}", chat_ref]
        )
        return target.id


def get_profile(db: Connection, chat_ref: int) -> Profile | None:
    """Line 1 of the chat's fleet; on a tariff, at that tariff's time-weighted average price."""
    stored = fleet.lines(db, chat_ref)
    if not stored:
        return None
    line = stored[0]
    power = line.power_usd_per_kwh
    if power is None:
        assert line.tariff is not None
        power = fleet.tariffs(db, chat_ref)[line.tariff].average_usd_per_kwh
    return Profile(
        j_per_th=line.j_per_th,
        power_usd_per_kwh=power,
        pool_fee_pct=line.pool_fee_pct,
        uptime_pct=line.uptime_pct,
        pue=line.pue,
        machine=line.machine,
        hashrate_ths=line.hashrate_ths,
        count=line.count,
    )


def set_profile(db: Connection, chat_ref: int, profile: Profile, now: float) -> None:
    """Make ``profile`` line 1 of the chat's fleet (the line keeps its site). Line 1 on a tariff keeps it
    while the profile's power price is that tariff's average (what ``get_profile`` gave: no price typed);
    another price replaces the tariff."""
    with db.atomic():
        stored = fleet.lines(db, chat_ref)
        tariff = stored[0].tariff if stored else None
        if tariff is not None:
            average = fleet.tariffs(db, chat_ref)[tariff].average_usd_per_kwh
            tariff = tariff if math.isclose(average, profile.power_usd_per_kwh, rel_tol=1e-12) else None
        line = fleet.StoredLine(
            j_per_th=profile.j_per_th,
            count=profile.count,
            power_usd_per_kwh=None if tariff else profile.power_usd_per_kwh,
            tariff=tariff,
            pool_fee_pct=profile.pool_fee_pct,
            uptime_pct=profile.uptime_pct,
            pue=profile.pue,
            machine=profile.machine,
            hashrate_ths=profile.hashrate_ths,
            site=stored[0].site if stored else None,
        )
        fleet.set_line(db, chat_ref, 1, line, now)
