"""Charts (bot.render.charts) are real PNGs of the documented size with content; /chart's arguments."""

from __future__ import annotations

import io
import math
import struct
import zlib
from datetime import date, timedelta

import numpy as np
import pytest
from matplotlib.image import imread

from bot.economics.history import DailyRow
from bot.economics.stress import daily_hashprice_usd_per_ph_day
from bot.render.charts import (
    HEIGHT_PX,
    LINE_COLOURS,
    WIDTH_PX,
    LineSeries,
    _with_gaps,
    fleet_png,
    hashprice_png,
    price_vs_cost_png,
    stress_png,
)
from handlers.chart import parse_chart_args

START = date(2025, 1, 1)


def rows(prices: list[float]) -> list[DailyRow]:
    return [DailyRow(START + timedelta(days=i), p, 110e12, None, None) for i, p in enumerate(prices)]


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, after checking the signature and the chunk's CRC."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", png[8:16])
    assert kind == b"IHDR" and length == 13
    assert struct.unpack(">I", png[29:33])[0] == zlib.crc32(png[12:29])
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(imread(io.BytesIO(png), format="png"))


def shaded_pixels(png: bytes) -> int:
    """Pixels of the capitulation fill (#d62828 at 25 % over white is about (245, 201, 201))."""
    rgb = (pixels(png)[:, :, :3] * 255).astype(int)
    red, green, blue = rgb[:, :, 0], rgb[:, :, 1], rgb[:, :, 2]
    return int(np.sum((red > 235) & (abs(green - 201) < 12) & (abs(blue - 201) < 12)))


PRICES = [60_000 + 8_000 * math.sin(i / 9) for i in range(120)]


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_price_vs_cost_is_a_png_of_the_documented_size(lang: str) -> None:
    png = price_vs_cost_png(rows(PRICES), [62_000.0] * len(PRICES), lang)
    assert png_size(png) == (WIDTH_PX, HEIGHT_PX) == (1200, 675)
    image = pixels(png)
    assert image.shape[:2] == (675, 1200)
    assert len(np.unique(image.reshape(-1, image.shape[2]), axis=0)) > 50


def test_capitulation_is_shaded_only_where_price_is_below_cost() -> None:
    below = price_vs_cost_png(rows(PRICES), [62_000.0] * len(PRICES), "en")
    above = price_vs_cost_png(rows(PRICES), [40_000.0] * len(PRICES), "en")
    assert shaded_pixels(below) > 20_000
    assert shaded_pixels(above) < 1_000  # the legend's swatch only


def test_hashprice_chart() -> None:
    history = rows(PRICES)
    png = hashprice_png(history, [daily_hashprice_usd_per_ph_day(row) for row in history], "ru")
    assert png_size(png) == (1200, 675)
    assert len(np.unique(pixels(png).reshape(-1, 4), axis=0)) > 50


def stress_line_rows(png: bytes) -> np.ndarray:
    """Image rows holding pixels of the index line (#6a4c93)."""
    rgb = (pixels(png)[:, :, :3] * 255).astype(int)
    line = (abs(rgb[:, :, 0] - 106) < 20) & (abs(rgb[:, :, 1] - 76) < 20) & (abs(rgb[:, :, 2] - 147) < 20)
    return np.nonzero(line.sum(axis=1) > 100)[0]


def test_stress_chart_draws_the_index_on_a_0_to_100_scale() -> None:
    history = rows(PRICES)
    low = stress_png(history, [10.0] * len(history), "en")
    high = stress_png(history, [90.0] * len(history), "ru")
    assert png_size(low) == png_size(high) == (1200, 675)
    # y grows upwards: a reading of 10 sits low in the image (large row numbers), 90 near the top
    assert stress_line_rows(low).min() > stress_line_rows(high).max() + 300
    unknown = stress_png(history, [math.nan] * 60 + [20.0] * 60, "en")  # no index yet: no line there
    assert png_size(unknown) == (1200, 675)
    with pytest.raises(ValueError):
        stress_png(history, [10.0], "en")


def test_a_gap_in_the_days_breaks_the_line() -> None:
    days = [START, START + timedelta(days=1), START + timedelta(days=5)]
    xs, (values,) = _with_gaps(days, [1.0, 2.0, 3.0])
    assert xs == [days[0].toordinal(), days[1].toordinal(), days[1].toordinal() + 1, days[2].toordinal()]
    assert values[:2] == [1.0, 2.0] and math.isnan(values[2]) and values[3] == 3.0


def test_fewer_than_two_days_is_refused() -> None:
    with pytest.raises(ValueError):
        price_vs_cost_png(rows([60_000.0]), [50_000.0], "en")
    with pytest.raises(ValueError):
        hashprice_png(rows([60_000.0, 61_000.0]), [40.0], "en")


def test_daily_hashprice_matches_the_reference_figure() -> None:
    day = DailyRow(date(2025, 6, 1), 66_680.0, 125.86e12, None, None)
    assert daily_hashprice_usd_per_ph_day(day) == pytest.approx(33.31, abs=0.01)


@pytest.mark.parametrize(
    ("args", "parsed"),
    [
        ("", (90, "price")),
        ("30d", (30, "price")),
        ("1y", (365, "price")),
        ("hashprice 90d", (90, "hashprice")),
        ("2W PRICE", (14, "price")),
        ("6m hashprice", (180, "hashprice")),
    ],
)
def test_chart_arguments(args: str, parsed: tuple[int, str]) -> None:
    assert parse_chart_args(args) == parsed


@pytest.mark.parametrize("args", ["2x", "price volume", "0d", "11y", "1d"])
def test_bad_chart_arguments(args: str) -> None:
    with pytest.raises(ValueError):
        parse_chart_args(args)


def colour_pixels(png: bytes, colour: str) -> int:
    """Pixels within a small distance of ``colour`` (``#rrggbb``)."""
    rgb = (pixels(png)[:, :, :3] * 255).astype(int)
    target = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)])
    return int(np.sum(np.abs(rgb - target).sum(axis=2) < 30))


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_the_fleet_chart_draws_each_line_and_its_breakeven(lang: str) -> None:
    days = rows(PRICES)
    first = LineSeries("#1 40× S19j Pro", [p / 1000 - 62 for p in PRICES], [p / 1.3e6 for p in PRICES], 0.05)
    second = LineSeries("#2 20× S21 Pro", [p / 2000 for p in PRICES], [p / 7e5 for p in PRICES], 0.045)
    png = fleet_png(days, [first, second], lang)
    assert png_size(png) == (WIDTH_PX, HEIGHT_PX)
    assert colour_pixels(png, LINE_COLOURS[0]) > 300 and colour_pixels(png, LINE_COLOURS[1]) > 300
    only_first = fleet_png(days, [first], lang)
    assert colour_pixels(only_first, LINE_COLOURS[1]) < 50
    with pytest.raises(ValueError):
        fleet_png(days[:1], [first], lang)
