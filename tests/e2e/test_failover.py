"""Two real ``minerwatch run`` replicas on one PostgreSQL election; the leader SIGKILLed in the middle of a
fan-out to 300 chats (tests/e2e/failover.py): the standby takes the lead within one retry, every chat gets
its alert, repeats are no more than the outbox rows in flight at the kill, and Telegram's per-bot limits
(the fake enforces them) are never exceeded across the hand-over. A leader whose lock session ends exits 75,
for its supervisor to start it again as a standby."""

from __future__ import annotations

import inspect
import math
from pathlib import Path

import psycopg

from bot.cluster import EXIT_DEPOSED
from bot.cluster.leader import RETRY_S
from bot.delivery.worker import ROUND_S, OutboxWorker
from bot.transports.telegram import RATES
from tests.e2e.failover import Replica, run_failover
from tests.e2e.process import bot_environment
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.upstreams import FakeUpstreams

TWO_ROUNDS = 2 * max(
    inspect.signature(OutboxWorker).parameters["concurrency"].default, math.ceil(RATES.per_s * ROUND_S)
)
"""At most two worker rounds are in flight at once (one answering, one sending): the rows a kill can leave
``sending`` (measured right after the kill, unless the standby recovered them first)."""
SLACK_S = 2.0
"""Process scheduling on a shared 2-core machine."""


def test_a_leader_killed_mid_fan_out_is_replaced_and_every_chat_gets_its_alert(
    tmp_path: Path, postgres_url: str, fake_upstreams: FakeUpstreams
) -> None:
    outcome = run_failover(tmp_path, postgres_url, fake_upstreams, chats=300, kills=1, kill_every=100)
    print("\n" + outcome.summary())
    [kill] = outcome.kills
    assert outcome.lost == 0
    assert outcome.http_429 == 0
    in_flight = kill.in_flight if kill.in_flight is not None else TWO_ROUNDS
    assert outcome.duplicates <= in_flight <= TWO_ROUNDS
    assert kill.took_over_s < RETRY_S + SLACK_S
    assert kill.resumed_s < RETRY_S + SLACK_S


def test_a_leader_whose_lock_session_is_terminated_exits_75_to_restart_as_a_standby(
    tmp_path: Path, postgres_url: str, fake_upstreams: FakeUpstreams
) -> None:
    with FakeTelegram() as telegram:
        settings = {
            **fake_upstreams.settings_overrides(),
            "telegram_token": telegram.token,
            "telegram_base_url": telegram.base_url,
            "database_url": postgres_url,
        }
        replica = Replica("a", bot_environment(tmp_path / "unused.db", settings), tmp_path / "a.log")
        try:
            replica.wait_role("leader", 60)
            with psycopg.connect(postgres_url, autocommit=True) as connection:
                [(terminated,)] = connection.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = 'minerwatch-leader-election'"
                ).fetchall()
            assert terminated is True
            assert replica.process.wait(timeout=30) == EXIT_DEPOSED
        finally:
            replica.stop()
    assert "minerwatch: this replica lost the lead (" in replica.tail()
