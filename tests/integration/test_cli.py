"""The ``minerwatch`` CLI end to end: real sources against the loopback fake, real argument parsing."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot import cli
from bot.cli import main
from tests.fakes.upstreams import FakeUpstreams, Fault

WHAT_IF = ["--price", "66680", "--difficulty", "125.86e12", "--fees-per-block", "0", "--height", "935000"]
SOURCES = ("coinbase", "kraken", "bitstamp", "coingecko", "mempool", "blockchain.info")


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fake_upstreams: FakeUpstreams) -> FakeUpstreams:
    """Point the CLI's Settings at the fake, with no retries (faults answer at once) and no stray .env."""
    monkeypatch.chdir(tmp_path)
    for name, value in fake_upstreams.settings_overrides().items():
        monkeypatch.setenv(f"MINERWATCH_{name.upper()}", value)
    monkeypatch.setenv("MINERWATCH_SOURCE_RETRIES", "0")
    return fake_upstreams


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_what_if_breakeven_touches_no_network(env: FakeUpstreams, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "breakeven", "s19", "0.05", *WHAT_IF, "--pool-fee", "0", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["hashprice_usd_per_ph_day"] == pytest.approx(33.31, rel=5e-3)
    assert data["breakeven_power_usd_per_kwh"] == pytest.approx(0.0406, rel=5e-3)
    assert data["breakeven_price_usd"] == pytest.approx(82_166, rel=5e-3)
    assert env.requests == []


def test_breakeven_table_for_s19xp_with_cents(env: FakeUpstreams, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "breakeven", "S19 XP", "5.5c", *WHAT_IF, "--pool-fee", "0")
    assert code == 0
    assert "Antminer S19 XP" in out
    breakeven_line = next(line for line in out.splitlines() if line.startswith(" power "))
    assert breakeven_line.split()[-1] == "$0.0645/kWh"


def test_status_uses_the_median_price_and_mempool(
    env: FakeUpstreams, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "status", "--json")
    assert code == 0
    data = json.loads(out)
    # Recorded quotes: Coinbase 85,866.185, Kraken 85,861.2, Bitstamp 85,864.00 -> median 85,864.
    assert data["inputs"]["price_usd"] == pytest.approx(85_864.00)
    assert data["inputs"]["difficulty"] == pytest.approx(132_716_002_350_731.3)
    assert data["next_adjustment"]["remaining_blocks"] == 1720
    assert {c["model"] for c in data["production_cost"]} == {"bottom-up", "difficulty-regression"}
    regression = next(c for c in data["production_cost"] if c["model"] == "difficulty-regression")
    assert regression["significant_digits"] == 2
    # exp(a + b ln D) / supply(969,992) = $79,680; the multiple is price ÷ that cost.
    assert regression["usd_per_btc"] == pytest.approx(79_680.3, rel=1e-5)
    assert data["difficulty_multiple"] == pytest.approx(85_864.00 / regression["usd_per_btc"])
    used = {s["source"] for s in data["sources"] if s["ok"]}
    assert {"coinbase", "kraken", "bitstamp", "mempool"} <= used


def test_status_table_names_sources_and_models(
    env: FakeUpstreams, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "status")
    assert code == 0
    assert "BTC price" in out and "$85,864" in out
    assert "Cost per BTC\n bottom-up " in out and "\n regression " in out
    assert "Bottom-up: a fleet at" in out and "Regression: market cap ~ difficulty" in out
    assert "Sources" in out and "mempool" in out


def test_stress_on_the_seed_day_is_capitulation_with_each_component(
    env: FakeUpstreams, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "stress", "--date", "2026-02-05", *WHAT_IF, "--json")
    assert code == 0
    data = json.loads(out)
    assert data["stress_index_0_100"] == pytest.approx(24.4, abs=0.05)
    assert data["band"] == "capitulation"
    assert "not CryptoQuant" in data["label"]
    assert data["difficulty_multiple_x"] == pytest.approx(0.867, abs=5e-4)
    assert data["hashprice_subsidy_only_usd_per_ph_day"] == pytest.approx(33.31, abs=5e-3)
    assert data["puell_multiple_x"] == pytest.approx(0.816, abs=5e-4)
    assert sum(data["weights"].values()) == pytest.approx(1.0)
    assert (data["window_start"], data["window_end"]) == ("2022-02-05", "2025-06-02")
    assert env.requests == []
    code, out, _ = run(capsys, "stress", "--date", "2026-02-05", *WHAT_IF)
    assert code == 0
    assert "24/100, capitulation" in out and "open proxy" in out


def test_stress_without_two_years_of_history_exits_2(
    env: FakeUpstreams, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "stress", "--date", "2012-01-01", *WHAT_IF)
    assert code == 2 and out == ""
    # the shipped history starts 2010-07-17: its first Puell multiple is 364 days later, 169 days before 2012
    assert "no miner-stress index on that day: 169 days of daily history" in err and "730 needed" in err


def test_status_shows_the_stress_index_in_one_line(
    env: FakeUpstreams, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "_now", lambda: datetime(2026, 2, 5, 12, tzinfo=UTC))
    code, out, _ = run(capsys, "status", *WHAT_IF)
    assert code == 0
    line = next(line for line in out.splitlines() if line.startswith("Stress "))
    assert line.endswith("/100, capitulation") and "Miner stress is an open proxy" in out


def test_price_what_if_still_fetches_the_network(
    env: FakeUpstreams, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "margin", "s21", "0.06", "--price", "50k", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["inputs"]["price_usd"] == 50_000
    assert data["inputs"]["overridden"] == ["price_usd"]
    assert env.count("coinbase") == 0 and env.count("mempool") > 0


def test_margin_counts_machines(env: FakeUpstreams, capsys: pytest.CaptureFixture[str]) -> None:
    _, one, _ = run(capsys, "margin", "s21", "0.05", *WHAT_IF, "--json")
    _, three, _ = run(capsys, "margin", "s21", "0.05", *WHAT_IF, "--count", "3", "--json")
    single, triple = json.loads(one), json.loads(three)
    assert triple["profit_usd_per_day"] == pytest.approx(3 * single["profit_usd_per_day"])
    # S21: 200 TH/s, 3,500 W -> 84 kWh/day; at $0.05 that is $4.20/day.
    assert single["power_cost_usd_per_day"] == pytest.approx(4.20)


def test_cost_with_custom_assumptions(env: FakeUpstreams, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "cost", *WHAT_IF, "--efficiency", "22", "--power-price", "0.06", "--json")
    assert code == 0
    bottom_up = next(c for c in json.loads(out)["production_cost"] if c["model"] == "bottom-up")
    # 22 J/TH, $0.06, 80 % electricity at D = 125.86e12: 1014-EH/s table value scaled by 125.86/141.66.
    assert bottom_up["electricity_usd_per_btc"] == pytest.approx(
        71_022 * 125.86e12 / 141.66e12 * 3.141 / 3.125, rel=5e-3
    )


def test_unknown_machine_suggests_names(env: FakeUpstreams, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "breakeven", "s19 xpp", *WHAT_IF)
    assert code == 2
    assert "S19 XP" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["breakeven", "s19", "--price", "-5"], "-5"),
        (["breakeven", "s19", "--price", "nan"], "nan"),
        (["cost", "--difficulty", "0"], "difficulty '0'"),
        (["margin", "s19", "0.05", "--count", "-1"], "count"),
    ],
)
def test_bad_values_exit_2_naming_the_value(
    env: FakeUpstreams, capsys: pytest.CaptureFixture[str], argv: list[str], named: str
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert named in capsys.readouterr().err
    assert env.requests == []


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["margin", "s19", "0"], "'0' is not a power price: give $/kWh like 0.06 or cents like 6c"),
        (["margin", "s19", "banana"], "Unknown machine 's19 banana'. Closest: Antminer S19"),
        (["breakeven", "s19", "-1"], "'-1' is not a power price: give $/kWh like 0.06 or cents like 6c"),
        (["breakeven", "s19✓", "5c"], "Unknown machine 's19✓': no machine name has '✓'."),
    ],
)
def test_machine_and_power_mistakes_are_one_line_exit_2(
    env: FakeUpstreams, capsys: pytest.CaptureFixture[str], argv: list[str], line: str
) -> None:
    code, out, err = run(capsys, *argv, *WHAT_IF)
    assert (code, out) == (2, "")
    assert err.startswith(f"minerwatch: {line}") and err.count("\n") == 1


