"""The store on SQLite next to PostgreSQL: alert evaluation, a network fan-out, draining the outbox.

Run: ``.venv/bin/python -m benchmarks.store_backends [--subscriptions N] [--chats C] [--snapshots K]
[--repeat R] [--backend sqlite|postgresql] [--database-url URL] [--json]``.

For each backend, ``--repeat`` times on fresh databases, the same repository code the bot runs:

* ``evaluation``: N rules as ``benchmarks.alerts`` builds them, then K snapshots each evaluated in one
  committed transaction (``evaluate_thresholds``): the median ms per snapshot of the run;
* ``fanout``: C chats subscribed to network news and one retarget alert turned into their outbox rows chunk
  by chunk as the watch does (``fan_out_chunk``, each chunk one bookkeeping transaction): ms for all,
  and the longest chunk (how long the store was held);
* ``drain``: those C rows claimed ``CLAIM_BATCH`` at a time (``claim_due``, leases) and marked sent
  (``mark_all_sent``), each step one bookkeeping transaction as ``OutboxWorker`` does, with no network:
  rows per second, the store's own ceiling on delivery.

Each figure is reported as the min and median over the runs. PostgreSQL is a throwaway server started for
the run (``tests/fakes/postgres.py``, on loopback TCP, with durable commits like the SQLite file's), or the
server at ``--database-url``, where this role must be allowed to create databases (each run makes one and
drops it). Both keep their files in the same temporary directory's file system.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

from benchmarks._common import print_figures
from benchmarks.alerts import CURRENT, FANOUT_DATA, POLL_S, START, _rows, _spread
from bot.alerts.events import AlertEvent, EventKind
from bot.store import connect, fanouts
from bot.store.connection import Adapter
from bot.store.outbox import claim_due, mark_all_sent
from bot.store.postgres import connect_postgresql
from bot.store.subscriptions import evaluate_thresholds
from bot.watch.loop import fan_out_chunk
from tests.fakes.postgres import PostgresServer

BACKENDS = ("sqlite", "postgresql")
CLAIM_BATCH = 100
"""Rows claimed per round (the worker claims what its rates allow in a round, up to 1,000)."""
Opener = Callable[[], Adapter]


def build_rules(db: Adapter, count: int, seed: int) -> None:
    """``count`` rules for ``count / 5`` chats, as ``benchmarks.alerts.build`` makes them."""
    chats = -(-count // 5)
    with db.atomic():
        db.executemany(
            """INSERT INTO chats (id, platform, chat_id, kind, created_at)
               VALUES (?, 'telegram', ?, 'private', 0)""",
            ((i, str(i)) for i in range(1, chats + 1)),
        )
        db.executemany(
            """INSERT INTO subscriptions (chat_ref, kind, metric, op, threshold, band, repeat, min_interval_s,
                   key_metric, key_op, key_threshold, key_rearm, armed, quiet_until, created_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            _rows(count, random.Random(seed)),
        )
        db.execute("UPDATE subscriptions SET quiet = 1 WHERE quiet_until > 0")
    db.execute("ANALYZE")


def evaluation_ms(db: Adapter, snapshots: int, seed: int) -> float:
    """Median ms per evaluated snapshot."""
    rng = random.Random(seed + 1)
    timings = []
    for n in range(snapshots):
        values = {key: _spread(rng, key, base, 0.01) for key, base in CURRENT.items()}
        started = time.perf_counter()
        evaluate_thresholds(db, values, now=START + (n + 1) * POLL_S)
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def fan_out(db: Adapter, chats: int) -> dict[str, float]:
    """Seconds to fan one event out to ``chats`` subscribers, the longest chunk, then the drain's rate."""
    with db.atomic():
        db.executemany(
            "INSERT INTO chats (platform, chat_id, kind, created_at) VALUES ('telegram', ?, 'private', 0)",
            ((str(700_000_000 + i),) for i in range(chats)),
        )
        db.execute(
            "INSERT INTO subscriptions (chat_ref, kind, created_at) SELECT id, 'network', 0 FROM chats"
        )
    db.execute("ANALYZE")
    at = datetime.fromtimestamp(START, UTC)
    event = AlertEvent(EventKind.RETARGET, f"retarget:{at.isoformat()}", at, FANOUT_DATA)
    fanout_id = fanouts.add(db, event.to_json(), fanouts.Audience.NETWORK, START)
    holds, started = [], time.perf_counter()
    while True:
        began = time.perf_counter()
        with db.bookkeeping():
            done = fan_out_chunk(db, fanout_id, START).done
        holds.append((time.perf_counter() - began) * 1000)
        if done:
            break
    fanout_s = time.perf_counter() - started
    drained, started = 0, time.perf_counter()
    while True:
        with db.bookkeeping():
            claimed = claim_due(db, START + 1, CLAIM_BATCH)
        if not claimed:
            break
        with db.bookkeeping():
            mark_all_sent(db, [(message.id, START + 2) for message in claimed])
        drained += len(claimed)
    drain_s = time.perf_counter() - started
    assert drained == chats, f"drained {drained} of {chats}"
    return {
        "fanout_ms": fanout_s * 1000,
        "fanout_longest_chunk_ms": max(holds),
        "drain_rows_per_s": drained / drain_s,
    }


