"""The exchange price stream end to end: the real bot (python-telegram-bot against the fake Bot API, the
sources polling the fake upstreams) following the fake Coinbase and Kraken WebSocket tickers."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import BotApp
from bot.config import Settings
from bot.market.price_stream import PriceStream
from handlers.router import COMMANDS
from tests.e2e.market import move_price, price_polls
from tests.fakes.exchange_ws import FakeExchangeStreams
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.upstreams import FakeUpstreams

USER = 1001
POLLED_USD = 100_000.0

StartBot = Callable[..., Awaitable[BotApp]]


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram() as fake:
        yield fake


@pytest.fixture
def exchanges() -> Iterator[FakeExchangeStreams]:
    with FakeExchangeStreams(heartbeat_s=0.2) as fake:
        yield fake


@pytest.fixture
async def start_bot(
    tmp_path: Path, telegram: FakeTelegram, fake_upstreams: FakeUpstreams, exchanges: FakeExchangeStreams
) -> AsyncIterator[StartBot]:
    """``await start_bot(**settings)``: the bot with the market at ``POLLED_USD`` everywhere, ready once
    its first polls are in and the chat has asked for ``/hashprice``."""
    apps: list[BotApp] = []

    async def start(**overrides: Any) -> BotApp:
        move_price(fake_upstreams, POLLED_USD)
        exchanges.set_prices(POLLED_USD)
        settings = Settings.model_validate(
            {
                **fake_upstreams.settings_overrides(),
                **exchanges.settings_overrides(),
                "telegram_token": telegram.token,
                "telegram_base_url": telegram.base_url,
                "db": str(tmp_path / "bot.db"),
                "price_poll_s": 3600,  # one poll at start: any later alert came from the stream
                "network_poll_s": 3600,
                "source_retries": 0,
                "source_timeout_s": 2.0,
                **overrides,
            }
        )
        app = BotApp(settings, COMMANDS)
        apps.append(app)
        await app.start()
        await ask(telegram, "/hashprice", lambda text: "PH/day" in text)
        return app

    yield start
    for app in apps:
        await app.stop()


async def ask(telegram: FakeTelegram, text: str, answered: Callable[[str], bool]) -> str:
    """Send ``text`` (again, until the bot's answer satisfies ``answered``) and return that answer."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        reply = await answer(telegram, text)
        if answered(reply):
            return reply
    raise AssertionError(f"no satisfying answer to {text}")


async def answer(telegram: FakeTelegram, text: str) -> str:
    before = len(telegram.messages_to(USER))
    telegram.send_user_message(USER, text)
    replies = await telegram.wait_for(lambda: telegram.messages_to(USER)[before:], timeout=10)
    return replies[0].text or ""


def alerts(telegram: FakeTelegram) -> list[str]:
    return [call.text or "" for call in telegram.messages_to(USER) if (call.text or "").startswith("🔔")]


def stream_of(app: BotApp) -> PriceStream:
    assert app.price_stream is not None
    return app.price_stream


async def in_step(exchanges: FakeExchangeStreams, stream: PriceStream, usd: float) -> None:
    """Wait until both feeds' quotes are ``usd`` and the stream has checked them."""
    await exchanges.wait_for(
        lambda: (
            stream.quotes == {"coinbase": usd, "kraken": usd}
            and stream.last_verdict is not None
            and stream.last_verdict.price_usd == usd
        ),
        timeout=10,
    )


async def test_a_cross_reaches_the_chat_within_seconds_without_a_poll(
    start_bot: StartBot, telegram: FakeTelegram, fake_upstreams: FakeUpstreams, exchanges: FakeExchangeStreams
) -> None:
    app = await start_bot(price_stream=True)
    await ask(telegram, "/subscribe price below 99k", lambda text: "price below $99,000" in text)
    await in_step(exchanges, stream_of(app), POLLED_USD)
    polls = fake_upstreams.count("coinbase")
    crossed_at = time.time()
    exchanges.set_prices(98_500.0)
    first = await telegram.wait_for(lambda: alerts(telegram), timeout=5)
    assert "price below $99,000" in first[0] and "$98,500" in first[0]
    delivered_at = telegram.messages_to(USER)[-1].time
    assert delivered_at - crossed_at < 5
    assert fake_upstreams.count("coinbase") == polls  # no poll in between: the stream carried it


@pytest.mark.parametrize(
    "absurd_usd",
    [
        60_000.0,  # -40 %: beyond the jump limit
        85_000.0,  # -15 %: within the jump limit, but the other stream and the polls disagree
    ],
)
async def test_a_lone_absurd_tick_does_not_alert(
    start_bot: StartBot, telegram: FakeTelegram, exchanges: FakeExchangeStreams, absurd_usd: float
) -> None:
    app = await start_bot(price_stream=True)
    stream = stream_of(app)
    await ask(telegram, "/subscribe price below 90k", lambda text: "price below $90,000" in text)
    await in_step(exchanges, stream, POLLED_USD)
    exchanges.set_price("coinbase", absurd_usd)
    await exchanges.wait_for(
        lambda: (
            stream.quotes.get("coinbase") == absurd_usd
            and stream.last_verdict is not None
            and stream.last_verdict.sources == ("kraken",)
        ),
        timeout=10,
    )
    assert stream.evaluated_usd == POLLED_USD
    # Both exchanges then agree on a real cross: exactly one alert, at the agreed price.
    exchanges.set_prices(89_000.0)
    first = await telegram.wait_for(lambda: alerts(telegram), timeout=5)
    assert len(first) == 1 and "$89,000" in first[0]


async def test_streams_drop_and_reconnect_while_polling_goes_on(
    start_bot: StartBot,
    telegram: FakeTelegram,
    fake_upstreams: FakeUpstreams,
    exchanges: FakeExchangeStreams,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = await start_bot(price_stream=True, price_poll_s=1, network_poll_s=1, price_stream_stall_s=1)
    stream = stream_of(app)
    await ask(telegram, "/subscribe price below 90k", lambda text: "price below $90,000" in text)
    await in_step(exchanges, stream, POLLED_USD)
    exchanges.drop("coinbase")
    exchanges.stall("kraken")  # silent but open: taken for disconnected after 1 s
    await exchanges.wait_for(
        lambda: exchanges.connections["coinbase"] >= 2 and exchanges.connections["kraken"] >= 2, timeout=10
    )
    exchanges.stall("kraken", False)
    exchanges.set_prices(POLLED_USD)  # the next trade on each feed
    await in_step(exchanges, stream, POLLED_USD)  # both feeds back, their quotes checked again
    downs = [r.getMessage() for r in caplog.records if "price stream down" in r.getMessage()]
    assert any(line.startswith("coinbase price stream down (connection closed") for line in downs)
    assert any(line.startswith("kraken price stream down (no message for 1 s)") for line in downs)
    # The polls never stopped: a cross at the polled sources alone alerts.
    exchanges.stall("coinbase")
    exchanges.stall("kraken")
    await price_polls(telegram, fake_upstreams, 1)
    move_price(fake_upstreams, 89_000.0)
    first = await telegram.wait_for(lambda: alerts(telegram), timeout=10)
    assert "$89,000" in first[0]


async def test_off_by_default_no_connection_is_attempted(
    start_bot: StartBot, telegram: FakeTelegram, fake_upstreams: FakeUpstreams, exchanges: FakeExchangeStreams
) -> None:
    app = await start_bot(price_poll_s=1, network_poll_s=1)
    assert app.price_stream is None
    await ask(telegram, "/subscribe price below 90k", lambda text: "price below $90,000" in text)
    move_price(fake_upstreams, 89_000.0)
    await telegram.wait_for(lambda: alerts(telegram), timeout=10)
    assert exchanges.connections == {"coinbase": 0, "kraken": 0}
