"""Price-alert latency: from a price cross at the (fake) exchanges to the alert at the fake Bot API.

Run: ``.venv/bin/python -m benchmarks.latency [--trials N] [--price-poll-s S] [--json]``.
The whole bot runs (``BotApp``: polls, watch, outbox, python-telegram-bot) against loopback fakes: the
REST price sources and the Coinbase/Kraken WebSocket tickers in threads, the Bot API in its own process.
One chat holds one ``price below`` rule per trial, a ladder 500 USD apart; each trial moves every source at
once 500 USD down, across the next rule's threshold, after a random pause of up to one poll interval (so
the moves fall on every phase of the poll), and times the move to the alert's arrival at the fake.
Measured twice: polling only, and with ``MINERWATCH_PRICE_STREAM=true``. Polling alone waits for the next
poll (about half an interval on average); the stream's latency does not depend on the interval.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._common import FakeTelegramProcess, print_figures
from bot.app import BotApp
from handlers.router import COMMANDS
from tests.e2e.market import move_price
from tests.fakes.exchange_ws import FakeExchangeStreams
from tests.fakes.upstreams import FakeUpstreams

CHAT = 800_000_001
START_USD = 100_000.0
STEP_USD = 500.0
"""Each trial moves every source down by this much (0.5 %), across one rule's threshold."""


def price_at(trial: int) -> float:
    return START_USD - STEP_USD * trial


def move(upstreams: FakeUpstreams, exchanges: FakeExchangeStreams, usd: float) -> None:
    move_price(upstreams, usd)
    exchanges.set_prices(usd)


async def alerts_sent(fake: FakeTelegramProcess) -> list[dict[str, Any]]:
    calls = await asyncio.to_thread(fake.sent, "sendMessage")
    return [
        c for c in calls if c["chat_id"] == CHAT and (c["text"] or "").startswith("🔔") and c["status"] == 200
    ]


async def wait_alerts(fake: FakeTelegramProcess, count: int, timeout: float) -> list[dict[str, Any]]:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while len(sent := await alerts_sent(fake)) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(sent)} of {count} alerts after {timeout:g} s")
        await asyncio.sleep(0.02)
    return sent


async def run_mode(
    fake: FakeTelegramProcess,
    upstreams: FakeUpstreams,
    exchanges: FakeExchangeStreams,
    db_path: Path,
    *,
    stream: bool,
    trials: int,
    price_poll_s: float,
) -> list[float]:
    """Latencies (s) of ``trials`` crosses with the stream on or off."""
    move(upstreams, exchanges, START_USD)
    settings = fake.settings(
        **upstreams.settings_overrides(),
        **exchanges.settings_overrides(),
        db=str(db_path),
        price_poll_s=price_poll_s,
        source_retries=0,
        price_stream=stream,
    )
    app = BotApp(settings, COMMANDS)
    await app.start()
    try:
        before = len(await asyncio.to_thread(fake.sent, "sendMessage"))
        alerted = len(await alerts_sent(fake))  # by an earlier mode
        for trial in range(trials):  # one rule between each price and the next
            threshold = round(price_at(trial) - STEP_USD / 2)
            text = f"/subscribe price below {threshold}"
            await asyncio.to_thread(fake.control, "send_user_message", chat_id=CHAT, text=text)
        await asyncio.to_thread(fake.wait, "sendMessage", before + trials, 30 + trials)
        await asyncio.sleep(price_poll_s)  # the first polls are in
        latencies: list[float] = []
        for trial in range(1, trials + 1):
            await asyncio.sleep(random.uniform(0, price_poll_s))  # any phase of the poll
            crossed_at = time.time()
            move(upstreams, exchanges, price_at(trial))
            sent = await wait_alerts(fake, alerted + trial, 2 * price_poll_s + 30)
            latencies.append(sent[-1]["time"] - crossed_at)
        return latencies
    finally:
        await app.stop()


def summary(latencies: list[float]) -> dict[str, float]:
    percentiles = statistics.quantiles(latencies, n=100, method="inclusive")
    return {
        "p50_s": round(percentiles[49], 3),
        "p99_s": round(percentiles[98], 3),
        "max_s": round(max(latencies), 3),
    }


async def measure(trials: int, price_poll_s: float) -> dict[str, Any]:
    figures: dict[str, Any] = {"trials": trials, "price_poll_s": price_poll_s}
    with (
        FakeTelegramProcess(enforce_limits=False) as fake,
        FakeUpstreams() as upstreams,
        FakeExchangeStreams(heartbeat_s=1.0) as exchanges,
        tempfile.TemporaryDirectory(prefix="minerwatch-latency-") as tmp,
    ):
        for name, stream in (("polling", False), ("stream", True)):
            latencies = await run_mode(
                fake,
                upstreams,
                exchanges,
                Path(tmp) / f"{name}.db",
                stream=stream,
                trials=trials,
                price_poll_s=price_poll_s,
            )
            figures[name] = summary(latencies)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--trials", type=int, default=10, help="price crosses per mode")
    parser.add_argument("--price-poll-s", type=float, default=10.0, help="seconds between price polls")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    figures = asyncio.run(measure(args.trials, args.price_poll_s))
    rows = [("mode", "p50 s", "p99 s", "max s")] + [
        (mode, *(f"{figures[mode][key]:.3f}" for key in ("p50_s", "p99_s", "max_s")))
        for mode in ("polling", "stream")
    ]
    title = f"cross -> alert, {args.trials} crosses, price poll every {args.price_poll_s:g} s"
    print_figures(figures, args.json, rows=rows, title=title)


if __name__ == "__main__":
    main()
