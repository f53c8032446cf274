"""The optional HTTP endpoint (``MINERWATCH_HTTP_PORT``, bound to ``MINERWATCH_HTTP_HOST``, 127.0.0.1):

* ``GET /healthz``: JSON ``{status, role, problems, stale_after_s, data_age_s: {source: s}, transports:
  {name: {connected, last_success_at, last_success_age_s, silence_limit_s[, shards]}}}`` (``role``:
  ``leader`` or ``standby``, ``bot.cluster.leader``; ``shards``: Discord's gateway shards). A standby is 200
  while its database and its leader election work and the transports it runs (in Telegram webhook mode,
  Telegram) answer: the polls and the other transports are the leader's. A leader: 200 when the latest stored
  snapshot is younger than ``stale_after_s``, at least one transport is connected and every chat platform
  answered a call successfully within its ``silence_limit_s`` (Telegram: 120 s, while long polling gets an
  answer every 10 s; Discord: 120 s, about three gateway heartbeats), and the database file is the one
  opened (``Store.unavailable``), else 503.
* ``GET /metrics``: ``bot.ops.metrics`` in the Prometheus text format (data age, outbox depth and transport
  liveness refreshed from the probe first).

The server reads everything through a ``Probe`` of plain callables, so tests need no running bot.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from bot.cluster.leader import Role
from bot.ops import metrics
from bot.store import outbox
from bot.store import snapshots as snapshot_repo
from bot.transports.lifecycle import Liveness

if TYPE_CHECKING:
    from bot.app import BotApp

log = logging.getLogger(__name__)

SNAPSHOT = "snapshot"
"""The ``data_age_s`` key of the latest stored snapshot (the others are upstream source names)."""


@dataclass(frozen=True, slots=True)
class TransportState:
    """One transport as /healthz reports it; a chat platform has a silence limit, the console none."""

    connected: bool
    last_success_at: float | None = None
    """Unix seconds of the last successful API call; None: none yet."""
    silence_limit_s: float | None = None
    shards: int | None = None
    """Gateway shards (Discord); None where the platform has none."""

    @classmethod
    def of(cls, liveness: Liveness) -> TransportState:
        return cls(liveness.connected, liveness.last_success_at, liveness.silence_limit_s, liveness.shards)


@dataclass(frozen=True, slots=True)
class Probe:
    """What the endpoints report, as plain callables."""

    data_ages: Callable[[], Awaitable[Mapping[str, float]]]
    """Seconds since each source's last used value, and ``SNAPSHOT``; a missing key means never."""
    transports: Callable[[], Mapping[str, TransportState]]
    """Transport name -> its state."""
    outbox_depth: Callable[[], Awaitable[Mapping[str, int]]]
    """Outbox rows by status."""
    storage: Callable[[], str | None] = lambda: None
    """Why the database accepts no changes (``Store.unavailable``), or ``None``."""
    role: Callable[[], Role] = lambda: Role.LEADER
    """Whether this replica leads or stands by (``bot.cluster.leader``; one process on SQLite leads)."""
    election: Callable[[], str | None] = lambda: None
    """Why the leader election cannot go on (the database unreachable), or ``None``."""


def assess(
    ages: Mapping[str, float],
    transports: Mapping[str, TransportState],
    stale_after_s: float,
    now: float,
    role: Role = Role.LEADER,
) -> list[str]:
    """The reasons the bot is unhealthy; empty when healthy. A standby polls nothing and may run no
    transport (the leader does both): only the transports it runs are judged."""
    problems = []
    snapshot_age = ages.get(SNAPSHOT)
    if role is Role.STANDBY:
        pass
    elif snapshot_age is None:
        problems.append("no snapshot stored yet")
    elif snapshot_age >= stale_after_s:
        problems.append(f"latest snapshot is {snapshot_age:.0f} s old (limit {stale_after_s:g} s)")
    if role is Role.LEADER and not any(state.connected for state in transports.values()):
        problems.append("no transport connected")
    for name, state in sorted(transports.items()):
        if state.silence_limit_s is None:
            continue
        if state.last_success_at is None:
            problems.append(f"{name}: no successful API call yet")
        elif now - state.last_success_at > state.silence_limit_s:
            age = now - state.last_success_at
            problems.append(
                f"{name}: last successful API call {age:.0f} s ago (limit {state.silence_limit_s:g} s)"
            )
    return problems


