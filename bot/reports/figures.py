"""Pure report builders: the numbers behind ``status``, ``breakeven``, ``margin``, ``cost`` and ``machines``.

Each returns a ``Report``: rows for a human table (titles, labels and numbers in ``lang``; the CLI uses
English) and a JSON-ready dict whose keys carry their units. No I/O here; the CLI and the chat handlers
both render these.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.economics.machines import Machine, list_machines
from bot.economics.mining import (
    MarketInputs,
    OperatingProfile,
    hashprice_sats_per_th_day,
    hashprice_usd_per_ph_day,
    machine_day,
)
from bot.economics.network import implied_hashrate_hs
from bot.economics.production_cost import (
    BOTTOM_UP,
    DIFFICULTY_REGRESSION,
    BottomUpAssumptions,
    ProductionCost,
    bottom_up_cost,
    regression_cost,
)
from bot.economics.regression import DifficultyRegression, difficulty_multiple
from bot.economics.stress import MIN_WINDOW_SAMPLES, WEIGHTS, Component, NotEnoughHistoryError, StressIndex
from bot.economics.units import HASHES_PER_EH, HASHES_PER_PH, HASHES_PER_TH
from bot.market.view import MarketView
from bot.render import numbers as fmt
from bot.render.i18n import model_name, plural, t
from bot.sources.snapshot import AdjustmentEstimate

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
        "fees_known": market.fees_known,
        "subsidy_btc": market.subsidy_btc,
        "overridden": list(view.overridden),
    }


def _fees_unknown_rows(market: MarketInputs, lang: str) -> list[Row]:
    """The notice every report built on hashprice carries while no source knows the fees."""
    return [] if market.fees_known else [(t(lang, "report.fees"), t(lang, "report.fees_unknown"))]


def _provenance(view: MarketView, now: datetime, lang: str) -> tuple[list[Row], dict[str, Any]]:
    answered = [o.source for o in view.outcomes if o.ok and not o.dropped]
    failed = [f"{o.source} ({o.error or o.dropped})" for o in view.outcomes if not o.ok or o.dropped]
    age_s = max(0.0, (now - view.as_of).total_seconds())
    rows: list[Row] = []
    if view.outcomes:
        rows.append((t(lang, "report.data_age"), fmt.duration(now - view.as_of, lang)))
        rows.append((t(lang, "report.sources"), ", ".join(answered) or t(lang, "report.none")))
        if failed:
            rows.append((t(lang, "report.unavailable"), "; ".join(failed)))
    if view.overridden:
        rows.append((t(lang, "report.what_if"), ", ".join(view.overridden)))
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


def _assumptions_text(
    model: str, assumptions: BottomUpAssumptions, regression: DifficultyRegression, lang: str
) -> str:
    if model == BOTTOM_UP:
        return t(
            lang,
            "report.assumptions_bottom_up",
            j=fmt.number(assumptions.fleet_j_per_th, None, lang),
            power=fmt.usd_per_kwh(assumptions.power_usd_per_kwh, lang, None),
            share=fmt.percent(assumptions.electricity_share_of_cash_cost, None, signed=False, lang=lang),
        )
    return t(
        lang,
        "report.assumptions_regression",
        b=fmt.number(regression.b, 3, lang),
        start=regression.start_date,
        end=regression.end_date,
        n=regression.n,
        r2=fmt.number(regression.r2, 2, lang),
        band=fmt.number(math.exp(regression.residual_std), 1, lang),
    )


def _regression_cost(costs: list[ProductionCost]) -> ProductionCost:
    return next(cost for cost in costs if cost.model == DIFFICULTY_REGRESSION)


def _multiple_text(multiple: float, significant_digits: int, lang: str) -> str:
    """The multiple to the cost's digits (2 -> ``0.79``, ``1.3``)."""
    exponent = math.floor(math.log10(multiple)) if multiple > 0 else 0
    decimals = max(0, significant_digits - 1 - exponent)
    return t(lang, "report.difficulty_multiple_value", multiple=fmt.number(multiple, decimals, lang))


