"""Build the shipped daily history and difficulty-regression fit from the raw CSVs.

Usage: ``.venv/bin/python scripts/build_history.py [DATA_DIR] [--out bot/data]``
(DATA_DIR defaults to /work/shared/data; see bot/data/PROVENANCE.md for the files and their origins).

Columns of ``history.csv``, one row per UTC day from the first priced day (2010-07-17) to the last day with
both price and difficulty:
- ``price_usd``: krisp140_price.csv (CoinMarketCap daily average); days it lacks (its internal gaps and
  everything after its end) come from volit_btc_price.csv (daily close, newest-first file).
- ``difficulty``: volit_btc_difficulty.csv from 2017-08-17; before, the day's block-weighted mean
  difficulty ``hashrate_hs * 86400 / (2^32 * blocks)`` (bitcoinvisuals computes its hashrate as exactly
  ``D * 2^32 * blocks / 86400``: on the 2,372 overlap days off a retarget the two agree to 1e-12). Kept to
  8 significant digits (compact bits hold about 7). A day with a retarget inside it (its mean strictly
  between its neighbours) takes the new difficulty.
- ``hashrate_ths``: krisp140_hashrate.csv (H/s) / 1e12; empty after its end.
- ``issuance_btc``: krisp140_blockreward.csv "BTC" column; empty after its end.
- ``height``: the day's last block, counted from genesis: ``round(issuance / subsidy)`` blocks a day (the
  BTC column counts claimed subsidy: 2012's under-claiming pools lose < 0.03 block a day, so rounding
  recovers the count), with the halving day split into blocks before the halving at the old subsidy and
  after it at the new one. After the issuance file ends (2025-03-08), 144 blocks a day.
"""

from __future__ import annotations

import argparse
import csv
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

from bot.alerts.engine import RETARGET_TOLERANCE
from bot.economics.history import (
    ESTIMATED_BLOCKS_PER_DAY,
    HALVING_DATES_UTC,
    DailyRow,
    format_daily_csv,
    parse_daily_csv,
    subsidy_btc_on,
)
from bot.economics.network import HALVING_INTERVAL_BLOCKS, HASHES_PER_DIFFICULTY, subsidy_sats
from bot.economics.regression import difficulty_regression_to_json, fit_difficulty_regression
from bot.economics.units import HASHES_PER_TH, SATS_PER_BTC, SECONDS_PER_DAY

DEFAULT_DATA_DIR = Path("/work/shared/data")
DEFAULT_OUT_DIR = Path(__file__).resolve().parent.parent / "bot" / "data"


