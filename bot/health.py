"""The optional HTTP endpoint (``MINERWATCH_HTTP_PORT``, bound to ``MINERWATCH_HTTP_HOST``, 127.0.0.1):

* ``GET /healthz``: JSON ``{status, problems, stale_after_s, data_age_s: {source: s}, transports: {name:
  connected}}``; 200 when the latest stored snapshot is younger than ``stale_after_s``, at least one
  transport is connected and the database file is the one opened (``Store.unavailable``), else 503.
* ``GET /metrics``: ``bot.metrics`` in the Prometheus text format (data age and outbox depth refreshed
  from the probe first).

The server reads everything through a ``Probe`` of plain callables, so tests need no running bot.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from bot import metrics
from bot.store import outbox
from bot.store import snapshots as snapshot_repo

if TYPE_CHECKING:
    from bot.app import BotApp

log = logging.getLogger(__name__)

SNAPSHOT = "snapshot"
"""The ``data_age_s`` key of the latest stored snapshot (the others are upstream source names)."""


@dataclass(frozen=True, slots=True)
class Probe:
    """What the endpoints report, as plain callables."""

    data_ages: Callable[[], Awaitable[Mapping[str, float]]]
    """Seconds since each source's last used value, and ``SNAPSHOT``; a missing key means never."""
    transports: Callable[[], Mapping[str, bool]]
    """Transport name -> connected."""
    outbox_depth: Callable[[], Awaitable[Mapping[str, int]]]
    """Outbox rows by status."""
    storage: Callable[[], str | None] = lambda: None
    """Why the database accepts no changes (``Store.unavailable``), or ``None``."""


def assess(ages: Mapping[str, float], transports: Mapping[str, bool], stale_after_s: float) -> list[str]:
    """The reasons the bot is unhealthy; empty when healthy."""
    problems = []
    snapshot_age = ages.get(SNAPSHOT)
    if snapshot_age is None:
        problems.append("no snapshot stored yet")
    elif snapshot_age >= stale_after_s:
        problems.append(f"latest snapshot is {snapshot_age:.0f} s old (limit {stale_after_s:g} s)")
    if not any(transports.values()):
        problems.append("no transport connected")
    return problems


class HealthServer:
    """An aiohttp server for ``/healthz`` and ``/metrics``; ``await start()``, then ``await stop()``."""

    def __init__(self, probe: Probe, *, stale_after_s: float, host: str = "127.0.0.1", port: int = 0) -> None:
        self._probe = probe
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
        problems = assess(ages, transports, self._stale_after_s)
        storage = self._probe.storage()  # read after data_ages: that store call re-checks the file
        if storage is not None:
            problems.insert(0, f"storage unavailable: {storage}")
        body = {
            "status": "unhealthy" if problems else "ok",
            "problems": problems,
            "stale_after_s": self._stale_after_s,
            "data_age_s": {source: round(age, 1) for source, age in sorted(ages.items())},
            "transports": dict(transports),
        }
        return web.json_response(body, status=503 if problems else 200)

    async def _metrics(self, request: web.Request) -> web.Response:
        metrics.set_data_ages(await self._probe.data_ages())
        metrics.set_outbox_depth(await self._probe.outbox_depth())
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

    def transports() -> dict[str, bool]:
        status = {}
        if app.telegram is not None:
            tg = app.telegram.app
            status["telegram"] = tg.running and (tg.updater is None or tg.updater.running)
        if app.discord is not None:
            client = app.discord.client
            status["discord"] = client.is_ready() and not client.is_closed()
        if app.console is not None:
            status["console"] = True
        return status

    async def outbox_depth() -> dict[str, int]:
        counts = await app.store.run(outbox.counts)
        return {status.value: count for status, count in counts.items()}

    return Probe(data_ages, transports, outbox_depth, lambda: app.store.unavailable)


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
