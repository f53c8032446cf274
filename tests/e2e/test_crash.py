"""Kill real worker processes with SIGKILL at awkward moments: nothing is lost, nothing repeats.

(a) Delivery killed mid-way, twice, with personal alerts and broadcasts mixed: every message arrives; only
messages whose round was not recorded yet (group commit: at most two rounds, the one still answering and
the one sending, per kill) arrive twice; per destination the order holds.
(b) Killed inside the transaction that records an alert decision and its outbox rows, then right after
it: a restart re-evaluates, the alert is enqueued once and delivered once.
(c) Killed in the middle of a chunked fan-out to 5000 chats: the restart resumes it; every chat gets its
row exactly once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from bot.alerts.events import AlertEvent, EventKind
from bot.alerts.rules import KeyedRule, KeyMetric, Metric, Op, Rule, RuleState
from bot.chat.kinds import ChatKind
from bot.store import connect, fanouts
from bot.store.chats import upsert_chat
from bot.store.outbox import NewMessage, OutboxStatus, Priority, counts, enqueue
from bot.store.subscriptions import add_network, add_threshold, get_subscription

WORKER = Path(__file__).with_name("crash_worker.py")
DESTINATIONS = 50
PER_DESTINATION = 20
CONCURRENCY = 16
KILL_AFTER_LINES = (300, 650)
RETARGET = {"height": 935_424, "change_pct": -4.2, "old_difficulty": 1.3e14, "new_difficulty": 1.25e14}


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
    for n in range(PER_DESTINATION):  # interleaved, as a fan-out enqueues them; every third one personal
        for d, (chat_id, keys) in enumerate(expected.items()):
            priority = Priority.PERSONAL if (n + d) % 3 == 0 else Priority.BROADCAST
            messages.append(
                NewMessage(keys[n], d + 1, "telegram", chat_id, "test", keys[n], priority=priority)
            )
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
    assert repeats <= kills * 2 * CONCURRENCY, f"{repeats} repeats after {kills} kills"
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


def test_a_fan_out_killed_between_chunks_resumes_and_reaches_every_chat_once(tmp_path: Path) -> None:
    db_path = tmp_path / "m.db"
    db = connect(db_path)
    refs = [upsert_chat(db, "telegram", str(600_000 + n), ChatKind.PRIVATE, now=0.0).id for n in range(5000)]
    for ref in refs:
        add_network(db, ref, now=0.0)
    event = AlertEvent(EventKind.RETARGET, "retarget:935424", datetime(2026, 2, 5, tzinfo=UTC), RETARGET)
    fanouts.add(db, event.to_json(), fanouts.Audience.NETWORK, time.time())
    db.close()

    assert finish(start("fanout", str(db_path), crash_at="chunk:3"))[0] == -signal.SIGKILL
    db = connect(db_path)
    written = counts(db)[OutboxStatus.PENDING]
    [job] = fanouts.unfinished(db)
    cursor = fanouts.get(db, job)
    assert cursor is not None and 0 < written == cursor.after_chat_ref < 5000  # three chunks, committed
    db.close()

    code, out = finish(start("fanout", str(db_path)))
    assert (code, int(out)) == (0, 5000 - written)
    db = connect(db_path)
    rows = db.execute("SELECT chat_ref, COUNT(*) FROM outbox GROUP BY chat_ref").fetchall()
    assert sorted(ref for ref, _ in rows) == refs and {n for _, n in rows} == {1}
    assert fanouts.unfinished(db) == []
    db.close()
