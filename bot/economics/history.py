"""Daily network history: the ``DailyRow`` record, its CSV format, the subsidy and supply of a day.

The format (``bot/data/history.csv``, also the backtest input) is a CSV whose header names at least
``date,price_usd,difficulty`` in any order; ``hashrate_ths``, ``issuance_btc`` and ``height`` are optional
columns whose cells may be empty; other columns are ignored. Parsing is pure: text in, rows out.
"""

from __future__ import annotations

import csv
import io
import math
from bisect import bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from itertools import pairwise

from bot.economics.network import (
    HALVING_INTERVAL_BLOCKS,
    circulating_supply_sats,
    expected_blocks_per_day,
    subsidy_sats,
)
from bot.economics.units import SATS_PER_BTC

REQUIRED_COLUMNS = ("date", "price_usd", "difficulty")
OPTIONAL_COLUMNS = ("hashrate_ths", "issuance_btc", "height")

HALVING_DATES_UTC = (date(2012, 11, 28), date(2016, 7, 9), date(2020, 5, 11), date(2024, 4, 20))
"""UTC days on which blocks 210,000 / 420,000 / 630,000 / 840,000 were mined
(https://en.bitcoin.it/wiki/Controlled_supply; block timestamps 15:24, 16:46, 19:23 and 00:09 UTC)."""
GENESIS_DATE_UTC = date(2009, 1, 3)
ESTIMATED_BLOCKS_PER_DAY = 144
"""Target pace used past the last halving anchor by ``estimated_height_on``."""


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
    height: int | None = None
    """Height of the day's last block; ``None`` when unknown (``estimated_height_on`` then stands in)."""


def subsidy_btc_on(day: date) -> float:
    """Block subsidy (BTC) in force on ``day``: ``subsidy_sats(210,000 * halvings_before_or_on(day))``.

    The day a halving block was mined counts as the new epoch (at most one day of mixed subsidies;
    block 840,000 came at 00:09 UTC). Days after 2024-04-20 get 3.125 BTC until the next halving date is
    known; use the block height (``network.subsidy_sats``) whenever a height is available.
    """
    halvings = bisect_right(HALVING_DATES_UTC, day)
    return subsidy_sats(halvings * HALVING_INTERVAL_BLOCKS) / SATS_PER_BTC


def estimated_height_on(day: date) -> int:
    """Approximate height at the end of ``day`` when no height is recorded for it.

    Linear between the anchors (genesis on 2009-01-03, block ``210,000 * k`` on each halving day), and
    144 blocks a day after the last anchor. Past 2024-04-20 the real pace has run a little above 144 a day,
    so the estimate errs by a few hundred blocks a year: under 0.01 % of the supply, far inside the
    difficulty regression's uncertainty.
    """
    anchors = [(GENESIS_DATE_UTC, 0)] + [
        (halving, HALVING_INTERVAL_BLOCKS * k) for k, halving in enumerate(HALVING_DATES_UTC, start=1)
    ]
    if day <= GENESIS_DATE_UTC:
        return 0
    for (start, start_height), (end, end_height) in pairwise(anchors):
        if day <= end:
            span = (end - start).days
            return start_height + (end_height - start_height) * (day - start).days // span
    last_day, last_height = anchors[-1]
    return last_height + ESTIMATED_BLOCKS_PER_DAY * (day - last_day).days


def estimated_issuance_btc(day: date, hashrate_ths: float | None, difficulty: float) -> float | None:
    """Subsidy BTC issued on ``day``, estimated as blocks a day at the realised hashrate times the subsidy:
    ``86400 * H / (D * 2^32) * subsidy`` (https://en.bitcoin.it/wiki/Difficulty); ``None`` without a hashrate.

    For the live and backfilled rows, which record no block count. The realised hashrate is itself measured
    from block counts, so the estimate carries its block luck (≈ 8 % a day, 1/sqrt(144)); the Puell
    multiple averages 365 days of it.
    """
    if hashrate_ths is None:
        return None
    return expected_blocks_per_day(hashrate_ths * 1e12, difficulty) * subsidy_btc_on(day)


def height_at_end_of(row: DailyRow) -> int:
    """The day's last height: ``row.height`` when the history records it, else ``estimated_height_on``."""
    return row.height if row.height is not None else estimated_height_on(row.date)


def supply_btc_at_end_of(row: DailyRow) -> float:
    """Circulating supply after the day's last block (``circulating_supply_sats`` of ``height_at_end_of``)."""
    return circulating_supply_sats(height_at_end_of(row)) / SATS_PER_BTC


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


def _optional_height(line: int, text: str | None) -> int | None:
    if text is None or not text.strip():
        return None
    try:
        height = int(text)
    except ValueError:
        raise ValueError(f"line {line}: height: not an integer: {text!r}") from None
    if height < 0:
        raise ValueError(f"line {line}: height: must be >= 0, got {text!r}")
    return height


def _positive(value: float) -> bool:
    return value > 0


def _non_negative(value: float) -> bool:
    return value >= 0


def parse_daily_csv(text: str, *, in_order: bool = False) -> list[DailyRow]:
    """Parse the daily history CSV into rows sorted by date (with ``in_order``, a row dated before the row
    above it is an error instead: a file assembled out of order is more likely a mistake than a choice).

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
        if in_order and rows and day < rows[-1].date:
            previous = rows[-1].date
            raise ValueError(
                f"line {line}: date: {day} comes after {previous} (line {seen[previous]}); sort by date"
            )
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
                height=_optional_height(line, record.get("height")),
            )
        )
    rows.sort(key=lambda row: row.date)
    return rows


def _difficulty(value: float) -> str:
    return f"{value:.0f}" if value.is_integer() else repr(value)


def format_daily_csv(rows: Iterable[DailyRow]) -> str:
    """Render rows in the shipped compact format: price to the cent, difficulty exact (an integer without a
    fraction, else the shortest text that reads back the same float), TH/s and issuance to 10 digits."""
    lines = [",".join((*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS))]
    for row in sorted(rows, key=lambda r: r.date):
        hashrate = "" if row.hashrate_ths is None else f"{row.hashrate_ths:.10g}"
        issuance = "" if row.issuance_btc is None else f"{row.issuance_btc:.10g}"
        height = "" if row.height is None else str(row.height)
        lines.append(
            f"{row.date.isoformat()},{row.price_usd:.2f},{_difficulty(row.difficulty)},{hashrate},{issuance},{height}"
        )
    return "\n".join(lines) + "\n"
