"""Leader election alone: seconds until a standby leads after the leader process is SIGKILLed, after its lock
session is terminated (``pg_terminate_backend``), and after the leader process is frozen (SIGSTOP: alive and
connected, but it stops renewing), with the shipped periods (``bot.cluster.leader``).

Run: ``.venv/bin/python -m benchmarks.election [--trials 5] [--json]``. The leader is
``tests/e2e/election_worker.py`` in a child process, the standby a ``LeaderElection`` in this one, on a
throwaway PostgreSQL (``tests/fakes/postgres.py``); each trial waits a random 0-2 s first, so the end of the
leader falls at any phase of the standby's tries.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import signal
import statistics
import sys
import time
from pathlib import Path

import psycopg

from benchmarks._common import print_figures
from bot.cluster.leader import IDLE_SESSION_TIMEOUT_S, RENEW_S, RETRY_S, LeaderElection
from tests.fakes.postgres import PostgresServer

WORKER = Path(__file__).parents[1] / "tests" / "e2e" / "election_worker.py"
WAYS = ("sigkill", "terminate", "sigstop")


async def end_leader(process: asyncio.subprocess.Process, url: str, way: str) -> None:
    if way == "sigkill":
        process.send_signal(signal.SIGKILL)
    elif way == "sigstop":
        process.send_signal(signal.SIGSTOP)
    else:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
            await connection.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'minerwatch-leader-election' AND pid <> pg_backend_pid() "
                "AND state = 'idle' ORDER BY backend_start LIMIT 1"
            )


async def trial(url: str, way: str, rng: random.Random) -> float:
    periods = (str(RENEW_S), str(RETRY_S), str(IDLE_SESSION_TIMEOUT_S))
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(WORKER), url, *periods, stdout=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None
    assert (await process.stdout.readline()).startswith(b"leader ")
    standby = LeaderElection(url)
    stop = asyncio.Event()
    campaign = asyncio.create_task(standby.run(stop))
    try:
        await asyncio.sleep(RETRY_S + rng.uniform(0, RETRY_S))
        ended = time.monotonic()
        await end_leader(process, url, way)
        await asyncio.wait_for(standby.elected.wait(), 60)
        return time.monotonic() - ended
    finally:
        if way == "sigstop":
            process.send_signal(signal.SIGCONT)
        if process.returncode is None:
            process.kill()
        await process.wait()
        stop.set()
        await campaign


async def measure(trials: int) -> dict[str, dict[str, float]]:
    rng = random.Random(14)
    figures = {}
    with PostgresServer() as server:
        for way in WAYS:
            times = [await trial(server.create_database(), way, rng) for _ in range(trials)]
            figures[way] = {
                "min_s": round(min(times), 2),
                "median_s": round(statistics.median(times), 2),
                "max_s": round(max(times), 2),
            }
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = asyncio.run(measure(args.trials))
    rows: list[tuple[str, ...]] = [("leader ended by", "min s", "median s", "max s")]
    rows += [(way, *(f"{v:.2f}" for v in f.values())) for way, f in figures.items()]
    print_figures(figures, args.json, rows, title=f"standby takes the lead ({args.trials} trials each)")


if __name__ == "__main__":
    main()
