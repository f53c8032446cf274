"""Per-hashrate and per-machine mining economics: hashprice, revenue, power cost, profit, breakevens.

Hashprice as Luxor's Hashrate Index defines it (https://hashrateindex.com/blog/what-is-hashprice/);
breakevens follow the Braiins Insights and Hashrate Index conventions. Every input and output carries its
unit in its name.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.economics.network import HASHES_PER_DIFFICULTY, subsidy_sats
from bot.economics.units import (
    HASHES_PER_PH,
    HASHES_PER_TH,
    KWH_PER_J_PER_TH_DAY,
    SATS_PER_BTC,
    SECONDS_PER_DAY,
    require_fraction,
    require_positive,
)

MAX_PLAUSIBLE_PRICE_USD = 10_000_000.0
MAX_PLAUSIBLE_POWER_USD_PER_KWH = 5.0
MAX_PLAUSIBLE_FEES_PER_BLOCK_BTC = 100.0


@dataclass(frozen=True, slots=True)
class MarketInputs:
    """The four numbers that set a miner's revenue: BTC price, difficulty, height and fees per block.

    ``fees_per_block_btc`` is ``None`` when no source knew the fees: the reward is then the subsidy alone,
    and ``fees_known`` lets every reply say so instead of passing it off as a fee-inclusive figure.
    """

    price_usd: float
    difficulty: float
    height: int
    fees_per_block_btc: float | None

    def __post_init__(self) -> None:
        require_positive("price_usd", self.price_usd)
        if self.price_usd > MAX_PLAUSIBLE_PRICE_USD:
            raise ValueError(f"price_usd {self.price_usd!r} is not a plausible BTC price")
        require_positive("difficulty", self.difficulty)
        if self.height < 0:
            raise ValueError(f"height must not be negative, got {self.height!r}")
        fees = self.fees_per_block_btc
        if fees is not None and not 0 <= fees <= MAX_PLAUSIBLE_FEES_PER_BLOCK_BTC:
            raise ValueError(f"fees_per_block_btc {fees!r} is not plausible")

    @property
    def fees_known(self) -> bool:
        return self.fees_per_block_btc is not None

    @property
    def subsidy_btc(self) -> float:
        """Block subsidy at this height, from integer satoshis (``GetBlockSubsidy``)."""
        return subsidy_sats(self.height) / SATS_PER_BTC

    @property
    def block_reward_btc(self) -> float:
        """Subsidy plus average fees per block, ``S + F`` (the subsidy alone while fees are unknown)."""
        return self.subsidy_btc + (self.fees_per_block_btc or 0.0)


@dataclass(frozen=True, slots=True)
class OperatingProfile:
    """How a machine is run: power price, pool fee, uptime and PUE (fractions, not percent)."""

    power_usd_per_kwh: float
    pool_fee_fraction: float = 0.0
    uptime_fraction: float = 1.0
    pue: float = 1.0

    def __post_init__(self) -> None:
        if not 0 <= self.power_usd_per_kwh <= MAX_PLAUSIBLE_POWER_USD_PER_KWH:
            raise ValueError(f"power price {self.power_usd_per_kwh!r} $/kWh is not plausible")
        require_fraction("pool_fee_fraction", self.pool_fee_fraction)
        if self.pool_fee_fraction >= 1:
            raise ValueError("pool_fee_fraction must be below 1")
        require_fraction("uptime_fraction", self.uptime_fraction, allow_zero=False)
        if not 1 <= self.pue <= 3:
            raise ValueError(f"pue must be between 1 and 3, got {self.pue!r}")

    @property
    def revenue_factor(self) -> float:
        """``(1 - f_pool) * u``: the share of a full day's gross revenue a miner keeps."""
        return self.kept_fraction * self.uptime_fraction

    @property
    def kept_fraction(self) -> float:
        """``1 - f_pool``: the share of what the machine mines while it runs that the pool pays out."""
        return 1.0 - self.pool_fee_fraction


def btc_per_th_day(difficulty: float, block_reward_btc: float) -> float:
    """Expected BTC per TH/s per day: ``1e12 * 86400 / (D * 2^32) * reward``
    (https://hashrateindex.com/blog/what-is-hashprice/)."""
    return HASHES_PER_TH * SECONDS_PER_DAY / (difficulty * HASHES_PER_DIFFICULTY) * block_reward_btc


def hashvalue_btc_per_th_day(market: MarketInputs) -> float:
    """Expected BTC per TH/s per day at the market's block reward ``S + F``."""
    return btc_per_th_day(market.difficulty, market.block_reward_btc)


def hashprice_usd_per_th_day(market: MarketInputs) -> float:
    """Hashprice in USD per TH/s per day: hashvalue times price (Braiins ``hash_price`` unit)."""
    return hashvalue_btc_per_th_day(market) * market.price_usd


