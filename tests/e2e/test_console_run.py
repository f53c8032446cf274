"""``minerwatch run`` as a real process on the console: commands on stdin, pushed alerts on stdout."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.process import BotProcess
from tests.fakes.upstreams import FakeUpstreams

ROOT = Path(__file__).parents[2]


@pytest.fixture
def bot_env(tmp_path: Path, fake_upstreams: FakeUpstreams) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINERWATCH_")}
    env.update({f"MINERWATCH_{k.upper()}": v for k, v in fake_upstreams.settings_overrides().items()})
    env.update(
        MINERWATCH_DB=str(tmp_path / "bot.db"),
        MINERWATCH_PRICE_POLL_S="1",
        MINERWATCH_NETWORK_POLL_S="2",
        MINERWATCH_SOURCE_RETRIES="0",
        PYTHONUNBUFFERED="1",
    )
    return env


@pytest.fixture
def bot(bot_env: dict[str, str]) -> Iterator[BotProcess]:
    process = BotProcess([], bot_env)
    yield process
    if process.process.poll() is None:
        process.process.kill()


def test_console_answers_commands_and_pushes_a_threshold_alert(
    bot: BotProcess, fake_upstreams: FakeUpstreams
) -> None:
    bot.wait_for("type /help")
    bot.ask_until("/status", "85,864")  # the median of the recorded Coinbase/Kraken/Bitstamp quotes
    bot.ask_until("/breakeven s19xp 0.05", "Breaks even at")  # once the network poll has landed too
    bot.type("/subscribe price below 80k")
    bot.wait_for("Alert #")
    for source in ("coinbase", "kraken", "bitstamp"):
        fake_upstreams.set_price(source, 79_000)
    alert = bot.wait_for("ALERT 🔔")
    assert "price below $80,000" in alert and "79,000" in alert
    assert bot.stop() == 0


def test_bad_command_gets_a_one_line_explanation(bot: BotProcess) -> None:
    bot.wait_for("type /help")
    bot.type("/breakeven s19 banana")
    bot.wait_for("Unknown machine")
    bot.type("/subscribe prise below 60k")
    bot.wait_for("price")
    bot.type("/frobnicate")
    bot.wait_for("Unknown command")
    assert bot.stop() == 0


def test_replay_shows_capitulation_and_recovery_within_a_minute(bot_env: dict[str, str]) -> None:
    bot = BotProcess(["--replay", "--speed", "200", "--from", "2022-04-01"], bot_env)
    try:
        started = time.monotonic()
        bot.wait_for("Miner capitulation", timeout=30)
        line = bot.wait_for("Recovery", timeout=40)
        assert "capitulation lasted" in line
        assert time.monotonic() - started < 60
        assert bot.stop() == 0
    finally:
        if bot.process.poll() is None:
            bot.process.kill()


def test_a_deleted_database_refuses_changes_and_turns_healthz_503(bot_env: dict[str, str]) -> None:
    """The file is deleted under the running bot: a new subscription is refused (never confirmed and then
    lost at the next start), /healthz says why with a 503, and the log says it once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    bot = BotProcess([], {**bot_env, "MINERWATCH_HTTP_PORT": str(port)})
    try:
        bot.wait_for("type /help")
        bot.type("/subscribe price below 80k")
        bot.wait_for("Alert #")
        db = Path(bot_env["MINERWATCH_DB"])
        db.unlink()
        bot.type("/subscribe price below 70k")
        bot.wait_for("Storage unavailable: your change was not saved")
        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
        assert health.status_code == 503
        reason = f"storage unavailable: database file {db} was deleted while the bot was running"
        assert health.json()["problems"][0] == reason
        time.sleep(3)  # polls every second keep failing to store their snapshot
        assert bot.stop() == 0
        assert bot.process.stderr is not None
        log = bot.process.stderr.read()
        assert log.count(f"{reason}; every change is refused until a restart") == 1
        failures = [line.split(" ", 3)[3] for line in log.splitlines() if " ERROR " in line]
        assert len(failures) == len(set(failures)), log  # each failing job once, not once per poll
        assert not db.exists()  # nothing wrote a fresh file behind the refusal
    finally:
        if bot.process.poll() is None:
            bot.process.kill()
