"""Fan-out: one capitulation alert to N Telegram chats through the real stack, against Telegram's limits.

Run: ``.venv/bin/python -m benchmarks.fanout --chats N [--paid-broadcast] [--json]``.
N private chats subscribed to network events go into a temporary database and the watch's fan-out turns the
capitulation alert into one broadcast outbox row each; the real ``OutboxWorker`` (the transport's
``rates``: 30/s counted from answers, 1 s per chat) delivers them through the real ``TelegramTransport.send``
(python-telegram-bot over HTTP) to the fake Bot API in a separate process, enforcing Telegram's limits
(30 messages in any sliding second). ``lost`` and ``duplicates`` are counted from the fake's record.

``--paid-broadcast`` runs with ``MINERWATCH_TELEGRAM_PAID_BROADCAST=true`` (``allow_paid_broadcast``,
``bot.transports.telegram.PAID_BROADCAST_PER_S``) and lifts the fake's ceiling to 1000/s: the rate reached
then shows what limits the bot itself.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from benchmarks._common import FakeTelegramProcess, print_figures
from bot.alerts.events import AlertEvent, EventKind
from bot.chat.kinds import ChatKind
from bot.chat.services import StoreServices
from bot.data import load_difficulty_regression
from bot.delivery.worker import OutboxWorker
from bot.store import Store, fanouts
from bot.store.chats import upsert_chat
from bot.store.connection import Connection
from bot.store.outbox import counts
from bot.store.subscriptions import add_network
from bot.transports.telegram import TelegramTransport
from bot.watch.loop import fan_out_chunk
from handlers.router import COMMANDS

FIRST_CHAT_ID = 500_000_001
PAID_CEILING_PER_S = 1000
"""Paid broadcasts' ceiling (Bot API sendMessage ``allow_paid_broadcast``)."""
AT = datetime(2026, 2, 5, 12, 0, tzinfo=UTC)
EVENT = AlertEvent(
    EventKind.REGIME_CAPITULATION,
    f"regime:capitulation:{AT.isoformat()}",
    AT,
    {
        "premium_pct": (66_680 / 87_012 - 1) * 100,
        "price_usd": 66_680.0,
        "cost_usd_per_btc": 87_012.4,
        "cost_model": "difficulty-regression",
        "cost_significant_digits": 2,
        "recovery_above_usd": 89_622.8,
    },
)


def undelivered(db: Connection) -> bool:
    """Whether a row is still pending or in flight (one index probe: cheap enough to ask often)."""
    return (
        db.execute("SELECT 1 FROM outbox WHERE status IN ('pending', 'sending') LIMIT 1").fetchone()
        is not None
    )


def seed(db: Connection, chats: int) -> None:
    """``chats`` private chats subscribed to network events, and the alert's fan-out to them."""
    for i in range(chats):
        chat = upsert_chat(db, "telegram", str(FIRST_CHAT_ID + i), ChatKind.PRIVATE, AT.timestamp())
        add_network(db, chat.id, AT.timestamp())
    fanout_id = fanouts.add(db, EVENT.to_json(), fanouts.Audience.NETWORK, AT.timestamp())
    while not fan_out_chunk(db, fanout_id, time.time()).done:  # made now: day-old alerts expire
        pass


async def fan_out(fake: FakeTelegramProcess, db_path: Path, chats: int, paid: bool) -> dict[str, object]:
    """Deliver the seeded outbox; returns the figures."""
    store = await Store.open(db_path)
    await store.atomic(seed, chats)
    settings = fake.settings(db=str(db_path), telegram_paid_broadcast=paid)
    services = StoreServices(store, settings, load_difficulty_regression())
    transport = TelegramTransport(settings, services, COMMANDS, store)
    await transport.app.initialize()
    await transport.outbox_bot.initialize()
    transport.liveness.connected = True  # initialized: sends may go (no updates needed here)
    worker = OutboxWorker(store, {transport.platform: transport}, rates={transport.platform: transport.rates})
    stop = asyncio.Event()
    started, cpu_started = time.perf_counter(), time.process_time()
    running = asyncio.create_task(worker.run(stop))
    while True:
        await asyncio.sleep(0.1)
        if not await store.run(undelivered):
            break
    seconds = time.perf_counter() - started
    cpu_s = time.process_time() - cpu_started
    stop.set()
    await running
    outcome = await store.run(counts)
    await transport.stop()
    await store.close()

    calls = [c for c in fake.sent("sendMessage") if c["chat_id"] >= FIRST_CHAT_ID]
    received = Counter(c["chat_id"] for c in calls if c["status"] == 200)
    delivered = sum(received.values())
    return {
        "chats": chats,
        "msgs_per_s": round(delivered / seconds, 2),
        "seconds": round(seconds, 1),
        "http_429": sum(1 for c in calls if c["status"] == 429),
        "lost": chats - len(received),
        "duplicates": sum(1 for n in received.values() if n > 1),
        "bot_cpu_pct": round(100 * cpu_s / seconds, 1),
        "outbox": {status.value: n for status, n in outcome.items() if n},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--chats", type=int, default=1000, help="subscribed chats to alert")
    parser.add_argument(
        "--paid-broadcast", action="store_true", help="allow_paid_broadcast=True, 1000/s ceiling"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="minerwatch-fanout-") as tmp,
        FakeTelegramProcess(enforce_limits=True) as fake,
    ):
        if args.paid_broadcast:
            fake.control("set_limits", overall_max=PAID_CEILING_PER_S)
        figures = asyncio.run(fan_out(fake, Path(tmp) / "fanout.db", args.chats, args.paid_broadcast))
        limit_hits = fake.state()["limit_hits"]
    ceiling = PAID_CEILING_PER_S if args.paid_broadcast else 30
    title = f"fan-out of one alert, fake Bot API ceiling {ceiling}/s (limit hits: {limit_hits or 'none'})"
    print_figures(figures, args.json, title=title)


if __name__ == "__main__":
    main()
