"""Composition root: builds the store, services, watch, outbox worker, scheduler and transports, and runs
them together in one asyncio loop until Ctrl-C / SIGTERM. Nothing is lost on stop: every alert is in the
outbox before it is sent, and the worker resumes where it left off on the next start.

Start-up never waits on a chat platform: /healthz and /metrics listen first, then each transport connects
in the background with back-off while the watch loop, the console and the other transports run (alerts for
a platform not connected yet wait in the outbox). The optional exchange price stream
(``MINERWATCH_PRICE_STREAM``) connects in the background the same way. A token the platform rejects stops
the bot: ``run_bot`` raises ``TokenRejectedError`` after a clean stop.

Replicas (``MINERWATCH_DATABASE_URL``, ``bot.cluster.leader``): every replica serves /healthz and /metrics
and, in Telegram webhook mode, answers the commands a load balancer hands it; only the leader runs the polls,
the scheduler, Telegram long polling, the Discord gateway and the outbox worker (so only the leader sends
alerts: one pacer holds Telegram's per-bot limits). A standby starts them when it takes the lead. A leader
that loses the lock cancels its outbox worker at once, stops, and ``run_bot`` raises
``LeadershipLostError`` (exit 75): its supervisor restarts it as a standby, with fresh transports.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.alerts.regime import RegimeParams
from bot.chat.commands import CommandSet
from bot.chat.services import StoreServices
from bot.cluster import LeadershipLostError
from bot.cluster.leader import LeaderElection, Leadership, Role, SoleLeader
from bot.config import Settings
from bot.data import load_difficulty_regression, load_history
from bot.delivery.notifier import Notifier
from bot.delivery.rates import ChatGates, SendGate, SendRates
from bot.delivery.worker import OutboxWorker
from bot.market.backfill import backfill_daily
from bot.market.poller import LivePoller
from bot.market.price_stream import PriceStream
from bot.market.replay import DEFAULT_DAYS_PER_S, REPLAY_START, ReplayProgress, replay
from bot.ops import metrics
from bot.ops.health import HealthServer, serve_health
from bot.store import outbox as outbox_repo
from bot.store import snapshots as snapshot_repo
from bot.store.db import Store, open_store
from bot.store.outbox import OutboxStatus
from bot.store.retention import DAY_S, Retention, prune_store
from bot.transports.console import CONSOLE_CHAT, ConsoleTransport, live_stamp
from bot.transports.discord import DiscordTransport
from bot.transports.lifecycle import TokenRejectedError, pause
from bot.transports.telegram import NOT_CONNECTED_RETRY_S, TelegramTransport
from bot.watch.loop import Watch
from bot.watch.scheduler import JobSpec, JobStats, build_scheduler, finish_running_jobs

log = logging.getLogger(__name__)

DAILY_JOB_S = 6 * 3600
JOB_FINISH_TIMEOUT_S = 10.0
PRUNE_FIRST_AFTER = timedelta(minutes=10)
"""The retention job first runs this long after start (then daily), off the busy start-up."""
OFFLINE_HELP = (
    "  Without these sources: `minerwatch run --replay` plays the shipped history through this bot;\n"
    "  `minerwatch status --price 60k --difficulty 1.2e14 --fees-per-block 0.02 --height 950000` (also\n"
    "  breakeven, margin, cost) answers what-ifs with no network. Meanwhile the bot keeps asking."
)
"""What the console says once when a round of polls leaves no usable data."""
CONNECT_GRACE_S = NOT_CONNECTED_RETRY_S
"""The leader's outbox worker waits at most this long for the chat platforms to connect."""
CONNECT_CHECK_S = 0.05
CONNECTIONS_CLOSE_S = 5.0
"""On stop, the transports' connection tasks get this long to close their clients before being cancelled (a
cancel in the middle of discord.py's close makes the close raise)."""
TAKEOVER_QUIET_S = 1.0
"""A new leader sends nothing for this long after taking the lead: the old leader's last sends have left
Telegram's one-second windows (30 messages a second per bot, one a second per private chat) by then. The
per-group window (20 a minute) is not carried over: a 429 there is honoured by the outbox, nothing lost."""
DELIVERY_WAIT_S = 2.0
"""Longest a replay waits for a day's alerts to be printed before playing on."""


@dataclass(frozen=True, slots=True)
class ReplayOptions:
    """``run --replay``: play the shipped history from ``start`` at ``days_per_s``."""

    start: date = REPLAY_START
    days_per_s: float = DEFAULT_DAYS_PER_S


