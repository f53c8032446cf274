"""A miner's fleet: lines of machines, each on its own power price or time-of-use tariff.

Every line is costed with ``bot.economics.mining.machine_day`` (Braiins / Hashrate Index conventions,
https://insights.braiins.com/en/profitability-calculator/): uptime scales revenue and power alike, so the
breakevens are those of the hours a machine runs. A tariff is a daily schedule of prices in a time zone;
a line should run in the hours whose price is below its breakeven power price, since revenue per hour does
not depend on the hour while cost does. Fleet totals add the lines; the fleet's weighted breakevens are the
power price (paid by every line) and the BTC price at which the whole fleet's profit is zero:
``c* = Σ revenue / Σ wall kWh`` and ``P* = Σ power cost / Σ BTC mined``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo

from bot.economics.history import DailyRow, height_at_end_of
from bot.economics.machines import Machine
from bot.economics.mining import MachineDay, MarketInputs, OperatingProfile, machine_day
from bot.economics.units import HASHES_PER_PH, HASHES_PER_TH

MINUTES_PER_DAY = 1440
DAYS_PER_MONTH = 30
MAX_LINES = 20
"""A fleet holds at most this many lines: enough for real sites, and it keeps /fleet one message."""
UNRATED_UNIT_THS = HASHES_PER_PH / HASHES_PER_TH
"""A machine known only by its efficiency is costed per PH/s (1,000 TH/s), as ``/margin`` does."""


@dataclass(frozen=True, slots=True)
class Period:
    """A price in force from ``start_minute`` to ``end_minute`` (local minutes after midnight; an end at
    or before the start wraps past midnight, ``22:00-06:00``)."""

    start_minute: int
    end_minute: int
    usd_per_kwh: float

    def __post_init__(self) -> None:
        for value in (self.start_minute, self.end_minute):
            if not 0 <= value <= MINUTES_PER_DAY:
                raise ValueError(f"a time of day must be within 00:00-24:00, got minute {value!r}")
        if self.start_minute % MINUTES_PER_DAY == self.end_minute % MINUTES_PER_DAY:
            raise ValueError("a period must not start and end at the same time")
        OperatingProfile(self.usd_per_kwh)  # the same plausibility bounds as any power price

    def spans(self) -> list[tuple[int, int]]:
        """The period as one or two non-wrapping ``[start, end)`` spans within ``[0, 1440)``."""
        start, end = self.start_minute % MINUTES_PER_DAY, self.end_minute
        if end > start:
            return [(start, end)]
        return [(start, MINUTES_PER_DAY), (0, end)] if end else [(start, MINUTES_PER_DAY)]


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of the local day at one price: ``[start_minute, end_minute)``."""

    start_minute: int
    end_minute: int
    usd_per_kwh: float

    @property
    def minutes(self) -> int:
        return self.end_minute - self.start_minute


@dataclass(frozen=True, slots=True)
class Tariff:
    """A named power price: ``base_usd_per_kwh`` all day except in ``periods`` (later ones win), local to
    ``timezone`` (an IANA name, https://www.iana.org/time-zones)."""

    name: str
    base_usd_per_kwh: float
    periods: tuple[Period, ...] = ()
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        OperatingProfile(self.base_usd_per_kwh)
        try:
            ZoneInfo(self.timezone)
        except (KeyError, ValueError):  # ZoneInfoNotFoundError is a KeyError
            raise ValueError(
                f"unknown time zone {self.timezone!r}; use an IANA name like America/Chicago"
            ) from None

    def segments(self) -> tuple[Segment, ...]:
        """The day as consecutive segments covering 00:00-24:00, neighbours at the same price merged."""
        return _segments(self)

    @property
    def average_usd_per_kwh(self) -> float:
        """The time-weighted mean price of a day: what a machine running flat out pays per kWh."""
        return sum(s.usd_per_kwh * s.minutes for s in self.segments()) / MINUTES_PER_DAY

    @property
    def is_flat(self) -> bool:
        return len(self.segments()) == 1

    def price_at(self, when: datetime) -> float:
        """The price in force at ``when`` (an aware datetime), read in the tariff's time zone."""
        local = when.astimezone(ZoneInfo(self.timezone))
        minute = local.hour * 60 + local.minute
        return next(s.usd_per_kwh for s in self.segments() if s.start_minute <= minute < s.end_minute)