def _cost_rows(
    costs: list[ProductionCost],
    price_usd: float,
    assumptions: BottomUpAssumptions,
    regression: DifficultyRegression,
    lang: str,
) -> list[Row]:
    """One row per model, its cost and the price's premium to the model's digits, then its assumptions;
    after the difficulty regression, its difficulty multiple."""
    rows: list[Row] = []
    for cost in costs:
        premium = cost.premium_fraction(price_usd)
        value = t(
            lang,
            "report.cost_premium" if premium >= 0 else "report.cost_discount",
            cost=fmt.usd_approx(cost.usd_per_btc, cost.significant_digits, lang),
            premium=fmt.percent(premium, 0, lang=lang),
        )
        rows.append((t(lang, "report.cost", model=model_name(lang, cost.model)), value))
        rows.append(
            (t(lang, "report.assumptions"), _assumptions_text(cost.model, assumptions, regression, lang))
        )
        if cost.model == DIFFICULTY_REGRESSION:
            multiple = difficulty_multiple(price_usd, cost.usd_per_btc)
            rows.append(
                (
                    t(lang, "report.difficulty_multiple"),
                    _multiple_text(multiple, cost.significant_digits, lang),
                )
            )
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
            "significant_digits": c.significant_digits,
            "assumptions": c.assumptions,
        }
        for c in costs
    ]


def _hashprice_text(market: MarketInputs, lang: str) -> str:
    return t(
        lang,
        "report.hashprice_value",
        usd=fmt.usd(hashprice_usd_per_ph_day(market), 2, lang),
        sats=fmt.number(hashprice_sats_per_th_day(market), 1, lang),
    )


def _adjustment_text(adj: AdjustmentEstimate, now: datetime, lang: str) -> str:
    eta = adj.estimated_retarget_at
    eta_text = t(lang, "report.eta", when=f"{eta:%Y-%m-%d %H:%M}") if eta else ""
    if eta and eta > now:
        eta_text += t(lang, "report.eta_in", left=fmt.duration(eta - now, lang))
    return t(
        lang,
        "report.next_adjustment_value",
        change=fmt.percent(adj.difficulty_change_pct / 100, 2, lang=lang),
        height=fmt.number(adj.next_retarget_height, 0, lang),
        blocks=plural(lang, "unit.block", adj.remaining_blocks),
        eta=eta_text,
    )


def status_report(
    view: MarketView,
    assumptions: BottomUpAssumptions,
    regression: DifficultyRegression,
    now: datetime,
    lang: str = "en",
    stress: StressIndex | NotEnoughHistoryError | None = None,
) -> Report:
    """Price, difficulty, hashrate, fees, hashprice, production cost, next adjustment, age and sources;
    with ``stress``, the miner-stress index in one line (or how much history it lacks)."""
    market = view.market
    hashrate_hs = view.hashrate_hs or implied_hashrate_hs(market.difficulty)
    hashrate_label = t(lang, "report.hashrate" if view.hashrate_hs else "report.hashrate_implied")
    costs = production_costs(view, assumptions, regression)
    fees = (
        t(lang, "report.fees_unknown")
        if market.fees_per_block_btc is None
        else t(
            lang,
            "report.fees_value",
            fees=fmt.number(market.fees_per_block_btc, 4, lang),
            subsidy=fmt.number(market.subsidy_btc, None, lang),
        )
    )
    rows: list[Row] = [
        (t(lang, "report.btc_price"), fmt.usd(market.price_usd, 0, lang)),
        (t(lang, "report.difficulty"), fmt.big(market.difficulty, "", lang)),
        (t(lang, "report.height"), fmt.number(market.height, 0, lang)),
        (hashrate_label, f"{fmt.number(hashrate_hs / HASHES_PER_EH, 1, lang)} EH/s"),
        (t(lang, "report.fees"), fees),
        (t(lang, "report.hashprice"), _hashprice_text(market, lang)),
        *_cost_rows(costs, market.price_usd, assumptions, regression, lang),
    ]
    if stress is not None:
        rows.append((t(lang, "report.stress"), _stress_line(stress, lang)))
    adjustment_data: dict[str, Any] | None = None
    if view.adjustment:
        adj = view.adjustment
        eta = adj.estimated_retarget_at
        rows.append((t(lang, "report.next_adjustment"), _adjustment_text(adj, now, lang)))
        adjustment_data = {
            "difficulty_change_pct": adj.difficulty_change_pct,
            "next_retarget_height": adj.next_retarget_height,
            "remaining_blocks": adj.remaining_blocks,
            "progress_pct": adj.progress_pct,
            "estimated_retarget_at": eta.isoformat() if eta else None,
            "previous_retarget_pct": adj.previous_retarget_pct,
        }
    else:
        rows.append((t(lang, "report.next_adjustment"), t(lang, "report.no_adjustment")))
    provenance_rows, provenance = _provenance(view, now, lang)
    rows.extend(provenance_rows)
    data = {
        "inputs": _inputs_data(view),
        "hashrate_ehs": hashrate_hs / HASHES_PER_EH,
        "hashrate_is_implied": view.hashrate_hs is None,
        "hashprice_usd_per_ph_day": hashprice_usd_per_ph_day(market),
        "hashprice_sats_per_th_day": hashprice_sats_per_th_day(market),
        "production_cost": _costs_data(costs, market.price_usd),
        "difficulty_multiple": difficulty_multiple(market.price_usd, _regression_cost(costs).usd_per_btc),
        "next_adjustment": adjustment_data,
        **provenance,
    }
    if isinstance(stress, StressIndex):
        data["stress_index_0_100"] = stress.value
    return Report(t(lang, "report.status_title"), rows, data)


