"""Pure report builders: the numbers behind ``status``, ``breakeven``, ``margin``, ``cost`` and ``machines``.

Each returns a ``Report``: rows for a human table and a JSON-ready dict whose keys carry their units.
No I/O here; the CLI and the chat handlers both render these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.economics.machines import Machine, list_machines
from bot.economics.mining import (
    OperatingProfile,
    hashprice_sats_per_th_day,
    hashprice_usd_per_ph_day,
    machine_day,
)
from bot.economics.network import implied_hashrate_hs
from bot.economics.production_cost import BottomUpAssumptions, ProductionCost, bottom_up_cost, regression_cost
from bot.economics.regression import DifficultyRegression
from bot.economics.units import HASHES_PER_EH, HASHES_PER_PH, HASHES_PER_TH
from bot.market import MarketView
from bot.render import numbers as fmt

Row = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Report:
    """A titled table for people and the same figures as a dict for machines."""

    title: str
    rows: list[Row]
    data: dict[str, Any] = field(default_factory=dict)


def _inputs_data(view: MarketView) -> dict[str, Any]:
    market = view.market
    return {
        "price_usd": market.price_usd,
        "difficulty": market.difficulty,
        "height": market.height,
        "fees_per_block_btc": market.fees_per_block_btc,
        "subsidy_btc": market.subsidy_btc,
        "overridden": list(view.overridden),
    }


def _provenance(view: MarketView, now: datetime) -> tuple[list[Row], dict[str, Any]]:
    answered = [o.source for o in view.outcomes if o.ok and not o.dropped]
    failed = [f"{o.source} ({o.error or o.dropped})" for o in view.outcomes if not o.ok or o.dropped]
    age_s = max(0.0, (now - view.as_of).total_seconds())
    rows: list[Row] = []
    if view.outcomes:
        rows.append(("Data age", fmt.duration(now - view.as_of)))
        rows.append(("Sources", ", ".join(answered) or "none"))
        if failed:
            rows.append(("Unavailable", "; ".join(failed)))
    if view.overridden:
        rows.append(("What-if", ", ".join(view.overridden)))
    data = {
        "as_of": view.as_of.isoformat(),
        "data_age_s": round(age_s, 1),
        "sources": [
            {
                "source": o.source,
                "ok": o.ok,
                "fetched_at": o.fetched_at.isoformat(),
                "error": o.error,
                "dropped": o.dropped,
                "value": o.value,
            }
            for o in view.outcomes
        ],
    }
    return rows, data


def _cost_rows(costs: list[ProductionCost], price_usd: float) -> list[Row]:
    rows: list[Row] = []
    for cost in costs:
        premium = cost.premium_fraction(price_usd)
        word = "premium" if premium >= 0 else "discount"
        rows.append(
            (f"Cost/BTC ({cost.model})", f"{fmt.usd(cost.usd_per_btc)}  price {fmt.percent(premium)} {word}")
        )
        rows.append(("  assumptions", cost.assumptions))
    return rows


def production_costs(
    view: MarketView, assumptions: BottomUpAssumptions, regression: DifficultyRegression
) -> list[ProductionCost]:
    """Both labelled production-cost models at this market."""
    return [bottom_up_cost(view.market, assumptions), regression_cost(view.market, regression)]


def _costs_data(costs: list[ProductionCost], price_usd: float) -> list[dict[str, Any]]:
    return [
        {
            "model": c.model,
            "usd_per_btc": c.usd_per_btc,
            "electricity_usd_per_btc": c.electricity_usd_per_btc,
            "premium_pct": c.premium_fraction(price_usd) * 100,
            "assumptions": c.assumptions,
        }
        for c in costs
    ]


def status_report(
    view: MarketView, assumptions: BottomUpAssumptions, regression: DifficultyRegression, now: datetime
) -> Report:
    """Price, difficulty, hashrate, fees, hashprice, production cost, next adjustment, age and sources."""
    market = view.market
    hashrate_hs = view.hashrate_hs or implied_hashrate_hs(market.difficulty)
    hashrate_label = "Hashrate" if view.hashrate_hs else "Hashrate (implied)"
    costs = production_costs(view, assumptions, regression)
    rows: list[Row] = [
        ("BTC price", fmt.usd(market.price_usd)),
        ("Difficulty", fmt.big(market.difficulty)),
        ("Height", f"{market.height:,}"),
        (hashrate_label, f"{hashrate_hs / HASHES_PER_EH:,.1f} EH/s"),
        ("Fees per block", f"{market.fees_per_block_btc:.4f} BTC (subsidy {market.subsidy_btc:g})"),
        (
            "Hashprice",
            f"{fmt.usd(hashprice_usd_per_ph_day(market), 2)}/PH/day  "
            f"{hashprice_sats_per_th_day(market):.1f} sats/TH/day",
        ),
        *_cost_rows(costs, market.price_usd),
    ]
    adjustment_data: dict[str, Any] | None = None
    if view.adjustment:
        adj = view.adjustment
        eta = adj.estimated_retarget_at
        eta_text = f", ETA {eta:%Y-%m-%d %H:%M} UTC" if eta else ""
        if eta and eta > now:
            eta_text += f" (in {fmt.duration(eta - now)})"
        rows.append(
            (
                "Next adjustment",
                f"{adj.difficulty_change_pct:+.2f}% at block {adj.next_retarget_height:,} "
                f"({adj.remaining_blocks:,} blocks{eta_text})",
            )
        )
        adjustment_data = {
            "difficulty_change_pct": adj.difficulty_change_pct,
            "next_retarget_height": adj.next_retarget_height,
            "remaining_blocks": adj.remaining_blocks,
            "progress_pct": adj.progress_pct,
            "estimated_retarget_at": eta.isoformat() if eta else None,
            "previous_retarget_pct": adj.previous_retarget_pct,
        }
    else:
        rows.append(("Next adjustment", "n/a (no epoch data from the sources)"))
    provenance_rows, provenance = _provenance(view, now)
    rows.extend(provenance_rows)
    data = {
        "inputs": _inputs_data(view),
        "hashrate_ehs": hashrate_hs / HASHES_PER_EH,
        "hashrate_is_implied": view.hashrate_hs is None,
        "hashprice_usd_per_ph_day": hashprice_usd_per_ph_day(market),
        "hashprice_sats_per_th_day": hashprice_sats_per_th_day(market),
        "production_cost": _costs_data(costs, market.price_usd),
        "next_adjustment": adjustment_data,
        **provenance,
    }
    return Report("Bitcoin mining status", rows, data)


def _machine_label(machine: Machine) -> str:
    if machine.hashrate_ths is None:
        return f"{machine.name} ({machine.j_per_th:g} J/TH)"
    return f"{machine.name} ({machine.hashrate_ths:g} TH/s, {machine.j_per_th:.1f} J/TH)"


def breakeven_report(view: MarketView, machine: Machine, profile: OperatingProfile, now: datetime) -> Report:
    """Breakeven power price, BTC price (at the profile's power price) and efficiency for one machine."""
    market = view.market
    day = machine_day(market, profile, machine.hashrate_ths or 1.0, machine.j_per_th)
    rows: list[Row] = [
        ("Machine", _machine_label(machine)),
        (
            "Hashprice",
            f"{fmt.usd(hashprice_usd_per_ph_day(market), 2)}/PH/day at {fmt.usd(market.price_usd)}",
        ),
        ("Breakeven power", fmt.usd_per_kwh(day.breakeven_power_usd_per_kwh)),
        (
            f"Breakeven BTC price @ {fmt.usd_per_kwh(profile.power_usd_per_kwh)}",
            fmt.usd(day.breakeven_price_usd),
        ),
        (
            f"Breakeven efficiency @ {fmt.usd_per_kwh(profile.power_usd_per_kwh)}",
            f"{day.breakeven_j_per_th:.1f} J/TH",
        ),
        ("Profile", _profile_text(profile)),
    ]
    provenance_rows, provenance = _provenance(view, now)
    rows.extend(provenance_rows)
    data = {
        "machine": machine.name,
        "j_per_th": machine.j_per_th,
        "hashrate_ths": machine.hashrate_ths,
        "power_usd_per_kwh": profile.power_usd_per_kwh,
        "hashprice_usd_per_ph_day": hashprice_usd_per_ph_day(market),
        "hashprice_sats_per_th_day": hashprice_sats_per_th_day(market),
        "breakeven_power_usd_per_kwh": day.breakeven_power_usd_per_kwh,
        "breakeven_price_usd": day.breakeven_price_usd,
        "breakeven_j_per_th": day.breakeven_j_per_th,
        "profile": _profile_data(profile),
        "inputs": _inputs_data(view),
        **provenance,
    }
    return Report(f"Breakeven: {machine.name}", rows, data)


def _profile_text(profile: OperatingProfile) -> str:
    return (
        f"pool fee {profile.pool_fee_fraction * 100:g}%, uptime {profile.uptime_fraction * 100:g}%, "
        f"PUE {profile.pue:g}"
    )


def _profile_data(profile: OperatingProfile) -> dict[str, float]:
    return {
        "power_usd_per_kwh": profile.power_usd_per_kwh,
        "pool_fee_pct": profile.pool_fee_fraction * 100,
        "uptime_pct": profile.uptime_fraction * 100,
        "pue": profile.pue,
    }


def margin_report(
    view: MarketView, machine: Machine, profile: OperatingProfile, count: int, now: datetime
) -> Report:
    """Revenue, power cost and profit per day (and per 30 days) for ``count`` machines.

    A machine known only by its efficiency is costed per PH/s, and the table says so.
    """
    market = view.market
    unit_ths = machine.hashrate_ths if machine.hashrate_ths is not None else HASHES_PER_PH / HASHES_PER_TH
    per_unit = "machine" if machine.hashrate_ths is not None else "PH/s"
    day = machine_day(market, profile, unit_ths, machine.j_per_th)
    fleet = f"{count} × {per_unit}" if count > 1 else f"per {per_unit}"
    rows: list[Row] = [
        ("Machine", _machine_label(machine)),
        ("Power price", fmt.usd_per_kwh(profile.power_usd_per_kwh)),
        (
            f"Revenue/day ({fleet})",
            f"{fmt.usd(day.revenue_usd_per_day * count, 2)}  ({day.btc_per_day * count * 1e8:,.0f} sats)",
        ),
        (
            f"Power cost/day ({fleet})",
            f"{fmt.usd(day.power_cost_usd_per_day * count, 2)}  ({day.kwh_per_day * count:,.1f} kWh)",
        ),
        (f"Profit/day ({fleet})", fmt.usd(day.profit_usd_per_day * count, 2)),
        ("Profit/30 days", fmt.usd(day.profit_usd_per_day * count * 30, 2)),
        ("Margin", fmt.percent(day.margin_fraction)),
        ("Breakeven power", fmt.usd_per_kwh(day.breakeven_power_usd_per_kwh)),
        ("Breakeven BTC price", fmt.usd(day.breakeven_price_usd)),
        ("Profile", _profile_text(profile)),
    ]
    provenance_rows, provenance = _provenance(view, now)
    rows.extend(provenance_rows)
    data = {
        "machine": machine.name,
        "j_per_th": machine.j_per_th,
        "hashrate_ths": unit_ths,
        "unit": per_unit,
        "count": count,
        "revenue_usd_per_day": day.revenue_usd_per_day * count,
        "btc_per_day": day.btc_per_day * count,
        "kwh_per_day": day.kwh_per_day * count,
        "power_cost_usd_per_day": day.power_cost_usd_per_day * count,
        "profit_usd_per_day": day.profit_usd_per_day * count,
        "margin_pct": day.margin_fraction * 100,
        "breakeven_power_usd_per_kwh": day.breakeven_power_usd_per_kwh,
        "breakeven_price_usd": day.breakeven_price_usd,
        "profile": _profile_data(profile),
        "inputs": _inputs_data(view),
        **provenance,
    }
    return Report(f"Margin: {machine.name}", rows, data)


def cost_report(
    view: MarketView, assumptions: BottomUpAssumptions, regression: DifficultyRegression, now: datetime
) -> Report:
    """Network production cost per BTC under both models, with their assumptions and the price's premium."""
    costs = production_costs(view, assumptions, regression)
    rows: list[Row] = [
        ("BTC price", fmt.usd(view.market.price_usd)),
        *_cost_rows(costs, view.market.price_usd),
    ]
    electricity = costs[0].electricity_usd_per_btc
    if electricity is not None:
        rows.insert(2, ("  electricity only", fmt.usd(electricity)))
    provenance_rows, provenance = _provenance(view, now)
    rows.extend(provenance_rows)
    data = {
        "production_cost": _costs_data(costs, view.market.price_usd),
        "inputs": _inputs_data(view),
        **provenance,
    }
    return Report("Network production cost per BTC", rows, data)


def machines_report() -> Report:
    """The shipped catalog, most efficient first."""
    catalog = list_machines()
    rows: list[Row] = [
        (m.name, f"{m.hashrate_ths or 0:>6g} TH/s  {m.power_w or 0:>6,.0f} W  {m.j_per_th:>5.1f} J/TH")
        for m in catalog
    ]
    data = {
        "machines": [
            {
                "name": m.name,
                "hashrate_ths": m.hashrate_ths,
                "power_w": m.power_w,
                "j_per_th": m.j_per_th,
                "year": m.year,
            }
            for m in catalog
        ]
    }
    return Report("Machine catalog (nameplate, stock mode)", rows, data)
