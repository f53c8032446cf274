"""benchmarks.store_backends runs the bot's store code on both backends and reports min/median per figure."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psycopg

from tests.fakes.postgres import PostgresServer

ROOT = Path(__file__).resolve().parents[2]


def test_the_benchmark_measures_both_backends_and_drops_its_databases(
    postgres_server: PostgresServer,
) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.store_backends",
            *("--subscriptions", "500", "--chats", "120", "--snapshots", "2", "--repeat", "2"),
            *("--database-url", postgres_server.url(), "--json"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=True,
    )
    figures = json.loads(done.stdout)
    names = {"evaluation_ms_per_snapshot", "fanout_ms", "fanout_longest_chunk_ms", "drain_rows_per_s"}
    for backend in ("sqlite", "postgresql"):
        assert set(figures[backend]) == names
        for figure in figures[backend].values():
            assert len(figure["runs"]) == 2 and all(run > 0 for run in figure["runs"])
            assert figure["min"] == min(figure["runs"]) <= figure["median"]
    with psycopg.connect(postgres_server.url()) as admin:
        left = admin.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE 'minerwatch_bench%'"
        ).fetchall()
    assert left == []
