"""First-start backfill of the daily series from history endpoints (mempool.space
https://mempool.space/docs/api/rest, CoinGecko https://docs.coingecko.com).

mempool's ``/v1/mining/hashrate/1y`` gives daily hashrate and the retargets; CoinGecko's daily market chart
gives prices (365 days without a key). Days known to both become daily rows, so Hash Ribbons and charts
work from the first day. Offline, or when either source fails, the history shipped in the package stays
the only history and the live daily job extends it.
"""

from __future__ import annotations

import logging
from datetime import date

import httpx

from bot.config import Settings
from bot.economics.history import DailyRow, estimated_issuance_btc
from bot.sources import mempool
from bot.sources.aggregate import fetch_price_history, policy_for
from bot.sources.http import SourceError
from bot.store import snapshots as snapshot_repo
from bot.store.db import Store

log = logging.getLogger(__name__)

BACKFILL_DAYS = 365


def merge_daily(network: tuple[mempool.DailyNetwork, ...], prices: dict[date, float]) -> list[DailyRow]:
    """Daily rows for the days both series cover, oldest first."""
    return [
        DailyRow(
            row.day,
            prices[row.day],
            row.difficulty,
            row.hashrate_hs / 1e12,
            estimated_issuance_btc(row.day, row.hashrate_hs / 1e12, row.difficulty),
        )
        for row in network
        if row.day in prices
    ]


async def backfill_daily(store: Store, client: httpx.AsyncClient, settings: Settings, today: date) -> int:
    """Fetch up to a year of daily history unless the stored series already reaches yesterday."""
    last = await store.run(snapshot_repo.last_daily_date)
    if last is not None and (today - last).days <= 1:
        return 0
    try:
        network = await mempool.fetch_daily_network(
            client, str(settings.mempool_url), "1y", policy_for(settings)
        )
        prices = {p.day: p.price_usd for p in await fetch_price_history(client, settings, BACKFILL_DAYS)}
    except SourceError as error:
        log.warning("history backfill skipped (%s); using the shipped history", error)
        return 0
    rows = merge_daily(network, prices)
    await store.run(snapshot_repo.upsert_daily, rows, "backfill")
    log.info("history backfill: %d daily rows", len(rows))
    return len(rows)
