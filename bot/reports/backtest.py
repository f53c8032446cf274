"""``minerwatch backtest``: replay a daily history through the alerts engine and list what it would have sent.

Each day is one observation at 00:00 UTC of its date, run through the same code as the live bot:

* regime (``engine.evaluate``): premium of the day's price over the Difficulty Regression Model's cost
  (``production_cost.regression_cost``), one observation per day, so ``confirmations`` counts days;
* retargets: daily rows have no height, so a retarget is a change of the day's difficulty, reported the
  first day it holds (``engine.evaluate`` with ``height=None``);
* Hash Ribbons (``engine.ribbon_events_since``) over the whole history at once, which is the same as
  day by day since no value looks ahead; days without hashrate yield no ribbon values;
* threshold rules (``rules.step``) on the day's key values, each rule created on the first day its value is
  known (so one that already holds then waits for a real crossing);
* the open miner-stress index (``bot.economics.stress.stress_series``, each day ranked against the days
  before it): ``stress`` rules, and the lowest reading of each calendar year, listed after the events.

A day's height is its row's ``height`` (the shipped history records one; ``history.height_at_end_of``
estimates it otherwise), which sets the subsidy and the circulating supply; fees are unknown, so hashprice
counts the subsidy only. Margin and breakeven rules use an Antminer S19 XP (21.5 J/TH) at
$0.05/kWh, no pool fee, 100 % uptime, PUE 1, unless told otherwise. Difficulty rules are refused: the daily
history has no estimate of the next adjustment.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TextIO, TypeVar

from bot.alerts.engine import (
    EngineState,
    Observation,
    day_start,
    evaluate,
    key_values,
    ribbon_events_since,
    rule_value,
    threshold_event,
)
from bot.alerts.events import AlertEvent, EventKind
from bot.alerts.grammar import describe_rule, parse_rule
from bot.alerts.regime import RegimeParams
from bot.alerts.rules import Metric, Rule, RuleState, initial_state, key_rule, step
from bot.chat.parsing import parse_power_usd_per_kwh, read_machine
from bot.data import load_difficulty_regression, load_history
from bot.economics.history import DailyRow, height_at_end_of, parse_daily_csv
from bot.economics.mining import MarketInputs, OperatingProfile
from bot.economics.production_cost import regression_cost
from bot.economics.regression import DifficultyRegression
from bot.economics.stress import StressIndex, history_multiples, stress_series
from bot.render.alerts import render_event

S19_XP_J_PER_TH = 3010 / 140
"""Antminer S19 XP nameplate efficiency (machines.csv: 140 TH/s at 3,010 W)."""
DEFAULT_PROFILE = OperatingProfile(power_usd_per_kwh=0.05)
EXIT_OK, EXIT_USAGE = 0, 2  # as bot.cli

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class BacktestEvent:
    """An event the bot would have sent, dated by the daily row that triggered it."""

    date: date
    event: AlertEvent

    def text(self) -> str:
        return render_event(self.event)

    def to_dict(self) -> dict[str, Any]:
        """``{"date": "YYYY-MM-DD", "kind": KIND, ...figures}``."""
        return {"date": self.date.isoformat(), "kind": self.event.kind.value, **self.event.data}


@dataclass(frozen=True, slots=True)
class StressLow:
    """The lowest miner-stress reading of one calendar year."""

    date: date
    index: StressIndex

    def text(self) -> str:
        return (
            f"miner-stress index (open proxy) low of {self.date.year}: "
            f"{self.index.value:.0f} / 100, {self.index.band}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "date": self.date.isoformat(),
            "stress_index_0_100": self.index.value,
            "band": self.index.band.value,
        }


def yearly_stress_lows(rows: Sequence[DailyRow], series: Sequence[StressIndex | None]) -> list[StressLow]:
    """The lowest index of each calendar year that has one, oldest first."""
    lows: dict[int, StressLow] = {}
    for row, index in zip(rows, series, strict=True):
        low = lows.get(row.date.year)
        if index is not None and (low is None or index.value < low.index.value):
            lows[row.date.year] = StressLow(row.date, index)
    return [lows[year] for year in sorted(lows)]


def run_backtest(
    rows: Sequence[DailyRow],
    rules: list[Rule],
    params: RegimeParams,
    regression: DifficultyRegression,
    *,
    j_per_th: float = S19_XP_J_PER_TH,
    profile: OperatingProfile = DEFAULT_PROFILE,
) -> list[BacktestEvent]:
    """Every event the engine emits over ``rows`` (sorted by date), sorted by date."""
    for rule in rules:
        if rule.metric is Metric.DIFFICULTY:
            raise ValueError(f"'{describe_rule(rule)}': the daily history has no next-adjustment estimate")
    keyed = [key_rule(rule, j_per_th, profile) for rule in rules]
    rule_states: list[RuleState | None] = [None] * len(rules)
    state = EngineState()
    found: list[BacktestEvent] = []
    stress = stress_series(rows, history_multiples(rows, regression))
    for row, index in zip(rows, stress, strict=True):
        at = day_start(row.date)
        market = MarketInputs(row.price_usd, row.difficulty, height_at_end_of(row), 0.0)
        cost = regression_cost(market, regression)
        values = key_values(market, cost.usd_per_btc, None, None if index is None else index.value)
        observation = Observation(
            at,
            row.price_usd,
            row.difficulty,
            None,
            cost.usd_per_btc,
            cost.model,
            values,
            cost_significant_digits=cost.significant_digits,
        )
        state, events = evaluate(state, observation, params)
        for i, (rule, keyed_rule) in enumerate(zip(rules, keyed, strict=True)):
            value, rule_state = values.get(keyed_rule.key_metric), rule_states[i]
            if value is None:
                continue  # the stress index before its first full window
            if rule_state is None:
                rule_states[i] = initial_state(keyed_rule, value)
                continue
            rule_states[i], fired = step(
                keyed_rule,
                rule_state,
                value,
                at.timestamp(),
                repeat=rule.repeat,
                min_interval_s=rule.min_interval_s,
            )
            if fired:
                events.append(threshold_event(rule, rule_value(rule, value, j_per_th, profile), at))
        found.extend(BacktestEvent(row.date, event) for event in events)
    ribbons = ribbon_events_since(rows, None)
    found.extend(BacktestEvent(event.occurred_at.date(), event) for event in ribbons)
    return sorted(found, key=lambda found_event: found_event.date)


EVENT_GROUPS = ("ribbons", "regime", "retarget", "threshold", "stress")
"""Groups ``--kind`` also takes: an event kind belongs to the group its name starts with; ``stress`` is the
miner-stress index's yearly lows."""
STRESS_LOW = "stress_low"
"""The kind name of a yearly miner-stress low in the listing, the summary and ``--kind``."""
LISTED_KINDS = (
    EventKind.REGIME_CAPITULATION,
    EventKind.REGIME_RECOVERY,
    EventKind.RIBBONS_CAPITULATION,
    EventKind.RIBBONS_RECOVERY,
    EventKind.RIBBONS_BUY,
    EventKind.RETARGET,
    EventKind.THRESHOLD,
)
"""The event kinds a backtest can list (the live-only ones, data_stale or margin_warning, never occur)."""
KIND_CHOICES = (*(kind.value for kind in LISTED_KINDS), STRESS_LOW)


