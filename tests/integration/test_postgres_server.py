"""The throwaway PostgreSQL that the store and replica tests run against is real and isolated per test."""

from __future__ import annotations

import psycopg


def test_each_test_gets_its_own_empty_database_on_a_real_server(postgres_url: str) -> None:
    with psycopg.connect(postgres_url) as connection:
        version = connection.execute("SHOW server_version_num").fetchone()
        tables = connection.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
    assert version is not None and int(version[0]) >= 150000
    assert tables == (0,)
    assert "127.0.0.1" in postgres_url
