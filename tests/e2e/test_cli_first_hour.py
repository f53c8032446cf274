"""The command line as a new user meets it: real `python -m bot.cli` runs: their output and exit.

Nothing here may print a traceback: a closed pipe, an extreme what-if and a bad flag combination each end
with what the README promises (one line on stderr, its exit code).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import EXIT_BROKEN_PIPE, EXIT_USAGE
from bot.data import load_history

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
    assert (process.returncode, err) == (EXIT_BROKEN_PIPE, "")


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
