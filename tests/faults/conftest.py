"""Shared by the fault tests: virtual time, a temp-file store and the recorded market as a snapshot."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.sources.snapshot import MarketSnapshot, NetworkState, PriceQuote, SourceOutcome
from bot.store import Store

START = datetime(2026, 2, 5, 12, 0, tzinfo=UTC)


class VirtualTime:
    """A clock in Unix seconds (``clock()``), as a datetime (``clock.datetime()``), and a sleep that
    yields once and then moves the clock to its wake-up time: nothing waits for real time."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start.timestamp()

    def __call__(self) -> float:
        return self.now

    def datetime(self) -> datetime:
        return datetime.fromtimestamp(self.now, UTC)

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        wake = self.now + seconds
        await asyncio.sleep(0)
        self.now = max(self.now, wake)


def market_snapshot(taken_at: datetime = START - timedelta(minutes=2)) -> MarketSnapshot:
    """The recorded market (tests/fixtures/upstreams): $85,864, difficulty 132.72 T, height 935,000."""
    quote = PriceQuote(85_864.0, taken_at, (SourceOutcome("coinbase", taken_at, True, 85_864.0),))
    network = NetworkState(132_716_002_350_731.0, 935_000, 0.1312, 9.5e20, None, taken_at, "mempool", ())
    return MarketSnapshot(quote, network, taken_at)


@pytest.fixture
def clock() -> VirtualTime:
    return VirtualTime()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "faults.db")
    yield opened
    await opened.close()
