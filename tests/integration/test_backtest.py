"""``minerwatch backtest`` on the shipped history: ribbons, regime, retargets, thresholds, JSON and errors."""

from __future__ import annotations

import argparse
import io
import json
import re
from datetime import date, timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from bot.alerts.grammar import parse_rule
from bot.alerts.regime import RegimeParams
from bot.data import load_difficulty_regression, load_history
from bot.economics.history import format_daily_csv, supply_btc_at_end_of
from bot.economics.machines import parse_machine
from bot.economics.mining import MarketInputs, OperatingProfile, machine_day
from bot.economics.regression import difficulty_regression_cost_usd_per_btc
from bot.reports.backtest import (
    S19_XP_J_PER_TH,
    BacktestEvent,
    add_backtest_parser,
    backtest_command,
    run_backtest,
)

KINDS = {
    "regime_capitulation",
    "regime_recovery",
    "ribbons_capitulation",
    "ribbons_recovery",
    "ribbons_buy",
    "retarget",
    "threshold",
}


def cli(*argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="minerwatch")
    add_backtest_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["backtest", *argv])
    out, err = io.StringIO(), io.StringIO()
    code = args.sync_handler(args, out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def shipped() -> list[BacktestEvent]:
    return run_backtest(load_history(), [], RegimeParams(), load_difficulty_regression())


def dates_of(events: list[BacktestEvent], kind: str) -> list[date]:
    return [event.date for event in events if event.event.kind == kind]


@pytest.mark.parametrize(
    ("first", "last"),
    [
        (date(2019, 10, 20), date(2019, 12, 20)),
        (date(2020, 3, 1), date(2020, 4, 15)),
        (date(2021, 4, 20), date(2021, 7, 10)),
        (date(2022, 5, 25), date(2022, 7, 15)),
        (date(2022, 11, 1), date(2022, 12, 31)),
    ],
)
def test_known_hash_ribbons_capitulations_appear(
    shipped: list[BacktestEvent], first: date, last: date
) -> None:
    assert any(first <= day <= last for day in dates_of(shipped, "ribbons_capitulation"))


def test_events_are_sorted_and_ribbons_alternate(shipped: list[BacktestEvent]) -> None:
    assert [event.date for event in shipped] == sorted(event.date for event in shipped)
    ribbons = [
        e.event.kind.value for e in shipped if e.event.kind in ("ribbons_capitulation", "ribbons_recovery")
    ]
    assert all(a != b for a, b in pairwise(ribbons))
    assert all(event.date <= date(2025, 3, 8) for event in shipped if event.event.kind.startswith("ribbons"))


def test_regime_events_alternate_and_recoveries_measure_the_capitulation(
    shipped: list[BacktestEvent],
) -> None:
    regime = [e for e in shipped if e.event.kind in ("regime_capitulation", "regime_recovery")]
    assert len(regime) >= 4
    for capitulation, recovery in pairwise(regime):
        assert capitulation.event.kind != recovery.event.kind
        if recovery.event.kind == "regime_recovery":
            lasted = recovery.date - capitulation.date
            assert recovery.event.data["capitulation_seconds"] == lasted.total_seconds()
            assert recovery.event.data["capitulation_started_at"] == f"{capitulation.date}T00:00:00+00:00"
    for found in regime:
        premium = found.event.data["premium_pct"]
        assert premium < -3 if found.event.kind == "regime_capitulation" else premium > 3
        assert found.event.data["cost_model"] == "difficulty-regression"


def test_regime_uses_the_regression_cost_with_the_supply_of_the_day(shipped: list[BacktestEvent]) -> None:
    model = load_difficulty_regression()
    by_date = {row.date: row for row in load_history()}
    for found in shipped:
        if found.event.kind == "regime_capitulation":
            row = by_date[found.date]
            expected = difficulty_regression_cost_usd_per_btc(
                row.difficulty, supply_btc_at_end_of(row), model
            )
            assert found.event.data["cost_usd_per_btc"] == pytest.approx(expected, rel=1e-9)
            assert found.event.data["price_usd"] == row.price_usd


def test_retargets_follow_the_difficulty_column(shipped: list[BacktestEvent]) -> None:
    rows = {row.date: row for row in load_history()}
    retargets = [e for e in shipped if e.event.kind == "retarget"]
    before = [e for e in retargets if e.date < date(2017, 8, 17)]
    assert len(before) == 204  # heights 68,784 .. 481,025: one retarget per 2016 blocks
    assert 250 <= len(retargets) - len(before) <= 300  # since 2017-08, daily averages split some in two
    for found in retargets:
        data = found.event.data
        assert data["new_difficulty"] == rows[found.date].difficulty
        assert data["change_pct"] == (data["new_difficulty"] / data["old_difficulty"] - 1) * 100
    # 2025-05-03/04: a -3.35 % retarget spread over two daily averages is one event, dated when it holds.
    may = next(e for e in retargets if date(2025, 5, 1) <= e.date <= date(2025, 5, 10))
    assert may.date == date(2025, 5, 5)
    assert round(may.event.data["change_pct"], 2) == -3.34


def first_crossings_below(threshold: float, rearm: float) -> list[date]:
    """Days the price fell below ``threshold`` after having been at or above ``rearm`` (start disarmed
    when the first day already holds), computed straight from the history."""
    fired: list[date] = []
    rows = load_history()
    armed = rows[0].price_usd >= threshold
    for row in rows[1:]:
        if armed and row.price_usd < threshold:
            fired.append(row.date)
            armed = False
        elif not armed and row.price_usd >= rearm:
            armed = True
    return fired


def test_price_rule_fires_on_the_days_price_first_fell_below_30k() -> None:
    code, out, err = cli("--rule", "price below 30k", "--json")
    assert (code, err) == (0, "")
    fired = [date.fromisoformat(e["date"]) for e in json.loads(out)["events"] if e["kind"] == "threshold"]
    assert fired == first_crossings_below(30_000, 30_300)
    assert not [day for day in fired if day.year == 2020]  # BTC was far below 30k all of 2020 H1
    assert any(date(2022, 5, 1) <= day <= date(2022, 7, 31) for day in fired)
    history = {row.date: row.price_usd for row in load_history()}
    for day in fired:
        assert history[day] < 30_000 <= history[day - timedelta(days=1)]


def test_margin_rule_uses_an_s19_xp_at_five_cents() -> None:
    assert parse_machine("s19xp").j_per_th == S19_XP_J_PER_TH
    rule = parse_rule("margin below 80%")
    events = run_backtest(load_history(), [rule], RegimeParams(), load_difficulty_regression())
    fired = [e for e in events if e.event.kind == "threshold"]
    assert fired
    profile = OperatingProfile(power_usd_per_kwh=0.05)
    by_date = {row.date: row for row in load_history()}
    for found in fired:
        row = by_date[found.date]
        height = (
            420_000 if row.date < date(2020, 5, 11) else 630_000 if row.date < date(2024, 4, 20) else 840_000
        )
        market = MarketInputs(row.price_usd, row.difficulty, height, 0.0)
        margin_pct = machine_day(market, profile, 140.0, S19_XP_J_PER_TH).margin_fraction * 100
        assert found.event.data["value"] == pytest.approx(margin_pct, rel=1e-9)
        assert margin_pct < 80


def test_json_shape() -> None:
    code, out, _ = cli("--json", "--rule", "price below 30k")
    assert code == 0
    document = json.loads(out)
    assert list(document) == ["summary", "events", "stress_yearly_lows"]
    assert document["events"]
    for item in document["events"]:
        assert list(item)[:2] == ["date", "kind"]
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", item["date"])
        assert item["kind"] in KINDS
    kinds = {item["kind"] for item in document["events"]}
    assert kinds == KINDS
    sample = {item["kind"]: item for item in document["events"]}
    assert set(sample["threshold"]) == {
        "date",
        "kind",
        "rule",
        "metric",
        "op",
        "threshold",
        "band",
        "repeat",
        "min_interval_s",
        "value",
    }
    assert set(sample["retarget"]) == {
        "date",
        "kind",
        "old_difficulty",
        "new_difficulty",
        "change_pct",
        "height",
    }
    assert set(sample["ribbons_buy"]) == {"date", "kind", "sma30_ths", "sma60_ths", "price_usd"}
    assert set(sample["ribbons_recovery"]) == {
        "date",
        "kind",
        "sma30_ths",
        "sma60_ths",
        "price_usd",
        "capitulation_days",
    }
    assert set(sample["regime_recovery"]) == {
        "date",
        "kind",
        "premium_pct",
        "price_usd",
        "cost_usd_per_btc",
        "cost_model",
        "cost_significant_digits",
        "capitulation_started_at",
        "capitulation_seconds",
    }
    assert set(sample["regime_capitulation"]) == {
        "date",
        "kind",
        "premium_pct",
        "price_usd",
        "cost_usd_per_btc",
        "cost_model",
        "cost_significant_digits",
        "recovery_above_usd",
    }


def test_human_output_is_a_summary_then_one_line_per_event(shipped: list[BacktestEvent]) -> None:
    code, out, _ = cli()
    assert code == 0
    summary, lines = out.splitlines()[:2], out.splitlines()[2:]
    assert summary[0] == f"2010-07-17 to 2025-06-02 (5,435 days): {len(shipped) + 13:,} events"
    retargets = sum(found.event.kind == "retarget" for found in shipped)
    assert f"retarget {retargets:,}, stress_low 13" in summary[1]
    assert len(lines) == len(shipped) + 13  # then the stress index's low of each year 2013-2025
    for line, found in zip(lines[: len(shipped)], shipped, strict=True):
        assert line == f"{found.date}  {found.event.kind}  {found.text()}"
    assert any(
        re.fullmatch(r"2022-06-\d\d  ribbons_capitulation  📉 Hash Ribbons capitulation: .+\.", line)
        for line in lines
    )


def test_history_file_defaults_to_the_shipped_history(tmp_path: Path) -> None:
    path = tmp_path / "history.csv"
    path.write_text(format_daily_csv(load_history()), encoding="utf-8")
    assert cli("--history", str(path)) == cli()


def test_rows_without_hashrate_still_run(tmp_path: Path) -> None:
    rows = [row for row in load_history() if date(2021, 1, 1) <= row.date <= date(2023, 12, 31)]
    lines = ["date,price_usd,difficulty"] + [f"{r.date},{r.price_usd},{r.difficulty:.0f}" for r in rows]
    path = tmp_path / "no_hashrate.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, out, _ = cli("--history", str(path), "--json")
    assert code == 0
    kinds = {item["kind"] for item in json.loads(out)["events"]}
    assert "retarget" in kinds and "regime_capitulation" in kinds
    assert not {kind for kind in kinds if kind.startswith("ribbons")}


def test_a_bad_csv_is_one_line_naming_the_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        "date,price_usd,difficulty\n2024-01-01,42000,7e13\n2024-01-02,lots,7e13\n", encoding="utf-8"
    )
    code, out, err = cli("--history", str(path))
    assert (code, out) == (2, "")
    assert err == f"minerwatch: {path}: line 3: price_usd: not a number: 'lots'\n"


