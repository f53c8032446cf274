"""Composition root: builds the store, services, watch, outbox worker, scheduler and transports, and runs
them together in one asyncio loop until Ctrl-C / SIGTERM. Nothing is lost on stop: every alert is in the
outbox before it is sent, and the worker resumes where it left off on the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx

from bot.alerts.regime import RegimeParams
from bot.config import Settings
from bot.data import load_difficulty_regression, load_history
from bot.delivery.notifier import Notifier
from bot.delivery.worker import OutboxWorker
from bot.poller import LivePoller
from bot.replay import REPLAY_START, replay
from bot.scheduler import JobSpec, JobStats, build_scheduler
from bot.services import StoreServices
from bot.store import snapshots as snapshot_repo
from bot.store.db import Store, default_db_path
from bot.transports.console import CONSOLE_CHAT, ConsoleTransport
from bot.watch import Watch

log = logging.getLogger(__name__)

DAILY_JOB_S = 6 * 3600


@dataclass(frozen=True, slots=True)
class ReplayOptions:
    """``run --replay``: play the shipped history from ``start`` at ``days_per_s``."""

    start: date = REPLAY_START
    days_per_s: float = 30.0


async def _seed_daily_history(store: Store) -> None:
    """On first start, the daily series begins with the history shipped in the package."""
    if await store.run(snapshot_repo.last_daily_date) is None:
        await store.run(snapshot_repo.upsert_daily, load_history(), "shipped")


def _install_signal_handlers(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)


async def run_bot(settings: Settings, replay_options: ReplayOptions | None = None) -> None:
    """Run the whole bot until ``stop``; with no chat tokens the console is the only chat."""
    stop = asyncio.Event()
    _install_signal_handlers(stop)
    temp_dir = tempfile.TemporaryDirectory(prefix="minerwatch-replay-") if replay_options else None
    db_path = Path(temp_dir.name) / "replay.db" if temp_dir else settings.db or default_db_path()
    store = await Store.open(db_path)
    log.info("database %s", db_path)
    regression = load_difficulty_regression()
    services = StoreServices(store, settings, regression)
    console = ConsoleTransport(services)
    notifiers: dict[str, Notifier] = {console.platform: console}
    worker = OutboxWorker(store, notifiers, unpaced_platforms=frozenset({console.platform}))
    watch = Watch(store, regression, RegimeParams(), clock=time.time, on_enqueued=worker.notify)
    await services.subscribe_network(CONSOLE_CHAT)
    tasks = [
        asyncio.create_task(worker.run(stop), name="outbox"),
        asyncio.create_task(_serve_console(console, stop), name="console"),
    ]
    async with httpx.AsyncClient(timeout=settings.source_timeout_s) as client:
        if replay_options is not None:
            tasks.append(asyncio.create_task(_replay(store, watch, replay_options, stop), name="replay"))
            scheduler = None
        else:
            await _seed_daily_history(store)
            poller = LivePoller(store, settings, watch, client)
            scheduler = build_scheduler(_jobs(settings, poller), JobStats())
            scheduler.start()
        await stop.wait()
        log.info("stopping")
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    await store.close()
    if temp_dir:
        temp_dir.cleanup()


def _jobs(settings: Settings, poller: LivePoller) -> list[JobSpec]:
    now = datetime.now(UTC)
    return [
        JobSpec("poll_price", poller.poll_price, settings.price_poll_s, now),
        JobSpec("poll_network", poller.poll_network, settings.network_poll_s, now),
        JobSpec("daily", poller.daily, DAILY_JOB_S, now + timedelta(seconds=settings.network_poll_s)),
    ]


async def _serve_console(console: ConsoleTransport, stop: asyncio.Event) -> None:
    await console.serve(stop)


async def _replay(store: Store, watch: Watch, options: ReplayOptions, stop: asyncio.Event) -> None:
    await replay(store, watch, load_history(), start=options.start, days_per_s=options.days_per_s, stop=stop)
    log.info("replay finished; Ctrl-C to stop")
