"""Outbox claims: how fast R replicas drain N queued messages by claim + mark-sent rounds, per backend.

Run: ``.venv/bin/python -m benchmarks.outbox_claims [--backend sqlite|postgresql] [--database-url URL]
[--rows N] [--destinations D] [--batch B] [--replicas R] [--json]``.
N messages to D chats are queued; R threads, each with its own connection (as R replicas hold theirs), loop
``claim_due`` (limit B) then ``mark_all_sent`` for what they claimed, both as bookkeeping commits (as the
outbox worker makes them), until nothing is left; no platform is called, so this is the store's ceiling.
``--backend postgresql`` without a URL starts a throwaway server (``tests.fakes.postgres``: fsync off,
synchronous_commit off), so its figures are an upper bound next to a real server's. Reports rows/s and the
round time (claim + mark) p50 / max; checks every row was sent once.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from benchmarks._common import print_figures
from bot.chat.kinds import ChatKind
from bot.store import connect
from bot.store.chats import upsert_chat
from bot.store.connection import Adapter
from bot.store.outbox import NewMessage, OutboxStatus, claim_due, counts, enqueue, mark_all_sent


def seed(db: Adapter, rows: int, destinations: int) -> None:
    refs = [upsert_chat(db, "telegram", str(d), ChatKind.PRIVATE, 0.0).id for d in range(destinations)]
    enqueue(
        db,
        [
            NewMessage(f"m{n}", refs[n % destinations], "telegram", str(n % destinations), "b", "x")
            for n in range(rows)
        ],
        0.0,
    )


def drain(location: str, batch: int, replicas: int) -> dict[str, object]:
    rounds: list[float] = []
    sent: list[int] = []
    lock = threading.Lock()

    def replica() -> None:
        db = _connect(location)
        try:
            while True:
                started = time.perf_counter()
                with db.bookkeeping():
                    claimed = claim_due(db, 1.0, batch)
                if not claimed:
                    left = counts(db)
                    if left[OutboxStatus.PENDING] + left[OutboxStatus.SENDING] == 0:
                        return
                    continue
                with db.bookkeeping():
                    mark_all_sent(db, [(m.id, 2.0) for m in claimed])
                with lock:
                    rounds.append(time.perf_counter() - started)
                    sent.extend(m.id for m in claimed)
        finally:
            db.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=replica) for _ in range(replicas)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    assert len(sent) == len(set(sent)), "a row was sent twice"
    return {
        "rows": len(sent),
        "seconds": round(seconds, 3),
        "rows_per_s": round(len(sent) / seconds),
        "round_p50_ms": round(statistics.median(rounds) * 1000, 2),
        "round_max_ms": round(max(rounds) * 1000, 2),
    }


def _connect(location: str) -> Adapter:
    if location.startswith("postgresql://"):
        from bot.store.postgres import connect_postgresql

        return connect_postgresql(location)
    return connect(location)


@contextlib.contextmanager
def _location(backend: str, url: str | None) -> Iterator[str]:
    if url is not None:
        yield url
    elif backend == "postgresql":
        from tests.fakes.postgres import PostgresServer

        with PostgresServer() as server:
            yield server.create_database()
    else:
        with tempfile.TemporaryDirectory(prefix="minerwatch-bench-") as directory:
            yield str(Path(directory) / "claims.db")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument(
        "--database-url", help="an existing, empty PostgreSQL database (else a throwaway one)"
    )
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--destinations", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    backend = "postgresql" if args.database_url else args.backend
    with _location(backend, args.database_url) as location:
        db = _connect(location)
        seed(db, args.rows, args.destinations)
        db.close()
        figures = {"backend": backend, "replicas": args.replicas, "batch": args.batch}
        figures |= drain(location, args.batch, args.replicas)
    print_figures(figures, args.json, title="outbox claim + mark-sent")


if __name__ == "__main__":
    main()
