"""Network cost of producing one BTC, under two labelled models.

* ``bottom-up``: energy per BTC from difficulty and an assumed fleet efficiency, times an assumed power
  price, divided by electricity's share of cash cost (trilogik.net methodology; Capriole's "Bitcoin
  Production Cost" uses the same electricity-to-total ratio). Energy per BTC doubles at a halving, and so
  does this cost.
* ``difficulty-regression``: Checkonchain's Difficulty Regression Model, market cap on difficulty divided
  by the circulating supply, fitted on the shipped history (``bot.economics.regression``); no halving step.

Each estimate carries the significant digits it is known to, which is how it is printed.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.economics.mining import MarketInputs
from bot.economics.network import HASHES_PER_DIFFICULTY, circulating_supply_sats
from bot.economics.regression import DifficultyRegression, difficulty_regression_cost_usd_per_btc
from bot.economics.units import (
    HASHES_PER_TH,
    KWH_PER_J_PER_TH_DAY,
    SATS_PER_BTC,
    SECONDS_PER_DAY,
    require_positive,
)

BOTTOM_UP = "bottom-up"
DIFFICULTY_REGRESSION = "difficulty-regression"
BOTTOM_UP_SIGNIFICANT_DIGITS = 2
"""The bottom-up inputs (20 J/TH, $0.06/kWh, 80 %) are stated to one or two significant figures."""


@dataclass(frozen=True, slots=True)
class BottomUpAssumptions:
    """Fleet assumptions of the bottom-up model; defaults (CBECI-like,
    https://ccaf.io/cbnsi/cbeci/methodology: 20 J/TH incl. PUE,
    $0.06/kWh, electricity 80 % of cash cost as in Capriole's model)."""

    fleet_j_per_th: float = 20.0
    power_usd_per_kwh: float = 0.06
    electricity_share_of_cash_cost: float = 0.8

    def __post_init__(self) -> None:
        require_positive("fleet_j_per_th", self.fleet_j_per_th)
        require_positive("power_usd_per_kwh", self.power_usd_per_kwh)
        if not 0 < self.electricity_share_of_cash_cost <= 1:
            raise ValueError("electricity_share_of_cash_cost must be in (0, 1]")

    def describe(self) -> str:
        share_pct = self.electricity_share_of_cash_cost * 100
        return (
            f"fleet {self.fleet_j_per_th:g} J/TH, ${self.power_usd_per_kwh:g}/kWh, "
            f"electricity {share_pct:g}% of cash cost"
        )


@dataclass(frozen=True, slots=True)
class ProductionCost:
    """A production-cost estimate with the model that made it and its assumptions spelled out."""

    model: str
    usd_per_btc: float
    assumptions: str
    significant_digits: int
    """Significant digits of ``usd_per_btc`` the model supports (``regression.significant_digits``)."""
    electricity_usd_per_btc: float | None = None

    def premium_fraction(self, price_usd: float) -> float:
        """Price over cost minus one: negative means BTC trades below the cost to produce it."""
        return price_usd / self.usd_per_btc - 1.0


def energy_kwh_per_btc(market: MarketInputs, j_per_th: float) -> float:
    """Energy spent per BTC mined by a fleet of efficiency ``E``: ``E * D * 2^32 / (1e12 * (S+F))`` J.

    This is the bottom-up ``H_TH * E * 0.024 / BTC_per_day`` with ``BTC_per_day = 86400 * H / (D * 2^32)
    * (S+F)``:
    the hashrate cancels, so the noisy realised hashrate is not needed (trilogik.net). At D = 141.66e12
    (1,014 EH/s implied), F = 0.016 BTC, 20 J/TH and $0.05/kWh this is $53,805 per BTC.
    """
    require_positive("j_per_th", j_per_th)
    terahashes_per_btc = market.difficulty * HASHES_PER_DIFFICULTY / HASHES_PER_TH / market.block_reward_btc
    return terahashes_per_btc * j_per_th * KWH_PER_J_PER_TH_DAY / SECONDS_PER_DAY


def bottom_up_cost(market: MarketInputs, assumptions: BottomUpAssumptions) -> ProductionCost:
    """Cash cost per BTC: electricity per BTC divided by electricity's share of cash cost."""
    electricity_usd = energy_kwh_per_btc(market, assumptions.fleet_j_per_th) * assumptions.power_usd_per_kwh
    return ProductionCost(
        model=BOTTOM_UP,
        usd_per_btc=electricity_usd / assumptions.electricity_share_of_cash_cost,
        assumptions=assumptions.describe(),
        significant_digits=BOTTOM_UP_SIGNIFICANT_DIGITS,
        electricity_usd_per_btc=electricity_usd,
    )


def regression_cost(market: MarketInputs, model: DifficultyRegression) -> ProductionCost:
    """Difficulty Regression Model: ``exp(a + b · ln D) / supply``, supply exact from the tip height."""
    supply_btc = circulating_supply_sats(market.height) / SATS_PER_BTC
    return ProductionCost(
        model=DIFFICULTY_REGRESSION,
        usd_per_btc=difficulty_regression_cost_usd_per_btc(market.difficulty, supply_btc, model),
        assumptions=(
            f"market cap ~ difficulty^{model.b:.3f} / supply, fitted {model.start_date}..{model.end_date} "
            f"(n={model.n}, r²={model.r2:.2f})"
        ),
        significant_digits=model.significant_digits,
    )