def read_series(path: Path, value_column: str) -> dict[date, float]:
    """Read ``date -> value`` from a CSV with a date-like first column; BOM, quotes and blanks tolerated."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = [name.strip() for name in next(reader)]
        column = header.index(value_column)
        series: dict[date, float] = {}
        for cells in reader:
            if not cells or not cells[column].strip():
                continue
            day = date.fromisoformat(cells[0].strip()[:10])
            if day in series:
                raise ValueError(f"{path.name} line {reader.line_num}: repeated date {day}")
            series[day] = float(cells[column])
    return series


def block_counts(issuance_btc: dict[date, float]) -> dict[date, int]:
    """Height of each day's last block from the day's subsidy issuance (see the module docstring)."""
    heights: dict[date, int] = {}
    height = -1
    for day in sorted(issuance_btc):
        if day in HALVING_DATES_UTC:
            halving_height = HALVING_INTERVAL_BLOCKS * (HALVING_DATES_UTC.index(day) + 1)
            before = halving_height - (height + 1)
            old_btc = subsidy_sats(halving_height - 1) / SATS_PER_BTC
            new_btc = subsidy_sats(halving_height) / SATS_PER_BTC
            blocks = before + round((issuance_btc[day] - before * old_btc) / new_btc)
        else:
            blocks = round(issuance_btc[day] / subsidy_btc_on(day))
        height += blocks
        heights[day] = height
    return heights


def build_rows(data_dir: Path) -> tuple[list[DailyRow], int]:
    """Merge the raw series into daily rows; also return how many prices came from the fallback file."""
    primary_price = read_series(data_dir / "krisp140_price.csv", "Price")
    fallback_price = read_series(data_dir / "volit_btc_price.csv", "Close")
    difficulty = read_series(data_dir / "volit_btc_difficulty.csv", "Difficulty")
    hashrate_hs = read_series(data_dir / "krisp140_hashrate.csv", "Hash Rate")
    issuance_btc = read_series(data_dir / "krisp140_blockreward.csv", "BTC")
    heights = block_counts(issuance_btc)

    priced = primary_price.keys() | fallback_price.keys()
    first_day = min(priced)
    last_day = max(day for day in difficulty if day in priced)
    rows: list[DailyRow] = []
    fallback_days = 0
    day = first_day
    while day <= last_day:
        previous = heights.get(day - timedelta(days=1), -1)
        if day in heights:
            height = heights[day]
        else:
            height = max(heights.values()) + ESTIMATED_BLOCKS_PER_DAY * (day - max(heights)).days
        if day in difficulty:
            day_difficulty = difficulty[day]
        elif day in hashrate_hs and height > previous:
            blocks = height - previous
            mean = hashrate_hs[day] * SECONDS_PER_DAY / (HASHES_PER_DIFFICULTY * blocks)
            day_difficulty = float(f"{mean:.8g}")  # compact bits carry a 23-bit (≈ 7-digit) mantissa
        else:
            raise ValueError(f"{day}: no difficulty in any source")
        if day not in priced:
            raise ValueError(f"{day}: no price in any source")
        fallback_days += day not in primary_price
        rows.append(
            DailyRow(
                date=day,
                price_usd=primary_price.get(day, fallback_price.get(day, 0.0)),
                difficulty=day_difficulty,
                hashrate_ths=hashrate_hs[day] / HASHES_PER_TH if day in hashrate_hs else None,
                issuance_btc=issuance_btc.get(day),
                height=height,
            )
        )
        day += timedelta(days=1)
    return date_retargets(rows, set(difficulty)), fallback_days


def date_retargets(rows: list[DailyRow], reported: set[date]) -> list[DailyRow]:
    """Give a derived mixed day (a retarget inside it, so its mean lies strictly between the day before
    and the day after) the new difficulty: the retarget is dated the UTC day its block was mined."""
    dated = list(rows)
    for i in range(1, len(rows) - 1):
        before, row, after = rows[i - 1], rows[i], rows[i + 1]
        if row.date in reported:
            continue
        low, high = sorted((before.difficulty, after.difficulty))
        if low * (1 + RETARGET_TOLERANCE) < row.difficulty < high * (1 - RETARGET_TOLERANCE):
            dated[i] = replace(row, difficulty=after.difficulty)
    return dated


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("data_dir", nargs="?", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT_DIR)
    args = parser.parse_args()

    rows, fallback_days = build_rows(args.data_dir)
    text = format_daily_csv(rows)
    shipped = parse_daily_csv(text)  # fit on exactly what ships, so a refit reproduces the JSON
    model = fit_difficulty_regression(shipped)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "history.csv").write_text(text, encoding="utf-8")
    (args.out / "difficulty_regression.json").write_text(
        difficulty_regression_to_json(model, source="bot/data/history.csv"), encoding="utf-8"
    )
    with_hashrate = [row.date for row in shipped if row.hashrate_ths is not None]
    print(
        f"history.csv: {len(shipped)} rows {shipped[0].date}..{shipped[-1].date}; "
        f"{fallback_days} prices from volit_btc_price.csv; hashrate {with_hashrate[0]}..{with_hashrate[-1]}"
    )
    print(
        f"difficulty_regression.json: a={model.a:.6f} b={model.b:.6f} r2={model.r2:.4f} n={model.n} "
        f"{model.start_date}..{model.end_date} residual_std={model.residual_std:.4f}"
    )


if __name__ == "__main__":
    main()
