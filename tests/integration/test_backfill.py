"""First-start backfill of the daily series from mempool and CoinGecko history, against the fake."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import httpx
import pytest

from bot.config import Settings
from bot.economics.history import DailyRow
from bot.market.backfill import backfill_daily
from bot.sources import mempool
from bot.sources.aggregate import policy_for
from bot.store import snapshots as snapshot_repo
from bot.store.db import Store
from tests.fakes.upstreams import FakeUpstreams, Fault

TODAY = date(2023, 12, 14)


async def test_daily_network_dates_and_difficulty_steps(
    make_settings: Callable[..., Settings], http_client: httpx.AsyncClient
) -> None:
    settings = make_settings()
    rows = await mempool.fetch_daily_network(
        http_client, str(settings.mempool_url), "1y", policy_for(settings)
    )
    days = {row.day: row for row in rows}
    # The stamp 2023-11-02 00:00 measures 2023-11-01; the first retarget (1.0507) is 2023-11-26 00:16.
    assert min(days) == date(2023, 11, 1)
    assert days[date(2023, 11, 25)].difficulty == pytest.approx(67_957_790_298_897.88 / 1.0507)
    assert days[date(2023, 11, 26)].difficulty == pytest.approx(67_957_790_298_897.88)
    assert days[date(2023, 12, 10)].difficulty == pytest.approx(67_305_906_902_031.39)


async def test_backfill_joins_both_series(
    tmp_path: Path, make_settings: Callable[..., Settings], http_client: httpx.AsyncClient
) -> None:
    store = await Store.open(tmp_path / "bot.db")
    try:
        added = await backfill_daily(store, http_client, make_settings(), TODAY)
        rows: list[DailyRow] = await store.run(snapshot_repo.daily_range)
    finally:
        await store.close()
    # CoinGecko's sample has 2023-12-09..13 at midnight (its trailing "now" point is dropped).
    assert added == 5 and [r.date.day for r in rows] == [9, 10, 11, 12, 13]
    assert rows[0].price_usd == pytest.approx(43_711.21)
    assert rows[-1].difficulty == pytest.approx(67_305_906_902_031.39)
    assert rows[0].hashrate_ths is not None and 4e8 < rows[0].hashrate_ths < 6e8
    # Issuance is estimated from the day's realised hashrate, so Puell and the stress index get a series.
    blocks = 86_400 * rows[0].hashrate_ths * 1e12 / (rows[0].difficulty * 2**32)
    assert rows[0].issuance_btc == pytest.approx(blocks * 6.25)


async def test_backfill_failure_keeps_what_is_stored(
    tmp_path: Path,
    make_settings: Callable[..., Settings],
    http_client: httpx.AsyncClient,
    fake_upstreams: FakeUpstreams,
) -> None:
    fake_upstreams.inject("coingecko", Fault.HTTP_500, times=None)
    store = await Store.open(tmp_path / "bot.db")
    try:
        shipped = DailyRow(date(2023, 1, 1), 16_600.0, 35e12, 2.5e8, 900.0)
        await store.run(snapshot_repo.upsert_daily, [shipped], "shipped")
        added = await backfill_daily(store, http_client, make_settings(source_retries=0), TODAY)
        rows = await store.run(snapshot_repo.daily_range)
    finally:
        await store.close()
    assert added == 0 and rows == [shipped]
