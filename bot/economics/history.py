"""Daily network history: the ``DailyRow`` record, its CSV format, and the subsidy in force on a day.

The format (``bot/data/history.csv``, also the backtest input) is a CSV whose header names at least
``date,price_usd,difficulty`` in any order; ``hashrate_ths`` and ``issuance_btc`` are optional columns whose
cells may be empty; other columns are ignored. Parsing is pure: text in, rows out.
"""

from __future__ import annotations

import csv
import io
import math
from bisect import bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date

from bot.economics.network import HALVING_INTERVAL_BLOCKS, subsidy_sats
from bot.economics.units import SATS_PER_BTC

REQUIRED_COLUMNS = ("date", "price_usd", "difficulty")
OPTIONAL_COLUMNS = ("hashrate_ths", "issuance_btc")

HALVING_DATES_UTC = (date(2012, 11, 28), date(2016, 7, 9), date(2020, 5, 11), date(2024, 4, 20))
"""UTC days on which blocks 210,000 / 420,000 / 630,000 / 840,000 were mined (reference/economics.md §1.4)."""


@dataclass(frozen=True, slots=True)
class DailyRow:
    """One UTC day of network history."""

    date: date
    price_usd: float
    difficulty: float
    hashrate_ths: float | None
    """Realised (block-count based) network hashrate, TH/s; ``None`` when unknown."""
    issuance_btc: float | None
    """Subsidy BTC issued that UTC day (no fees); ``None`` when unknown."""


def subsidy_btc_on(day: date) -> float:
    """Block subsidy (BTC) in force on ``day``: ``subsidy_sats(210,000 * halvings_before_or_on(day))``.

    The day a halving block was mined counts as the new epoch (at most one day of mixed subsidies;
    block 840,000 came at 00:09 UTC). Days after 2024-04-20 get 3.125 BTC until the next halving date is
    known; use the block height (``network.subsidy_sats``) whenever a height is available.
    """
    halvings = bisect_right(HALVING_DATES_UTC, day)
    return subsidy_sats(halvings * HALVING_INTERVAL_BLOCKS) / SATS_PER_BTC


def _number(line: int, field: str, text: str, *, check: Callable[[float], bool], rule: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"line {line}: {field}: not a number: {text!r}") from None
    if not math.isfinite(value) or not check(value):
        raise ValueError(f"line {line}: {field}: must be {rule}, got {text!r}")
    return value


def _optional_number(
    line: int, field: str, text: str | None, *, check: Callable[[float], bool], rule: str
) -> float | None:
    if text is None or not text.strip():
        return None
    return _number(line, field, text, check=check, rule=rule)


def _positive(value: float) -> bool:
    return value > 0


def _non_negative(value: float) -> bool:
    return value >= 0


def parse_daily_csv(text: str) -> list[DailyRow]:
    """Parse the daily history CSV into rows sorted by date.

    Header names are matched case-insensitively after stripping blanks, quotes and a UTF-8 BOM.
    Raises ``ValueError`` naming the line number and the field for a missing or repeated column, a
    malformed date or number, a non-positive price/difficulty/hashrate, a negative issuance or a repeated
    date.
    """
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    header = next(reader, None)
    if header is None:
        raise ValueError("line 1: empty daily history (no header)")
    names = [name.strip().strip('"').strip().lower() for name in header]
    for column in REQUIRED_COLUMNS:
        if column not in names:
            raise ValueError(f"line 1: {column}: missing column (header: {','.join(names)})")
    for column in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS):
        if names.count(column) > 1:
            raise ValueError(f"line 1: {column}: repeated column")

    rows: list[DailyRow] = []
    seen: dict[date, int] = {}
    for cells in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(names):
            raise ValueError(f"line {line}: row: expected {len(names)} fields, got {len(cells)}")

        record = dict(zip(names, (value.strip() for value in cells), strict=True))
        raw_date = record["date"]
        try:
            day = date.fromisoformat(raw_date)
        except ValueError:
            raise ValueError(f"line {line}: date: not an ISO date (YYYY-MM-DD): {raw_date!r}") from None
        if day in seen:
            raise ValueError(f"line {line}: date: {day} repeats line {seen[day]}")
        seen[day] = line
        rows.append(
            DailyRow(
                date=day,
                price_usd=_number(line, "price_usd", record["price_usd"], check=_positive, rule="> 0"),
                difficulty=_number(line, "difficulty", record["difficulty"], check=_positive, rule="> 0"),
                hashrate_ths=_optional_number(
                    line, "hashrate_ths", record.get("hashrate_ths"), check=_positive, rule="> 0"
                ),
                issuance_btc=_optional_number(
                    line, "issuance_btc", record.get("issuance_btc"), check=_non_negative, rule=">= 0"
                ),
            )
        )
    rows.sort(key=lambda row: row.date)
    return rows


def format_daily_csv(rows: Iterable[DailyRow]) -> str:
    """Render rows in the shipped compact format: price to the cent, integer difficulty and TH/s.

    Integer TH/s keeps ≥ 7 significant digits for any date from 2017 on (≥ 6.5 EH/s).
    """
    lines = [",".join((*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS))]
    for row in sorted(rows, key=lambda r: r.date):
        hashrate = "" if row.hashrate_ths is None else f"{row.hashrate_ths:.0f}"
        issuance = "" if row.issuance_btc is None else f"{row.issuance_btc:.10g}"
        lines.append(f"{row.date.isoformat()},{row.price_usd:.2f},{row.difficulty:.0f},{hashrate},{issuance}")
    return "\n".join(lines) + "\n"
