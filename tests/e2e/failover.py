"""Fail-over of real ``minerwatch run`` replicas mid-fan-out (for tests/e2e/test_failover.py and
benchmarks/failover.py).

Two replicas share one store and one PostgreSQL leader election, against the fake Bot API and the fake
upstreams. A retarget alert waits to fan out to ``chats`` Telegram chats; the leader resumes the fan-out at
start and sends at Telegram's pace. Each kill: once ``kill_every`` more chats got it and a random
0-``RETRY_S`` later (so kills fall at any phase of the standby's tries), SIGKILL the leader; time until the
standby's /healthz says ``leader`` and until the next alert reaches Telegram; start the killed replica again
(as its supervisor would), now a standby. At the end every chat's messages are counted.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bot.alerts.events import AlertEvent, EventKind
from bot.chat.kinds import ChatKind
from bot.cluster.leader import RETRY_S
from bot.config import Settings
from bot.store import fanouts
from bot.store.chats import upsert_chat
from bot.store.db import open_store
from bot.store.outbox import OutboxStatus, counts
from bot.store.subscriptions import add_network
from tests.e2e.process import ROOT, bot_environment
from tests.fakes import free_port
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.upstreams import FakeUpstreams

FIRST_CHAT_ID = 700_000_001
RETARGET = {"height": 935_424, "change_pct": -4.2, "old_difficulty": 1.3e14, "new_difficulty": 1.25e14}
MARKER = "935,424"
"""In the rendered retarget alert (the height): how its messages are told from any other."""
POLL_S = 0.02


@dataclass
class Kill:
    """One SIGKILL of the leader: what it had sent, what was in flight, how long the standby took."""

    delivered_before: int
    """Alert messages Telegram had received when the leader was killed."""
    in_flight: int | None
    """Outbox rows ``sending`` right after the kill (None: the standby had already recovered them)."""
    took_over_s: float
    """SIGKILL -> the standby's /healthz says ``leader``."""
    resumed_s: float
    """SIGKILL -> the next alert message reaches Telegram."""
    at: float
    """Unix time of the SIGKILL (to read the replicas' logs by)."""


@dataclass
class Outcome:
    chats: int
    kills: list[Kill] = field(default_factory=list)
    per_chat: Counter[int] = field(default_factory=Counter)
    http_429: int = 0
    elapsed_s: float = 0.0

    @property
    def sent(self) -> int:
        return sum(self.per_chat.values())

    @property
    def duplicates(self) -> int:
        return sum(n - 1 for n in self.per_chat.values() if n > 1)

    @property
    def lost(self) -> int:
        return self.chats - len(self.per_chat)

    def summary(self) -> str:
        lines = [
            f"{self.chats} chats, {len(self.kills)} kills: sent {self.sent}, duplicates {self.duplicates}, "
            f"lost {self.lost}, HTTP 429 {self.http_429}, {self.elapsed_s:.1f} s"
        ]
        for n, kill in enumerate(self.kills, 1):
            lines.append(
                f"  kill {n}: after {kill.delivered_before} sent, {kill.in_flight} in flight; "
                f"standby leads after {kill.took_over_s:.2f} s, sends again after {kill.resumed_s:.2f} s"
            )
        return "\n".join(lines)


