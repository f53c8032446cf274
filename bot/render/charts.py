"""Charts as PNG bytes, drawn in memory with matplotlib's object-oriented API (Agg canvas, no pyplot).

Every chart is exactly ``WIDTH_PX`` × ``HEIGHT_PX`` = 1200 × 675 pixels (16:9, 8 × 4.5 inches at 150 dpi),
with its title, legend and axis labels in the chat's language. A day missing from the daily series leaves
a gap in the line instead of a straight segment across it. Rendering holds one lock: matplotlib's font and
text caches are shared between threads. matplotlib is imported by the first chart drawn (in the drawing
thread), not with this module: it takes longer to load than the rest of the bot, whose start and command
line do not need it.
"""

from __future__ import annotations

import io
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from bot.economics.history import DailyRow
from bot.render import numbers as fmt
from bot.render.i18n import t

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

WIDTH_PX, HEIGHT_PX, DPI = 1200, 675, 150
PRICE_COLOUR, COST_COLOUR, HASHPRICE_COLOUR, CAPITULATION_COLOUR = "#f7931a", "#1f4e79", "#2a9d8f", "#d62828"
STRESS_COLOUR = "#6a4c93"
LINE_COLOURS = ("#1f4e79", "#f7931a", "#2a9d8f", "#d62828", "#6a4c93", "#8d6e63", "#5c946e", "#e76f51")
"""One colour per fleet line, repeating after eight."""
STRESS_CAPITULATION_BELOW = 25.0
"""Upper edge of the shaded capitulation band (``bot.economics.stress.BAND_FLOORS``)."""
_LOCK = threading.Lock()


def _with_gaps(days: Sequence[date], *series: Sequence[float]) -> tuple[list[float], list[list[float]]]:
    """Days as x values (proleptic ordinals); a NaN point after each day followed by a gap, so lines and
    fills break there."""
    xs: list[float] = []
    ys: list[list[float]] = [[] for _ in series]
    for i, day in enumerate(days):
        if i and (day - days[i - 1]).days > 1:
            xs.append(days[i - 1].toordinal() + 1)
            for values in ys:
                values.append(math.nan)
        xs.append(day.toordinal())
        for values, source in zip(ys, series, strict=True):
            values.append(source[i])
    return xs, ys


def _date_formatter(lang: str, span_days: int) -> FuncFormatter:
    months = t(lang, "chart.months").split()

    def label(value: float, _position: int | None) -> str:
        day = date.fromordinal(round(value))
        month = months[day.month - 1]
        return f"{day.day} {month}" if span_days <= 120 else f"{month} {day.year}"

    return _formatter(label)


def _formatter(label: Callable[[float, int | None], str]) -> FuncFormatter:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(label)


def _figure() -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI, facecolor="white")
    FigureCanvasAgg(figure)
    return figure


def _format(axes: Axes, lang: str, days: Sequence[date], ylabel: str) -> None:
    """Grid, small ticks, dates along x, US dollars along y."""
    from matplotlib.ticker import MaxNLocator

    axes.set_ylabel(ylabel, fontsize=9)
    axes.grid(True, alpha=0.3)
    axes.tick_params(labelsize=8)
    axes.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
    axes.xaxis.set_major_formatter(_date_formatter(lang, (days[-1] - days[0]).days))
    axes.yaxis.set_major_formatter(_formatter(lambda value, _: fmt.usd(value, 0, lang)))
    axes.set_xlim(days[0].toordinal(), days[-1].toordinal())


def _axes(lang: str, days: Sequence[date], title: str, ylabel: str) -> tuple[Figure, Axes]:
    figure = _figure()
    axes = figure.add_subplot()
    axes.set_title(title, fontsize=11)
    _format(axes, lang, days, ylabel)
    return figure, axes


def _png(figure: Figure) -> bytes:
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _window(lang: str, title_key: str, days: Sequence[date]) -> str:
    return t(lang, title_key, start=days[0].isoformat(), end=days[-1].isoformat())


def price_vs_cost_png(
    rows: Sequence[DailyRow], costs: Sequence[float], lang: str, title: str | None = None
) -> bytes:
    """BTC price against the production cost per BTC (one value per row), days below cost shaded."""
    if len(rows) < 2 or len(costs) != len(rows):
        raise ValueError("need at least 2 rows and one cost per row")
    days = [row.date for row in rows]
    xs, (prices, cost_line) = _with_gaps(days, [row.price_usd for row in rows], costs)
    with _LOCK:
        figure, axes = _axes(
            lang, days, title or _window(lang, "chart.price_title", days), t(lang, "chart.usd_per_btc")
        )
        axes.plot(xs, prices, color=PRICE_COLOUR, linewidth=1.6, label=t(lang, "chart.price"))
        axes.plot(xs, cost_line, color=COST_COLOUR, linewidth=1.4, label=t(lang, "chart.cost"))
        below = [p < c for p, c in zip(prices, cost_line, strict=True)]
        axes.fill_between(
            xs,
            prices,
            cost_line,
            where=below,
            interpolate=True,
            color=CAPITULATION_COLOUR,
            alpha=0.25,
            linewidth=0,
            label=t(lang, "chart.capitulation"),
        )
        axes.legend(loc="upper left", fontsize=8, framealpha=0.9)
        return _png(figure)