@pytest.mark.parametrize(
    ("argv", "machine", "power", "read_as"),
    [
        (["21.5", "0.06"], "custom 21.5 J/TH", 0.06, ["21.5 → 21.5 J/TH", "0.06 → $0.06/kWh"]),
        (
            ["200@3500", "6c"],
            "custom 200 TH/s @ 3500 W",
            0.06,
            ["200@3500 → 200 TH/s at 3,500 W = 17.5 J/TH"],
        ),
        (["s19", "xp", "1"], "Antminer S19 XP", 0.01, ["1 → 1¢/kWh"]),
        (["S19 XP", "5.5c"], "Antminer S19 XP", 0.055, []),
        (["0.07"], "Antminer S19 XP", 0.07, ["0.07 → $0.07/kWh"]),  # MINERWATCH_MACHINE's default
    ],
)
def test_breakeven_reads_the_chat_grammar_and_echoes_bare_values(
    env: FakeUpstreams,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    machine: str,
    power: float,
    read_as: list[str],
) -> None:
    code, out, _ = run(capsys, "breakeven", *argv, *WHAT_IF, "--json")
    assert code == 0
    data = json.loads(out)
    assert data["machine"] == machine
    assert data["power_usd_per_kwh"] == pytest.approx(power)
    assert [item["read_as"] for item in data["read_as"]] == read_as
    code, out, _ = run(capsys, "breakeven", *argv, *WHAT_IF)
    echo = [line for line in out.splitlines() if line.startswith("Read as: ")]
    assert echo == ([f"Read as: {', '.join(read_as)}."] if read_as else [])


