"""The feed follower against the loopback fake of both exchanges' WebSocket tickers: subscribe, read
ticks, and come back after a drop or a stall (treated as a disconnection) with one warning line."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator

import aiohttp
import pytest

from bot.sources.exchange_ws import ExchangeFeed, coinbase_feed, follow, kraken_feed
from bot.transports.lifecycle import Backoff
from tests.fakes.exchange_ws import FakeExchangeStreams, Source

FAST = Backoff(first_s=0.01, cap_s=0.05)


class Sink:
    def __init__(self) -> None:
        self.ticks: list[tuple[str, float]] = []
        self.downs: list[str] = []

    def tick(self, source: str, price_usd: float) -> None:
        self.ticks.append((source, price_usd))

    def down(self, source: str) -> None:
        self.downs.append(source)

    def last(self, source: str) -> float | None:
        prices = [price for name, price in self.ticks if name == source]
        return prices[-1] if prices else None


@pytest.fixture
def exchanges() -> Iterator[FakeExchangeStreams]:
    with FakeExchangeStreams(heartbeat_s=0.05) as fake:
        yield fake


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def feed(exchanges: FakeExchangeStreams, source: Source) -> ExchangeFeed:
    return (coinbase_feed if source == "coinbase" else kraken_feed)(exchanges.url(source))


async def following(
    exchanges: FakeExchangeStreams, session: aiohttp.ClientSession, sink: Sink, stall_s: float = 5.0
) -> tuple[asyncio.Event, list[asyncio.Task[None]]]:
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(follow(feed(exchanges, s), session, sink, stop, stall_s=stall_s, backoff=FAST))
        for s in ("coinbase", "kraken")
    ]
    return stop, tasks


async def stopped(stop: asyncio.Event, tasks: list[asyncio.Task[None]]) -> None:
    stop.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


@pytest.mark.parametrize("source", ["coinbase", "kraken"])
async def test_subscribes_and_reads_snapshot_then_updates(
    exchanges: FakeExchangeStreams, session: aiohttp.ClientSession, source: Source
) -> None:
    exchanges.set_price(source, 61_000.5)
    sink = Sink()
    stop, tasks = await following(exchanges, session, sink)
    try:
        await exchanges.wait_for(lambda: sink.last(source) == 61_000.5)
        exchanges.set_price(source, 60_999.25)
        await exchanges.wait_for(lambda: sink.last(source) == 60_999.25)
        assert exchanges.connections[source] == 1 and not sink.downs
    finally:
        await stopped(stop, tasks)
    assert exchanges.requests["coinbase"] == [
        {"type": "subscribe", "product_ids": ["BTC-USD"], "channel": "ticker"},
        {"type": "subscribe", "product_ids": ["BTC-USD"], "channel": "heartbeats"},
    ]
    assert exchanges.requests["kraken"] == [
        {"method": "subscribe", "params": {"channel": "ticker", "symbol": ["BTC/USD"]}}
    ]


async def test_a_dropped_feed_is_withdrawn_reconnects_and_logs_one_line(
    exchanges: FakeExchangeStreams, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    exchanges.set_prices(60_000.0)
    sink = Sink()
    stop, tasks = await following(exchanges, session, sink)
    try:
        await exchanges.wait_for(lambda: sink.last("coinbase") and sink.last("kraken"))
        with caplog.at_level(logging.WARNING, logger="bot.sources.exchange_ws"):
            exchanges.drop("coinbase")
            await exchanges.wait_for(lambda: exchanges.connections["coinbase"] == 2)
            await exchanges.wait_for(lambda: exchanges.live("coinbase") == 1)
        assert sink.downs == ["coinbase"]
        lines = [r.getMessage() for r in caplog.records if r.name == "bot.sources.exchange_ws"]
        assert len(lines) == 1 and lines[0].startswith("coinbase price stream down (connection closed")
        exchanges.set_price("coinbase", 59_000.0)  # ticks flow again on the new connection
        await exchanges.wait_for(lambda: sink.last("coinbase") == 59_000.0)
        assert exchanges.connections["kraken"] == 1  # the other feed never noticed
    finally:
        await stopped(stop, tasks)


async def test_a_stalled_feed_is_treated_as_disconnected(
    exchanges: FakeExchangeStreams, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    exchanges.set_prices(60_000.0)
    sink = Sink()
    stop, tasks = await following(exchanges, session, sink, stall_s=0.5)
    try:
        await exchanges.wait_for(lambda: sink.last("kraken"))
        with caplog.at_level(logging.WARNING, logger="bot.sources.exchange_ws"):
            exchanges.stall("kraken")
            await exchanges.wait_for(lambda: "kraken" in sink.downs)
            exchanges.stall("kraken", False)
            await exchanges.wait_for(lambda: exchanges.connections["kraken"] >= 2)
        assert any("no message for 0.5 s" in r.getMessage() for r in caplog.records)
        exchanges.set_price("kraken", 58_000.0)
        await exchanges.wait_for(lambda: sink.last("kraken") == 58_000.0)
    finally:
        await stopped(stop, tasks)


GARBAGE = {
    "coinbase": [
        "not json",
        "[1, 2]",
        '{"channel": "ticker", "events": [{"tickers": [{"product_id": "BTC-USD", "price": "abc"}]}]}',
        '{"channel": "ticker", "events": [{"tickers": [{"product_id": "BTC-USD", "price": "NaN"}]}]}',
        '{"channel": "ticker", "events": [{"tickers": [{"product_id": "BTC-USD", "price": "0.5"}]}]}',
        '{"channel": "ticker", "events": [{"tickers": [{"product_id": "BTC-USD"}]}]}',
        '{"channel": "ticker", "events": "nope"}',
    ],
    "kraken": [
        '{"channel": "ticker", "data": [{"symbol": "BTC/USD", "last": ' + "9" * 400 + "}]}",
        '{"channel": "ticker", "data": [{"symbol": "BTC/USD", "last": Infinity}]}',
        '{"channel": "ticker", "data": [{"symbol": "BTC/USD", "last": null}]}',
        '{"channel": "ticker", "data": {"symbol": "BTC/USD"}}',
        '{"channel": "ticker", "data": [{"symbol": "BTC/USD", "last": 50000000}]}',
    ],
}


@pytest.mark.parametrize("source", ["coinbase", "kraken"])
async def test_garbage_drops_that_message_only(
    exchanges: FakeExchangeStreams, session: aiohttp.ClientSession, source: Source
) -> None:
    exchanges.set_price(source, 60_000.0)
    sink = Sink()
    stop, tasks = await following(exchanges, session, sink)
    try:
        await exchanges.wait_for(lambda: sink.last(source) == 60_000.0)
        for text in GARBAGE[source]:
            exchanges.send_raw(source, text)
        exchanges.set_price(source, 60_500.0)  # after the garbage, on the same connection
        await exchanges.wait_for(lambda: sink.last(source) == 60_500.0)
        assert [price for name, price in sink.ticks if name == source] == [60_000.0, 60_500.0]
        assert exchanges.connections[source] == 1 and not sink.downs
    finally:
        await stopped(stop, tasks)


async def test_a_refused_subscription_is_a_disconnection_retried_with_back_off(
    exchanges: FakeExchangeStreams, session: aiohttp.ClientSession
) -> None:
    wrong = ExchangeFeed(
        "kraken",
        exchanges.url("kraken"),
        ({"method": "subscribe", "params": {"channel": "ticker", "symbol": ["BTC/ABC"]}},),
        kraken_feed("").parse,
    )
    ceilings: list[float] = []

    def uniform(low: float, high: float) -> float:
        ceilings.append(high)
        return low

    sink = Sink()
    stop = asyncio.Event()
    backoff = Backoff(first_s=0.01, cap_s=0.05, uniform=uniform)
    task = asyncio.create_task(follow(wrong, session, sink, stop, stall_s=5.0, backoff=backoff))
    try:
        await exchanges.wait_for(lambda: len(ceilings) >= 4)
        assert ceilings[:4] == [0.01, 0.02, 0.04, 0.05]
        assert not sink.ticks
    finally:
        await stopped(stop, [task])


async def test_a_handshake_that_hangs_counts_as_a_stall(
    session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    accepted: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)  # takes the TCP connection, never answers the upgrade

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    sink = Sink()
    stop = asyncio.Event()
    hanging = kraken_feed(f"ws://127.0.0.1:{port}/v2")
    task = asyncio.create_task(follow(hanging, session, sink, stop, stall_s=0.3, backoff=FAST))
    try:
        with caplog.at_level(logging.WARNING, logger="bot.sources.exchange_ws"):
            await eventually(lambda: len(accepted) >= 2, timeout=5)
        assert "no handshake within 0.3 s" in caplog.records[0].getMessage()
        assert sink.downs and not sink.ticks
    finally:
        await stopped(stop, [task])
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()


async def eventually(predicate: Callable[[], bool], timeout: float) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)
