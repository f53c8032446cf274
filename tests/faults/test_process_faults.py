"""The bot as a process (``python -m bot.cli run``) killed mid fan-out, and refusing to start on a database
it cannot write or a broken setting. (SIGKILL of the bare worker and inside the decision transaction:
tests/e2e/test_crash.py.)"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.alerts.events import AlertEvent, EventKind
from bot.alerts.rules import KeyedRule, KeyMetric, Metric, Op, Rule, RuleState
from bot.chat.kinds import ChatKind
from bot.data import load_history
from bot.render.alerts import render_event
from bot.store import connect
from bot.store.chats import upsert_chat
from bot.store.outbox import NewMessage, OutboxStatus, counts, enqueue
from bot.store.snapshots import upsert_daily
from bot.store.subscriptions import add_network, add_threshold
from tests.e2e.market import move_price
from tests.fakes.telegram_api import FakeTelegram, Fault, SentCall
from tests.fakes.upstreams import FakeUpstreams
from tests.faults.conftest import START

CHATS = list(range(2001, 2301))
KILL_AFTER = 90
IN_FLIGHT_MAX = 32
"""The worker's default concurrency: no more rows than this can be claimed when the process dies."""
EVENT = AlertEvent(
    EventKind.REGIME_CAPITULATION,
    f"regime:capitulation:{START.isoformat()}",
    START,
    {
        "premium_pct": -23.4,
        "price_usd": 66_680.0,
        "cost_usd_per_btc": 87_012.4,
        "cost_model": "difficulty-regression",
        "cost_significant_digits": 2,
        "recovery_above_usd": 89_622.8,
    },
)
TEXT = render_event(EVENT)
CAPS = "-dac_override,-dac_read_search"
DROP_DAC = ["setpriv", "--bounding-set", CAPS, "--inh-caps", CAPS]
"""Root ignores file modes; without CAP_DAC_OVERRIDE it obeys them like any other user."""


def bot_env(db: Path, **settings: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("MINERWATCH_")}
    env.update({f"MINERWATCH_{key.upper()}": value for key, value in settings.items()})
    env.update(MINERWATCH_DB=str(db), PTB_TIMEDELTA="true")
    return env


def start_bot(env: dict[str, str], cwd: Path, prefix: list[str] | None = None) -> subprocess.Popen[str]:
    """Start the bot in ``cwd``; its output goes to files there (a full pipe would stall a chatty bot)."""
    with (cwd / "stdout.txt").open("w") as out, (cwd / "stderr.txt").open("w") as err:
        return subprocess.Popen(
            [*(prefix or []), sys.executable, "-m", "bot.cli", "run"],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            text=True,
        )


def finish(bot: subprocess.Popen[str], cwd: Path, timeout: float = 30) -> tuple[str, str]:
    """Wait for the bot to exit (killed after ``timeout``: a crash loop fails the test); its output."""
    try:
        bot.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        bot.kill()
        bot.wait()
    return (cwd / "stdout.txt").read_text(), (cwd / "stderr.txt").read_text()


def unprivileged() -> list[str]:
    """The command prefix that makes file modes bind this process's children too."""
    if os.geteuid() != 0:
        return []
    # root ignores file modes; setpriv (util-linux, essential on Debian) drops that override
    assert shutil.which("setpriv"), "running as root needs setpriv (util-linux) to enforce file modes"
    return DROP_DAC


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram() as fake:
        yield fake


def seed(db_path: Path) -> None:
    db = connect(db_path)
    messages = []
    for chat_id in CHATS:
        chat = upsert_chat(db, "telegram", str(chat_id), ChatKind.PRIVATE, START.timestamp())
        add_network(db, chat.id, START.timestamp())
        key = f"{EVENT.key}|{chat.id}"
        messages.append(NewMessage(key, chat.id, "telegram", chat.chat_id, EVENT.kind.value, TEXT))
    enqueue(db, messages, time.time())  # made now: the bot expires alerts undelivered for a day
    db.close()


def received(telegram: FakeTelegram) -> Counter[int | str | None]:
    return Counter(c.chat_id for c in telegram.calls("sendMessage") if c.ok and c.text == TEXT)


def test_sigkill_mid_fan_out_then_restart_delivers_every_alert(
    tmp_path: Path, telegram: FakeTelegram, fake_upstreams: FakeUpstreams
) -> None:
    db_path = tmp_path / "bot.db"
    seed(db_path)
    env = bot_env(
        db_path,
        **fake_upstreams.settings_overrides(),
        telegram_token=telegram.token,
        telegram_base_url=telegram.base_url,
        source_retries="0",
    )
    first = start_bot(env, tmp_path)
    try:
        telegram.wait_for_sync(lambda: sum(received(telegram).values()) >= KILL_AFTER, timeout=30)
        first.send_signal(signal.SIGKILL)
    finally:
        finish(first, tmp_path)
    assert first.returncode == -signal.SIGKILL
    before = sum(received(telegram).values())
    assert before < len(CHATS), "the fan-out finished before the kill"

    second = start_bot(env, tmp_path)
    try:
        telegram.wait_for_sync(lambda: len(received(telegram)) == len(CHATS), timeout=40)
        second.send_signal(signal.SIGINT)
    finally:
        _, errors = finish(second, tmp_path)
    assert second.returncode == 0, errors
    assert "Traceback" not in errors
    got = received(telegram)
    assert set(got) == set(CHATS)
    repeats = sum(n - 1 for n in got.values())
    assert repeats <= min(IN_FLIGHT_MAX, before), f"{repeats} alerts repeated after one kill"
    db = connect(db_path)
    assert counts(db)[OutboxStatus.SENT] == len(CHATS)
    db.close()


