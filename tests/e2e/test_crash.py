"""Kill real worker processes with SIGKILL at awkward moments: nothing is lost, nothing repeats.

(a) Delivery killed mid-way, twice: every message arrives; only messages in flight at a kill (at most the
worker's concurrency per kill) arrive twice; per destination the order holds.
(b) Killed inside the transaction that records an alert decision and its outbox rows, then right after
it: a restart re-evaluates, the alert is enqueued once and delivered once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from bot.alerts.rules import KeyedRule, KeyMetric, Metric, Op, Rule, RuleState
from bot.chat.kinds import ChatKind
from bot.store import connect
from bot.store.chats import upsert_chat
from bot.store.outbox import NewMessage, OutboxStatus, counts, enqueue
from bot.store.subscriptions import add_threshold, get_subscription

WORKER = Path(__file__).with_name("crash_worker.py")
DESTINATIONS = 50
PER_DESTINATION = 20
CONCURRENCY = 16
KILL_AFTER_LINES = (300, 650)


def start(*args: str, crash_at: str | None = None) -> subprocess.Popen[str]:
    env = {key: value for key, value in os.environ.items() if key != "CRASH_AT"}
    if crash_at:
        env["CRASH_AT"] = crash_at
    return subprocess.Popen(
        [sys.executable, str(WORKER), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str], timeout: float = 30) -> tuple[int, str]:
    out, err = process.communicate(timeout=timeout)
    assert process.returncode in (0, -signal.SIGKILL), err
    return process.returncode, out


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_killed_delivery_loses_nothing_and_repeats_only_in_flight(tmp_path: Path) -> None:
    db_path, out = tmp_path / "m.db", tmp_path / "delivered.txt"
    db = connect(db_path)
    expected: dict[str, list[str]] = {}
    messages = []
    for d in range(DESTINATIONS):
        chat = upsert_chat(db, "telegram", f"-{1000 + d}", ChatKind.GROUP, now=0.0)
        expected[chat.chat_id] = [f"{chat.chat_id}/{n:02d}" for n in range(PER_DESTINATION)]
    for n in range(PER_DESTINATION):  # interleaved, as a fan-out enqueues them
        for d, (chat_id, keys) in enumerate(expected.items()):
            messages.append(NewMessage(keys[n], d + 1, "telegram", chat_id, "test", keys[n]))
    enqueue(db, messages, now=time.time())  # made now: the worker's wall clock expires day-old alerts
    db.close()

    kills = 0
    for threshold in KILL_AFTER_LINES:
        process = start("deliver", str(db_path), str(out), str(CONCURRENCY))
        deadline = time.monotonic() + 15
        while len(lines(out)) < threshold and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
        assert process.poll() is None, "the worker finished before it could be killed"
        process.send_signal(signal.SIGKILL)
        assert finish(process)[0] == -signal.SIGKILL
        kills += 1
    assert finish(start("deliver", str(db_path), str(out), str(CONCURRENCY)))[0] == 0

    delivered = lines(out)
    seen = Counter(delivered)
    assert set(seen) == {key for keys in expected.values() for key in keys}
    repeats = sum(count - 1 for count in seen.values())
    assert repeats <= kills * CONCURRENCY, f"{repeats} repeats after {kills} kills"
    for chat_id, keys in expected.items():
        firsts = list(dict.fromkeys(key for key in delivered if key.startswith(f"{chat_id}/")))
        assert firsts == keys
    db = connect(db_path)
    assert counts(db)[OutboxStatus.SENT] == DESTINATIONS * PER_DESTINATION
    db.close()
    print(f"\n{len(delivered)} deliveries of {len(seen)} messages, {repeats} repeated after {kills} kills")


def test_kill_between_decision_and_delivery_sends_exactly_once(tmp_path: Path) -> None:
    db_path, out = tmp_path / "m.db", tmp_path / "delivered.txt"
    db = connect(db_path)
    chat = upsert_chat(db, "telegram", "42", ChatKind.PRIVATE, now=0.0)
    rule = Rule(Metric.PRICE, Op.BELOW, 60_000.0, 600.0)
    keyed = KeyedRule(KeyMetric.PRICE_USD, Op.BELOW, 60_000.0, 60_600.0)
    sub = add_threshold(db, chat.id, rule, keyed, RuleState(armed=True), now=0.0)
    db.close()
    evaluate = ("evaluate", str(db_path), "59000", str(time.time()))

    assert finish(start(*evaluate, crash_at="before_commit"))[0] == -signal.SIGKILL
    db = connect(db_path)
    stored = get_subscription(db, sub)
    assert stored is not None and stored.state == RuleState(armed=True) and stored.fire_count == 0
    assert counts(db)[OutboxStatus.PENDING] == 0
    db.close()

    assert finish(start(*evaluate, crash_at="after_commit"))[0] == -signal.SIGKILL
    assert finish(start(*evaluate)) == (0, "0\n")  # the restart re-evaluates: already decided

    db = connect(db_path)
    assert counts(db)[OutboxStatus.PENDING] == 1
    db.close()
    assert finish(start("deliver", str(db_path), str(out)))[0] == 0
    assert finish(start("deliver", str(db_path), str(out)))[0] == 0
    assert lines(out) == [f"threshold:{sub}:1:42 price 59000 below 60000"]
