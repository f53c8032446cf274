"""Build the shipped daily history and difficulty-regression fit from the raw CSVs.

Usage: ``.venv/bin/python scripts/build_history.py [DATA_DIR] [--out bot/data]``
(DATA_DIR defaults to /work/shared/data; see bot/data/PROVENANCE.md for the files and their origins).

Columns of ``history.csv``, one row per UTC day from the first day with difficulty to the last day with
both price and difficulty:
- ``price_usd``: krisp140_price.csv (CoinMarketCap daily average); days it lacks (its internal gaps and
  everything after its end) come from volit_btc_price.csv (daily close, newest-first file).
- ``difficulty``: volit_btc_difficulty.csv, rounded to an integer.
- ``hashrate_ths``: krisp140_hashrate.csv (H/s) / 1e12, rounded to integer TH/s; empty after its end.
- ``issuance_btc``: krisp140_blockreward.csv "BTC" column; empty after its end.
"""

from __future__ import annotations

import argparse
import csv
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

from bot.economics.history import DailyRow, format_daily_csv, parse_daily_csv
from bot.economics.regression import difficulty_regression_to_json, fit_difficulty_regression
from bot.economics.units import HASHES_PER_TH

DEFAULT_DATA_DIR = Path("/work/shared/data")
DEFAULT_OUT_DIR = Path(__file__).resolve().parent.parent / "bot" / "data"


def read_series(
    path: Path, value_column: str, convert: Callable[[float], float] = float
) -> dict[date, float]:
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
            series[day] = convert(float(cells[column]))
    return series


def build_rows(data_dir: Path) -> tuple[list[DailyRow], int]:
    """Merge the raw series into daily rows; also return how many prices came from the fallback file."""
    primary_price = read_series(data_dir / "krisp140_price.csv", "Price")
    fallback_price = read_series(data_dir / "volit_btc_price.csv", "Close")
    difficulty = read_series(data_dir / "volit_btc_difficulty.csv", "Difficulty")
    hashrate_ths = read_series(data_dir / "krisp140_hashrate.csv", "Hash Rate", lambda hs: hs / HASHES_PER_TH)
    issuance_btc = read_series(data_dir / "krisp140_blockreward.csv", "BTC")

    priced = primary_price.keys() | fallback_price.keys()
    first_day = min(difficulty)
    last_day = max(day for day in difficulty if day in priced)
    rows: list[DailyRow] = []
    fallback_days = 0
    day = first_day
    while day <= last_day:
        if day not in difficulty or day not in priced:
            raise ValueError(f"{day}: no {'difficulty' if day not in difficulty else 'price'} in any source")
        fallback_days += day not in primary_price
        rows.append(
            DailyRow(
                date=day,
                price_usd=primary_price.get(day, fallback_price.get(day, 0.0)),
                difficulty=difficulty[day],
                hashrate_ths=hashrate_ths.get(day),
                issuance_btc=issuance_btc.get(day),
            )
        )
        day += timedelta(days=1)
    return rows, fallback_days


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
