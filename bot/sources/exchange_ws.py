"""Public exchange WebSocket tickers: the BTC/USD last-trade price of Coinbase and Kraken as it happens.

Two feeds, each read by ``follow`` over one aiohttp WebSocket connection:

* Coinbase Advanced Trade market data (https://docs.cdp.coinbase.com/advanced-trade/docs/ws-overview,
  ``wss://advanced-trade-ws.coinbase.com``): one subscribe message per channel, ``ticker`` and
  ``heartbeats`` ("most channels close within 60-90 seconds if no updates are sent"; heartbeats come every
  second). A ticker message carries ``events[].tickers[]`` with ``product_id`` and ``price`` (a string);
  an in-band error is ``{"type": "error", "message": ...}``.
* Kraken Spot WebSocket v2 (https://docs.kraken.com/api/docs/websocket-v2/ticker, ``wss://ws.kraken.com/v2``):
  ``{"method": "subscribe", "params": {"channel": "ticker", "symbol": ["BTC/USD"]}}``; snapshot and update
  messages carry ``data[]`` with ``symbol`` and ``last`` (a number); heartbeats (``{"channel":
  "heartbeat"}``) come about once a second without other updates; a refused subscription is acknowledged
  with ``"success": false`` and an ``error``.

A feed that closes, errs, or says nothing for ``stall_s`` seconds (heartbeats included) is down: its
quote is withdrawn (``TickSink.down``), one warning line is logged, and it reconnects after a jittered
back-off (``bot.transports.lifecycle.Backoff``), which starts over once a connection has delivered a
price (a feed that connects but refuses the subscription backs off further each time). Nothing else
depends on a feed: the polled sources go on either way.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp

from bot.sources.http import PRICE_USD, AbsurdValueError
from bot.transports.lifecycle import BACKOFF, Backoff, describe, pause

log = logging.getLogger(__name__)

COINBASE_PRODUCT = "BTC-USD"
KRAKEN_SYMBOL = "BTC/USD"


class StreamError(Exception):
    """The feed answered with an in-band error (e.g. a refused subscription)."""


class TickSink(Protocol):
    """Where a feed's quotes go."""

    def tick(self, source: str, price_usd: float) -> None:
        """``source`` traded at ``price_usd`` just now."""

    def down(self, source: str) -> None:
        """``source``'s connection is gone: its last quote no longer holds."""


@dataclass(frozen=True, slots=True)
class ExchangeFeed:
    """One exchange's ticker feed: where it is, what to send on connect, and how to read a message."""

    source: str
    url: str
    subscribe: tuple[Mapping[str, Any], ...]
    parse: Callable[[Any], float | None]
    """The BTC/USD price a decoded message carries, ``None`` for any other message (heartbeat,
    acknowledgement, status); raises ``StreamError`` for an in-band error."""


def parse_coinbase(message: Any, product_id: str = COINBASE_PRODUCT) -> float | None:
    """The last ``price`` of ``product_id`` in a Coinbase Advanced Trade ``ticker`` message."""
    if not isinstance(message, dict):
        return None
    if message.get("type") == "error":
        raise StreamError(str(message.get("message") or "error"))
    if message.get("channel") != "ticker":
        return None
    prices = [
        ticker["price"]
        for event in message.get("events") or ()
        for ticker in event.get("tickers") or ()
        if ticker.get("product_id") == product_id
    ]
    return float(prices[-1]) if prices else None


def parse_kraken(message: Any, symbol: str = KRAKEN_SYMBOL) -> float | None:
    """The ``last`` trade price of ``symbol`` in a Kraken v2 ``ticker`` snapshot or update."""
    if not isinstance(message, dict):
        return None
    if message.get("method") == "subscribe" and message.get("success") is False:
        raise StreamError(str(message.get("error") or "subscription refused"))
    if message.get("channel") != "ticker":
        return None
    prices = [item["last"] for item in message.get("data") or () if item.get("symbol") == symbol]
    return float(prices[-1]) if prices else None


def coinbase_feed(url: str) -> ExchangeFeed:
    return ExchangeFeed(
        "coinbase",
        url,
        tuple(
            {"type": "subscribe", "product_ids": [COINBASE_PRODUCT], "channel": channel}
            for channel in ("ticker", "heartbeats")
        ),
        parse_coinbase,
    )


def kraken_feed(url: str) -> ExchangeFeed:
    return ExchangeFeed(
        "kraken",
        url,
        ({"method": "subscribe", "params": {"channel": "ticker", "symbol": [KRAKEN_SYMBOL]}},),
        parse_kraken,
    )


class _Connection:
    """One connection's reading; ``heard`` tells whether it delivered a price (the back-off then resets)."""

    def __init__(self, feed: ExchangeFeed, sink: TickSink, stall_s: float) -> None:
        self.feed = feed
        self.sink = sink
        self.stall_s = stall_s
        self.heard = False

    async def run(self, session: aiohttp.ClientSession) -> str:
        """Read until the connection ends; returns why it ended."""
        try:
            async with asyncio.timeout(self.stall_s):  # a handshake that hangs is a stall too
                ws = await session.ws_connect(self.feed.url, autoping=True)
        except TimeoutError:
            return f"no handshake within {self.stall_s:g} s"
        async with ws:
            for request in self.feed.subscribe:
                await ws.send_json(dict(request))
            while True:
                try:
                    message = await ws.receive(timeout=self.stall_s)
                except TimeoutError:
                    return f"no message for {self.stall_s:g} s"
                if message.type is not aiohttp.WSMsgType.TEXT:
                    return f"connection closed, code {ws.close_code}"
                self._read(message.data)

    def _read(self, text: str) -> None:
        try:
            price = self.feed.parse(json.loads(text))
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as error:
            log.debug("%s stream: unreadable message (%s)", self.feed.source, describe(error))
            return
        if price is None:
            return
        try:
            checked = PRICE_USD.check(self.feed.source, price)
        except AbsurdValueError as error:
            log.debug("%s stream: %s", self.feed.source, error)
            return
        self.heard = True
        self.sink.tick(self.feed.source, checked)


async def follow(
    feed: ExchangeFeed,
    session: aiohttp.ClientSession,
    sink: TickSink,
    stop: asyncio.Event,
    *,
    stall_s: float,
    backoff: Backoff = BACKOFF,
) -> None:
    """Keep ``feed`` connected until ``stop`` (an ``asyncio.Event``) is set, reconnecting with back-off."""
    attempt = 0
    while not stop.is_set():
        connection = _Connection(feed, sink, stall_s)
        try:
            reason = await connection.run(session)
        except (
            Exception
        ) as error:  # anything: an optional feed must never end for good, nor take the bot down
            reason = describe(error)
        sink.down(feed.source)
        attempt = 1 if connection.heard else attempt + 1
        delay = backoff.delay(attempt)
        log.warning("%s price stream down (%s); reconnecting in %.1f s", feed.source, reason, delay)
        if await pause(stop, delay):
            return
