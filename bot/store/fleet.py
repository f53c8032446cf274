"""A chat's fleet lines and named tariffs.

Lines are numbered 1..N in the order they were added (row id order); line 1 is what ``/profile`` shows and
changes. A line has either its own power price or the name of one of the chat's tariffs, never both. The
line's switch-off alert state (last advice sent, quiet until) lives on the line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bot.economics.fleet import (
    MAX_LINES,
    FleetFullError,
    FleetLine,
    Period,
    Tariff,
    TariffInUseError,
    flat_tariff,
)
from bot.economics.machines import Machine
from bot.economics.mining import OperatingProfile
from bot.store.connection import Connection
from bot.store.locks import lock_chat


@dataclass(frozen=True, slots=True)
class StoredLine:
    """A fleet line as stored; percentages as the user gives them (2.0 = 2 %)."""

    j_per_th: float
    count: int
    power_usd_per_kwh: float | None
    pool_fee_pct: float
    uptime_pct: float
    pue: float
    machine: str | None = None
    hashrate_ths: float | None = None
    """Per machine; ``None`` when only the efficiency is known."""
    tariff: str | None = None
    site: str | None = None

    def __post_init__(self) -> None:
        if (self.power_usd_per_kwh is None) == (self.tariff is None):
            raise ValueError("a line has either a power price or a tariff")


@dataclass(frozen=True, slots=True)
class LineAlert:
    """A line's switch-off alert state: the advice last sent (``None``: none yet) and its quiet time."""

    advice: str | None
    quiet_until: float


def _line(row: dict[str, Any]) -> StoredLine:
    return StoredLine(
        j_per_th=row["j_per_th"],
        count=row["count"],
        power_usd_per_kwh=row["power_usd_per_kwh"],
        pool_fee_pct=row["pool_fee_pct"],
        uptime_pct=row["uptime_pct"],
        pue=row["pue"],
        machine=row["machine"],
        hashrate_ths=row["hashrate_ths"],
        tariff=row["tariff"],
        site=row["site"],
    )


def _values(chat_ref: int, line: StoredLine, now: float) -> dict[str, Any]:
    return {
        "chat_ref": chat_ref,
        "machine": line.machine,
        "hashrate_ths": line.hashrate_ths,
        "j_per_th": line.j_per_th,
        "count": line.count,
        "power_usd_per_kwh": line.power_usd_per_kwh,
        "tariff": line.tariff,
        "pool_fee_pct": line.pool_fee_pct,
        "uptime_pct": line.uptime_pct,
        "pue": line.pue,
        "site": line.site,
        "updated_at": now,
    }


def _ids(db: Connection, chat_ref: int) -> list[int]:
    return [
        row[0] for row in db.execute("SELECT id FROM fleet_lines WHERE chat_ref = ? ORDER BY id", [chat_ref])
    ]


def lines(db: Connection, chat_ref: int) -> list[StoredLine]:
    """The chat's lines, line 1 first."""
    return [
        _line(row) for row in db.fetch("SELECT * FROM fleet_lines WHERE chat_ref = ? ORDER BY id", [chat_ref])
    ]


def add_line(db: Connection, chat_ref: int, line: StoredLine, now: float) -> int:
    """Append a line; returns its number. Raises ``FleetFullError`` at ``MAX_LINES`` lines."""
    with db.atomic():
        lock_chat(db, chat_ref)
        held = len(_ids(db, chat_ref))
        if held >= MAX_LINES:
            raise FleetFullError(MAX_LINES)
        values = _values(chat_ref, line, now)
        db.execute(
            f"INSERT INTO fleet_lines ({', '.join(values)}) VALUES ({', '.join(':' + k for k in values)})",
            values,
        )
        return held + 1


def set_line(db: Connection, chat_ref: int, number: int, line: StoredLine, now: float) -> bool:
    """Replace line ``number`` (1-based; its alert state is reset); ``False`` when there is no such line.

    Line 1 of a chat without lines is created (``/profile`` on a new chat)."""
    with db.atomic():
        ids = _ids(db, chat_ref)
        if number == 1 and not ids:
            add_line(db, chat_ref, line, now)
            return True
        if not 1 <= number <= len(ids):
            return False
        values = _values(chat_ref, line, now)
        assignments = ", ".join(f"{k} = :{k}" for k in values)
        db.execute(
            f"UPDATE fleet_lines SET {assignments}, advice = NULL, quiet_until = 0 WHERE id = :id",
            {**values, "id": ids[number - 1]},
        )
        return True


