"""The two ticker protocols read the exchanges' documented message bodies (tests/fixtures/exchange_ws)."""

from __future__ import annotations

import pytest

from bot.sources.exchange_ws import StreamError, coinbase_feed, kraken_feed, parse_coinbase, parse_kraken
from tests.fakes.exchange_ws import fixture


def test_coinbase_ticker_gives_the_last_trade_price() -> None:
    assert parse_coinbase(fixture("coinbase__ticker.json")) == 21932.98


def test_coinbase_ticker_of_another_product_is_not_a_price() -> None:
    assert parse_coinbase(fixture("coinbase__ticker.json"), "ETH-USD") is None


@pytest.mark.parametrize("name", ["coinbase__subscriptions.json", "coinbase__heartbeats.json"])
def test_coinbase_acknowledgements_and_heartbeats_carry_no_price(name: str) -> None:
    assert parse_coinbase(fixture(name)) is None


def test_coinbase_error_is_raised() -> None:
    with pytest.raises(StreamError, match="failure to subscribe"):
        parse_coinbase(fixture("coinbase__error__shape.json"))


def test_kraken_ticker_gives_last_of_the_subscribed_symbol() -> None:
    body = fixture("kraken__ticker_snapshot.json")
    assert parse_kraken(body, "ALGO/USD") == 0.10035
    assert parse_kraken(body) is None  # the documented sample is ALGO/USD, not BTC/USD


@pytest.mark.parametrize(
    "name", ["kraken__status.json", "kraken__subscribe_ack.json", "kraken__heartbeat.json"]
)
def test_kraken_status_acknowledgements_and_heartbeats_carry_no_price(name: str) -> None:
    assert parse_kraken(fixture(name)) is None


def test_kraken_refused_subscription_is_raised() -> None:
    with pytest.raises(StreamError, match="Currency pair not supported"):
        parse_kraken(fixture("kraken__subscribe_error__shape.json"))


def test_subscribe_requests_follow_the_documented_shapes() -> None:
    coinbase = coinbase_feed("wss://advanced-trade-ws.coinbase.com")
    assert [dict(m) for m in coinbase.subscribe] == [
        {"type": "subscribe", "product_ids": ["BTC-USD"], "channel": "ticker"},
        {"type": "subscribe", "product_ids": ["BTC-USD"], "channel": "heartbeats"},
    ]
    kraken = kraken_feed("wss://ws.kraken.com/v2")
    assert [dict(m) for m in kraken.subscribe] == [
        {"method": "subscribe", "params": {"channel": "ticker", "symbol": ["BTC/USD"]}}
    ]