def event_group(kind: str) -> str:
    """``ribbons_buy`` -> ``ribbons``, ``retarget`` -> ``retarget``, ``stress_low`` -> ``stress``."""
    return kind.split("_", 1)[0]


def parse_kinds(text: str) -> frozenset[str]:
    """``"retarget"``, ``"ribbons,regime_capitulation"`` -> those kinds and groups; an unknown or empty name
    is a ValueError naming the choices."""
    names = frozenset(part.strip().lower() for part in text.split(","))
    unknown = sorted(names - set(KIND_CHOICES) - set(EVENT_GROUPS))
    if unknown:
        raise ValueError(
            f"unknown kind {', '.join(map(repr, unknown))}; choose from {', '.join(KIND_CHOICES)} "
            f"or a group: {', '.join(EVENT_GROUPS)}"
        )
    return names


def selected(kind: str, wanted: frozenset[str] | None) -> bool:
    """Whether ``--kind`` (``None``: not given, everything) lists an event of ``kind``."""
    return wanted is None or kind in wanted or event_group(kind) in wanted


@dataclass(frozen=True, slots=True)
class Summary:
    """What a backtest covered and found, printed before the events."""

    first_day: date
    last_day: date
    counts: dict[str, int]
    """Events (and yearly stress lows, ``stress_low``) per kind, in ``KIND_CHOICES`` order, all listed."""

    @classmethod
    def of(
        cls, rows: Sequence[DailyRow], events: Sequence[BacktestEvent], lows: Sequence[StressLow]
    ) -> Summary:
        found = [event.event.kind.value for event in events] + [STRESS_LOW] * len(lows)
        counts = {kind: found.count(kind) for kind in KIND_CHOICES if kind in found}
        return cls(rows[0].date, rows[-1].date, counts)

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    def text(self) -> str:
        """Two lines: the period and the number of events, then the count of each kind found."""
        total = sum(self.counts.values())
        found = ", ".join(f"{kind} {count:,}" for kind, count in self.counts.items()) or "none"
        return f"{self.first_day} to {self.last_day} ({self.days:,} days): {total:,} events\n  {found}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "first_day": self.first_day.isoformat(),
            "last_day": self.last_day.isoformat(),
            "days": self.days,
            "counts": self.counts,
        }