def _machine_label(machine: Machine, lang: str) -> str:
    if machine.hashrate_ths is None:
        j = fmt.number(machine.j_per_th, None, lang)
        return t(lang, "report.machine_efficiency", name=machine.name, j=j)
    return t(
        lang,
        "report.machine_rated",
        name=machine.name,
        ths=fmt.number(machine.hashrate_ths, None, lang),
        j=fmt.number(machine.j_per_th, 1, lang),
    )


def breakeven_report(
    view: MarketView, machine: Machine, profile: OperatingProfile, now: datetime, lang: str = "en"
) -> Report:
    """Breakeven power price, BTC price (at the profile's power price) and efficiency for one machine."""
    market = view.market
    day = machine_day(market, profile, machine.hashrate_ths or 1.0, machine.j_per_th)
    power = fmt.usd_per_kwh(profile.power_usd_per_kwh, lang)
    hashprice = t(
        lang,
        "report.hashprice_at",
        usd=fmt.usd(hashprice_usd_per_ph_day(market), 2, lang),
        price=fmt.usd(market.price_usd, 0, lang),
    )
    rows: list[Row] = [
        (t(lang, "report.machine"), _machine_label(machine, lang)),
        (t(lang, "report.hashprice"), hashprice),
        *_fees_unknown_rows(market, lang),
        (t(lang, "report.breakeven_power"), fmt.usd_per_kwh(day.breakeven_power_usd_per_kwh, lang)),
        (t(lang, "report.breakeven_price_at", power=power), fmt.usd(day.breakeven_price_usd, 0, lang)),
        (
            t(lang, "report.breakeven_efficiency_at", power=power),
            t(lang, "report.j_per_th", j=fmt.number(day.breakeven_j_per_th, 1, lang)),
        ),
        (t(lang, "report.profile"), _profile_text(profile, lang)),
    ]
    provenance_rows, provenance = _provenance(view, now, lang)
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
    return Report(t(lang, "report.breakeven_title", machine=machine.name), rows, data)


def _profile_text(profile: OperatingProfile, lang: str) -> str:
    return t(
        lang,
        "report.profile_value",
        fee=fmt.percent(profile.pool_fee_fraction, None, signed=False, lang=lang),
        uptime=fmt.percent(profile.uptime_fraction, None, signed=False, lang=lang),
        pue=fmt.number(profile.pue, None, lang),
    )


def _profile_data(profile: OperatingProfile) -> dict[str, float]:
    return {
        "power_usd_per_kwh": profile.power_usd_per_kwh,
        "pool_fee_pct": profile.pool_fee_fraction * 100,
        "uptime_pct": profile.uptime_fraction * 100,
        "pue": profile.pue,
    }


