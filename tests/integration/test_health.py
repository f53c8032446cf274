"""/healthz and /metrics over real HTTP on 127.0.0.1, and the probe over a real store."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from bot.chat.kinds import ChatKind
from bot.cluster.leader import Role, SoleLeader
from bot.config import Settings
from bot.delivery.notifier import RetryAfter, Sent
from bot.ops import metrics
from bot.ops.health import SNAPSHOT, HealthServer, Probe, TransportState, app_probe, serve_health
from bot.sources.snapshot import MarketSnapshot, NetworkState, PriceQuote, SourceOutcome
from bot.store.chats import upsert_chat
from bot.store.db import Store
from bot.store.outbox import NewMessage, enqueue
from bot.store.snapshots import insert_snapshot

STALE_AFTER_S = 300.0
NOW = 1_780_000_000.0
"""The health server's clock in these tests (Unix seconds)."""
LIMIT_S = 120.0
Server = Callable[..., Awaitable[str]]
UP = TransportState(connected=True, last_success_at=NOW - 4, silence_limit_s=LIMIT_S)
DOWN = TransportState(connected=False, last_success_at=None, silence_limit_s=LIMIT_S)
CONSOLE = TransportState(connected=True)


def probe(
    ages: Mapping[str, float],
    transports: Mapping[str, TransportState],
    outbox: Mapping[str, int] | None = None,
    role: Role = Role.LEADER,
    election: str | None = None,
) -> Probe:
    async def data_ages() -> Mapping[str, float]:
        return ages

    async def outbox_depth() -> Mapping[str, int]:
        return outbox or {}

    return Probe(data_ages, lambda: transports, outbox_depth, role=lambda: role, election=lambda: election)


@pytest.fixture
async def serve() -> AsyncIterator[Server]:
    """``await serve(probe)`` -> base URL of a HealthServer on 127.0.0.1 (stopped after the test)."""
    servers: list[HealthServer] = []

    async def start(p: Probe) -> str:
        server = HealthServer(p, stale_after_s=STALE_AFTER_S, clock=lambda: NOW)
        await server.start()
        servers.append(server)
        return f"http://127.0.0.1:{server.port}"

    yield start
    for server in servers:
        await server.stop()


async def get(url: str) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.get(url)


async def test_fresh_data_and_a_live_transport_is_200(serve: Server) -> None:
    base = await serve(probe({SNAPSHOT: 12.34, "coinbase": 12.0}, {"telegram": UP, "console": CONSOLE}))
    response = await get(f"{base}/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "role": "leader",
        "problems": [],
        "stale_after_s": STALE_AFTER_S,
        "data_age_s": {"coinbase": 12.0, SNAPSHOT: 12.3},
        "transports": {
            "console": {
                "connected": True,
                "last_success_at": None,
                "last_success_age_s": None,
                "silence_limit_s": None,
            },
            "telegram": {
                "connected": True,
                "last_success_at": "2026-05-28T20:26:36+00:00",
                "last_success_age_s": 4.0,
                "silence_limit_s": LIMIT_S,
            },
        },
    }


async def test_a_sharded_transport_shows_its_shards(serve: Server) -> None:
    sharded = TransportState(connected=True, last_success_at=NOW - 4, silence_limit_s=LIMIT_S, shards=3)
    base = await serve(probe({SNAPSHOT: 1.0}, {"discord": sharded}))
    discord = (await get(f"{base}/healthz")).json()["transports"]["discord"]
    assert (discord["connected"], discord["shards"]) == (True, 3)