def test_cost_echoes_a_bare_power_price(env: FakeUpstreams, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "cost", "--power-price", "7", *WHAT_IF)
    assert code == 0 and out.rstrip().endswith("Read as: 7 → 7¢/kWh.")


def test_every_source_down_is_one_line_each_exit_1(
    env: FakeUpstreams, capsys: pytest.CaptureFixture[str]
) -> None:
    for source in SOURCES:
        env.inject(source, Fault.HTTP_500, times=None)
    code, out, err = run(capsys, "status")
    assert code == 1
    assert out == ""
    assert "Traceback" not in err
    for source in ("coinbase", "kraken", "bitstamp", "mempool", "blockchain.info"):
        assert any(line.startswith(f"minerwatch: {source}") for line in err.splitlines()), err


def test_console_script_runs_as_a_process(env: FakeUpstreams) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "machines", "--json"],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).parents[2],
    )
    assert result.returncode == 0, result.stderr
    names = [m["name"] for m in json.loads(result.stdout)["machines"]]
    assert len(names) >= 21 and "Antminer S21 XP Hyd" in names


def test_no_fee_source_says_subsidy_only(env: FakeUpstreams, capsys: pytest.CaptureFixture[str]) -> None:
    """mempool down and blockchain.info's /stats fees broken (negative, as recorded): fees are unknown."""
    env.inject("mempool", Fault.HTTP_503, times=None)
    for command in (["status"], ["breakeven", "s19", "5c"], ["margin", "s19", "5c"], ["cost"]):
        code, out, _ = run(capsys, *command)
        assert code == 0 and re.search(r"^Fees/block +n/a \(subsidy only\)$", out, re.MULTILINE), command
        code, out, _ = run(capsys, *command, "--json")
        inputs = json.loads(out)["inputs"]
        assert (code, inputs["fees_per_block_btc"], inputs["fees_known"]) == (0, None, False), command


def test_mempool_down_fees_from_blockchain_info(
    env: FakeUpstreams, capsys: pytest.CaptureFixture[str]
) -> None:
    env.inject("mempool", Fault.HTTP_503, times=None)
    env.set_fees_per_block(0.05, source="blockchain.info")
    code, out, _ = run(capsys, "status", "--json")
    inputs = json.loads(out)["inputs"]
    assert (code, inputs["fees_known"]) == (0, True)
    assert inputs["fees_per_block_btc"] == pytest.approx(0.05)
    code, out, _ = run(capsys, "status")
    assert "fees unknown" not in out


def test_machines_list_unknown_power_as_unknown(
    env: FakeUpstreams, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "machines")
    assert code == 0 and " 0 W" not in out
    assert re.search(r"^Avalon A1346\n +110 TH/s, power unknown, 30\.0 J/TH$", out, re.MULTILINE)
    assert re.search(r"^Whatsminer M66S\+\n +314 TH/s, 5,338 W, 17\.0 J/TH$", out, re.MULTILINE)
    code, out, _ = run(capsys, "machines", "--json")
    rows = {m["name"]: m for m in json.loads(out)["machines"]}
    assert (rows["Avalon A1346"]["power_w"], rows["Avalon A1346"]["power_known"]) == (None, False)
    assert rows["Whatsminer M66S"]["power_known"] is True


@pytest.mark.parametrize("command", ["breakeven", "margin"])
def test_a_machine_with_unknown_power_is_refused(
    env: FakeUpstreams, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    code, out, err = run(capsys, command, "Avalon A1366", "5c", *WHAT_IF)
    assert (code, out) == (2, "")
    assert err == (
        "minerwatch: Power of Avalon A1366 is unknown; give it as 200TH@3500W (your machine's TH/s and W).\n"
    )


def _minerwatch(*argv: str) -> subprocess.CompletedProcess[str]:
    """``minerwatch ARGV`` as a child process (what-if figures: no network)."""
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *argv, *WHAT_IF],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("argv", "machine_row", "echo"),
    [
        (["21.5", "0.06"], "custom 21.5 J/TH", "Read as: 21.5 → 21.5 J/TH, 0.06 → $0.06/kWh."),
        (
            ["200@3500", "6c"],
            "custom 200 TH/s @ 3500 W",
            "Read as: 200@3500 → 200 TH/s at 3,500 W = 17.5 J/TH.",
        ),
    ],
)
def test_breakeven_with_a_bare_efficiency_or_th_at_w_as_a_process(
    env: FakeUpstreams, argv: list[str], machine_row: str, echo: str
) -> None:
    result = _minerwatch("breakeven", *argv)
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"Breakeven: {machine_row}"
    assert re.search(r"^ power +\$0\.0\d{3}/kWh$", result.stdout, re.M)
    assert lines[-1] == echo


def test_breakeven_s19_minus_one_is_one_line_about_the_power_price_as_a_process(env: FakeUpstreams) -> None:
    result = _minerwatch("breakeven", "s19", "-1")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        "minerwatch: '-1' is not a power price: give $/kWh like 0.06 or cents like 6c (at most $5/kWh).\n"
    )