@lru_cache(maxsize=4096)
def _segments(tariff: Tariff) -> tuple[Segment, ...]:
    spans = [(start, end, p.usd_per_kwh) for p in tariff.periods for start, end in p.spans()]
    edges = sorted({0, MINUTES_PER_DAY, *(edge for start, end, _ in spans for edge in (start, end))})
    segments: list[Segment] = []
    for start, end in itertools.pairwise(edges):
        price = tariff.base_usd_per_kwh
        for span_start, span_end, span_price in spans:  # later periods win
            if span_start <= start and end <= span_end:
                price = span_price
        if segments and segments[-1].usd_per_kwh == price:
            segments[-1] = Segment(segments[-1].start_minute, end, price)
        else:
            segments.append(Segment(start, end, price))
    return tuple(segments)


def flat_tariff(usd_per_kwh: float) -> Tariff:
    """A single price all day (the line's own power price, no named tariff)."""
    return Tariff("", usd_per_kwh)


@dataclass(frozen=True, slots=True)
class FleetLine:
    """``count`` identical machines on one tariff. ``operating.power_usd_per_kwh`` is ignored: the tariff
    sets the price (use ``flat_tariff`` for a single price)."""

    machine: Machine
    count: int
    operating: OperatingProfile
    tariff: Tariff
    site: str | None = None

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError(f"count must be at least 1, got {self.count!r}")

    @property
    def unit_ths(self) -> float:
        """Hashrate of one unit: the machine's rated TH/s, or 1 PH/s when only its efficiency is known."""
        rated = self.machine.hashrate_ths
        return rated if rated is not None else UNRATED_UNIT_THS

    def at_price(self, usd_per_kwh: float) -> OperatingProfile:
        return replace(self.operating, power_usd_per_kwh=usd_per_kwh)


class FleetFullError(Exception):
    """The fleet already has ``MAX_LINES`` lines; nothing was stored."""


class TariffInUseError(Exception):
    """A tariff some line still uses cannot be removed."""


class Advice(StrEnum):
    RUN = "run"
    SWITCH_OFF = "switch off"


def advice_for(profit_usd_per_day: float) -> Advice:
    """Run while a machine earns at least what it burns (a line at exactly zero may as well run)."""
    return Advice.RUN if profit_usd_per_day >= 0 else Advice.SWITCH_OFF


@dataclass(frozen=True, slots=True)
class LineDay:
    """One line's day. ``per_machine`` runs flat out at the tariff's average price; ``now`` at the price in
    force now (the advice); ``run_segments`` are the local stretches where the price is at or below the
    breakeven power price, and ``scheduled_profit_usd_per_day`` the line's profit running only then."""

    line: FleetLine
    per_machine: MachineDay
    power_now_usd_per_kwh: float
    now: MachineDay
    run_segments: tuple[Segment, ...]
    scheduled_profit_usd_per_day: float

    @property
    def count(self) -> int:
        return self.line.count

    @property
    def hashrate_ths(self) -> float:
        return self.line.unit_ths * self.count * self.line.operating.uptime_fraction

    @property
    def btc_per_day(self) -> float:
        return self.per_machine.btc_per_day * self.count

    @property
    def revenue_usd_per_day(self) -> float:
        return self.per_machine.revenue_usd_per_day * self.count

    @property
    def wall_kwh_per_day(self) -> float:
        return self.per_machine.kwh_per_day * self.line.operating.pue * self.count

    @property
    def power_cost_usd_per_day(self) -> float:
        return self.per_machine.power_cost_usd_per_day * self.count

    @property
    def profit_usd_per_day(self) -> float:
        return self.per_machine.profit_usd_per_day * self.count

    @property
    def profit_usd_per_30_days(self) -> float:
        return self.profit_usd_per_day * DAYS_PER_MONTH

    @property
    def margin_fraction(self) -> float:
        return self.per_machine.margin_fraction

    @property
    def breakeven_power_usd_per_kwh(self) -> float:
        return self.per_machine.breakeven_power_usd_per_kwh

    @property
    def breakeven_price_usd(self) -> float:
        """BTC price at which running flat out all day breaks even at the tariff's average price."""
        return self.per_machine.breakeven_price_usd

    @property
    def advice(self) -> Advice:
        """What to do at the price in force now."""
        return advice_for(self.now.profit_usd_per_day)

    @property
    def run_minutes(self) -> int:
        return sum(s.minutes for s in self.run_segments)


