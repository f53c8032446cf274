"""Difficulty Regression Model: Checkonchain's estimate of Bitcoin's all-in production cost.

Model (Checkonchain / Glassnode, "Difficulty Regression Model",
https://studio.glassnode.com/charts/c27227f4-506f-4bde-49b4-1e0d80150dd1 and
https://charts.checkonchain.com, "Difficulty Regression Model (Estimated Avg Cost of Production)")::

    ln(market_cap_usd) = A + B · ln(difficulty)          (ordinary least squares, daily rows)
    cost_usd_per_btc   = exp(A + B · ln(difficulty)) / circulating_supply_btc

``difficulty`` is the conventional one (Glassnode publishes raw hashes and divides by ``C = 2^32``). There
is no subsidy term: a halving leaves the cost unchanged (the supply moves by one day's issuance, < 0.003 %),
and a retarget by a factor ``r`` moves it by ``r^B``. Glassnode's published 2022 constants (daily data up to
2022-09-14, r² 0.944) are A = 10.2560, B = 0.5250; our rows over the same window (2010-07-17 .. 2022-09-14)
give A = 10.2516, B = 0.5252, r² 0.9439, which checks the history and the method.

The shipped fit (``bot/data/difficulty_regression.json``, written by ``scripts/build_history.py``) starts
at ``FIT_START_DATE`` = 2015-01-01, the ASIC era. Calibration against the values the model's authors and
the press published (Checkonchain in Dec 2025, "model near $92,300" at difficulty 148.20 T; the "$87k"
quoted on 2026-02-05 at 141.67 T; about $79k after the −11.16 % retarget to 125.86 T; the April 2025
bounce "precisely at the model" near $76k): the 2015 start lands 5.4 %, 3.0 %, 2.7 % under the first
three and 0.8 % under the fourth, with B = 0.772 (a −11.16 % retarget moves the cost −8.7 %). A fit
on the full history from 2010-07-17 reads $46k at 141.67 T (47 % under the published $87k, B = 0.538):
the early GPU/FPGA years flatten the slope the authors' current figures show.
Figures for the shipped fit (n, r², residual std) are in the JSON and ``bot/data/PROVENANCE.md``.

How sure: the daily residual std (≈ 0.50 in ln, a ×/÷ 1.6 band) is how far price strays from the cost, not
the uncertainty of the cost line. Rows inside one 2016-block epoch share a difficulty, so the line rests
on about ``n / 14`` independent points; its standard error ``residual_std / sqrt(n / 14)`` (≈ 3 %) sets the
significant digits the cost is printed with (``DifficultyRegression.significant_digits``: 2, "$87k").
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from bot.economics.history import DailyRow, supply_btc_at_end_of
from bot.economics.units import require_positive

FIT_START_DATE = date(2015, 1, 1)
DAYS_PER_EPOCH = 14
"""A 2016-block difficulty epoch at the 600 s target: daily rows within it share their difficulty."""


@dataclass(frozen=True, slots=True)
class PowerLawFit:
    """OLS fit of ``ln y = a + b · ln x`` (i.e. ``y = e^a · x^b``)."""

    a: float
    b: float
    r2: float
    """Coefficient of determination in log space."""
    n: int
    residual_std: float
    """Standard deviation of the log residuals, ``n - 2`` degrees of freedom."""


def fit_power_law(xs: Sequence[float], ys: Sequence[float]) -> PowerLawFit:
    """Least-squares power law through positive ``(x, y)`` pairs, fitted in log-log space."""
    if len(xs) != len(ys):
        raise ValueError(f"xs and ys differ in length: {len(xs)} != {len(ys)}")
    if len(xs) < 3:
        raise ValueError(f"need at least 3 points to fit a power law, got {len(xs)}")
    log_xs = [math.log(require_positive("x", x)) for x in xs]
    log_ys = [math.log(require_positive("y", y)) for y in ys]
    n = len(log_xs)
    mean_x = math.fsum(log_xs) / n
    mean_y = math.fsum(log_ys) / n
    sxx = math.fsum((x - mean_x) ** 2 for x in log_xs)
    if sxx == 0:
        raise ValueError("all x values are equal: the slope is undefined")
    sxy = math.fsum((x - mean_x) * (y - mean_y) for x, y in zip(log_xs, log_ys, strict=True))
    syy = math.fsum((y - mean_y) ** 2 for y in log_ys)
    b = sxy / sxx
    a = mean_y - b * mean_x
    sse = math.fsum((y - a - b * x) ** 2 for x, y in zip(log_xs, log_ys, strict=True))
    r2 = 1.0 - sse / syy if syy > 0 else 1.0
    return PowerLawFit(a=a, b=b, r2=r2, n=n, residual_std=math.sqrt(sse / (n - 2)))


@dataclass(frozen=True, slots=True)
class DifficultyRegression:
    """A fitted difficulty regression: ``market_cap_usd = e^a · difficulty^b``."""

    a: float
    b: float
    r2: float
    n: int
    start_date: date
    end_date: date
    residual_std: float
    """Std of ``ln(market cap) - fit`` over the window; ``e^±residual_std`` is the ±1σ band of price."""

    @property
    def line_standard_error(self) -> float:
        """Relative standard error of the line: ``residual_std / sqrt(n / 14)`` (one point per epoch)."""
        return self.residual_std / math.sqrt(max(1.0, self.n / DAYS_PER_EPOCH))

    @property
    def significant_digits(self) -> int:
        """Digits the cost is known to: ``floor(-log10(line_standard_error)) + 1``, at least 1.

        A 3 % standard error gives 2 ("$87k"): the second digit is a 1-10 % step, the third a 0.1-1 % one
        the fit cannot resolve.
        """
        return max(1, math.floor(-math.log10(self.line_standard_error)) + 1)


def difficulty_regression_cost_usd_per_btc(
    difficulty: float, supply_btc: float, model: DifficultyRegression
) -> float:
    """Modelled production cost per BTC: ``exp(a + b · ln(difficulty)) / supply_btc``."""
    require_positive("difficulty", difficulty)
    require_positive("supply_btc", supply_btc)
    return math.exp(model.a + model.b * math.log(difficulty)) / supply_btc


def difficulty_multiple(price_usd: float, cost_usd_per_btc: float) -> float:
    """Glassnode's Difficulty Multiple: price ÷ modelled production cost (1 = at cost, < 1 below it)."""
    require_positive("price_usd", price_usd)
    return price_usd / require_positive("cost_usd_per_btc", cost_usd_per_btc)