def test_a_missing_file_and_a_difficulty_rule_are_usage_errors(tmp_path: Path) -> None:
    code, _, err = cli("--history", str(tmp_path / "nope.csv"))
    assert code == 2
    assert err.startswith(f"minerwatch: cannot read {tmp_path / 'nope.csv'}:") and err.count("\n") == 1
    code, _, err = cli("--rule", "difficulty above 5%")
    assert code == 2
    assert err == "minerwatch: 'difficulty above +5%': the daily history has no next-adjustment estimate\n"


def test_a_bad_rule_is_rejected_by_the_argument_parser(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        cli("--rule", "prise below 30k")
    assert raised.value.code == 2
    assert "unknown metric 'prise' (did you mean price?); try: price below 60k" in capsys.readouterr().err


def test_backtest_command_defaults_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="minerwatch")
    add_backtest_parser(parser.add_subparsers(dest="command", required=True))
    assert backtest_command(parser.parse_args(["backtest", "--json"])) == 0
    assert json.loads(capsys.readouterr().out)["events"]


def test_stress_lows_per_year_fall_in_the_known_capitulations() -> None:
    code, out, _ = cli("--json")
    assert code == 0
    lows = {item["date"][:4]: item for item in json.loads(out)["stress_yearly_lows"]}
    assert list(lows) == [str(year) for year in range(2013, 2026)]  # the index starts 2013-07-15
    assert lows["2018"]["date"] == "2018-11-26" and lows["2018"]["band"] == "capitulation"
    assert lows["2020"]["date"] == "2020-03-18" and lows["2020"]["stress_index_0_100"] < 1
    assert lows["2022"]["date"] == "2022-11-22" and lows["2022"]["band"] == "capitulation"
    assert lows["2022"]["stress_index_0_100"] == pytest.approx(1.71, abs=0.01)
    code, text, _ = cli()
    assert (
        "2022-11-22  stress_low  miner-stress index (open proxy) low of 2022: 2 / 100, capitulation" in text
    )


