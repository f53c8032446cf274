"""/chart [30d|90d|1y] [price|hashprice|stress|fleet]: a PNG of the stored daily series and a short caption.

The window ends at the latest stored day, which may be long ago (the shipped history ends in 2025) or have
gaps: the chart shows whatever days fall in it and the caption says how far the data goes.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Sequence
from datetime import timedelta

from bot.chat.context import Request, Services
from bot.chat.reply import Reply
from bot.economics.fleet import line_history
from bot.economics.history import DailyRow, supply_btc_at_end_of
from bot.economics.regression import DifficultyRegression, difficulty_regression_cost_usd_per_btc
from bot.economics.stress import (
    HISTORY_DAYS,
    StressIndex,
    daily_hashprice_usd_per_ph_day,
    history_multiples,
    stress_series,
)
from bot.render import numbers as fmt
from bot.render.charts import LineSeries, fleet_png, hashprice_png, price_vs_cost_png, stress_png
from bot.render.i18n import plural, t
from bot.reports.fleet import line_label
from handlers.format import error_reply, html_t

EXAMPLE = "/chart 1y price"
DEFAULT_DAYS = 90
MAX_DAYS = 10 * 365
KINDS = ("price", "hashprice", "stress", "fleet")
_WINDOW = re.compile(r"(\d{1,4})([dwmy])")
_UNIT_DAYS = {"d": 1, "w": 7, "m": 30, "y": 365}


def parse_chart_args(args: str) -> tuple[int, str]:
    """``"1y hashprice"`` -> ``(365, "hashprice")``, in either order; defaults 90 days and ``price``."""
    days, kind = DEFAULT_DAYS, KINDS[0]
    for word in args.lower().split():
        window = _WINDOW.fullmatch(word)
        if window:
            days = int(window[1]) * _UNIT_DAYS[window[2]]
        elif word in KINDS:
            kind = word
        else:
            raise ValueError(word)
    if not 2 <= days <= MAX_DAYS:
        raise ValueError(args)
    return days, kind


def _stress_series(history: Sequence[DailyRow], regression: DifficultyRegression) -> list[StressIndex | None]:
    return stress_series(history, history_multiples(history, regression))


async def _stress_chart(
    history: Sequence[DailyRow], rows: Sequence[DailyRow], services: Services, lang: str
) -> tuple[bytes, str] | Reply:
    """The index over ``rows`` (the last days of ``history``, which holds the years its ranks need)."""
    series = (await asyncio.to_thread(_stress_series, history, services.regression))[-len(rows) :]
    known = [(row, index) for row, index in zip(rows, series, strict=True) if index is not None]
    if len(known) < 2:
        return error_reply(lang, "chart.stress_no_data", EXAMPLE, days=plural(lang, "unit.day", len(rows)))
    values = [math.nan if index is None else index.value for index in series]
    png = await asyncio.to_thread(stress_png, rows, values, lang)
    low_row, low = min(known, key=lambda pair: pair[1].value)
    last = known[-1][1]
    summary = html_t(
        lang,
        "chart.stress_caption",
        last=fmt.number(last.value, 0, lang),
        band=t(lang, f"stress.band.{last.band}"),
        low=fmt.number(low.value, 0, lang),
        low_day=low_row.date,
        high=fmt.number(max(index.value for _, index in known), 0, lang),
    )
    return png, summary


async def _fleet_chart(
    rows: Sequence[DailyRow], services: Services, request: Request
) -> tuple[bytes, str] | Reply:
    """Each fleet line's profit per day over ``rows`` (subsidy only) and its breakeven power price."""
    lang = request.chat.language
    lines = (await services.fleet(request.chat)).lines
    if not lines:
        return error_reply(lang, "chart.fleet_empty", "/fleet add s19jpro 40 5.5c")
    series, captions = [], []
    for number, line in enumerate(lines, start=1):
        days = line_history(rows, line)
        label = f"#{number} {line_label(line)}"
        profits = [day.profit_usd_per_day for day in days]
        breakevens = [day.breakeven_power_usd_per_kwh for day in days]
        series.append(LineSeries(label, profits, breakevens, line.tariff.average_usd_per_kwh))
        captions.append(
            html_t(
                lang,
                "chart.fleet_caption",
                number=number,
                label=line_label(line),
                last=fmt.usd(profits[-1], 2, lang),
                profitable=plural(lang, "unit.day", sum(profit >= 0 for profit in profits)),
            )
        )
    png = await asyncio.to_thread(fleet_png, rows, series, lang)
    return png, "\n".join(captions)


async def chart(request: Request, services: Services) -> Reply:
    """/chart [WINDOW] [price|hashprice|stress|fleet] — price vs production cost, hashprice, the
    miner-stress index or the chat's fleet lines, as an image."""
    lang = request.chat.language
    try:
        days, kind = parse_chart_args(request.args)
    except ValueError:
        return error_reply(lang, "chart.usage", EXAMPLE, value=request.args.strip())
    history = await services.daily_rows(days + (HISTORY_DAYS if kind == "stress" else 0))
    rows = [row for row in history if row.date > history[-1].date - timedelta(days=days)] if history else []
    if len(rows) < 2:
        return error_reply(lang, "chart.no_data", EXAMPLE, days=plural(lang, "unit.day", days))
    first, last = rows[0], rows[-1]
    window = html_t(
        lang, "chart.window", start=first.date, end=last.date, days=plural(lang, "unit.day", len(rows))
    )
    if kind == "price":
        regression = services.regression
        costs = [
            difficulty_regression_cost_usd_per_btc(row.difficulty, supply_btc_at_end_of(row), regression)
            for row in rows
        ]
        png = await asyncio.to_thread(price_vs_cost_png, rows, costs, lang)
        below = sum(row.price_usd < cost for row, cost in zip(rows, costs, strict=True))
        summary = html_t(
            lang,
            "chart.price_caption",
            price=fmt.usd(last.price_usd, 0, lang),
            cost=fmt.usd_approx(costs[-1], regression.significant_digits, lang),
            premium=fmt.percent(last.price_usd / costs[-1] - 1, 0, lang=lang),
            below=plural(lang, "unit.day", below),
        )
    elif kind in ("stress", "fleet"):
        drawn = (
            await _stress_chart(history, rows, services, lang)
            if kind == "stress"
            else await _fleet_chart(rows, services, request)
        )
        if isinstance(drawn, Reply):
            return drawn
        png, summary = drawn
    else:
        values = [daily_hashprice_usd_per_ph_day(row) for row in rows]
        png = await asyncio.to_thread(hashprice_png, rows, values, lang)
        summary = html_t(
            lang,
            "chart.hashprice_caption",
            last=fmt.usd(values[-1], 2, lang),
            low=fmt.usd(min(values), 2, lang),
            high=fmt.usd(max(values), 2, lang),
        )
    return Reply(f"{window}\n{summary}", image_png=png)