def margin_report(
    view: MarketView,
    machine: Machine,
    profile: OperatingProfile,
    count: int,
    now: datetime,
    lang: str = "en",
) -> Report:
    """Revenue, power cost and profit per day (and per 30 days) for ``count`` machines.

    A machine known only by its efficiency is costed per PH/s, and the table says so.
    """
    market = view.market
    unit_ths = machine.hashrate_ths if machine.hashrate_ths is not None else HASHES_PER_PH / HASHES_PER_TH
    per_unit = "machine" if machine.hashrate_ths is not None else "PH/s"
    day = machine_day(market, profile, unit_ths, machine.j_per_th)
    unit = "machine" if machine.hashrate_ths is not None else "ph"
    fleet = t(lang, f"report.fleet_{unit}" if count > 1 else f"report.per_{unit}", count=count)
    revenue = t(
        lang,
        "report.revenue_value",
        usd=fmt.usd(day.revenue_usd_per_day * count, 2, lang),
        sats=fmt.number(day.btc_per_day * count * 1e8, 0, lang),
    )
    power_cost = t(
        lang,
        "report.power_cost_value",
        usd=fmt.usd(day.power_cost_usd_per_day * count, 2, lang),
        kwh=fmt.number(day.kwh_per_day * count, 1, lang),
    )
    rows: list[Row] = [
        (t(lang, "report.machine"), _machine_label(machine, lang)),
        (t(lang, "report.power_price"), fmt.usd_per_kwh(profile.power_usd_per_kwh, lang)),
        *_fees_unknown_rows(market, lang),
        (t(lang, "report.revenue", fleet=fleet), revenue),
        (t(lang, "report.power_cost", fleet=fleet), power_cost),
        (t(lang, "report.profit", fleet=fleet), fmt.usd(day.profit_usd_per_day * count, 2, lang)),
        (t(lang, "report.profit_30"), fmt.usd(day.profit_usd_per_day * count * 30, 2, lang)),
        (t(lang, "report.margin"), fmt.percent(day.margin_fraction, lang=lang)),
        (t(lang, "report.breakeven_power"), fmt.usd_per_kwh(day.breakeven_power_usd_per_kwh, lang)),
        (t(lang, "report.breakeven_price"), fmt.usd(day.breakeven_price_usd, 0, lang)),
        (t(lang, "report.profile"), _profile_text(profile, lang)),
    ]
    provenance_rows, provenance = _provenance(view, now, lang)
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
    return Report(t(lang, "report.margin_title", machine=machine.name), rows, data)


def cost_report(
    view: MarketView,
    assumptions: BottomUpAssumptions,
    regression: DifficultyRegression,
    now: datetime,
    lang: str = "en",
) -> Report:
    """Network production cost per BTC under both models, with their assumptions and the price's premium."""
    costs = production_costs(view, assumptions, regression)
    rows: list[Row] = [
        (t(lang, "report.btc_price"), fmt.usd(view.market.price_usd, 0, lang)),
        *_cost_rows(costs, view.market.price_usd, assumptions, regression, lang),
    ]
    electricity = costs[0].electricity_usd_per_btc
    if electricity is not None:
        digits = costs[0].significant_digits
        rows.insert(2, (t(lang, "report.electricity_only"), fmt.usd_approx(electricity, digits, lang)))
    rows.extend(_fees_unknown_rows(view.market, lang))
    provenance_rows, provenance = _provenance(view, now, lang)
    rows.extend(provenance_rows)
    data = {
        "production_cost": _costs_data(costs, view.market.price_usd),
        "difficulty_multiple": difficulty_multiple(
            view.market.price_usd, _regression_cost(costs).usd_per_btc
        ),
        "inputs": _inputs_data(view),
        **provenance,
    }
    return Report(t(lang, "report.cost_title"), rows, data)