def remove_line(db: Connection, chat_ref: int, number: int) -> bool:
    """Remove line ``number``; the lines after it move up one. ``False`` when there is no such line."""
    with db.atomic():
        ids = _ids(db, chat_ref)
        if not 1 <= number <= len(ids):
            return False
        db.execute("DELETE FROM fleet_lines WHERE id = ?", [ids[number - 1]])
        return True


def clear(db: Connection, chat_ref: int) -> int:
    """Remove every line of the chat; returns how many."""
    return db.execute("DELETE FROM fleet_lines WHERE chat_ref = ?", [chat_ref]).rowcount


def line_alerts(db: Connection, chat_ref: int) -> list[LineAlert]:
    """Each line's alert state, line 1 first."""
    return [
        LineAlert(row[0], row[1])
        for row in db.execute(
            "SELECT advice, quiet_until FROM fleet_lines WHERE chat_ref = ? ORDER BY id", [chat_ref]
        )
    ]


def set_line_alert(db: Connection, chat_ref: int, number: int, alert: LineAlert) -> None:
    ids = _ids(db, chat_ref)
    db.execute(
        "UPDATE fleet_lines SET advice = ?, quiet_until = ? WHERE id = ?",
        [alert.advice, alert.quiet_until, ids[number - 1]],
    )


def _tariff(row: dict[str, Any]) -> Tariff:
    periods = tuple(Period(start, end, price) for start, end, price in json.loads(row["periods"]))
    return Tariff(row["name"], row["base_usd_per_kwh"], periods, row["timezone"])


def tariffs(db: Connection, chat_ref: int) -> dict[str, Tariff]:
    """The chat's tariffs by name."""
    rows = db.fetch("SELECT * FROM tariffs WHERE chat_ref = ? ORDER BY name", [chat_ref])
    return {row["name"]: _tariff(row) for row in rows}


def set_tariff(db: Connection, chat_ref: int, tariff: Tariff, now: float) -> None:
    """Create or replace the chat's tariff of that name."""
    periods = json.dumps([[p.start_minute, p.end_minute, p.usd_per_kwh] for p in tariff.periods])
    db.execute(
        """INSERT INTO tariffs (chat_ref, name, base_usd_per_kwh, periods, timezone, updated_at)
           VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT (chat_ref, name) DO UPDATE SET base_usd_per_kwh = excluded.base_usd_per_kwh,
               periods = excluded.periods, timezone = excluded.timezone, updated_at = excluded.updated_at""",
        [chat_ref, tariff.name, tariff.base_usd_per_kwh, periods, tariff.timezone, now],
    )


def remove_tariff(db: Connection, chat_ref: int, name: str) -> bool:
    """Remove a tariff; ``TariffInUseError`` when a line uses it, ``False`` when there is none."""
    with db.atomic():
        used = db.execute(
            "SELECT 1 FROM fleet_lines WHERE chat_ref = ? AND tariff = ? LIMIT 1", [chat_ref, name]
        ).fetchone()
        if used:
            raise TariffInUseError(name)
        return (
            db.execute("DELETE FROM tariffs WHERE chat_ref = ? AND name = ?", [chat_ref, name]).rowcount > 0
        )


def stored_machine(name: str | None, hashrate_ths: float | None, j_per_th: float) -> Machine:
    """A stored machine (catalog name or custom figures) as the economics' ``Machine``."""
    return Machine(
        name=name or f"custom {j_per_th:g} J/TH",
        hashrate_ths=hashrate_ths,
        power_w=hashrate_ths * j_per_th if hashrate_ths else None,
        j_per_th=j_per_th,
        year=None,
    )


def economic_lines(db: Connection, chat_ref: int) -> tuple[FleetLine, ...]:
    """The chat's stored lines as the economics' ``FleetLine`` (tariffs resolved), line 1 first."""
    by_name = tariffs(db, chat_ref)
    return tuple(
        FleetLine(
            stored_machine(line.machine, line.hashrate_ths, line.j_per_th),
            line.count,
            OperatingProfile(0.0, line.pool_fee_pct / 100, line.uptime_pct / 100, line.pue),
            by_name[line.tariff] if line.tariff is not None else flat_tariff(line.power_usd_per_kwh or 0.0),
            line.site,
        )
        for line in lines(db, chat_ref)
    )
