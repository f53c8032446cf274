"""Leader election against a real PostgreSQL: one leader at a time; a standby takes over within the bound when
the leader's session ends (terminated, process killed, process frozen), and a deposed leader knows it.

Short periods (0.2 s) keep the tests quick; the bound each test asserts is the design's: a standby leads
within one ``retry_s`` of the session's end (plus scheduling slack), a frozen leader's session ends after
``idle_session_timeout_s``.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import psycopg
import pytest

from bot.cluster.leader import LeaderElection, Role, SoleLeader
from tests.fakes import free_port

PERIOD_S = 0.2
IDLE_S = 1.0
SLACK_S = 1.0
"""Scheduling and connection set-up on a shared 2-core machine."""
WORKER = Path(__file__).parents[1] / "e2e" / "election_worker.py"


def election(url: str) -> LeaderElection:
    return LeaderElection(url, renew_s=PERIOD_S, retry_s=PERIOD_S, idle_session_timeout_s=IDLE_S)


@asynccontextmanager
async def running(*elections: LeaderElection) -> AsyncIterator[asyncio.Event]:
    stop = asyncio.Event()
    tasks = [asyncio.create_task(e.run(stop)) for e in elections]
    try:
        yield stop
    finally:
        stop.set()
        await asyncio.gather(*tasks)


async def first_elected(*elections: LeaderElection, within_s: float = 5.0) -> LeaderElection:
    waits = {asyncio.ensure_future(e.elected.wait()): e for e in elections}
    done, pending = await asyncio.wait(waits, timeout=within_s, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    assert done, "nobody was elected"
    return waits[done.pop()]


def terminate(url: str, pid: int) -> None:
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("SELECT pg_terminate_backend(%s)", (pid,))


async def test_of_two_elections_exactly_one_leads_and_the_other_stands_by(postgres_url: str) -> None:
    a, b = election(postgres_url), election(postgres_url)
    async with running(a, b):
        leader = await first_elected(a, b)
        await asyncio.sleep(10 * PERIOD_S)  # many retries and heartbeats later: still one leader
        standby = b if leader is a else a
        assert (leader.role, standby.role) == (Role.LEADER, Role.STANDBY)
        assert not standby.elected.is_set() and standby.problem is None
        assert not leader.lost.is_set()


async def test_a_terminated_leader_session_hands_over_and_the_old_leader_knows(postgres_url: str) -> None:
    a, b = election(postgres_url), election(postgres_url)
    async with running(a, b):
        old = await first_elected(a, b)
        new = b if old is a else a
        pid = old.backend_pid
        assert pid is not None
        killed_at = time.monotonic()
        terminate(postgres_url, pid)
        await asyncio.wait_for(new.elected.wait(), PERIOD_S + SLACK_S)
        took_over_s = time.monotonic() - killed_at
        assert old.lost.is_set(), "two leaders at once: the old one learnt of its loss too late"
        assert old.role is Role.STANDBY and new.role is Role.LEADER
        assert old.lost_reason is not None and "connection lost" in old.lost_reason
    assert took_over_s < PERIOD_S + SLACK_S


async def test_a_leader_that_stops_hands_the_lock_on_at_once(postgres_url: str) -> None:
    a, b = election(postgres_url), election(postgres_url)
    stop_a = asyncio.Event()
    task_a = asyncio.create_task(a.run(stop_a))
    await asyncio.wait_for(a.elected.wait(), 5)
    async with running(b):
        await asyncio.sleep(3 * PERIOD_S)
        assert b.role is Role.STANDBY
        stop_a.set()
        await task_a
        await asyncio.wait_for(b.elected.wait(), PERIOD_S + SLACK_S)
        assert not a.lost.is_set()  # a clean stop is no loss


async def test_an_unreachable_database_leaves_a_standby_that_says_why_without_the_password() -> None:
    url = f"postgresql://minerwatch:hunter2secret@127.0.0.1:{free_port()}/minerwatch"
    standby = election(url)
    async with running(standby):
        await asyncio.sleep(3 * PERIOD_S)  # a refused connection fails at once: a few tries by now
        assert standby.role is Role.STANDBY
    assert standby.problem is not None and "cannot reach the database" in standby.problem
    assert "hunter2secret" not in standby.problem


async def test_sqlite_has_one_process_which_always_leads() -> None:
    sole = SoleLeader()
    await sole.run(asyncio.Event())
    assert sole.role is Role.LEADER and sole.elected.is_set() and not sole.lost.is_set()


class Worker:
    """``election_worker.py`` as a child process."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls, url: str) -> Worker:
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(WORKER), url, str(PERIOD_S), str(PERIOD_S), str(IDLE_S),
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        return cls(process)

    async def line(self, within_s: float) -> str:
        assert self.process.stdout is not None
        return (await asyncio.wait_for(self.process.stdout.readline(), within_s)).decode().strip()

    async def close(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
        await self.process.wait()


@pytest.fixture
async def child_leader(postgres_url: str) -> AsyncIterator[Worker]:
    worker = await Worker.start(postgres_url)
    try:
        assert (await worker.line(within_s=20)).startswith("leader ")
        yield worker
    finally:
        await worker.close()


async def test_a_sigkilled_leader_process_is_replaced_within_one_retry(
    postgres_url: str, child_leader: Worker
) -> None:
    standby = election(postgres_url)
    async with running(standby):
        await asyncio.sleep(3 * PERIOD_S)
        assert standby.role is Role.STANDBY
        killed_at = time.monotonic()
        child_leader.process.send_signal(signal.SIGKILL)
        await asyncio.wait_for(standby.elected.wait(), PERIOD_S + SLACK_S)
        assert time.monotonic() - killed_at < PERIOD_S + SLACK_S


async def test_a_frozen_leader_is_replaced_after_the_idle_timeout_and_knows_it_on_waking(
    postgres_url: str, child_leader: Worker
) -> None:
    standby = election(postgres_url)
    async with running(standby):
        await asyncio.sleep(3 * PERIOD_S)
        frozen_at = time.monotonic()
        child_leader.process.send_signal(signal.SIGSTOP)  # alive, connected, silent: it stopped renewing
        try:
            await asyncio.wait_for(standby.elected.wait(), IDLE_S + PERIOD_S + SLACK_S)
            took_over_s = time.monotonic() - frozen_at
        finally:
            child_leader.process.send_signal(signal.SIGCONT)
        assert (await child_leader.line(within_s=PERIOD_S + SLACK_S)).startswith("lost ")
        assert await asyncio.wait_for(child_leader.process.wait(), 5) == 3
    assert IDLE_S - PERIOD_S <= took_over_s < IDLE_S + PERIOD_S + SLACK_S  # idle since its last heartbeat
