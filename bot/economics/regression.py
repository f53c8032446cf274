"""Difficulty-regression production-cost model (reference/economics.md §2.9 option B, Checkonchain-style).

Model: ``ln(price_usd) = a + b · ln(difficulty / subsidy_btc)``, fitted by ordinary least squares on daily
rows from 2020-01-01 to the end of the shipped history. Difficulty divided by the subsidy is proportional to
the hashes (hence energy) spent per BTC issued, so the cost of producing one BTC scales with it and the fit
survives halvings: a halving doubles the x-value overnight instead of breaking the series. The subsidy in
force each day comes from ``history.subsidy_btc_on`` (halving dates 2020-05-11 and 2024-04-20 mapped to
heights 630,000 / 840,000 and ``network.subsidy_sats``). The fitted price is read as the market's implied
all-in production cost; it is a proxy, not a bottom-up cost.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from bot.economics.history import DailyRow, subsidy_btc_on
from bot.economics.units import require_positive

FIT_START_DATE = date(2020, 1, 1)


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
    """A fitted difficulty regression: ``cost_usd_per_btc = e^a · (difficulty / subsidy_btc)^b``."""

    a: float
    b: float
    r2: float
    n: int
    start_date: date
    end_date: date
    residual_std: float
    """Std of ``ln(price) - fit`` over the window; ``e^±residual_std`` gives a ±1σ band."""


def difficulty_regression_cost_usd_per_btc(
    difficulty: float, subsidy_btc: float, model: DifficultyRegression
) -> float:
    """Implied production cost per BTC: ``exp(a + b · ln(difficulty / subsidy_btc))`` (§2.9 option B)."""
    require_positive("difficulty", difficulty)
    require_positive("subsidy_btc", subsidy_btc)
    return math.exp(model.a + model.b * math.log(difficulty / subsidy_btc))


def fit_difficulty_regression(
    rows: Sequence[DailyRow], start_date: date = FIT_START_DATE, end_date: date | None = None
) -> DifficultyRegression:
    """Fit the model on the rows dated ``start_date`` .. ``end_date`` (inclusive; default: the last row)."""
    window = [row for row in rows if row.date >= start_date and (end_date is None or row.date <= end_date)]
    if not window:
        raise ValueError(f"no rows from {start_date} to {end_date or 'the end'}")
    fit = fit_power_law(
        [row.difficulty / subsidy_btc_on(row.date) for row in window], [row.price_usd for row in window]
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
        "model": "ln(price_usd) = a + b * ln(difficulty / subsidy_btc)",
        "method": "OLS on daily rows; subsidy from halving dates 2020-05-11 and 2024-04-20",
        "reference": "reference/economics.md §2.9 option B (Checkonchain-style difficulty regression)",
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
