"""Command latency: N users send /breakeven and /status at once through the fake Bot API.

Run: ``.venv/bin/python -m benchmarks.commands --users N [--json]``.
The real ``TelegramTransport`` (python-telegram-bot: long polling, handlers, ``ChatPacer``) answers
from a ``StoreServices`` over a temporary database holding one stored snapshot (no pollers). The fake Bot
API runs in its own process and enforces Telegram's limits. Every user's /breakeven is queued first, then
every user's /status (as fast as the control endpoint takes them); a command's latency runs from its
update being queued to its reply being recorded by the fake. ``lost`` counts replies that never came
(a reply still refused after its retries is dropped). Telegram allows one message a second in a private
chat, so each user's second reply cannot come sooner than a second after the first: the floor for the
slowest replies is 1 s.

``--broadcast N`` first queues a free-tier network alert to N other chats and starts the real
``OutboxWorker`` with the transport's gate (as the app does): the commands come in once the broadcast runs
at Telegram's 30/s, and replies share that budget with it (``http_429`` counts both; ``broadcast_per_s``
is the alert's rate meanwhile).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks._common import FakeTelegramProcess, print_figures
from bot.chat.kinds import ChatKind
from bot.chat.services import StoreServices
from bot.data import load_difficulty_regression
from bot.delivery.worker import OutboxWorker
from bot.sources.snapshot import MarketSnapshot, NetworkState, PriceQuote, SourceOutcome
from bot.store import Store
from bot.store.chats import upsert_chat
from bot.store.connection import Connection
from bot.store.outbox import NewMessage, Priority, enqueue
from bot.store.snapshots import insert_snapshot
from bot.transports.telegram import TelegramTransport
from handlers.router import COMMANDS as CHAT_COMMANDS

FIRST_USER = 700_000_001
FIRST_SUBSCRIBER = 600_000_001
ALERT = "🔔 <b>Network alert</b>: benchmark broadcast"
COMMANDS = {"breakeven": "/breakeven s19xp 5c", "status": "/status"}
REPLY_MARKER = "Breakeven"
"""Text only the /breakeven reply carries (its title), telling the two replies of a chat apart."""
SECONDS_PER_REPLY = 1 / 25
"""How long to wait for the replies: Telegram allows 30 messages/s, ``ChatPacer`` keeps to that."""


def snapshot() -> MarketSnapshot:
    taken = datetime.now(UTC)
    quote = PriceQuote(85_864.0, taken, (SourceOutcome("coinbase", taken, True, 85_864.0),))
    network = NetworkState(132.716e12, 935_000, 0.13, 9.5e20, None, taken, "mempool", ())
    return MarketSnapshot(quote, network, taken)


def queue_commands(fake: FakeTelegramProcess, users: int) -> dict[tuple[int, str], float]:
    """Queue every user's commands; returns when each was queued (Unix seconds)."""
    queued: dict[tuple[int, str], float] = {}
    for name, text in COMMANDS.items():
        for chat_id in range(FIRST_USER, FIRST_USER + users):
            queued[chat_id, name] = time.time()
            fake.control("send_user_message", chat_id=chat_id, text=text)
    return queued


def queue_broadcast(db: Connection, chats: int) -> None:
    """A network alert waiting for ``chats`` private chats, as the fan-out leaves it."""
    now = time.time()
    rows = []
    for n in range(chats):
        chat = upsert_chat(db, "telegram", str(FIRST_SUBSCRIBER + n), ChatKind.PRIVATE, now)
        rows.append(
            NewMessage(
                f"alert|{chat.id}",
                chat.id,
                "telegram",
                chat.chat_id,
                "test",
                ALERT,
                priority=Priority.BROADCAST,
            )
        )
    enqueue(db, rows, now)


def broadcast_sent(fake: FakeTelegramProcess, chats: int) -> list[float]:
    """When each alert was answered 200."""
    return [
        call["time"]
        for call in fake.sent("sendMessage")
        if call["status"] == 200 and FIRST_SUBSCRIBER <= call["chat_id"] < FIRST_SUBSCRIBER + chats
    ]


async def measure(
    fake: FakeTelegramProcess, db_path: Path, users: int, broadcast: int = 0
) -> dict[str, object]:
    store = await Store.open(db_path)
    await store.run(insert_snapshot, snapshot())
    await store.atomic(queue_broadcast, broadcast)
    settings = fake.settings(db=str(db_path))
    transport = TelegramTransport(
        settings, StoreServices(store, settings, load_difficulty_regression()), CHAT_COMMANDS, store
    )
    await transport.connect()
    worker = OutboxWorker(
        store,
        {transport.platform: transport},
        rates={transport.platform: transport.rates},
        gates={transport.platform: transport.gate},
    )
    stop = asyncio.Event()
    delivering = asyncio.create_task(worker.run(stop))
    if broadcast:  # at full rate before the commands come
        await asyncio.to_thread(fake.wait, "sendMessage", min(broadcast, 60), 30)
    expected = users * len(COMMANDS)
    queued = await asyncio.to_thread(queue_commands, fake, users)
    wait_s = 10 + (expected + broadcast) * SECONDS_PER_REPLY
    await asyncio.to_thread(fake.wait, "sendMessage", expected + broadcast, wait_s)
    stop.set()
    await delivering
    await transport.stop()
    await store.close()

    latencies_ms, last_reply = [], 0.0
    for call in fake.sent("sendMessage"):
        if call["status"] != 200 or not FIRST_USER <= call["chat_id"] < FIRST_USER + users:
            continue
        name = "breakeven" if REPLY_MARKER in (call["text"] or "") else "status"
        latencies_ms.append((call["time"] - queued[call["chat_id"], name]) * 1000)
        last_reply = max(last_reply, call["time"])
    percentiles = statistics.quantiles(latencies_ms, n=100, method="inclusive")
    span_s = last_reply - min(queued.values())
    alerts = broadcast_sent(fake, broadcast)
    during = [at for at in alerts if min(queued.values()) <= at <= last_reply]
    broadcast_figures = {
        "broadcast_chats": broadcast,
        "broadcast_sent": len(alerts),
        "broadcast_per_s_during_replies": round(len(during) / span_s, 1),
    }
    return {
        "users": users,
        "p50_ms": round(percentiles[49], 1),
        "p99_ms": round(percentiles[98], 1),
        "replies_per_s": round(len(latencies_ms) / span_s, 1),
        "replies": len(latencies_ms),
        "lost": expected - len(latencies_ms),
        "http_429": fake.state()["http_429"],
        **(broadcast_figures if broadcast else {}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--users", type=int, default=100, help="private chats, each sending both commands")
    parser.add_argument(
        "--broadcast", type=int, default=0, help="a free-tier alert to this many other chats runs meanwhile"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="minerwatch-commands-") as tmp,
        FakeTelegramProcess(enforce_limits=True) as fake,
    ):
        figures = asyncio.run(measure(fake, Path(tmp) / "commands.db", args.users, args.broadcast))
    during = f" during a broadcast to {args.broadcast} chats" if args.broadcast else ""
    print_figures(figures, args.json, title=f"{args.users} users x /breakeven + /status{during}")


if __name__ == "__main__":
    main()