def _transport_json(state: TransportState, now: float) -> dict[str, object]:
    at = state.last_success_at
    shown: dict[str, object] = {
        "connected": state.connected,
        "last_success_at": None
        if at is None
        else datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds"),
        "last_success_age_s": None if at is None else round(now - at, 1),
        "silence_limit_s": state.silence_limit_s,
    }
    if state.shards is not None:
        shown["shards"] = state.shards
    return shown


class HealthServer:
    """An aiohttp server for ``/healthz`` and ``/metrics``; ``await start()``, then ``await stop()``."""

    def __init__(
        self,
        probe: Probe,
        *,
        stale_after_s: float,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._probe = probe
        self._clock = clock
        self._stale_after_s = stale_after_s
        self._host = host
        self._port = port
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None)

    @property
    def port(self) -> int:
        """The bound port (useful with ``port=0``)."""
        address: Any = self._runner.addresses[0]
        return int(address[1])

    async def start(self) -> None:
        await self._runner.setup()
        await web.TCPSite(self._runner, self._host, self._port).start()

    async def stop(self) -> None:
        await self._runner.cleanup()

    async def _healthz(self, request: web.Request) -> web.Response:
        ages = await self._probe.data_ages()
        transports = self._probe.transports()
        now = self._clock()
        role = self._probe.role()
        problems = assess(ages, transports, self._stale_after_s, now, role)
        election = self._probe.election()
        if election is not None:
            problems.insert(0, election)
        storage = self._probe.storage()  # read after data_ages: that store call re-checks the file
        if storage is not None:
            problems.insert(0, f"storage unavailable: {storage}")
        body = {
            "status": "unhealthy" if problems else "ok",
            "role": role.value,
            "problems": problems,
            "stale_after_s": self._stale_after_s,
            "data_age_s": {source: round(age, 1) for source, age in sorted(ages.items())},
            "transports": {name: _transport_json(state, now) for name, state in sorted(transports.items())},
        }
        return web.json_response(body, status=503 if problems else 200)

    async def _metrics(self, request: web.Request) -> web.Response:
        metrics.set_data_ages(await self._probe.data_ages())
        metrics.set_outbox_depth(await self._probe.outbox_depth())
        metrics.set_leader(self._probe.role() is Role.LEADER)
        for name, state in self._probe.transports().items():
            metrics.set_transport(name, state.connected, state.last_success_at)
        return web.Response(body=metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST})


def app_probe(app: BotApp, clock: Callable[[], float] = time.time) -> Probe:
    """A probe over a running ``BotApp``: its store and its transports."""

    async def data_ages() -> dict[str, float]:
        latest = await app.store.run(snapshot_repo.latest_snapshot)
        if latest is None:
            return {}
        now = clock()
        ages = {o.source: now - o.fetched_at.timestamp() for o in latest.outcomes if o.used}
        ages[SNAPSHOT] = now - latest.taken_at.timestamp()
        return ages

    def transports() -> dict[str, TransportState]:
        status = {}
        for transport in app.running_here():
            status[transport.platform] = TransportState.of(transport.liveness)
        if app.console is not None:
            status["console"] = TransportState(connected=True)
        return status

    async def outbox_depth() -> dict[str, int]:
        counts = await app.store.run(outbox.counts)
        return {status.value: count for status, count in counts.items()}

    return Probe(
        data_ages,
        transports,
        outbox_depth,
        lambda: app.store.unavailable,
        lambda: app.election.role,
        lambda: app.election.problem,
    )


async def serve_health(app: BotApp) -> HealthServer | None:
    """Start the endpoint when ``MINERWATCH_HTTP_PORT`` is set; ``None`` otherwise."""
    settings = app.settings
    if settings.http_port is None:
        return None
    server = HealthServer(
        app_probe(app), stale_after_s=settings.stale_after_s, host=settings.http_host, port=settings.http_port
    )
    await server.start()
    log.info("health: http://%s:%d/healthz and /metrics", settings.http_host, server.port)
    return server