def machines_report(lang: str = "en") -> Report:
    """The shipped catalog, most efficient first."""
    catalog = list_machines()

    def ths(m: Machine) -> str:
        if m.hashrate_ths is None:
            return t(lang, "report.hashrate_unknown")
        return t(lang, "report.machine_ths", ths=fmt.number(m.hashrate_ths, None, lang))

    def watts(m: Machine) -> str:
        if m.power_w is None:
            return t(lang, "report.power_unknown")
        return t(lang, "report.machine_w", w=fmt.number(m.power_w, 0, lang))

    rows: list[Row] = [
        (
            m.name,
            t(
                lang,
                "report.machine_row",
                ths=f"{ths(m):>12}",
                w=f"{watts(m):>15}",
                j=f"{fmt.number(m.j_per_th, 1, lang):>5}",
            ),
        )
        for m in catalog
    ]
    data = {
        "machines": [
            {
                "name": m.name,
                "hashrate_ths": m.hashrate_ths,
                "power_w": m.power_w,
                "power_known": not m.power_unknown,
                "j_per_th": m.j_per_th,
                "year": m.year,
            }
            for m in catalog
        ]
    }
    return Report(t(lang, "report.machines_title"), rows, data)


def _stress_line(stress: StressIndex | NotEnoughHistoryError, lang: str) -> str:
    if isinstance(stress, NotEnoughHistoryError):
        days, need = fmt.number(stress.days, 0, lang), fmt.number(MIN_WINDOW_SAMPLES, 0, lang)
        return t(lang, "stress.unavailable", days=days, need=need)
    band = t(lang, f"stress.band.{stress.band}")
    return t(lang, "stress.status_value", value=fmt.number(stress.value, 0, lang), band=band)


def stress_report(view: MarketView, stress: StressIndex, now: datetime, lang: str = "en") -> Report:
    """The open miner-stress index with each component's reading, score and weight, and the window."""
    multiple = stress.component(Component.DIFFICULTY_MULTIPLE)
    hashprice = stress.component(Component.HASHPRICE)
    puell = stress.component(Component.PUELL)
    rows: list[Row] = [
        (
            t(lang, "stress.index"),
            t(
                lang,
                "stress.index_value",
                value=fmt.number(stress.value, 0, lang),
                band=t(lang, f"stress.band.{stress.band}"),
            ),
        ),
        (
            t(lang, "stress.multiple"),
            t(
                lang,
                "stress.multiple_value",
                multiple=fmt.number(multiple.value, 2, lang),
                score=fmt.number(multiple.score, 0, lang),
            ),
        ),
        (
            t(lang, "stress.hashprice"),
            t(
                lang,
                "stress.hashprice_value",
                usd=fmt.usd(hashprice.value, 2, lang),
                score=fmt.number(hashprice.score, 0, lang),
            ),
        ),
        (
            t(lang, "stress.puell"),
            t(
                lang,
                "stress.puell_value",
                puell=fmt.number(puell.value, 2, lang),
                score=fmt.number(puell.score, 0, lang),
            ),
        ),
        (t(lang, "stress.weights"), t(lang, "stress.weights_value")),
        (
            t(lang, "stress.window"),
            t(
                lang,
                "stress.window_value",
                start=stress.window_start,
                end=stress.window_end,
                days=plural(lang, "unit.day", stress.window_samples),
            ),
        ),
        (t(lang, "stress.bands"), t(lang, "stress.bands_value")),
        (t(lang, "stress.proxy"), t(lang, "stress.proxy_value")),
    ]
    provenance_rows, provenance = _provenance(view, now, lang)
    rows.extend(provenance_rows)
    data = {
        "stress_index_0_100": stress.value,
        "band": stress.band.value,
        "label": "open miner-stress proxy from public data (not CryptoQuant's index)",
        "difficulty_multiple_x": multiple.value,
        "difficulty_multiple_score_0_100": multiple.score,
        "hashprice_subsidy_only_usd_per_ph_day": hashprice.value,
        "hashprice_score_0_100": hashprice.score,
        "puell_multiple_x": puell.value,
        "puell_score_0_100": puell.score,
        "weights": {component.value: weight for component, weight in WEIGHTS.items()},
        "window_start": stress.window_start.isoformat(),
        "window_end": stress.window_end.isoformat(),
        "window_days": stress.window_samples,
        "inputs": _inputs_data(view),
        **provenance,
    }
    return Report(t(lang, "stress.title"), rows, data)
