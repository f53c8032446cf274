"""Shared fixtures: the fake upstream server, Settings aimed at it, a real throwaway PostgreSQL, an httpx
client, a no-op sleep."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest

from bot.config import Settings
from tests.fakes import RecordingSleep
from tests.fakes.postgres import PostgresServer
from tests.fakes.upstreams import FakeUpstreams


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
