"""Shared fixtures: the fake upstream server, Settings aimed at it, a real throwaway PostgreSQL, the store on
each backend, an httpx client, a no-op sleep."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, cast

import httpx
import pytest

from bot.config import Settings
from bot.store import Connection, Store
from bot.store.connection import Backend
from tests.fakes import RecordingSleep
from tests.fakes.postgres import PostgresServer
from tests.fakes.upstreams import FakeUpstreams
from tests.store_backends import connect_to, open_at


@pytest.fixture
def fake_upstreams() -> Iterator[FakeUpstreams]:
    with FakeUpstreams() as fake:
        yield fake


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One real PostgreSQL server for the session (started on first use, stopped at the end)."""
    with PostgresServer() as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """A fresh, empty database on the session's server: ``postgresql://...``."""
    return postgres_server.create_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_backend(request: pytest.FixtureRequest) -> Backend:
    """Each store test runs on both backends: SQLite (a file) and PostgreSQL (the real throwaway server)."""
    return cast(Backend, request.param)


@pytest.fixture
def store_location(store_backend: Backend, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """Where this test's store lives: a fresh SQLite path, or a fresh PostgreSQL database's URL."""
    if store_backend == "sqlite":
        return str(tmp_path / "store.db")
    return cast(str, request.getfixturevalue("postgres_url"))


@pytest.fixture
def connection(store_location: str) -> Iterator[Connection]:
    """A migrated connection on each backend (repository tests call the sync functions with it)."""
    opened = connect_to(store_location)
    yield opened
    opened.close()


@pytest.fixture
async def backend_store(store_location: str) -> AsyncIterator[Store]:
    """An open ``Store`` on each backend."""
    opened = await open_at(store_location)
    yield opened
    await opened.close()


@pytest.fixture
def make_settings(fake_upstreams: FakeUpstreams) -> Callable[..., Settings]:
    """``make_settings(**overrides)``: Settings aimed at the fake, ignoring the environment and ``.env``."""

    def make(**overrides: Any) -> Settings:
        values = {**fake_upstreams.settings_overrides(), "source_timeout_s": 2.0, **overrides}
        return Settings.model_validate(values)

    return make


@pytest.fixture
def fake_sleep() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
async def http_client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client
