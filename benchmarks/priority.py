"""Priority: personal alerts enqueued while a network alert fans out to N chats, through the real stack.

Run: ``.venv/bin/python -m benchmarks.priority [--chats N] [--alerts K] [--json]``.
As ``benchmarks.fanout``: N subscribed private chats get the capitulation alert through the watch's fan-out,
the real ``OutboxWorker`` and ``TelegramTransport`` (python-telegram-bot over HTTP) to the fake Bot API in a
separate process enforcing Telegram's limits. Meanwhile K personal threshold alerts (K other chats) are
enqueued one by one, spread over the broadcast's expected duration; each one's latency runs from its enqueue
to the fake Bot API's receipt of it. Reports p50 / p99 / max latency, and the broadcast's own figures.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks._common import FakeTelegramProcess, print_figures
from benchmarks.fanout import FIRST_CHAT_ID, seed
from bot.chat.kinds import ChatKind
from bot.chat.services import StoreServices
from bot.data import load_difficulty_regression
from bot.delivery.worker import OutboxWorker
from bot.store import Store
from bot.store.chats import upsert_chat
from bot.store.outbox import NewMessage, OutboxStatus, counts, enqueue
from bot.transports.telegram import SENDS_PER_S, TelegramTransport
from handlers.router import COMMANDS

FIRST_PERSONAL_ID = 900_000_001


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


async def run(fake: FakeTelegramProcess, db_path: Path, chats: int, alerts: int) -> dict[str, object]:
    store = await Store.open(db_path)
    await store.atomic(seed, chats)
    personal = [
        await store.run(upsert_chat, "telegram", str(FIRST_PERSONAL_ID + n), ChatKind.PRIVATE, time.time())
        for n in range(alerts)
    ]
    settings = fake.settings(db=str(db_path))
    transport = TelegramTransport(
        settings, StoreServices(store, settings, load_difficulty_regression()), COMMANDS, store
    )
    await transport.app.initialize()
    await transport.outbox_bot.initialize()
    await transport.broadcast.initialize()
    transport.liveness.connected = True  # initialized: sends may go (no updates needed here)
    worker = OutboxWorker(store, {transport.platform: transport}, rates={transport.platform: transport.rates})
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    started = time.time()
    every_s = chats / SENDS_PER_S * 0.9 / alerts
    enqueued: dict[int, float] = {}
    for n, chat in enumerate(personal):
        await asyncio.sleep(max(0.0, started + (n + 1) * every_s - time.time()))
        message = NewMessage(
            f"threshold:bench:{n}", chat.id, "telegram", chat.chat_id, "threshold", "price below"
        )
        enqueued[int(chat.chat_id)] = time.time()
        await store.run(enqueue, [message], enqueued[int(chat.chat_id)])
        worker.notify()
    while True:
        await asyncio.sleep(0.5)
        left = await store.run(counts)
        if left[OutboxStatus.PENDING] + left[OutboxStatus.SENDING] == 0:
            break
    seconds = time.time() - started
    stop.set()
    await running
    await transport.stop()
    await store.close()

    calls = [c for c in fake.sent("sendMessage") if c["status"] == 200]
    received = {c["chat_id"]: c["time"] for c in calls if c["chat_id"] in enqueued}
    latencies = [received[chat_id] - at for chat_id, at in enqueued.items() if chat_id in received]
    broadcast = sum(1 for c in calls if FIRST_CHAT_ID <= c["chat_id"] < FIRST_PERSONAL_ID)
    return {
        "chats": chats,
        "alerts": alerts,
        "delivered": len(latencies),
        "p50_s": round(statistics.median(latencies), 2),
        "p99_s": round(percentile(latencies, 0.99), 2),
        "max_s": round(max(latencies), 2),
        "broadcast_msgs_per_s": round(broadcast / seconds, 2),
        "broadcast_delivered": broadcast,
        "http_429": sum(1 for c in fake.sent("sendMessage") if c["status"] == 429),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--chats", type=int, default=10_000, help="chats the network alert goes to")
    parser.add_argument("--alerts", type=int, default=100, help="personal alerts enqueued during it")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="minerwatch-priority-") as tmp,
        FakeTelegramProcess(enforce_limits=True) as fake,
    ):
        figures = asyncio.run(run(fake, Path(tmp) / "priority.db", args.chats, args.alerts))
    print_figures(
        figures, args.json, title="personal alerts during a broadcast (latency: enqueue -> Bot API)"
    )


if __name__ == "__main__":
    main()
