"""`minerwatch run` as a new user meets it: offline (every source refused) and --replay, as processes."""

from __future__ import annotations

import re
import socket
from pathlib import Path

from tests.e2e.process import BotProcess, bot_environment
from tests.fakes.upstreams import BASE_PATHS

GUIDANCE = "Without these sources: `minerwatch run --replay` plays the shipped history"


def closed_port() -> int:
    """A loopback port nothing listens on: every connection is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_offline_console_says_once_what_failed_and_how_to_go_on(tmp_path: Path) -> None:
    refused = f"http://127.0.0.1:{closed_port()}/"
    urls = {f"{source.replace('.', '_')}_url": refused for source in BASE_PATHS if source != "bitcoind"}
    env = {**bot_environment(tmp_path / "bot.db", urls), "PYTHONUNBUFFERED": "1"}
    bot = BotProcess([], env)
    try:
        reason = bot.wait_for("unavailable from every source;")
        assert reason.startswith("minerwatch: ")
        for source in ("coinbase", "kraken", "mempool", "blockchain.info"):
            assert source in reason
        bot.wait_for(GUIDANCE)
        alert = bot.wait_for("ALERT")
        assert "⏸ No market data yet (" in alert and "alerts start once the sources answer" in alert
        for _ in range(3):  # polls every second keep failing; /status says so without a dead end
            bot.type("/status")
            assert "No market data yet" in bot.wait_for("No market data yet")
            bot.type("/machines")
            bot.wait_for("Machine catalog")
        assert bot.stop() == 0
        assert bot.process.stderr is not None
        log = bot.process.stderr.read()
    finally:
        if bot.process.poll() is None:
            bot.process.kill()
    printed = "\n".join(bot.seen)
    assert printed.count(GUIDANCE) == 1 and printed.count("ALERT") == 1
    assert "Data is stale" not in printed and "Try again in a minute" not in printed
    assert log.count("BTC price unavailable from every source") == 1, log  # not once a poll, not a summary
    assert log.count("network data unavailable from every source") == 1, log
    assert "Traceback" not in log


def test_replay_is_dated_by_its_days_and_ends_with_a_summary(tmp_path: Path) -> None:
    env = {**bot_environment(tmp_path / "bot.db", {}), "PYTHONUNBUFFERED": "1"}
    bot = BotProcess(["--replay", "--speed", "200", "--from", "2025-03-01"], env)
    try:
        summary = bot.wait_for("Replay finished:", timeout=30)
        alerts = [line for line in bot.seen if "ALERT" in line]
        bot.type("/status")
        footer = bot.wait_for("Replay: data of")
        assert bot.stop() == 0
    finally:
        if bot.process.poll() is None:
            bot.process.kill()
    assert summary.startswith("minerwatch: Replay finished: 2025-03-01 to 2025-06-02 (94 days); alerts: ")
    counts = {kind: int(n) for kind, n in re.findall(r"(\w+) (\d+)", summary.split("alerts: ")[1])}
    assert counts["retarget"] == sum("Difficulty adjusted" in line for line in alerts) > 0
    assert sum(counts.values()) == len(alerts)
    for line in alerts:
        stamp = re.match(r"\[(\d{4}-\d{2}-\d{2}) \(replay\)\] ALERT ", line)
        assert stamp is not None, line
        assert "2025-03-01" <= stamp[1] <= "2025-06-02"
    assert footer == "Replay: data of 2025-06-02."
    assert not [line for line in bot.seen if " old" in line or "not answering" in line]