def line_day(market: MarketInputs, line: FleetLine, when: datetime) -> LineDay:
    """Cost ``line`` for a day of ``market``, with its advice at ``when``."""

    def at(usd_per_kwh: float) -> MachineDay:
        return machine_day(market, line.at_price(usd_per_kwh), line.unit_ths, line.machine.j_per_th)

    tariff = line.tariff
    per_machine = at(tariff.average_usd_per_kwh)
    power_now = tariff.price_at(when)
    breakeven = per_machine.breakeven_power_usd_per_kwh
    run = tuple(s for s in tariff.segments() if s.usd_per_kwh <= breakeven)
    scheduled = sum((at(s.usd_per_kwh).profit_usd_per_day * s.minutes / MINUTES_PER_DAY for s in run), 0.0)
    return LineDay(line, per_machine, power_now, at(power_now), run, scheduled * line.count)


@dataclass(frozen=True, slots=True)
class FleetDay:
    """Every line's day and the fleet's totals."""

    lines: tuple[LineDay, ...]

    @property
    def hashrate_ths(self) -> float:
        return sum(line.hashrate_ths for line in self.lines)

    @property
    def btc_per_day(self) -> float:
        return sum(line.btc_per_day for line in self.lines)

    @property
    def revenue_usd_per_day(self) -> float:
        return sum(line.revenue_usd_per_day for line in self.lines)

    @property
    def power_cost_usd_per_day(self) -> float:
        return sum(line.power_cost_usd_per_day for line in self.lines)

    @property
    def profit_usd_per_day(self) -> float:
        return sum(line.profit_usd_per_day for line in self.lines)

    @property
    def profit_usd_per_30_days(self) -> float:
        return self.profit_usd_per_day * DAYS_PER_MONTH

    @property
    def scheduled_profit_usd_per_day(self) -> float:
        return sum(line.scheduled_profit_usd_per_day for line in self.lines)

    @property
    def margin_fraction(self) -> float:
        revenue = self.revenue_usd_per_day
        return self.profit_usd_per_day / revenue if revenue else math.nan

    @property
    def breakeven_power_usd_per_kwh(self) -> float:
        """The one power price at which the whole fleet, flat out, breaks even: ``Σ revenue / Σ wall kWh``."""
        return self.revenue_usd_per_day / sum(line.wall_kwh_per_day for line in self.lines)

    @property
    def breakeven_price_usd(self) -> float:
        """The BTC price at which the whole fleet, flat out, breaks even: ``Σ power cost / Σ BTC``."""
        return self.power_cost_usd_per_day / self.btc_per_day


def fleet_day(market: MarketInputs, lines: Sequence[FleetLine], when: datetime) -> FleetDay:
    """Cost every line of a (non-empty) fleet for a day of ``market``."""
    if not lines:
        raise ValueError("a fleet needs at least one line")
    return FleetDay(tuple(line_day(market, line, when) for line in lines))


def after_adjustment(market: MarketInputs, difficulty_change_pct: float) -> MarketInputs:
    """The market after the next retarget moves difficulty by ``difficulty_change_pct`` (price, height and
    fees held): hashprice scales by ``1 / (1 + Δ)`` (https://en.bitcoin.it/wiki/Difficulty)."""
    if difficulty_change_pct <= -100:
        raise ValueError(f"a difficulty change must be above -100%, got {difficulty_change_pct!r}")
    return replace(market, difficulty=market.difficulty * (1 + difficulty_change_pct / 100))


def line_history(rows: Sequence[DailyRow], line: FleetLine) -> list[LineDay]:
    """``line``'s day on each stored daily row, subsidy only (the daily series holds no fees), flat out at
    its tariff's average price."""
    return [
        line_day(
            MarketInputs(row.price_usd, row.difficulty, height_at_end_of(row), None),
            line,
            datetime.combine(row.date, time(12), UTC),
        )
        for row in rows
    ]