def run_once(open_db: Callable[[str], Adapter], args: argparse.Namespace) -> dict[str, float]:
    """One run on two fresh databases (rules; fan-out), named for ``open_db``."""
    rules = open_db("rules")
    try:
        build_rules(rules, args.subscriptions, args.seed)
        figures = {"evaluation_ms_per_snapshot": evaluation_ms(rules, args.snapshots, args.seed)}
    finally:
        rules.close()
    audience = open_db("fanout")
    try:
        figures |= fan_out(audience, args.chats)
    finally:
        audience.close()
    return figures


@contextmanager
def postgres_databases(url: str | None) -> Iterator[Callable[[str], Adapter]]:
    """``open_db(name)``: a new database on the server at ``url`` (or a throwaway one), migrated; every
    database made is dropped at the end."""
    with PostgresServer(durable=True) if url is None else _nothing() as server:
        base = server.url() if server is not None else url
        assert base is not None
        made: list[str] = []

        def open_db(name: str) -> Adapter:
            database = f"minerwatch_bench_{name}_{len(made)}"
            with psycopg.connect(base, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{database}"')
                admin.execute(f'CREATE DATABASE "{database}"')
            made.append(database)
            return connect_postgresql(urlunsplit(urlsplit(base)._replace(path=f"/{database}")))

        try:
            yield open_db
        finally:
            with psycopg.connect(base, autocommit=True) as admin:
                for database in made:
                    admin.execute(f'DROP DATABASE IF EXISTS "{database}"')


@contextmanager
def _nothing() -> Iterator[None]:
    yield None


@contextmanager
def sqlite_databases() -> Iterator[Callable[[str], Adapter]]:
    with tempfile.TemporaryDirectory(prefix="minerwatch-bench-") as tmp:
        runs = iter(range(1_000_000))
        yield lambda name: connect(Path(tmp) / f"{name}-{next(runs)}.db")


def summary(runs: list[dict[str, float]]) -> dict[str, Any]:
    """``{figure: {"min", "median", "runs"}}`` (for a rate, ``min`` is the slowest run too)."""
    return {
        name: {
            "min": round(min(run[name] for run in runs), 2),
            "median": round(statistics.median(run[name] for run in runs), 2),
            "runs": [round(run[name], 2) for run in runs],
        }
        for name in runs[0]
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--subscriptions", type=int, default=100_000, help="rules to evaluate")
    parser.add_argument("--snapshots", type=int, default=9, help="snapshots per run (median reported)")
    parser.add_argument("--chats", type=int, default=10_000, help="chats the network alert goes to")
    parser.add_argument("--repeat", type=int, default=3, help="runs per backend (min and median reported)")
    parser.add_argument("--backend", choices=BACKENDS, action="append", help="default: both")
    parser.add_argument(
        "--database-url",
        help="PostgreSQL server to use (role may create databases); default: a throwaway one",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    figures: dict[str, Any] = {
        "subscriptions": args.subscriptions,
        "chats": args.chats,
        "snapshots": args.snapshots,
        "repeat": args.repeat,
    }
    backends = list(dict.fromkeys(args.backend or BACKENDS))
    for backend in backends:
        databases = sqlite_databases() if backend == "sqlite" else postgres_databases(args.database_url)
        with databases as open_db:
            figures[backend] = summary([run_once(open_db, args) for _ in range(args.repeat)])
    names = list(figures[backends[0]])
    rows = [("figure", *(f"{backend} min / median" for backend in backends))]
    rows += [
        (name, *(f"{figures[b][name]['min']:,} / {figures[b][name]['median']:,}" for b in backends))
        for name in names
    ]
    title = (
        f"the store on each backend: {args.subscriptions:,} rules, {args.chats:,} chats, "
        f"min / median of {args.repeat} runs"
    )
    print_figures(figures, args.json, rows, title)


if __name__ == "__main__":
    main()
