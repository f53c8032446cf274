"""Economics speed: 1,000,000 breakeven computations, and one full ``status`` refresh on loopback fakes.

Run: ``.venv/bin/python -m benchmarks.economics [--json] [--count N] [--refreshes N]``.
The refresh goes through the real httpx clients, the aggregation and the report, against the fake
upstream server on 127.0.0.1 (no internet), so it measures our overhead, not the providers' latency.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import UTC, datetime

from benchmarks._common import print_figures
from bot.config import Settings
from bot.data import load_difficulty_regression
from bot.economics.mining import (
    MarketInputs,
    OperatingProfile,
    breakeven_power_usd_per_kwh,
    breakeven_price_usd,
)
from bot.economics.production_cost import BottomUpAssumptions
from bot.market.view import Overrides, resolve_market
from bot.reports.figures import status_report
from tests.fakes.upstreams import FakeUpstreams


def time_breakevens(count: int) -> float:
    """Seconds for ``count`` (power price, BTC price) breakeven pairs over varying markets."""
    markets = [MarketInputs(50_000 + i, 1.2e14 + i * 1e9, 935_000, 0.02) for i in range(1000)]
    profile = OperatingProfile(0.05, 0.02, 0.97, 1.05)
    started = time.perf_counter()
    for i in range(count // 2):
        market = markets[i % 1000]
        breakeven_power_usd_per_kwh(market, profile, 21.5)
        breakeven_price_usd(market, profile, 21.5)
    return time.perf_counter() - started


async def time_refreshes(refreshes: int) -> list[float]:
    """Milliseconds per full status refresh: price median + network + both cost models + report."""
    regression = load_difficulty_regression()
    timings = []
    with FakeUpstreams() as fake:
        settings = Settings.model_validate(fake.settings_overrides())
        for _ in range(refreshes):
            started = time.perf_counter()
            view = await resolve_market(Overrides(), settings)
            status_report(view, BottomUpAssumptions(), regression, datetime.now(UTC))
            timings.append((time.perf_counter() - started) * 1000)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=1_000_000, help="breakeven computations")
    parser.add_argument("--refreshes", type=int, default=20, help="status refreshes to time")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    seconds = time_breakevens(args.count)
    refresh_ms = asyncio.run(time_refreshes(args.refreshes))
    figures = {
        "breakevens": args.count,
        "breakeven_seconds": round(seconds, 3),
        "breakevens_per_s": round(args.count / seconds),
        "status_refresh_ms_median": round(statistics.median(refresh_ms), 2),
        "status_refresh_ms_first": round(refresh_ms[0], 2),
        "status_refresh_ms_max": round(max(refresh_ms), 2),
    }
    print_figures(figures, args.json)


if __name__ == "__main__":
    main()
