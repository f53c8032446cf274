"""Moving the fake market in end-to-end tests, and letting the bot's price polls see it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.economics.history import DailyRow
from bot.economics.stress import HISTORY_DAYS
from bot.store.db import Store
from bot.store.snapshots import upsert_daily
from tests.fakes import Waiting
from tests.fakes.upstreams import FakeUpstreams

PRICE_SOURCES = ("coinbase", "kraken", "bitstamp")
"""The sources whose median is the price (CoinGecko only breaks ties)."""
RECORDED_DIFFICULTY = 132_716_002_350_731.3
"""mempool.space's difficulty in the recorded bodies the fake serves."""


def move_price(upstreams: FakeUpstreams, usd: float) -> None:
    """Every median source now reports ``usd``."""
    for source in PRICE_SOURCES:
        upstreams.set_price(source, usd)


async def price_polls(fake: Waiting, upstreams: FakeUpstreams, count: int) -> None:
    """Let ``count`` more price polls happen (each asks Coinbase once)."""
    target = upstreams.count("coinbase") + count
    await fake.wait_for(lambda: upstreams.count("coinbase") >= target, timeout=10 + 2 * count)


def steady_history(price_usd: float, days: int = HISTORY_DAYS) -> list[DailyRow]:
    """``days`` daily rows ending yesterday (UTC) at one price and the recorded difficulty, so the
    miner-stress index ranks today against the same history whatever date the tests run on."""
    today = datetime.now(UTC).date()
    return [
        DailyRow(today - timedelta(days=back), price_usd, RECORDED_DIFFICULTY, None, None)
        for back in range(days, 0, -1)
    ]


async def store_daily(db_path: Path, rows: list[DailyRow]) -> None:
    """Write ``rows`` into the database at ``db_path`` before the bot opens it (it then neither seeds the
    shipped history nor backfills: the series reaches yesterday)."""
    store = await Store.open(db_path)
    try:
        await store.run(upsert_daily, rows, "test")
    finally:
        await store.close()
