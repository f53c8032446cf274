"""``minerwatch fleet FILE.toml``: the fleet file through the real CLI, with what-if inputs.

Figures are those hand-computed in tests/unit/test_fleet.py (D = 125.86e12, $66,680, no fees).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot import cli
from bot.cli import main
from tests.fakes.upstreams import FakeUpstreams

WHAT_IF = ["--price", "66680", "--difficulty", "125.86e12", "--fees-per-block", "0", "--height", "935000"]
FLEET = """
[tariff.texas]
usd_per_kwh = 0.045
timezone = "America/Chicago"
periods = [{ from = "14:00", to = "20:00", usd_per_kwh = 0.12 }]

[[line]]
machine = "s19jpro"
count = 40
power_usd_per_kwh = 0.055
pool_fee_pct = 2
site = "north"

[[line]]
machine = "S21 Pro"
count = 20
tariff = "texas"
pool_fee_pct = 2
uptime_pct = 95
pue = 1.05
"""


@pytest.fixture
def fleet_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_upstreams: FakeUpstreams) -> Path:
    monkeypatch.chdir(tmp_path)
    for name, value in fake_upstreams.settings_overrides().items():
        monkeypatch.setenv(f"MINERWATCH_{name.upper()}", value)
    monkeypatch.setenv("MINERWATCH_SOURCE_RETRIES", "0")
    monkeypatch.setattr(cli, "_now", lambda: datetime(2026, 2, 5, 20, 30, tzinfo=UTC))  # 14:30 in Chicago
    path = tmp_path / "fleet.toml"
    path.write_text(FLEET, encoding="utf-8")
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_json_gives_each_line_and_the_total(fleet_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "fleet", str(fleet_file), *WHAT_IF, "--json")
    assert code == 0
    data = json.loads(out)
    s19j, s21 = data["lines"]
    assert (s19j["machine"], s19j["count"], s19j["advice"]) == ("Antminer S19j Pro", 40, "switch off")
    assert s19j["profit_usd_per_day"] == pytest.approx(-26.2118, rel=1e-4)
    assert s19j["breakeven_power_usd_per_kwh"] == pytest.approx(0.046100, rel=1e-4)
    assert s19j["breakeven_price_usd"] == pytest.approx(79_552, rel=1e-4)
    assert s21["profit_usd_per_day"] == pytest.approx(37.9758, rel=1e-4)
    assert s21["advice"] == "switch off"  # 14:30 in Chicago: the 12c peak
    assert s21["power_now_usd_per_kwh"] == 0.12
    assert s21["run_hours"] == [["00:00", "14:00"], ["20:00", "24:00"]]
    assert s21["scheduled_profit_usd_per_day"] == pytest.approx(52.1152, rel=1e-4)
    assert data["total"]["profit_usd_per_day"] == pytest.approx(-26.2118 + 37.9758, rel=1e-4)


def test_the_table_says_what_to_switch_off(fleet_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "fleet", str(fleet_file), *WHAT_IF)
    assert code == 0
    assert out.startswith("Fleet: 2 lines, 60 machines\n")
    assert "⛔ Switch off the 40 Antminer S19j Pro: -$0.66 per machine per day at $0.0550/kWh" in out
    assert "⛔ Switch off the 20 Antminer S21 Pro: -$2.83 per machine per day at $0.1200/kWh" in out
    assert "Run 00:00-14:00, 20:00-24:00 (America/Chicago): $52.12/day against $37.98/day flat out." in out


def test_live_inputs_come_from_the_sources(fleet_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "fleet", str(fleet_file), "--json")
    assert code == 0
    assert len(json.loads(out)["lines"]) == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[line]\nmachine =", "not valid TOML"),
        ('[[line]]\nmachine = "banana"\npower_usd_per_kwh = 0.05', "[[line]] 1: unknown machine 'banana'"),
        ('[[line]]\nmachine = "s19"\ntariff = "nope"', "[[line]] 1: no [tariff.nope] table"),
        ('[[line]]\nmachine = "s19"\npower_usd_per_kwh = 0.05\ncolour = 1', "unknown key 'colour'"),
        ('[[line]]\nmachine = "s19"', "give power_usd_per_kwh or tariff"),
        ('[[line]]\nmachine = "s19"\ncount = 0\npower_usd_per_kwh = 0.05', "count must be a whole number"),
        ('[[line]]\nmachine = "s19"\npower_usd_per_kwh = 9', "power price 9.0"),
        ('[tariff.x]\nusd_per_kwh = 0.05\ntimezone = "Mars/Base"\n', "unknown time zone"),
        ("", "no [[line]] tables"),
    ],
)
def test_bad_files_get_one_line_and_exit_2(
    fleet_file: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    fleet_file.write_text(text, encoding="utf-8")
    code, out, err = run(capsys, "fleet", str(fleet_file), *WHAT_IF)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith(f"minerwatch: {fleet_file}: ") and message in err


def test_a_missing_file_exits_2(fleet_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "fleet", str(fleet_file.with_name("none.toml")), *WHAT_IF)
    assert code == 2 and "cannot read it (FileNotFoundError)" in err
