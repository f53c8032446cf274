"""The command line as a new user meets it: real `python -m bot.cli` runs: their output and exit.

Nothing here may print a traceback: a closed pipe, an extreme what-if and a bad flag combination each end
with what the README promises (one line on stderr, its exit code).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.cli import EXIT_BROKEN_PIPE, EXIT_USAGE
from bot.data import load_history
from tests.fakes.upstreams import FakeUpstreams, Fault

WHAT_IF = ["--price", "60k", "--difficulty", "1.2e14", "--fees-per-block", "0", "--height", "950000"]


def environment(tmp_path: Path) -> dict[str, str]:
    """No MINERWATCH_ setting of this machine; a database in ``tmp_path`` should ``run`` start anyway."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINERWATCH_")}
    return {**env, "MINERWATCH_DB": str(tmp_path / "bot.db")}


def minerwatch(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=tmp_path,
        env=environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )


def against(fake: FakeUpstreams, tmp_path: Path, *settings: tuple[str, str]) -> dict[str, str]:
    """The environment of a CLI run whose sources are the loopback fake, without retries."""
    urls = {f"MINERWATCH_{name.upper()}": url for name, url in fake.settings_overrides().items()}
    return {**environment(tmp_path), **urls, "MINERWATCH_SOURCE_RETRIES": "0", **dict(settings)}


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The single stderr line of a usage error (exit 2, nothing on stdout, no traceback)."""
    assert (result.returncode, result.stdout) == (EXIT_USAGE, ""), result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("minerwatch: "), result.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("args", "read_bytes"),
    [
        (["machines"], 0),
        (["machines", "--json"], 0),
        (["breakeven", "s19", "0.05", *WHAT_IF], 0),
        (["backtest"], 200),  # far more than a pipe holds: it blocks, then the reader leaves
        (["backtest", "--json"], 200),
        (["run", "--replay", "--speed", "300", "--from", "2025-01-01"], 20),  # the console's output
    ],
)
def test_a_reader_that_leaves_early_ends_the_command_quietly(
    tmp_path: Path, args: list[str], read_bytes: int
) -> None:
    """``minerwatch machines --json | head``: the pipe closes after a few bytes (or before any)."""
    read_end, write_end = os.pipe()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=tmp_path,
        env=environment(tmp_path),
        stdin=subprocess.DEVNULL,
        stdout=write_end,
        stderr=subprocess.PIPE,
        text=True,
    )
    os.close(write_end)
    if read_bytes:
        assert len(os.read(read_end, read_bytes)) > 0
    os.close(read_end)
    _, err = process.communicate(timeout=60)
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert process.returncode == EXIT_BROKEN_PIPE
    assert args[0] == "run" or err == ""  # the bot's own log goes to stderr


@pytest.mark.parametrize(
    "command", [["status"], ["breakeven", "s19", "0.05"], ["margin", "s21", "0.05"], ["cost"], ["stress"]]
)
def test_a_height_past_the_last_subsidy_without_fees_is_one_line(tmp_path: Path, command: list[str]) -> None:
    what_if = ["--price", "60k", "--difficulty", "1.2e14", "--fees-per-block", "0", "--height", "7000000"]
    line = one_line_error(minerwatch(tmp_path, *command, *what_if))
    assert line.startswith("minerwatch: no subsidy left at height 7,000,000 (it ends at 6,930,000")
    assert "give --fees-per-block above 0" in line


def test_past_the_last_subsidy_fees_alone_pay_the_miners(tmp_path: Path) -> None:
    """Height 6,930,000 is the first without subsidy; 6,929,999 still earns 1 sat; with fees all works."""
    base = ["breakeven", "s19", "0.05", "--price", "60k", "--difficulty", "1.2e14", "--json"]
    assert minerwatch(tmp_path, *base, "--fees-per-block", "0", "--height", "6929999").returncode == 0
    one_line_error(minerwatch(tmp_path, *base, "--fees-per-block", "0", "--height", "6930000"))
    with_fees = minerwatch(tmp_path, *base, "--fees-per-block", "0.5", "--height", "6930000")
    assert with_fees.returncode == 0, with_fees.stderr
    assert '"hashprice_usd_per_ph_day"' in with_fees.stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--speed", "60"], "minerwatch: --speed is for --replay only"),
        (["--from", "2022-01-01"], "minerwatch: --from is for --replay only"),
        (["--speed", "60", "--from", "2022-01-01"], "minerwatch: --speed and --from are for --replay only"),
        (
            ["--replay", "--from", "2030-01-01"],
            "minerwatch: --from 2030-01-01 is outside the shipped history",
        ),
        (
            ["--replay", "--from", "2001-01-01"],
            "minerwatch: --from 2001-01-01 is outside the shipped history",
        ),
    ],
)
def test_wrong_run_flags_are_one_line_before_anything_starts(
    tmp_path: Path, args: list[str], expected: str
) -> None:
    line = one_line_error(minerwatch(tmp_path, "run", *args))
    assert line.startswith(expected)
    if "outside" in expected:
        rows = load_history()
        assert line.endswith(f"({rows[0].date} to {rows[-1].date})")


def test_backtest_prints_a_summary_first_and_filters_by_kind(tmp_path: Path) -> None:
    everything = minerwatch(tmp_path, "backtest")
    assert everything.returncode == 0
    period, counts = everything.stdout.splitlines()[:2]
    listed = everything.stdout.splitlines()[2:]
    assert period == f"2010-07-17 to 2025-06-02 (5,435 days): {len(listed):,} events"
    by_kind = {
        kind: sum(line.split()[1] == kind for line in listed) for kind in ("retarget", "regime_recovery")
    }
    assert (
        f"retarget {by_kind['retarget']:,}" in counts
        and f"regime_recovery {by_kind['regime_recovery']}" in counts
    )

    some = minerwatch(tmp_path, "backtest", "--kind", "regime_recovery", "--kind", "ribbons")
    assert some.returncode == 0 and some.stdout.splitlines()[:2] == [period, counts]
    assert some.stdout.splitlines()[2].startswith("listed: ")
    kinds = {line.split()[1] for line in some.stdout.splitlines()[3:]}
    assert kinds == {"regime_recovery", "ribbons_capitulation", "ribbons_recovery", "ribbons_buy"}

    bad = minerwatch(tmp_path, "backtest", "--kind", "retargets")
    assert bad.returncode == EXIT_USAGE and "unknown kind 'retargets'" in bad.stderr


@pytest.mark.parametrize(
    ("csv", "expected"),
    [
        ("date,price_usd,difficulty\n", "no daily rows after the header"),
        (
            "date,price_usd,difficulty\n2021-01-02,30000,2e13\n2021-01-01,29000,2e13\n",
            "line 3: date: 2021-01-01 comes after 2021-01-02 (line 2); sort by date",
        ),
        (
            "date,price_usd,difficulty\n2021-01-01,30000,2e13\n2021-01-01,29000,2e13\n",
            "line 3: date: 2021-01-01 repeats line 2",
        ),
    ],
)
def test_a_history_csv_that_cannot_be_backtested_is_one_line(tmp_path: Path, csv: str, expected: str) -> None:
    history = tmp_path / "my.csv"
    history.write_text(csv, encoding="utf-8")
    assert one_line_error(minerwatch(tmp_path, "backtest", "--history", str(history))) == (
        f"minerwatch: {history}: {expected}"
    )


def test_a_source_that_never_answers_is_given_up_at_the_deadline_with_a_line(
    tmp_path: Path, fake_upstreams: FakeUpstreams
) -> None:
    """mempool accepts the connection and says nothing: per-read timeout 60 s, but the command's deadline
    (--deadline 2) gives it up, says so at once, and answers from blockchain.info."""
    fake_upstreams.inject("mempool", Fault.TIMEOUT, times=None, hold_s=60)
    env = against(fake_upstreams, tmp_path, ("MINERWATCH_SOURCE_TIMEOUT_S", "60"))
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "status", "--deadline", "2"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    line = process.stderr.readline()
    told_after_s = time.monotonic() - started
    out, rest = process.communicate(timeout=60)
    assert line == "minerwatch: mempool: gave no answer in 2 s; going on without it\n"
    assert 2 <= told_after_s < 10  # python's start-up and imports come on top of the 2 s
    assert (process.returncode, rest) == (0, "")
    assert "Bitcoin mining status" in out


def test_the_deadline_is_a_setting_too_and_said_in_help(
    tmp_path: Path, fake_upstreams: FakeUpstreams
) -> None:
    fake_upstreams.inject("coinbase", Fault.TIMEOUT, times=None, hold_s=60)
    env = against(
        fake_upstreams,
        tmp_path,
        ("MINERWATCH_SOURCE_TIMEOUT_S", "60"),
        ("MINERWATCH_COMMAND_DEADLINE_S", "1.5"),
    )
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "breakeven", "s19", "0.05", "--json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == "minerwatch: coinbase: gave no answer in 1.5 s; going on without it\n"
    help_text = minerwatch(tmp_path, "--help").stdout + minerwatch(tmp_path, "status", "--help").stdout
    assert "MINERWATCH_COMMAND_DEADLINE_S" in help_text and "--deadline" in help_text


def test_a_closed_port_is_told_once_and_the_other_sources_carry_on(
    tmp_path: Path, fake_upstreams: FakeUpstreams
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/"
    env = against(fake_upstreams, tmp_path, ("MINERWATCH_BLOCKCHAIN_INFO_URL", closed))
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "cost"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("minerwatch: blockchain.info: connection failed")
    assert lines[0].endswith("; going on without it")


def test_every_source_down_names_each_once_and_exits_1(tmp_path: Path, fake_upstreams: FakeUpstreams) -> None:
    for source in ("coinbase", "kraken", "bitstamp", "coingecko", "mempool", "blockchain.info"):
        fake_upstreams.inject(source, Fault.HTTP_503, times=None)
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "status"],
        cwd=tmp_path,
        env=against(fake_upstreams, tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    for source in ("coinbase", "kraken", "bitstamp", "coingecko", "mempool", "blockchain.info"):
        assert sum(line.startswith(f"minerwatch: {source}: HTTP 503") for line in lines) == 1, result.stderr
    assert lines[-1] == "minerwatch: price and network data unavailable from every source"