def test_a_stress_rule_fires_only_in_miner_capitulations() -> None:
    rule = parse_rule("stress below 10")
    events = run_backtest(load_history(), [rule], RegimeParams(), load_difficulty_regression())
    fired = [found.date for found in events if found.event.kind == "threshold"]
    windows = [(date(2018, 10, 1), date(2019, 4, 30)), (date(2019, 11, 1), date(2020, 10, 31))]
    windows.append((date(2022, 10, 1), date(2022, 12, 31)))
    assert len(fired) == 29 and all(any(a <= day <= b for a, b in windows) for day in fired)
    first = next(found for found in events if found.event.kind == "threshold")
    assert (first.date, first.text()) == (date(2018, 10, 14), "🔔 stress below 10: now 8.0 / 100.")


def test_events_ribbons_lists_only_the_hash_ribbons_with_their_dates(shipped: list[BacktestEvent]) -> None:
    code, out, err = cli("--events", "ribbons")
    assert (code, err) == (0, "")
    ribbons = [found for found in shipped if found.event.kind.startswith("ribbons_")]
    listed = out.splitlines()[3:]  # after the two summary lines and "listed: ..."
    assert listed == [f"{found.date}  {found.event.kind}  {found.text()}" for found in ribbons]
    assert "2022-06-10  ribbons_capitulation  📉 Hash Ribbons capitulation:" in out
    assert "2022-08-20  ribbons_buy  🟢 Hash Ribbons buy signal:" in out
    code, out, _ = cli("--events", "ribbons,retarget", "--json")
    kinds = {item["kind"] for item in json.loads(out)["events"]}
    assert kinds == {"ribbons_capitulation", "ribbons_recovery", "ribbons_buy", "retarget"}


def test_an_unknown_event_group_is_rejected_by_the_argument_parser(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as raised:
        cli("--events", "ribbon")
    assert raised.value.code == 2
    assert "unknown kind 'ribbon'; choose from regime_capitulation, regime_recovery" in (
        capsys.readouterr().err
    )


def test_machine_is_read_as_in_chat() -> None:
    """A bare J/TH and TH@W work as in /breakeven; junk in a name is one line, not a silent match."""
    bare = cli("--machine", "21.5", "--rule", "margin below 80%", "--events", "threshold", "--json")
    named = cli("--machine", "s19xp", "--rule", "margin below 80%", "--events", "threshold", "--json")
    assert bare[0] == named[0] == 0
    assert json.loads(bare[1]) == json.loads(named[1])  # an S19 XP is 21.5 J/TH
    assert cli("--machine", "200@3500", "--rule", "margin below 0")[0] == 0
    code, out, err = cli("--machine", "s19✓", "--rule", "margin below 0")
    assert (code, out) == (2, "")
    assert err.startswith("minerwatch: unknown machine 's19✓'") and err.count("\n") == 1