async def _seed_daily_history(store: Store) -> None:
    """On first start, the daily series begins with the history shipped in the package."""
    if await store.run(snapshot_repo.last_daily_date) is None:
        await store.run(snapshot_repo.upsert_daily, load_history(), "shipped")


class BotApp:
    """Everything of one running bot; ``start()`` then ``stop()`` (tests drive it in-process)."""

    def __init__(
        self, settings: Settings, commands: CommandSet, replay_options: ReplayOptions | None = None
    ) -> None:
        self.settings = settings
        self.commands = commands
        self.replay_options = replay_options
        self.replay_progress = ReplayProgress()
        self.stopping = asyncio.Event()
        self.stats = JobStats()
        self._tasks: list[asyncio.Task[object]] = []
        self._sending: list[asyncio.Task[object]] = []
        """The leader's outbox worker and fan-out: cancelled first when the lead is lost."""
        self._temp_dir: tempfile.TemporaryDirectory[str] | None = None
        self._client: httpx.AsyncClient | None = None
        self._scheduler: AsyncIOScheduler | None = None
        self.telegram: TelegramTransport | None = None
        self.discord: DiscordTransport | None = None
        self.console: ConsoleTransport | None = None
        self.health: HealthServer | None = None
        self.output_closed = False
        """The console's reader went away; ``run_bot`` raises ``BrokenPipeError`` after a clean stop."""
        self.price_stream: PriceStream | None = None
        self.election: Leadership = SoleLeader()
        self.deposed: LeadershipLostError | None = None
        """Set when this replica lost the lead; ``run_bot`` raises it after a clean stop (exit 75)."""
        self.fatal: TokenRejectedError | None = None
        """Why the bot stopped on its own (a rejected token); ``run_bot`` raises it."""
        self._connections: list[asyncio.Task[None]] = []
        self._started: list[TelegramTransport | DiscordTransport] = []
        """The transports this replica started (``stop`` stops these)."""

    async def _open_store(self) -> Store:
        """The settings' store; a replay plays into a fresh SQLite file, never the configured database."""
        if self.replay_options is not None:
            self._temp_dir = tempfile.TemporaryDirectory(prefix="minerwatch-replay-")
            return await Store.open(Path(self._temp_dir.name) / "replay.db")
        return await open_store(self.settings)

    async def start(self) -> None:
        """Open the store and the health endpoint, join the leader election, start what every replica runs
        and, once this replica leads (at once without PostgreSQL), what only the leader runs."""
        settings = self.settings
        self.store = store = await self._open_store()
        log.info("database %s (%s)", store.describe(), store.backend)
        self.election = _election(settings, self.replay_options)
        regression = load_difficulty_regression()
        self.services = services = StoreServices(store, settings, regression)
        notifiers: dict[str, Notifier] = {}
        rates: dict[str, SendRates | None] = {}
        gates: dict[str, SendGate] = {}
        chat_gates: dict[str, ChatGates] = {}
        if settings.telegram_token is not None:
            self.telegram = TelegramTransport(settings, services, self.commands, store)
            notifiers[self.telegram.platform] = self.telegram
            rates[self.telegram.platform] = self.telegram.rates
            gates[self.telegram.platform] = self.telegram.gate  # replies and alerts: one 30/s
            chat_gates[self.telegram.platform] = self.telegram.chats  # and one window per chat
        if settings.discord_token is not None:
            self.discord = DiscordTransport(settings, services, self.commands, store)
            notifiers[self.discord.platform] = self.discord
            rates[self.discord.platform] = self.discord.rates
            gates[self.discord.platform] = self.discord.gate  # its global 50/s (replies are exempt)
        if not notifiers or self.replay_options is not None:
            stamp = self.replay_progress.stamp if self.replay_options is not None else live_stamp
            self.console = ConsoleTransport(services, self.commands, stamp=stamp)
            notifiers[self.console.platform] = self.console
            rates[self.console.platform] = None  # a terminal: nothing to pace
            await services.subscribe_network(CONSOLE_CHAT)
        self.worker = OutboxWorker(
            store,
            notifiers,
            rates=rates,
            gates=gates,
            chat_gates=chat_gates,
            expiry_s=settings.alert_expiry_s,
        )
        self.watch = Watch(store, regression, RegimeParams(), clock=time.time, on_enqueued=self.worker.notify)
        self.health = await serve_health(self)
        self._spawn(self.election.run(self.stopping), "election")
        if self.telegram is not None and self._on_every_replica(self.telegram):
            self._connect_in_background(self.telegram)
        if self.console is not None:
            self._spawn(self.console.serve(self.stopping), "console")
            self._spawn(self._stop_when_output_closes(self.console), "console-output")
        if self.election.elected.is_set():
            await self._lead()
        else:
            self._spawn(self._lead_once_elected(), "campaign")

    def running_here(self) -> list[TelegramTransport | DiscordTransport]:
        """The chat platforms this replica runs now: all when it leads; a standby only Telegram's webhook."""
        transports = [t for t in (self.telegram, self.discord) if t is not None]
        if self.election.role is Role.LEADER:
            return transports
        return [t for t in transports if self._on_every_replica(t)]

    def _on_every_replica(self, transport: TelegramTransport | DiscordTransport) -> bool:
        """Telegram in webhook mode: every replica answers the commands the load balancer hands it."""
        return transport is self.telegram and bool(self.settings.telegram_webhook_url)

    async def _lead_once_elected(self) -> None:
        await self.election.elected.wait()
        await self._lead()

    async def _lead(self) -> None:
        """What only the leader runs: the chat gateways, the outbox worker, the polls and the scheduler."""
        settings, store, watch = self.settings, self.store, self.watch
        metrics.record_takeover()
        for transport in (self.telegram, self.discord):
            if transport is not None and not self._on_every_replica(transport):
                self._connect_in_background(transport)
        self._sending = [
            self._spawn(self._send_once_connected(), "outbox"),
            self._spawn(watch.fan_out(), "fan-out"),  # one a stop (or the old leader's death) interrupted
        ]
        self._spawn(self._stop_when_deposed(), "deposed")
        if self.replay_options is not None:
            self._spawn(self._replay(self.replay_options), "replay")
            return
        await _seed_daily_history(store)
        self._client = httpx.AsyncClient(timeout=settings.source_timeout_s)
        self._spawn(backfill_daily(store, self._client, settings, datetime.now(UTC).date()), "backfill")
        on_unavailable = self._explain_offline if self.console is not None else None
        poller = LivePoller(store, settings, watch, self._client, on_unavailable=on_unavailable)
        if settings.price_stream:  # connects in the background; the polls never wait on it
            self.price_stream = PriceStream(settings, poller.fresh_price_usd, watch.observe_price)
            self._spawn(self.price_stream.run(self.stopping), "price-stream")
        self._scheduler = build_scheduler(_jobs(settings, poller, store, self.price_stream), self.stats)
        self._scheduler.start()

    async def _send_once_connected(self) -> None:
        """Run the outbox worker once the chat platforms are connected (at most ``CONNECT_GRACE_S`` later:
        a send to a platform not connected yet would put that platform's alerts off by
        ``NOT_CONNECTED_RETRY_S``, which would slow a take-over by as much) and, after a take-over, no
        sooner than ``TAKEOVER_QUIET_S`` after it."""
        started = time.monotonic()
        transports = [t for t in (self.telegram, self.discord) if t is not None]
        while (
            not all(t.liveness.connected for t in transports) and time.monotonic() < started + CONNECT_GRACE_S
        ):
            if await pause(self.stopping, CONNECT_CHECK_S):
                return
        if isinstance(self.election, LeaderElection):  # a take-over: the old leader may have just sent
            quiet_s = started + TAKEOVER_QUIET_S - time.monotonic()
            if quiet_s > 0 and await pause(self.stopping, quiet_s):
                return
        await self.worker.run(self.stopping)

    async def _stop_when_deposed(self) -> None:
        """The lock is gone, so another replica may lead already: stop sending now (the rows in flight go
        again from the new leader), then stop everything and exit to restart as a standby."""
        await self.election.lost.wait()
        for task in self._sending:
            task.cancel()
        self.deposed = LeadershipLostError(self.election.lost_reason or "the lock is gone")
        self.stopping.set()

    def _connect_in_background(self, transport: TelegramTransport | DiscordTransport) -> None:
        self._started.append(transport)
        self._connections.append(
            asyncio.create_task(self._connect(transport), name=f"{transport.platform}-connect")
        )

    async def _stop_when_output_closes(self, console: ConsoleTransport) -> None:
        await console.closed.wait()
        self.output_closed = True
        self.stopping.set()

    def _explain_offline(self, reason: str) -> None:
        """Say once on the console which sources failed and how to go on without them."""
        if self.console is not None:
            self.console.announce(f"{reason}.\n{OFFLINE_HELP}")

    async def _replay(self, options: ReplayOptions) -> None:
        """Play the history, then say what it covered and raised (the console stays open on the last day)."""
        progress = await replay(
            self.store,
            self.watch,
            load_history(),
            start=options.start,
            days_per_s=options.days_per_s,
            stop=self.stopping,
            progress=self.replay_progress,
            delivered=self._delivered,
        )
        if self.console is not None and not self.stopping.is_set():
            await self._delivered()
            self.console.announce(
                f"{progress.summary()} Type commands on the last day's data; Ctrl-C to stop."
            )

    async def _delivered(self) -> None:
        """Wait (at most ``DELIVERY_WAIT_S``) until no alert is waiting in the outbox."""
        deadline = time.monotonic() + DELIVERY_WAIT_S
        while time.monotonic() < deadline and not self.stopping.is_set():
            counts = await self.store.run(outbox_repo.counts)
            if not counts.get(OutboxStatus.PENDING) and not counts.get(OutboxStatus.SENDING):
                return
            await asyncio.sleep(0.01)

    async def _connect(self, transport: TelegramTransport | DiscordTransport) -> None:
        try:
            await transport.run(self.stopping)
        except TokenRejectedError as error:  # run_bot raises it after a clean stop: one line, exit 2
            self.fatal = error
            self.stopping.set()
        except Exception:  # a bug: keep serving the rest, say so loudly
            log.exception("%s: connecting failed", transport.platform)

    def _spawn(self, coroutine: Coroutine[object, object, object], name: str) -> asyncio.Task[object]:
        task = asyncio.create_task(coroutine, name=name)
        self._tasks.append(task)
        return task

    async def stop(self) -> None:
        """Stop polling, transports and the worker; close the store. Safe to call once started."""
        self.stopping.set()
        if self.health is not None:
            await self.health.stop()
        if self._scheduler is not None:  # deposed: the new leader polls again, stop receiving at once
            await finish_running_jobs(self._scheduler, 0.0 if self.deposed else JOB_FINISH_TIMEOUT_S)
        if self._connections:  # each sees ``stopping`` and closes its client itself; cancelled only if stuck
            await asyncio.wait(self._connections, timeout=CONNECTIONS_CLOSE_S)
        for connecting in self._connections:
            connecting.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        for transport in self._started:  # a standby never started Discord (or polling Telegram)
            await transport.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
        await self.store.close()
        if self._temp_dir is not None:
            self._temp_dir.cleanup()


