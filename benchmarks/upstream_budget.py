"""Upstream budget: HTTP calls per provider over a simulated day, and whether they fit the free limits.

Run: ``.venv/bin/python -m benchmarks.upstream_budget --hours 24 --chats N [--json]``.
A controlled clock drives the real ``LivePoller`` (``poll_price`` every ``price_poll_s``, ``poll_network``
every ``network_poll_s``, ``daily`` every ``bot.app.DAILY_JOB_S``, as the app schedules them) against the
fake upstreams on 127.0.0.1, over a real store and watch. Each of the N chats subscribes to network news and
a price alert, then sends commands (``handlers.router.dispatch`` with a ``StoreServices``) between polls.
Calls are counted from the fake's request log; nothing waits for real time.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import tempfile
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from benchmarks._common import print_figures
from bot.alerts.regime import RegimeParams
from bot.app import DAILY_JOB_S
from bot.chat.commands import parse_command
from bot.chat.context import Chat
from bot.chat.services import StoreServices
from bot.config import Settings
from bot.data import load_difficulty_regression, load_history
from bot.market.poller import LivePoller
from bot.store import Store
from bot.store.snapshots import upsert_daily
from bot.watch.loop import Watch
from handlers.router import dispatch
from tests.fakes.upstreams import FakeUpstreams

START = datetime(2026, 2, 5, tzinfo=UTC)
COMMANDS = (
    "/status",
    "/breakeven s19xp 5c",
    "/hashprice",
    "/margin s21 6c",
    "/difficulty",
    "/cost",
    "/alerts",
)
SETUP_COMMANDS = ("/subscribe network", "/subscribe price below 60k")
FREE_LIMITS_PER_HOUR: dict[str, tuple[float, str]] = {
    "mempool": (200 * 60, "200 r/min (self-hosted nginx default)"),
    "blockchain.info": (360, "1 per 10 s"),
    "coinbase": (10_000, "10,000/h"),
    "kraken": (3600, "~1/s"),
    "bitstamp": (48_000, "8,000 per 10 min"),
    "coingecko": (300, "~5-15/min keyless (5/min taken)"),
}
"""reference/apis.md; the lower figure where a range is given."""


class SimClock:
    """The simulated time every component reads."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def timestamp(self) -> float:
        return self.now.timestamp()


def schedule(
    settings: Settings, hours: float, poller: LivePoller
) -> list[tuple[float, Callable[[], Awaitable[None]]]]:
    """(offset in seconds, job) for the simulated span, in the order the app's scheduler runs them."""
    end = hours * 3600
    jobs: list[tuple[float, int, Callable[[], Awaitable[None]]]] = []
    for order, (first, interval, job) in enumerate(
        [
            (0.0, settings.price_poll_s, poller.poll_price),
            (0.0, settings.network_poll_s, poller.poll_network),
            (settings.network_poll_s, DAILY_JOB_S, poller.daily),
        ]
    ):
        jobs += [(first + n * interval, order, job) for n in range(math.ceil((end - first) / interval))]
    return [(at, job) for at, _, job in sorted(jobs, key=lambda j: (j[0], j[1]))]


async def simulate(fake: FakeUpstreams, db_path: Path, hours: float, chats: int, rate: float) -> Counter[str]:
    """Run the day; returns the HTTP calls per source."""
    clock = SimClock()
    settings = Settings.model_validate(fake.settings_overrides())
    store = await Store.open(db_path)
    await store.run(upsert_daily, load_history(), "shipped")
    regression = load_difficulty_regression()
    services = StoreServices(store, settings, regression, clock=clock)
    watch = Watch(store, regression, RegimeParams(), clock=clock.timestamp, on_enqueued=lambda: None)
    users = [Chat(platform="telegram", chat_id=str(800_000_001 + i)) for i in range(chats)]

    async def say(chat: Chat, text: str) -> None:
        request = parse_command(chat, text)
        assert request is not None
        await dispatch(request, services)

    async with httpx.AsyncClient(timeout=settings.source_timeout_s) as client:
        poller = LivePoller(store, settings, watch, client, clock=clock)
        for user in users:
            for text in SETUP_COMMANDS:
                await say(user, text)
        fake.reset()  # count the polls only: the setup above made no upstream call anyway
        sent = 0
        for at, job in schedule(settings, hours, poller):
            due = math.floor(chats * rate * at / 3600)
            for n in range(sent, due):
                await say(users[n % chats], COMMANDS[n % len(COMMANDS)])
            sent = due
            clock.now = START + timedelta(seconds=at)
            await job()
    await store.close()
    return Counter(request.source for request in fake.requests)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--hours", type=float, default=24.0, help="simulated hours")
    parser.add_argument("--chats", type=int, default=10, help="chats sending commands")
    parser.add_argument("--commands-per-chat-hour", type=float, default=1.0, help="each chat's command rate")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="minerwatch-budget-") as tmp, FakeUpstreams() as fake:
        calls = asyncio.run(
            simulate(fake, Path(tmp) / "budget.db", args.hours, args.chats, args.commands_per_chat_hour)
        )
    per_hour = {source: round(n / args.hours, 1) for source, n in sorted(calls.items())}
    within = all(per_hour.get(s, 0) <= limit for s, (limit, _) in FREE_LIMITS_PER_HOUR.items())
    figures = {"chats": args.chats, "calls_per_hour": per_hour, "within_free_limits": within}
    rows: list[tuple[str, ...]] = [("source", "calls/h", "free limit/h", "documented limit")]
    for source in sorted(set(per_hour) | set(FREE_LIMITS_PER_HOUR)):
        limit, note = FREE_LIMITS_PER_HOUR.get(source, (math.inf, "-"))
        rows.append((source, f"{per_hour.get(source, 0):,}", f"{limit:,.0f}", note))
    rows.append(("within every free limit", "yes" if within else "NO"))
    title = f"{args.hours:g} simulated hours, {args.chats} chats x {args.commands_per_chat_hour:g} command/h"
    print_figures(figures, args.json, rows, title)


if __name__ == "__main__":
    main()