def _arg(parse: Callable[[str], T]) -> Callable[[str], T]:
    """Adapt a parser for argparse, keeping its one-line message (as ``bot.cli._arg``)."""

    def convert(text: str) -> T:
        try:
            return parse(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return convert


def add_backtest_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Register ``backtest``; its ``sync_handler(args) -> exit code`` needs no Settings and no network."""
    parser = subparsers.add_parser("backtest", help="replay a daily history through the alert engine")
    parser.add_argument(
        "--history",
        type=Path,
        help="daily CSV (date,price_usd,difficulty[,hashrate_ths]); default: the shipped history",
    )
    parser.add_argument(
        "--rule",
        type=_arg(parse_rule),
        action="append",
        default=[],
        metavar="RULE",
        help="threshold rule, e.g. 'price below 30k' (repeatable)",
    )
    parser.add_argument(
        "--machine",
        default="S19 XP",
        help="machine for margin/breakeven rules: a name, 21.5 (J/TH) or 200@3500 (default S19 XP)",
    )
    parser.add_argument(
        "--power-price",
        type=_arg(parse_power_usd_per_kwh),
        default=DEFAULT_PROFILE.power_usd_per_kwh,
        help="$/kWh for margin/breakeven rules (default 0.05)",
    )
    parser.add_argument(
        "--kind",
        "--events",
        dest="kinds",
        type=_arg(parse_kinds),
        action="append",
        metavar="KIND",
        help=f"list only this kind or group (repeatable, or comma-separated): {', '.join(KIND_CHOICES)}; "
        f"groups: {', '.join(EVENT_GROUPS)} (default: all)",
    )
    parser.add_argument("--json", action="store_true", help='print {"events": [...]}')
    parser.set_defaults(sync_handler=backtest_command)
    return parser


def _history(path: Path | None) -> list[DailyRow]:
    if path is None:
        return load_history()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"cannot read {path}: {error}") from None
    try:
        rows = parse_daily_csv(text, in_order=True)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
    if not rows:
        raise ValueError(f"{path}: no daily rows after the header")
    return rows


def backtest_command(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run ``minerwatch backtest``: a summary line (period, events by kind), then the events ``--kind``
    selects (a line each), or one JSON document; one-line errors to ``err``."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        machine, _ = read_machine(args.machine)  # a catalog name, 21.5 (J/TH) or 200@3500, as in chat
        profile = OperatingProfile(power_usd_per_kwh=args.power_price)
        rows = _history(args.history)
        regression = load_difficulty_regression()
        events = run_backtest(
            rows,
            args.rule,
            RegimeParams(),
            regression,
            j_per_th=machine.j_per_th,
            profile=profile,
        )
        lows = yearly_stress_lows(rows, stress_series(rows, history_multiples(rows, regression)))
    except (ValueError, LookupError) as error:
        print(f"minerwatch: {error}", file=err)
        return EXIT_USAGE
    summary = Summary.of(rows, events, lows)
    wanted = frozenset().union(*args.kinds) if args.kinds else None
    events = [event for event in events if selected(event.event.kind.value, wanted)]
    lows = lows if selected(STRESS_LOW, wanted) else []
    if args.json:
        document = {
            "summary": summary.to_dict(),
            "events": [event.to_dict() for event in events],
            "stress_yearly_lows": [low.to_dict() for low in lows],
        }
        print(json.dumps(document, indent=2), file=out)
        return EXIT_OK
    print(summary.text(), file=out)
    if wanted is not None:
        print(f"listed: {len(events) + len(lows):,} ({', '.join(sorted(wanted))})", file=out)
    for event in events:
        print(f"{event.date.isoformat()}  {event.event.kind.value}  {event.text()}", file=out)
    for low in lows:
        print(f"{low.date.isoformat()}  {STRESS_LOW}  {low.text()}", file=out)
    return EXIT_OK