def test_a_read_only_database_file_is_one_line_and_exit_2(tmp_path: Path, telegram: FakeTelegram) -> None:
    db_path = tmp_path / "bot.db"
    db = connect(db_path)
    upsert_daily(db, load_history(), "shipped")
    db.close()
    db_path.chmod(0o444)
    env = bot_env(db_path, telegram_token=telegram.token, telegram_base_url=telegram.base_url)
    bot = start_bot(env, tmp_path, unprivileged())
    out, errors = finish(bot, tmp_path, timeout=20)
    assert bot.returncode == 2 and "Traceback" not in out + errors
    assert errors.splitlines()[-1] == f"minerwatch: database {db_path}: attempt to write a readonly database"


def test_a_read_only_database_directory_is_one_line_and_exit_2(tmp_path: Path) -> None:
    folder = tmp_path / "readonly"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        bot = start_bot(bot_env(folder / "bot.db"), tmp_path, unprivileged())
        out, errors = finish(bot, tmp_path)
    finally:
        folder.chmod(0o755)
    assert bot.returncode == 2
    assert errors.splitlines() == [f"minerwatch: database {folder / 'bot.db'}: unable to open database file"]
    assert "Traceback" not in out + errors


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("PRICE_POLL_S", "abc", "valid number"),
        ("NETWORK_POLL_S", "0", "greater than or equal to 1"),
        ("SOURCE_TIMEOUT_S", "inf", "less than or equal to 60"),
        ("COINBASE_URL", "not a url", "URL"),
        ("PRICE_SOURCES", "[]", "at least one"),
        ("PRICE_SOURCES", "coinbase,kraken", "JSON"),
        ("PRICE_SOURCES", '["coinbase", "nosuch"]', "nosuch"),
    ],
)
def test_a_broken_setting_names_the_field_and_exits_2(
    tmp_path: Path, variable: str, value: str, says: str
) -> None:
    env = bot_env(tmp_path / "bot.db")
    env[f"MINERWATCH_{variable}"] = value
    bot = start_bot(env, tmp_path)
    out, errors = finish(bot, tmp_path)
    assert bot.returncode == 2
    [line] = errors.splitlines()
    assert line.startswith(f"minerwatch: bad setting MINERWATCH_{variable}: ") and says in line
    assert "Traceback" not in out + errors
    assert not (tmp_path / "bot.db").exists()


OUTAGE_S = 20.0
ALERT_CHAT = 1001


def test_a_telegram_outage_mid_run_delays_the_alert_and_loses_nothing(
    tmp_path: Path, telegram: FakeTelegram, fake_upstreams: FakeUpstreams
) -> None:
    db_path = tmp_path / "bot.db"
    db = connect(db_path)
    chat = upsert_chat(db, "telegram", str(ALERT_CHAT), ChatKind.PRIVATE, START.timestamp())
    rule, keyed = (
        Rule(Metric.PRICE, Op.BELOW, 80_000.0, 800.0),
        KeyedRule(KeyMetric.PRICE_USD, Op.BELOW, 80_000.0, 80_800.0),
    )
    add_threshold(db, chat.id, rule, keyed, RuleState(armed=True), START.timestamp())
    db.close()
    env = bot_env(
        db_path,
        **fake_upstreams.settings_overrides(),
        telegram_token=telegram.token,
        telegram_base_url=telegram.base_url,
        price_poll_s="1",
        network_poll_s="1",
        source_retries="0",
    )
    bot = start_bot(env, tmp_path)
    try:
        telegram.wait_for_sync(lambda: fake_upstreams.count("coinbase") >= 2, timeout=20)  # up and polling
        telegram.inject(Fault.SERVER_ERROR, status=502, times=None, methods=["sendMessage", "getUpdates"])
        down_at = time.monotonic()
        move_price(fake_upstreams, 79_000)
        refused = telegram.wait_for_sync(
            lambda: [c for c in telegram.calls("sendMessage", ALERT_CHAT) if c.status == 502], timeout=15
        )
        time.sleep(max(0.0, down_at + OUTAGE_S - time.monotonic()))  # the outage lasts in real time
        telegram.clear_faults()
        healed_at = time.time()  # the fake stamps calls with the wall clock
        telegram.wait_for_sync(lambda: alerts_to(telegram, ALERT_CHAT), timeout=70)
        time.sleep(2)  # a duplicate would come now
        bot.send_signal(signal.SIGINT)
    finally:
        _, errors = finish(bot, tmp_path)
    assert bot.returncode == 0, errors
    lines = errors.splitlines()
    tracebacks = [lines[i - 1] for i, line in enumerate(lines) if line.startswith("Traceback")]
    # python-telegram-bot's updater logs each failed getUpdates with its traceback; nothing else may
    assert all("telegram.ext.Updater: Exception happened while polling" in line for line in tracebacks)
    [alert] = alerts_to(telegram, ALERT_CHAT)
    assert "$79,000" in (alert.text or "")
    tries = [c for c in telegram.calls("sendMessage", ALERT_CHAT) if c.status == 502]
    assert len(tries) <= 4, "probed once per back-off period (5 s, 10 s, 20 s), not hammered"
    assert tries[0] == refused[0]
    assert 0 < alert.time - healed_at < 60 + 5  # found again within one capped back-off
    assert "telegram unreachable" in errors and "telegram answers again" in errors
    db = connect(db_path)
    found = counts(db)
    db.close()
    assert (found[OutboxStatus.SENT], found[OutboxStatus.DEAD], found[OutboxStatus.PENDING]) == (1, 0, 0)


def alerts_to(telegram: FakeTelegram, chat_id: int) -> list[SentCall]:
    return [c for c in telegram.calls("sendMessage", chat_id) if c.ok and (c.text or "").startswith("🔔")]
