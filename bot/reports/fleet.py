"""The fleet report (belongs with ``bot/reports/`` after the regroup): each line's day, its advice and run
hours, the fleet's totals, and each line's margin after the estimated next retarget.

Pure: the CLI prints it as text or JSON, the chat handler as HTML. Every table row is short enough for a
32-character ``<pre>`` line on a phone (labels and values come from the catalog and ``bot.render.numbers``);
sentences (advice, schedule, adjustment) go outside the tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.alerts.fleet import line_data
from bot.economics.fleet import (
    FleetDay,
    FleetLine,
    LineDay,
    Segment,
    Tariff,
    after_adjustment,
    fleet_day,
    line_day,
)
from bot.economics.units import HASHES_PER_TH
from bot.market.view import MarketView
from bot.render import numbers as fmt
from bot.render.alerts import advice_sentence
from bot.render.i18n import plural, t
from bot.sources.snapshot import AdjustmentEstimate

Row = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Section:
    """A heading, a short table and sentences below it."""

    heading: str
    rows: list[Row]
    notes: list[str]


@dataclass(frozen=True, slots=True)
class FleetReport:
    title: str
    sections: list[Section]
    data: dict[str, Any]


def clock(minute: int) -> str:
    """``840`` -> ``14:00``; the end of the day is ``24:00``."""
    return f"{minute // 60:02d}:{minute % 60:02d}"


def spans_text(segments: Sequence[Segment]) -> str:
    """``00:00-14:00, 20:00-24:00``: adjacent segments joined."""
    joined: list[tuple[int, int]] = []
    for segment in segments:
        if joined and joined[-1][1] == segment.start_minute:
            joined[-1] = (joined[-1][0], segment.end_minute)
        else:
            joined.append((segment.start_minute, segment.end_minute))
    return ", ".join(f"{clock(start)}-{clock(end)}" for start, end in joined)


def describe_tariff(tariff: Tariff, lang: str) -> str:
    """``$0.045/kWh; 14:00-20:00 $0.12/kWh (America/Chicago)``."""
    parts = [fmt.usd_per_kwh(tariff.base_usd_per_kwh, lang, None)]
    parts += [
        f"{clock(p.start_minute)}-{clock(p.end_minute)} {fmt.usd_per_kwh(p.usd_per_kwh, lang, None)}"
        for p in tariff.periods
    ]
    return f"{'; '.join(parts)} ({tariff.timezone})"


def line_label(line: FleetLine) -> str:
    """``40× Antminer S19j Pro`` (machines known only by efficiency count PH/s)."""
    return f"{line.count}× {line.machine.name}"


def _hashrate(ths: float, lang: str) -> str:
    return fmt.big(ths * HASHES_PER_TH, "H/s", lang)


def advice_text(number: int, day: LineDay, lang: str) -> str:
    """The line's advice at the price in force now, as its alert says it."""
    return advice_sentence(line_data(number, day), lang)


def _schedule_text(day: LineDay, lang: str) -> str | None:
    tariff = day.line.tariff
    if tariff.is_flat:
        return None
    scheduled = fmt.usd(day.scheduled_profit_usd_per_day, 2, lang)
    flat = fmt.usd(day.profit_usd_per_day, 2, lang)
    if not day.run_segments:
        return t(lang, "fleet.schedule_never", tariff=tariff.name, flat=flat)
    return t(
        lang,
        "fleet.schedule",
        hours=spans_text(day.run_segments),
        zone=tariff.timezone,
        scheduled=scheduled,
        flat=flat,
    )


def _money_rows(
    hashrate_ths: float, revenue: float, power: float, profit: float, margin: float, lang: str
) -> list[Row]:
    return [
        (t(lang, "fleet.row.hashrate"), _hashrate(hashrate_ths, lang)),
        (t(lang, "fleet.row.revenue"), fmt.usd(revenue, 2, lang)),
        (t(lang, "fleet.row.power"), fmt.usd(power, 2, lang)),
        (t(lang, "fleet.row.profit"), fmt.usd(profit, 2, lang)),
        (t(lang, "fleet.row.profit_30"), fmt.usd(profit * 30, 2, lang)),
        (t(lang, "fleet.row.margin"), fmt.percent(margin, lang=lang)),
    ]


def _adjustment_text(
    day: LineDay, after: LineDay, adjustment: AdjustmentEstimate, now: datetime, lang: str
) -> str:
    """ "The adjustment in ~3d 4h (+5.2% est.) takes this line from +2.0% to -3.0%"."""
    eta = adjustment.estimated_retarget_at
    when = t(lang, "fleet.adjustment_in", left=fmt.duration(eta - now, lang)) if eta and eta > now else ""
    return t(
        lang,
        "fleet.after_adjustment",
        when=when,
        change=fmt.percent(adjustment.difficulty_change_pct / 100, 1, lang=lang),
        before=fmt.percent(day.margin_fraction, lang=lang),
        after=fmt.percent(after.margin_fraction, lang=lang),
    )