def hashprice_png(
    rows: Sequence[DailyRow], usd_per_ph_day: Sequence[float], lang: str, title: str | None = None
) -> bytes:
    """Hashprice in USD per PH/s per day (one value per row)."""
    if len(rows) < 2 or len(usd_per_ph_day) != len(rows):
        raise ValueError("need at least 2 rows and one hashprice per row")
    days = [row.date for row in rows]
    xs, (values,) = _with_gaps(days, usd_per_ph_day)
    with _LOCK:
        figure, axes = _axes(
            lang, days, title or _window(lang, "chart.hashprice_title", days), t(lang, "chart.usd_per_ph_day")
        )
        axes.plot(xs, values, color=HASHPRICE_COLOUR, linewidth=1.6, label=t(lang, "chart.hashprice"))
        axes.fill_between(xs, values, 0, color=HASHPRICE_COLOUR, alpha=0.12, linewidth=0)
        axes.set_ylim(bottom=0)
        axes.legend(loc="upper left", fontsize=8, framealpha=0.9)
        return _png(figure)


def stress_png(
    rows: Sequence[DailyRow], values: Sequence[float], lang: str, title: str | None = None
) -> bytes:
    """The miner-stress index (0-100, one value per row; NaN where it is unknown), capitulation shaded."""
    if len(rows) < 2 or len(values) != len(rows):
        raise ValueError("need at least 2 rows and one index value per row")
    days = [row.date for row in rows]
    xs, (points,) = _with_gaps(days, values)
    with _LOCK:
        figure, axes = _axes(
            lang, days, title or _window(lang, "chart.stress_title", days), t(lang, "chart.stress_axis")
        )
        axes.yaxis.set_major_formatter(_formatter(lambda value, _: fmt.number(value, 0, lang)))
        axes.axhspan(
            0,
            STRESS_CAPITULATION_BELOW,
            color=CAPITULATION_COLOUR,
            alpha=0.12,
            linewidth=0,
            label=t(lang, "chart.stress_capitulation"),
        )
        axes.plot(xs, points, color=STRESS_COLOUR, linewidth=1.6, label=t(lang, "chart.stress"))
        axes.set_ylim(0, 100)
        axes.legend(loc="upper left", fontsize=8, framealpha=0.9)
        return _png(figure)


@dataclass(frozen=True, slots=True)
class LineSeries:
    """One fleet line on the chart: its label, profit per day and breakeven power price per row, and the
    (average) power price it pays."""

    label: str
    profit_usd_per_day: Sequence[float]
    breakeven_usd_per_kwh: Sequence[float]
    power_usd_per_kwh: float


def fleet_png(
    rows: Sequence[DailyRow], lines: Sequence[LineSeries], lang: str, title: str | None = None
) -> bytes:
    """Profit per day of each fleet line (top) and its breakeven power price against the price it pays
    (bottom, dotted): a line is in profit exactly where its breakeven is above its price."""
    if len(rows) < 2 or not lines or any(len(line.profit_usd_per_day) != len(rows) for line in lines):
        raise ValueError("need at least 2 rows, a line, and one value per row")
    days = [row.date for row in rows]
    with _LOCK:
        figure = _figure()
        profit_axes, power_axes = figure.subplots(2, 1, sharex=True, height_ratios=(3, 2))
        profit_axes.set_title(title or _window(lang, "chart.fleet_title", days), fontsize=11)
        _format(profit_axes, lang, days, t(lang, "chart.usd_per_day"))
        _format(power_axes, lang, days, t(lang, "chart.breakeven_axis"))
        power_axes.yaxis.set_major_formatter(_formatter(lambda value, _: fmt.usd(value, 3, lang)))
        profit_axes.axhline(0, color="black", linewidth=0.8)
        for index, line in enumerate(lines):
            colour = LINE_COLOURS[index % len(LINE_COLOURS)]
            xs, (profits, breakevens) = _with_gaps(days, line.profit_usd_per_day, line.breakeven_usd_per_kwh)
            profit_axes.plot(xs, profits, color=colour, linewidth=1.5, label=line.label)
            power_axes.plot(xs, breakevens, color=colour, linewidth=1.3)
            power_axes.axhline(line.power_usd_per_kwh, color=colour, linewidth=1.0, linestyle=":")
        profit_axes.legend(loc="upper left", fontsize=7, framealpha=0.9)
        power_axes.set_ylim(bottom=0)
        return _png(figure)
