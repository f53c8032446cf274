"""A process for the crash tests to run and SIGKILL (run as a script, not imported by pytest).

``crash_worker.py deliver DB OUT [CONCURRENCY]``: run the real OutboxWorker until the outbox is drained,
through a slow notifier (2-5 ms per send) that appends each message's text to OUT and fsyncs it.

``crash_worker.py evaluate DB PRICE NOW``: evaluate the threshold rules on one price and enqueue one
message per fired rule, in ONE transaction, as the alert engine does. ``CRASH_AT=before_commit``
kills the process inside that transaction; ``CRASH_AT=after_commit`` right after it committed.

``crash_worker.py fanout DB``: run the watch's fan-out of every unfinished job (chunk by chunk);
``CRASH_AT=chunk:N`` kills the process once N chunks have committed.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
import time
from pathlib import Path

from bot.alerts.regime import RegimeParams
from bot.alerts.rules import KeyMetric
from bot.data import load_difficulty_regression
from bot.delivery import Destination, OutboundMessage, OutboxWorker, Sent
from bot.store import Store
from bot.store.chats import get_chat
from bot.store.connection import Connection
from bot.store.outbox import NewMessage, OutboxStatus, counts, enqueue
from bot.store.subscriptions import evaluate_thresholds
from bot.watch.loop import Watch


def crash_if(point: str) -> None:
    if os.environ.get("CRASH_AT") == point:
        os.kill(os.getpid(), signal.SIGKILL)


class SlowFileNotifier:
    """Takes 2-5 ms per send; a delivered message is one fsynced line of OUT."""

    platform = "telegram"

    def __init__(self, out: Path) -> None:
        self._fd = os.open(out, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    async def send(self, destination: Destination, message: OutboundMessage) -> Sent:
        await asyncio.sleep(random.uniform(0.002, 0.005))
        os.write(self._fd, f"{message.text}\n".encode())
        os.fsync(self._fd)
        return Sent()


async def deliver(db_path: Path, out: Path, concurrency: int) -> None:
    store = await Store.open(db_path)
    worker = OutboxWorker(
        store,
        {"telegram": SlowFileNotifier(out)},
        rates={"telegram": None},  # unpaced: the kills land mid-way through many rounds
        concurrency=concurrency,
    )
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    while True:
        left = await store.run(counts)
        if left[OutboxStatus.PENDING] == left[OutboxStatus.SENDING] == 0:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await running
    await store.close()


def decide_and_enqueue(db: Connection, price: float, now: float) -> int:
    fired = evaluate_thresholds(db, {KeyMetric.PRICE_USD: price}, now)
    messages = []
    for f in fired:
        chat = get_chat(db, f.chat_ref)
        assert chat is not None
        key = f"threshold:{f.subscription_id}:{f.fire_count}:{chat.chat_id}"
        text = f"{key} price {f.key_value:.0f} {f.op} {f.threshold:.0f}"
        messages.append(NewMessage(key, chat.id, chat.platform, chat.chat_id, "threshold", text))
    enqueue(db, messages, now)
    crash_if("before_commit")
    return len(fired)


async def evaluate(db_path: Path, price: float, now: float) -> None:
    store = await Store.open(db_path)
    fired = await store.atomic(decide_and_enqueue, price, now)
    crash_if("after_commit")
    print(fired)
    await store.close()


async def fan_out(db_path: Path) -> None:
    store = await Store.open(db_path)
    chunks = 0

    def committed() -> None:
        nonlocal chunks
        chunks += 1
        crash_if(f"chunk:{chunks}")

    watch = Watch(store, load_difficulty_regression(), RegimeParams(), clock=time.time, on_enqueued=committed)
    print(await watch.fan_out())
    await store.close()


def main() -> None:
    mode, db_path = sys.argv[1], Path(sys.argv[2])
    if mode == "deliver":
        concurrency = int(sys.argv[4]) if len(sys.argv) > 4 else 16
        asyncio.run(deliver(db_path, Path(sys.argv[3]), concurrency))
    elif mode == "fanout":
        asyncio.run(fan_out(db_path))
    elif mode == "evaluate":
        asyncio.run(evaluate(db_path, float(sys.argv[3]), float(sys.argv[4])))
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main()