def _election(settings: Settings, replay_options: ReplayOptions | None) -> Leadership:
    """PostgreSQL: campaign for the advisory lock; SQLite (one process) and a replay: lead at once."""
    if settings.database_url is None or replay_options is not None:
        return SoleLeader()
    return LeaderElection(settings.database_url.get_secret_value())


def _jobs(
    settings: Settings, poller: LivePoller, store: Store, stream: PriceStream | None = None
) -> list[JobSpec]:
    now = datetime.now(UTC)
    retention = Retention.from_settings(settings)

    def then_recheck(poll: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
        """``poll``, then (with the stream) the live quotes checked against the polled witness again."""

        async def polled() -> None:
            await poll()
            if stream is not None:
                stream.recheck()

        return polled

    return [
        JobSpec("poll_price", then_recheck(poller.poll_price), settings.price_poll_s, now),
        JobSpec("poll_network", then_recheck(poller.poll_network), settings.network_poll_s, now),
        JobSpec("daily", poller.daily, DAILY_JOB_S, now + timedelta(seconds=settings.network_poll_s)),
        JobSpec("prune", lambda: prune_store(store, retention, time.time()), DAY_S, now + PRUNE_FIRST_AFTER),
    ]


async def run_bot(
    settings: Settings, commands: CommandSet, replay_options: ReplayOptions | None = None
) -> None:
    """Serve ``commands`` until Ctrl-C or SIGTERM (or the console's reader goes away: ``BrokenPipeError``)."""
    app = BotApp(settings, commands, replay_options)
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
    if app.deposed is not None:
        raise app.deposed
    if app.output_closed:
        raise BrokenPipeError("the console's output was closed")
