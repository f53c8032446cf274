"""/chart [30d|90d|1y] [price|hashprice]: a PNG of the stored daily series and a short caption.

The window ends at the latest stored day, which may be long ago (the shipped history ends in 2025) or have
gaps: the chart shows whatever days fall in it and the caption says how far the data goes.
"""

from __future__ import annotations

import asyncio
import re

from bot.economics.history import DailyRow, subsidy_btc_on, supply_btc_at_end_of
from bot.economics.network import HASHES_PER_DIFFICULTY
from bot.economics.regression import difficulty_regression_cost_usd_per_btc
from bot.economics.units import HASHES_PER_PH, SECONDS_PER_DAY
from bot.render import numbers as fmt
from bot.render.charts import hashprice_png, price_vs_cost_png
from bot.render.i18n import plural
from handlers.context import Request, Services
from handlers.format import error_reply, html_t
from handlers.reply import Reply

EXAMPLE = "/chart 1y price"
DEFAULT_DAYS = 90
MAX_DAYS = 10 * 365
KINDS = ("price", "hashprice")
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


def daily_hashprice_usd_per_ph_day(row: DailyRow) -> float:
    """The day's hashprice from price, difficulty and the subsidy in force (daily rows carry no fees)."""
    return (
        HASHES_PER_PH
        * SECONDS_PER_DAY
        / (row.difficulty * HASHES_PER_DIFFICULTY)
        * (subsidy_btc_on(row.date) * row.price_usd)
    )


async def chart(request: Request, services: Services) -> Reply:
    """/chart [WINDOW] [price|hashprice] — price vs production cost, or hashprice, as an image."""
    lang = request.chat.language
    try:
        days, kind = parse_chart_args(request.args)
    except ValueError:
        return error_reply(lang, "chart.usage", EXAMPLE, value=request.args.strip())
    rows = await services.daily_rows(days)
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
