"""The ``minerwatch`` CLI end to end: real sources against the loopback fake, real argument parsing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

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
    breakeven_line = next(line for line in out.splitlines() if line.startswith("Breakeven power"))
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
    assert "Cost/BTC (bottom-up)" in out and "Cost/BTC (difficulty-regression)" in out
    assert "Sources" in out and "mempool" in out


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
        (["margin", "s19", "0"], "'0'"),
        (["margin", "s19", "banana"], "banana"),
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