def fit_difficulty_regression(
    rows: Sequence[DailyRow], start_date: date = FIT_START_DATE, end_date: date | None = None
) -> DifficultyRegression:
    """Fit ``ln(price · supply) = a + b · ln(difficulty)`` on the rows dated ``start_date`` .. ``end_date``
    (inclusive; default: the last row); the supply is the one after each day's last block."""
    window = [row for row in rows if row.date >= start_date and (end_date is None or row.date <= end_date)]
    if not window:
        raise ValueError(f"no rows from {start_date} to {end_date or 'the end'}")
    fit = fit_power_law(
        [row.difficulty for row in window], [row.price_usd * supply_btc_at_end_of(row) for row in window]
    )
    return DifficultyRegression(
        a=fit.a,
        b=fit.b,
        r2=fit.r2,
        n=fit.n,
        start_date=min(row.date for row in window),
        end_date=max(row.date for row in window),
        residual_std=fit.residual_std,
    )


def difficulty_regression_to_json(model: DifficultyRegression, source: str) -> str:
    """Serialise a fit with its metadata (floats round-trip exactly through ``repr``)."""
    document = {
        "model": "ln(market_cap_usd) = a + b * ln(difficulty); cost_usd_per_btc = market cap / supply_btc",
        "method": "OLS on daily rows; supply from each day's block height (integer-satoshi subsidies)",
        "reference": "Checkonchain / Glassnode Difficulty Regression Model "
        "(https://studio.glassnode.com/charts/c27227f4-506f-4bde-49b4-1e0d80150dd1)",
        "source": source,
        "a": model.a,
        "b": model.b,
        "r2": model.r2,
        "n": model.n,
        "start_date": model.start_date.isoformat(),
        "end_date": model.end_date.isoformat(),
        "residual_std": model.residual_std,
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def difficulty_regression_from_json(text: str) -> DifficultyRegression:
    """Parse the document written by ``difficulty_regression_to_json``; raises ``ValueError`` if malformed."""
    try:
        document = json.loads(text)
        return DifficultyRegression(
            a=float(document["a"]),
            b=float(document["b"]),
            r2=float(document["r2"]),
            n=int(document["n"]),
            start_date=date.fromisoformat(document["start_date"]),
            end_date=date.fromisoformat(document["end_date"]),
            residual_std=float(document["residual_std"]),
        )
    except (KeyError, TypeError, json.JSONDecodeError) as error:
        raise ValueError(f"malformed difficulty regression document: {error!r}") from error