class Replica:
    """One ``minerwatch run`` child process with its own /healthz port; output to ``log``."""

    def __init__(self, name: str, env: dict[str, str], log: Path) -> None:
        self.name = name
        self.port = free_port()
        self._env = {**env, "MINERWATCH_HTTP_PORT": str(self.port)}
        self._log = log
        self.process = self._start()

    def _start(self) -> subprocess.Popen[bytes]:
        with self._log.open("ab") as out:
            return subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "run"],
                cwd=ROOT,
                env=self._env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def restart(self) -> None:
        """What its supervisor does after it died: start it again (it stands by while another leads)."""
        self.process = self._start()

    def role(self) -> str | None:
        """``leader`` or ``standby`` from /healthz, or ``None`` while it does not answer."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1) as response:
                body = response.read()
        except urllib.error.HTTPError as error:  # 503: unhealthy, but it says its role
            body = error.read()
        except OSError:
            return None
        role = json.loads(body).get("role")
        return str(role) if role else None

    def wait_role(self, role: str, within_s: float) -> float:
        """Seconds until /healthz says ``role``."""
        start = time.monotonic()
        while self.role() != role:
            if time.monotonic() - start > within_s:
                raise AssertionError(f"replica {self.name} not {role} within {within_s} s:\n{self.tail()}")
            if self.process.poll() is not None:
                raise AssertionError(f"replica {self.name} exited {self.process.returncode}:\n{self.tail()}")
            time.sleep(POLL_S)
        return time.monotonic() - start

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def tail(self) -> str:
        return "\n".join(self._log.read_text(errors="replace").splitlines()[-30:])


def chat_ids(chats: int) -> list[int]:
    return list(range(FIRST_CHAT_ID, FIRST_CHAT_ID + chats))


async def seed(settings: Settings, chats: int) -> None:
    """``chats`` private Telegram chats subscribed to network alerts and a retarget alert for all of them,
    waiting to fan out (the leader's watch resumes it at start)."""
    store = await open_store(settings)
    try:
        for chat_id in chat_ids(chats):
            chat = await store.run(upsert_chat, "telegram", str(chat_id), ChatKind.PRIVATE, 0.0)
            await store.run(add_network, chat.id, 0.0)
        event = AlertEvent(EventKind.RETARGET, "retarget:935424", datetime.now(UTC), RETARGET)
        await store.run(fanouts.add, event.to_json(), fanouts.Audience.NETWORK, time.time())
    finally:
        await store.close()


async def in_flight(settings: Settings) -> int:
    store = await open_store(settings)
    try:
        return (await store.run(counts))[OutboxStatus.SENDING]
    finally:
        await store.close()


def alerts_per_chat(telegram: FakeTelegram, chats: int) -> Counter[int]:
    wanted = set(chat_ids(chats))
    found: Counter[int] = Counter()
    for call in telegram.calls("sendMessage"):
        if (
            isinstance(call.chat_id, int | str)
            and int(call.chat_id) in wanted
            and MARKER in (call.text or "")
        ):
            found[int(call.chat_id)] += 1
    return found


def run_failover(
    work: Path,
    database_url: str,
    upstreams: FakeUpstreams,
    *,
    chats: int = 300,
    kills: int = 1,
    kill_every: int = 100,
    within_s: float = 120.0,
    random_seed: int = 14,
) -> Outcome:
    """Fan an alert out to ``chats`` chats through two replicas, SIGKILLing the leader ``kills`` times."""
    started = time.monotonic()
    rng = random.Random(random_seed)
    outcome = Outcome(chats)
    with FakeTelegram(enforce_limits=True) as telegram:
        settings = {
            **upstreams.settings_overrides(),
            "telegram_token": telegram.token,
            "telegram_base_url": telegram.base_url,
            "database_url": database_url,
        }
        env = bot_environment(work / "minerwatch.db", settings)
        asyncio.run(seed(Settings.model_validate({**settings, "db": str(work / "minerwatch.db")}), chats))
        check = Settings.model_validate({**settings, "db": str(work / "minerwatch.db")})
        replicas = [Replica("a", env, work / "a.log")]
        try:
            replicas[0].wait_role("leader", 60)
            replicas.append(Replica("b", env, work / "b.log"))
            replicas[1].wait_role("standby", 60)
            for _ in range(kills):
                leader, standby = replicas if replicas[0].role() == "leader" else replicas[::-1]
                target = total(telegram, chats) + kill_every
                if len(alerts_per_chat(telegram, chats)) + kill_every >= chats:
                    raise AssertionError(f"too few chats for kill {len(outcome.kills) + 1}: raise `chats`")
                _wait(lambda n=target: total(telegram, chats) >= n, within_s, leader)  # type: ignore[misc]
                time.sleep(rng.uniform(0, RETRY_S))  # kills at any phase of the standby's tries
                delivered = total(telegram, chats)
                leader.kill()
                killed_at, at = time.monotonic(), time.time()
                waiting = asyncio.run(in_flight(check)) if standby.role() == "standby" else None
                took_over_s = standby.wait_role("leader", 30)
                _wait(lambda n=delivered: total(telegram, chats) > n, 30, standby)  # type: ignore[misc]
                resumed_s = time.monotonic() - killed_at
                outcome.kills.append(Kill(delivered, waiting, took_over_s, resumed_s, at))
                leader.restart()
                leader.wait_role("standby", 60)
            _wait(lambda: len(alerts_per_chat(telegram, chats)) >= chats, within_s, replicas[0])
            time.sleep(1.0)  # anything still in flight lands (and counts, if it repeats)
        finally:
            for replica in replicas:
                replica.stop()
        outcome.per_chat = alerts_per_chat(telegram, chats)
        outcome.http_429 = telegram.http_429
    outcome.elapsed_s = time.monotonic() - started
    return outcome


def total(telegram: FakeTelegram, chats: int) -> int:
    return sum(alerts_per_chat(telegram, chats).values())


def _wait(condition: Callable[[], bool], within_s: float, replica: Replica) -> None:
    deadline = time.monotonic() + within_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(
                f"not reached within {within_s} s; replica {replica.name}:\n{replica.tail()}"
            )
        time.sleep(POLL_S)