def hashprice_usd_per_ph_day(market: MarketInputs) -> float:
    """Hashprice in USD per PH/s per day (Luxor Hashrate Index unit,
    https://hashrateindex.com/blog/what-is-hashprice/).

    At D = 125.86e12, P = $66,680, S = 3.125, F = 0 this is $33.31/PH/day.
    """
    return hashprice_usd_per_th_day(market) * HASHES_PER_PH / HASHES_PER_TH


def hashprice_sats_per_th_day(market: MarketInputs) -> float:
    """Hashvalue in satoshis per TH/s per day (Braiins ``hash_value`` in sats)."""
    return hashvalue_btc_per_th_day(market) * SATS_PER_BTC


def kwh_per_day(hashrate_ths: float, j_per_th: float) -> float:
    """Energy a machine draws per day: ``h_TH * E * 0.024`` kWh."""
    require_positive("hashrate_ths", hashrate_ths)
    require_positive("j_per_th", j_per_th)
    return hashrate_ths * j_per_th * KWH_PER_J_PER_TH_DAY


@dataclass(frozen=True, slots=True)
class MachineDay:
    """One machine's day: BTC and USD earned, power bought (``kwh_per_day`` at the meter, uptime included,
    PUE not), profit, and the three breakevens."""

    btc_per_day: float
    revenue_usd_per_day: float
    kwh_per_day: float
    power_cost_usd_per_day: float
    profit_usd_per_day: float
    breakeven_power_usd_per_kwh: float
    breakeven_price_usd: float
    breakeven_j_per_th: float

    @property
    def margin_fraction(self) -> float:
        """Profit as a share of revenue (negative when the machine loses money)."""
        return self.profit_usd_per_day / self.revenue_usd_per_day


def machine_day(
    market: MarketInputs, profile: OperatingProfile, hashrate_ths: float, j_per_th: float
) -> MachineDay:
    """Revenue, power cost, profit and breakevens of one machine for one day (as Braiins' profitability
    calculator, https://insights.braiins.com/en/profitability-calculator/).

    Revenue ``= h_TH * hashvalue * (1 - f_pool) * u * P``; power ``= h_TH * E * 0.024 * u * PUE * c``.
    Uptime scales power as well as revenue: a machine that is off or curtailed mines nothing and burns
    nothing, so uptime cancels out of every breakeven (they are those of the hours it runs).
    """
    btc_per_day = hashrate_ths * hashvalue_btc_per_th_day(market) * profile.revenue_factor
    revenue_usd = btc_per_day * market.price_usd
    energy_kwh = kwh_per_day(hashrate_ths, j_per_th) * profile.uptime_fraction
    power_cost_usd = energy_kwh * profile.pue * profile.power_usd_per_kwh
    return MachineDay(
        btc_per_day=btc_per_day,
        revenue_usd_per_day=revenue_usd,
        kwh_per_day=energy_kwh,
        power_cost_usd_per_day=power_cost_usd,
        profit_usd_per_day=revenue_usd - power_cost_usd,
        breakeven_power_usd_per_kwh=breakeven_power_usd_per_kwh(market, profile, j_per_th),
        breakeven_price_usd=breakeven_price_usd(market, profile, j_per_th),
        breakeven_j_per_th=breakeven_j_per_th(market, profile),
    )


def breakeven_power_usd_per_kwh(market: MarketInputs, profile: OperatingProfile, j_per_th: float) -> float:
    """Power price at which profit is zero: ``hashprice_TH * (1-f) / (E * 0.024 * PUE)`` (uptime cancels).

    S19 (34.2 J/TH) at D = 125.86e12, P = $66,680, F = 0: $0.0406/kWh.
    """
    require_positive("j_per_th", j_per_th)
    revenue_usd_per_th_day = hashprice_usd_per_th_day(market) * profile.kept_fraction
    return revenue_usd_per_th_day / (j_per_th * KWH_PER_J_PER_TH_DAY * profile.pue)


def breakeven_price_usd(market: MarketInputs, profile: OperatingProfile, j_per_th: float) -> float:
    """BTC price at which profit is zero at the profile's power price.

    ``E * 0.024 * PUE * c / (1e12 * 86400 / (D * 2^32) * (S + F) * (1-f))`` (uptime cancels); S19 at
    $0.05: $82,166.
    """
    require_positive("j_per_th", j_per_th)
    cost_usd_per_th_day = j_per_th * KWH_PER_J_PER_TH_DAY * profile.pue * profile.power_usd_per_kwh
    return cost_usd_per_th_day / (hashvalue_btc_per_th_day(market) * profile.kept_fraction)


def breakeven_j_per_th(market: MarketInputs, profile: OperatingProfile) -> float:
    """Least efficient machine that still breaks even: ``hashprice_TH * (1-f) / (0.024 * c * PUE)``.

    Hashrate Index "breakeven efficiency threshold"; infinite when power is free.
    """
    if profile.power_usd_per_kwh == 0:
        return float("inf")
    revenue_usd_per_th_day = hashprice_usd_per_th_day(market) * profile.kept_fraction
    return revenue_usd_per_th_day / (KWH_PER_J_PER_TH_DAY * profile.power_usd_per_kwh * profile.pue)