def _line_data(day: LineDay, after: LineDay | None) -> dict[str, Any]:
    line = day.line
    operating = line.operating
    return {
        "machine": line.machine.name,
        "count": line.count,
        "site": line.site,
        "hashrate_ths": day.hashrate_ths,
        "unit": "machine" if line.machine.hashrate_ths is not None else "PH/s",
        "j_per_th": line.machine.j_per_th,
        "tariff": line.tariff.name or None,
        "power_usd_per_kwh": line.tariff.average_usd_per_kwh,
        "power_now_usd_per_kwh": day.power_now_usd_per_kwh,
        "pool_fee_pct": operating.pool_fee_fraction * 100,
        "uptime_pct": operating.uptime_fraction * 100,
        "pue": operating.pue,
        "revenue_usd_per_day": day.revenue_usd_per_day,
        "power_cost_usd_per_day": day.power_cost_usd_per_day,
        "profit_usd_per_day": day.profit_usd_per_day,
        "profit_usd_per_30_days": day.profit_usd_per_30_days,
        "margin_pct": day.margin_fraction * 100,
        "breakeven_power_usd_per_kwh": day.breakeven_power_usd_per_kwh,
        "breakeven_price_usd": day.breakeven_price_usd,
        "advice": day.advice.value,
        "profit_now_usd_per_machine_day": day.now.profit_usd_per_day,
        "breakeven_price_now_usd": day.now.breakeven_price_usd,
        "run_hours": [[clock(s.start_minute), clock(s.end_minute)] for s in day.run_segments],
        "scheduled_profit_usd_per_day": day.scheduled_profit_usd_per_day,
        "margin_after_adjustment_pct": after.margin_fraction * 100 if after else None,
    }


def _total_data(fleet: FleetDay) -> dict[str, Any]:
    return {
        "hashrate_ths": fleet.hashrate_ths,
        "revenue_usd_per_day": fleet.revenue_usd_per_day,
        "power_cost_usd_per_day": fleet.power_cost_usd_per_day,
        "profit_usd_per_day": fleet.profit_usd_per_day,
        "profit_usd_per_30_days": fleet.profit_usd_per_30_days,
        "margin_pct": fleet.margin_fraction * 100,
        "breakeven_power_usd_per_kwh": fleet.breakeven_power_usd_per_kwh,
        "breakeven_price_usd": fleet.breakeven_price_usd,
        "scheduled_profit_usd_per_day": fleet.scheduled_profit_usd_per_day,
    }


def fleet_report(
    view: MarketView, lines: Sequence[FleetLine], now: datetime, lang: str = "en"
) -> FleetReport:
    """Each line and the fleet's total at ``view``'s market, with the advice at ``now``."""
    market = view.market
    fleet = fleet_day(market, lines, now)
    adjustment = view.adjustment
    change = adjustment.difficulty_change_pct if adjustment else None
    after_market = after_adjustment(market, change) if change is not None else None
    sections: list[Section] = []
    line_data: list[dict[str, Any]] = []
    for number, day in enumerate(fleet.lines, start=1):
        line = day.line
        heading = t(lang, "fleet.line_heading", number=number, label=line_label(line))
        if line.site:
            heading += t(lang, "fleet.site", site=line.site)
        rows = _money_rows(
            day.hashrate_ths,
            day.revenue_usd_per_day,
            day.power_cost_usd_per_day,
            day.profit_usd_per_day,
            day.margin_fraction,
            lang,
        )
        power = fmt.usd_per_kwh(line.tariff.average_usd_per_kwh, lang)
        rows.insert(0, (t(lang, "fleet.row.tariff"), line.tariff.name or power))
        rows += [
            (t(lang, "fleet.row.breakeven_power"), fmt.usd_per_kwh(day.breakeven_power_usd_per_kwh, lang)),
            (t(lang, "fleet.row.breakeven_price"), fmt.usd(day.breakeven_price_usd, 0, lang)),
        ]
        notes = [advice_text(number, day, lang)]
        schedule = _schedule_text(day, lang)
        if schedule:
            notes.append(schedule)
        after = line_day(after_market, line, now) if after_market is not None else None
        if after is not None and adjustment is not None:
            notes.append(_adjustment_text(day, after, adjustment, now, lang))
        sections.append(Section(heading, rows, notes))
        line_data.append(_line_data(day, after))
    total_rows = _money_rows(
        fleet.hashrate_ths,
        fleet.revenue_usd_per_day,
        fleet.power_cost_usd_per_day,
        fleet.profit_usd_per_day,
        fleet.margin_fraction,
        lang,
    )
    total_rows += [
        (t(lang, "fleet.row.breakeven_power"), fmt.usd_per_kwh(fleet.breakeven_power_usd_per_kwh, lang)),
        (t(lang, "fleet.row.breakeven_price"), fmt.usd(fleet.breakeven_price_usd, 0, lang)),
    ]
    total_notes = []
    if any(not day.line.tariff.is_flat for day in fleet.lines):
        total_notes.append(
            t(
                lang,
                "fleet.total_scheduled",
                scheduled=fmt.usd(fleet.scheduled_profit_usd_per_day, 2, lang),
                flat=fmt.usd(fleet.profit_usd_per_day, 2, lang),
            )
        )
    if not market.fees_known:
        total_notes.append(t(lang, "report.fees_unknown"))
    sections.append(Section(t(lang, "fleet.total_heading"), total_rows, total_notes))
    machines = sum(line.count for line in lines)
    data: dict[str, Any] = {
        "lines": line_data,
        "total": _total_data(fleet),
        "price_usd": market.price_usd,
        "difficulty": market.difficulty,
        "fees_known": market.fees_known,
        "as_of": view.as_of.isoformat(),
        "difficulty_change_pct": change,
    }
    title = t(
        lang,
        "fleet.title",
        lines=plural(lang, "unit.line", len(lines)),
        machines=plural(lang, "unit.machine", machines),
    )
    return FleetReport(title, sections, data)
