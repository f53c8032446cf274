"""Composition root: builds the store, services, watch, outbox worker, scheduler and transports, and runs
them together in one asyncio loop until Ctrl-C / SIGTERM. Nothing is lost on stop: every alert is in the
outbox before it is sent, and the worker resumes where it left off on the next start.

Start-up never waits on a chat platform: /healthz and /metrics listen first, then each transport connects
in the background with back-off while the watch loop, the console and the other transports run (alerts for
a platform not connected yet wait in the outbox). A token the platform rejects stops the bot:
``run_bot`` raises ``TokenRejectedError`` after a clean stop.
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
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.alerts.regime import RegimeParams
from bot.backfill import backfill_daily
from bot.config import Settings
from bot.data import load_difficulty_regression, load_history
from bot.delivery.notifier import Notifier
from bot.delivery.rates import SendRates
from bot.delivery.worker import OutboxWorker
from bot.health import HealthServer, serve_health
from bot.poller import LivePoller
from bot.replay import REPLAY_START, replay
from bot.scheduler import JobSpec, JobStats, build_scheduler, finish_running_jobs
from bot.services import StoreServices
from bot.store import snapshots as snapshot_repo
from bot.store.db import Store, default_db_path
from bot.store.retention import DAY_S, Retention, prune_store
from bot.transports.console import CONSOLE_CHAT, ConsoleTransport
from bot.transports.discord import DiscordTransport
from bot.transports.lifecycle import TokenRejectedError
from bot.transports.telegram import TelegramTransport
from bot.watch import Watch

log = logging.getLogger(__name__)

DAILY_JOB_S = 6 * 3600
JOB_FINISH_TIMEOUT_S = 10.0
PRUNE_FIRST_AFTER = timedelta(minutes=10)
"""The retention job first runs this long after start (then daily), off the busy start-up."""


@dataclass(frozen=True, slots=True)
class ReplayOptions:
    """``run --replay``: play the shipped history from ``start`` at ``days_per_s``."""

    start: date = REPLAY_START
    days_per_s: float = 30.0


async def _seed_daily_history(store: Store) -> None:
    """On first start, the daily series begins with the history shipped in the package."""
    if await store.run(snapshot_repo.last_daily_date) is None:
        await store.run(snapshot_repo.upsert_daily, load_history(), "shipped")


class BotApp:
    """Everything of one running bot; ``start()`` then ``stop()`` (tests drive it in-process)."""

    def __init__(self, settings: Settings, replay_options: ReplayOptions | None = None) -> None:
        self.settings = settings
        self.replay_options = replay_options
        self.stopping = asyncio.Event()
        self.stats = JobStats()
        self._tasks: list[asyncio.Task[None]] = []
        self._temp_dir: tempfile.TemporaryDirectory[str] | None = None
        self._client: httpx.AsyncClient | None = None
        self._scheduler: AsyncIOScheduler | None = None
        self.telegram: TelegramTransport | None = None
        self.discord: DiscordTransport | None = None
        self.console: ConsoleTransport | None = None
        self.health: HealthServer | None = None
        self.fatal: TokenRejectedError | None = None
        """Why the bot stopped on its own (a rejected token); ``run_bot`` raises it."""
        self._connections: list[asyncio.Task[None]] = []

    def _db_path(self) -> Path:
        if self.replay_options is not None:
            self._temp_dir = tempfile.TemporaryDirectory(prefix="minerwatch-replay-")
            return Path(self._temp_dir.name) / "replay.db"
        return self.settings.db or default_db_path()

    async def start(self) -> None:
        """Open the store, start the transports, the outbox worker and the polling (or the replay)."""
        settings = self.settings
        db_path = self._db_path()
        self.store = store = await Store.open(db_path)
        log.info("database %s", db_path)
        regression = load_difficulty_regression()
        self.services = services = StoreServices(store, settings, regression)
        notifiers: dict[str, Notifier] = {}
        rates: dict[str, SendRates | None] = {}
        if settings.telegram_token is not None:
            self.telegram = TelegramTransport(settings, services, store)
            notifiers[self.telegram.platform] = self.telegram
            rates[self.telegram.platform] = self.telegram.rates
        if settings.discord_token is not None:
            self.discord = DiscordTransport(settings, services, store)
            notifiers[self.discord.platform] = self.discord
            rates[self.discord.platform] = self.discord.rates
        if not notifiers or self.replay_options is not None:
            self.console = ConsoleTransport(services)
            notifiers[self.console.platform] = self.console
            rates[self.console.platform] = None  # a terminal: nothing to pace
            await services.subscribe_network(CONSOLE_CHAT)
        self.worker = OutboxWorker(store, notifiers, rates=rates, expiry_s=settings.alert_expiry_s)
        self.watch = watch = Watch(
            store, regression, RegimeParams(), clock=time.time, on_enqueued=self.worker.notify
        )
        self.health = await serve_health(self)
        for transport in (self.telegram, self.discord):
            if transport is not None:
                self._connections.append(
                    asyncio.create_task(self._connect(transport), name=f"{transport.platform}-connect")
                )
        self._spawn(self.worker.run(self.stopping), "outbox")
        self._spawn(watch.fan_out(), "fan-out")  # one a stop interrupted
        if self.console is not None:
            self._spawn(self.console.serve(self.stopping), "console")
        if self.replay_options is not None:
            options = self.replay_options
            self._spawn(
                replay(
                    store,
                    watch,
                    load_history(),
                    start=options.start,
                    days_per_s=options.days_per_s,
                    stop=self.stopping,
                ),
                "replay",
            )
            return
        await _seed_daily_history(store)
        self._client = httpx.AsyncClient(timeout=settings.source_timeout_s)
        self._spawn(backfill_daily(store, self._client, settings, datetime.now(UTC).date()), "backfill")
        poller = LivePoller(store, settings, watch, self._client)
        self._scheduler = build_scheduler(_jobs(settings, poller, store), self.stats)
        self._scheduler.start()

    async def _connect(self, transport: TelegramTransport | DiscordTransport) -> None:
        try:
            await transport.run(self.stopping)
        except TokenRejectedError as error:  # run_bot raises it after a clean stop: one line, exit 2
            self.fatal = error
            self.stopping.set()
        except Exception:  # a bug: keep serving the rest, say so loudly
            log.exception("%s: connecting failed", transport.platform)

    def _spawn(self, coroutine: object, name: str) -> None:
        self._tasks.append(asyncio.create_task(coroutine, name=name))  # type: ignore[arg-type]

    async def stop(self) -> None:
        """Stop polling, transports and the worker; close the store. Safe to call once started."""
        self.stopping.set()
        if self.health is not None:
            await self.health.stop()
        if self._scheduler is not None:
            await finish_running_jobs(self._scheduler, JOB_FINISH_TIMEOUT_S)
        for connecting in self._connections:
            connecting.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if self.telegram is not None:
            await self.telegram.stop()
        if self.discord is not None:
            await self.discord.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
        await self.store.close()
        if self._temp_dir is not None:
            self._temp_dir.cleanup()


def _jobs(settings: Settings, poller: LivePoller, store: Store) -> list[JobSpec]:
    now = datetime.now(UTC)
    retention = Retention.from_settings(settings)
    return [
        JobSpec("poll_price", poller.poll_price, settings.price_poll_s, now),
        JobSpec("poll_network", poller.poll_network, settings.network_poll_s, now),
        JobSpec("daily", poller.daily, DAILY_JOB_S, now + timedelta(seconds=settings.network_poll_s)),
        JobSpec("prune", lambda: prune_store(store, retention, time.time()), DAY_S, now + PRUNE_FIRST_AFTER),
    ]


async def run_bot(settings: Settings, replay_options: ReplayOptions | None = None) -> None:
    """Run until Ctrl-C or SIGTERM."""
    app = BotApp(settings, replay_options)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, app.stopping.set)
    await app.start()
    try:
        await app.stopping.wait()
    finally:
        log.info("stopping")
        await app.stop()
    if app.fatal is not None:
        raise app.fatal