@pytest.mark.parametrize(
    ("ages", "transports", "problem"),
    [
        ({SNAPSHOT: 301.0}, {"telegram": UP}, "latest snapshot is 301 s old (limit 300 s)"),
        ({}, {"console": CONSOLE}, "no snapshot stored yet"),
        ({SNAPSHOT: 5.0}, {"telegram": replace(UP, connected=False)}, "no transport connected"),
        ({SNAPSHOT: 5.0}, {}, "no transport connected"),
        (
            {SNAPSHOT: 5.0},
            {"console": CONSOLE, "telegram": replace(DOWN, connected=True)},
            "telegram: no successful API call yet",
        ),
        (
            {SNAPSHOT: 5.0},
            {"telegram": replace(UP, last_success_at=NOW - 121)},
            "telegram: last successful API call 121 s ago (limit 120 s)",
        ),
    ],
)
async def test_stale_data_no_transport_or_a_silent_platform_is_503(
    serve: Server, ages: dict[str, float], transports: dict[str, TransportState], problem: str
) -> None:
    response = await get(f"{await serve(probe(ages, transports))}/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy"
    assert body["problems"] == [problem]


async def test_a_standby_is_healthy_without_polls_or_transports_of_its_own(serve: Server) -> None:
    response = await get(f"{await serve(probe({}, {}, role=Role.STANDBY))}/healthz")
    assert response.status_code == 200
    assert (response.json()["role"], response.json()["problems"]) == ("standby", [])
    metrics_text = (await get(f"{await serve(probe({}, {}, role=Role.STANDBY))}/metrics")).text
    assert "minerwatch_leader 0.0" in metrics_text


async def test_a_standby_judges_the_webhook_it_serves_and_its_election(serve: Server) -> None:
    silent = replace(UP, last_success_at=NOW - 121)
    problem = "cannot reach the database for the leader election: OperationalError: connection refused"
    base = await serve(probe({}, {"telegram": silent}, role=Role.STANDBY, election=problem))
    response = await get(f"{base}/healthz")
    assert response.status_code == 503
    assert response.json()["problems"] == [
        problem,
        "telegram: last successful API call 121 s ago (limit 120 s)",
    ]


async def test_metrics_are_prometheus_text_with_every_metric(serve: Server) -> None:
    metrics.record_poll(
        [
            SourceOutcome("coinbase", datetime.now(UTC), ok=True, value=1.0),
            SourceOutcome("kraken", datetime.now(UTC), ok=False, error="kraken: timeout"),
        ]
    )
    metrics.record_alerts(["regime_capitulation"])
    metrics.record_send("telegram", Sent())
    metrics.record_send("telegram", RetryAfter(3.0))
    metrics.observe_command("status", 0.02)
    metrics.record_takeover()
    transports = {"console": CONSOLE, "telegram": UP, "discord": DOWN}
    base = await serve(probe({SNAPSHOT: 7.0}, transports, {"pending": 3, "dead": 1}))
    response = await get(f"{base}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    for line in (
        'minerwatch_polls_total{result="ok",source="coinbase"}',
        'minerwatch_polls_total{result="error",source="kraken"}',
        'minerwatch_data_age_seconds{source="snapshot"} 7.0',
        'minerwatch_alerts_total{kind="regime_capitulation"}',
        'minerwatch_outbox_messages{status="pending"} 3.0',
        'minerwatch_sends_total{outcome="sent",platform="telegram"}',
        'minerwatch_sends_total{outcome="retry_after",platform="telegram"}',
        'minerwatch_command_seconds_bucket{command="status",le="0.025"}',
        'minerwatch_transport_last_success_timestamp_seconds{platform="telegram"} 1.779999996e+09',
        'minerwatch_transport_last_success_timestamp_seconds{platform="discord"} 0.0',
        'minerwatch_transport_connected{platform="discord"} 0.0',
        "minerwatch_leader 1.0",
        "minerwatch_leader_takeovers_total",
    ):
        assert line in text


async def test_probe_reads_the_store_and_the_transports(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "m.db")
    try:
        at = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
        quotes = (
            SourceOutcome("coinbase", at, ok=True, value=90_000.0),
            SourceOutcome("kraken", at, ok=False, error="kraken: timeout"),
        )
        network = NetworkState(
            1.2e14, 940_000, 0.03, None, None, at, "mempool", (SourceOutcome("mempool", at, ok=True),)
        )
        chat = await store.run(upsert_chat, "console", "console", ChatKind.CONSOLE, 0.0)
        message = NewMessage("k", chat.id, "console", "console", "test", "hello")
        await store.run(enqueue, [message], 0.0)
        app: Any = SimpleNamespace(store=store, running_here=list, console=object(), election=SoleLeader())
        p = app_probe(app, clock=lambda: at.timestamp() + 30)
        assert await p.data_ages() == {}
        await store.run(insert_snapshot, MarketSnapshot(PriceQuote(90_000.0, at, quotes), network, at))
        assert await p.data_ages() == {SNAPSHOT: 30.0, "coinbase": 30.0, "mempool": 30.0}
        assert p.transports() == {"console": CONSOLE}
        depth = await p.outbox_depth()
        assert depth["pending"] == 1 and depth["sent"] == 0
    finally:
        await store.close()


async def test_served_on_127_0_0_1_only_when_a_port_is_set(tmp_path: Path) -> None:
    app: Any = SimpleNamespace(settings=Settings.model_validate({}))
    assert await serve_health(app) is None
    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        port = probe_socket.getsockname()[1]
    store = await Store.open(tmp_path / "m.db")
    app = SimpleNamespace(
        settings=Settings.model_validate({"http_port": port}),
        store=store,
        running_here=list,
        console=object(),
        election=SoleLeader(),
    )
    server = await serve_health(app)
    try:
        assert server is not None and server.port == port
        response = await get(f"http://127.0.0.1:{port}/healthz")
        assert response.status_code == 503
        assert response.json()["problems"] == ["no snapshot stored yet"]
    finally:
        if server is not None:
            await server.stop()
        await store.close()


async def test_a_deleted_database_file_is_503_naming_it(tmp_path: Path, serve: Server) -> None:
    store = await Store.open(tmp_path / "m.db")
    try:
        app: Any = SimpleNamespace(store=store, running_here=list, console=object(), election=SoleLeader())
        (tmp_path / "m.db").unlink()
        response = await get(await serve(app_probe(app)) + "/healthz")
        assert response.status_code == 503
        reason = (
            f"storage unavailable: database file {tmp_path / 'm.db'} was deleted while the bot was running"
        )
        assert response.json()["problems"][0] == reason
    finally:
        await store.close()
