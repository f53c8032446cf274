"""Pure report builders: the numbers behind ``status``, ``breakeven``, ``margin``, ``cost`` and ``machines``.

Each returns a ``Report``: rows for a human table (titles, labels and numbers in ``lang``; the CLI uses
English), notes that explain them, and a JSON-ready dict whose keys carry their units. Labels and values
are short enough for a phone's 32-character monospace line (``bot.render.table.compact_table``); what
explains a figure goes into the notes, shown after the table. No I/O here; the CLI and the chat handlers
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
from bot.render.i18n import plural, t
from bot.sources.snapshot import AdjustmentEstimate

Row = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Report:
    """A titled table for people and the same figures as a dict for machines.

    Rows follow ``bot.render.table``: an empty value makes a heading, a label starting with a space a
    sub-row of the heading above, an empty label a second line of the value above. ``notes`` are plain
    sentences printed after the table.
    """

    title: str
    rows: list[Row]
    data: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


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
    return [] if market.fees_known else [(t(lang, "report.fees"), t(lang, "report.subsidy_only"))]


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


def _assumptions_note(
    model: str, assumptions: BottomUpAssumptions, regression: DifficultyRegression, lang: str
) -> str:
    """What a cost model assumes, one sentence beginning with the model's table label."""
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
    """The multiple to the cost's digits (2 -> ``0.79×``, ``1.3×``)."""
    exponent = math.floor(math.log10(multiple)) if multiple > 0 else 0
    decimals = max(0, significant_digits - 1 - exponent)
    return t(lang, "report.multiple_value", multiple=fmt.number(multiple, decimals, lang))


def _cost_rows(
    costs: list[ProductionCost],
    price_usd: float,
    assumptions: BottomUpAssumptions,
    regression: DifficultyRegression,
    lang: str,
) -> tuple[list[Row], list[str]]:
    """Under a "cost per BTC" heading, one row per model with its cost and the price's premium to the
    model's digits (the bottom-up model's electricity share after it in ``cost_report``), then the
    difficulty multiple; the notes say what each model assumes and what the multiple means."""
    rows: list[Row] = [(t(lang, "report.cost_heading"), "")]
    notes: list[str] = []
    for cost in costs:
        premium = cost.premium_fraction(price_usd)
        value = t(
            lang,
            "report.cost_value",
            cost=fmt.usd_approx(cost.usd_per_btc, cost.significant_digits, lang),
            premium=fmt.percent(premium, 0, lang=lang),
        )
        rows.append((t(lang, f"report.cost.{cost.model}"), value))
        notes.append(_assumptions_note(cost.model, assumptions, regression, lang))
    multiple = difficulty_multiple(price_usd, _regression_cost(costs).usd_per_btc)
    rows.append(
        (
            t(lang, "report.difficulty_multiple"),
            _multiple_text(multiple, _regression_cost(costs).significant_digits, lang),
        )
    )
    notes.append(t(lang, "report.multiple_note"))
    return rows, notes


def production_costs(
    view: MarketView, assumptions: BottomUpAssumptions, regression: DifficultyRegression
) -> list[ProductionCost]:
    """Both labelled production-cost models at this market, the difficulty regression last."""
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


def _hashprice_rows(market: MarketInputs, lang: str) -> list[Row]:
    """Hashprice in USD per PH/s per day, then in sats per TH/s per day on the next line."""
    return [
        (
            t(lang, "report.hashprice"),
            t(lang, "value.hashprice", usd=fmt.usd(hashprice_usd_per_ph_day(market), 2, lang)),
        ),
        ("", t(lang, "value.sats_per_th", sats=fmt.number(hashprice_sats_per_th_day(market), 1, lang))),
    ]


def _adjustment_rows(adj: AdjustmentEstimate | None, now: datetime, lang: str) -> list[Row]:
    """The estimated next difficulty change, then its block, the blocks left and when (UTC) it is due."""
    if adj is None:
        return [(t(lang, "report.next_adjustment"), t(lang, "report.no_adjustment"))]
    rows: list[Row] = [
        (t(lang, "report.next_adjustment"), fmt.percent(adj.difficulty_change_pct / 100, 2, lang=lang)),
        (t(lang, "report.at_block"), fmt.number(adj.next_retarget_height, 0, lang)),
        (t(lang, "report.blocks_left"), plural(lang, "unit.block", adj.remaining_blocks)),
    ]
    eta = adj.estimated_retarget_at
    if eta:
        rows.append((t(lang, "report.eta"), f"{eta:%Y-%m-%d %H:%M} UTC"))
        if eta > now:
            rows.append((t(lang, "report.eta_in"), fmt.duration(eta - now, lang)))
    return rows


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
    ehs = fmt.number(hashrate_hs / HASHES_PER_EH, 1, lang)
    hashrate = t(lang, "report.hashrate_value" if view.hashrate_hs else "report.hashrate_implied", ehs=ehs)
    costs = production_costs(view, assumptions, regression)
    subsidy = t(lang, "value.btc", btc=fmt.number(market.subsidy_btc, None, lang))
    fees = (
        t(lang, "report.subsidy_only")
        if market.fees_per_block_btc is None
        else t(lang, "value.btc", btc=fmt.number(market.fees_per_block_btc, 4, lang))
    )
    cost_rows, notes = _cost_rows(costs, market.price_usd, assumptions, regression, lang)
    rows: list[Row] = [
        (t(lang, "report.btc_price"), fmt.usd(market.price_usd, 0, lang)),
        (t(lang, "report.difficulty"), fmt.big(market.difficulty, "", lang)),
        (t(lang, "report.height"), fmt.number(market.height, 0, lang)),
        (t(lang, "report.hashrate"), hashrate),
        (t(lang, "report.fees"), fees),
        (t(lang, "report.subsidy"), subsidy),
        *_hashprice_rows(market, lang),
        *cost_rows,
    ]
    if stress is not None:
        rows.append((t(lang, "report.stress"), _stress_line(stress, lang)))
        notes.append(t(lang, "stress.proxy_value"))
    rows += _adjustment_rows(view.adjustment, now, lang)
    adjustment_data: dict[str, Any] | None = None
    if view.adjustment:
        adj = view.adjustment
        eta = adj.estimated_retarget_at
        adjustment_data = {
            "difficulty_change_pct": adj.difficulty_change_pct,
            "next_retarget_height": adj.next_retarget_height,
            "remaining_blocks": adj.remaining_blocks,
            "progress_pct": adj.progress_pct,
            "estimated_retarget_at": eta.isoformat() if eta else None,
            "previous_retarget_pct": adj.previous_retarget_pct,
        }
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
    return Report(t(lang, "report.status_title"), rows, data, notes)


def _machine_value(machine: Machine, lang: str) -> str:
    """``200 TH/s, 17.5 J/TH`` (the name is in the title), or the efficiency alone."""
    j = fmt.number(machine.j_per_th, 1, lang)
    if machine.hashrate_ths is None:
        return t(lang, "report.j_per_th", j=fmt.number(machine.j_per_th, None, lang))
    return t(lang, "report.machine_rated", ths=fmt.number(machine.hashrate_ths, None, lang), j=j)


def _machine_rows(machine: Machine, market: MarketInputs, profile: OperatingProfile, lang: str) -> list[Row]:
    """The machine, the power price it runs at and the fee notice: the head of breakeven and margin."""
    return [
        (t(lang, "report.machine"), _machine_value(machine, lang)),
        (t(lang, "report.power_price"), fmt.usd_per_kwh(profile.power_usd_per_kwh, lang)),
        *_fees_unknown_rows(market, lang),
    ]


def breakeven_report(
    view: MarketView, machine: Machine, profile: OperatingProfile, now: datetime, lang: str = "en"
) -> Report:
    """Breakeven power price, BTC price (at the profile's power price) and efficiency for one machine."""
    market = view.market
    day = machine_day(market, profile, machine.hashrate_ths or 1.0, machine.j_per_th)
    rows: list[Row] = [
        *_machine_rows(machine, market, profile, lang),
        *_hashprice_rows(market, lang)[:1],
        ("", t(lang, "report.at_price", price=fmt.usd(market.price_usd, 0, lang))),
        (t(lang, "report.breaks_even"), ""),
        (t(lang, "report.be_power"), fmt.usd_per_kwh(day.breakeven_power_usd_per_kwh, lang)),
        (t(lang, "report.be_price"), fmt.usd(day.breakeven_price_usd, 0, lang)),
        (
            t(lang, "report.be_efficiency"),
            t(lang, "report.j_per_th", j=fmt.number(day.breakeven_j_per_th, 1, lang)),
        ),
        *_profile_rows(profile, lang),
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
    notes = [t(lang, "report.breakeven_note")]
    return Report(t(lang, "report.breakeven_title", machine=machine.name), rows, data, notes)


def _profile_rows(profile: OperatingProfile, lang: str) -> list[Row]:
    return [
        (t(lang, "report.pool_fee"), fmt.percent(profile.pool_fee_fraction, None, signed=False, lang=lang)),
        (t(lang, "report.uptime"), fmt.percent(profile.uptime_fraction, None, signed=False, lang=lang)),
        ("PUE", fmt.number(profile.pue, None, lang)),
    ]


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
    fleet = (
        plural(lang, "unit.machine", count)
        if machine.hashrate_ths is not None
        else t(lang, "report.fleet_ph", count=fmt.number(count, 0, lang))
    )
    rows: list[Row] = [
        *_machine_rows(machine, market, profile, lang),
        (t(lang, "report.per_day", fleet=fleet), ""),
        (t(lang, "report.revenue"), fmt.usd(day.revenue_usd_per_day * count, 2, lang)),
        ("", t(lang, "value.sats", sats=fmt.number(day.btc_per_day * count * 1e8, 0, lang))),
        (t(lang, "report.power_cost"), fmt.usd(day.power_cost_usd_per_day * count, 2, lang)),
        ("", t(lang, "value.kwh", kwh=fmt.number(day.kwh_per_day * count, 1, lang))),
        (t(lang, "report.profit"), fmt.usd(day.profit_usd_per_day * count, 2, lang)),
        (t(lang, "report.profit_30"), fmt.usd(day.profit_usd_per_day * count * 30, 2, lang)),
        (t(lang, "report.margin"), fmt.percent(day.margin_fraction, lang=lang)),
        (t(lang, "report.breaks_even"), ""),
        (t(lang, "report.be_power"), fmt.usd_per_kwh(day.breakeven_power_usd_per_kwh, lang)),
        (t(lang, "report.be_price"), fmt.usd(day.breakeven_price_usd, 0, lang)),
        *_profile_rows(profile, lang),
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
    cost_rows, notes = _cost_rows(costs, view.market.price_usd, assumptions, regression, lang)
    electricity = costs[0].electricity_usd_per_btc
    if electricity is not None:
        digits = costs[0].significant_digits
        cost_rows.insert(2, (t(lang, "report.electricity_only"), fmt.usd_approx(electricity, digits, lang)))
    rows: list[Row] = [
        (t(lang, "report.btc_price"), fmt.usd(view.market.price_usd, 0, lang)),
        *cost_rows,
        *_fees_unknown_rows(view.market, lang),
    ]
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
    return Report(t(lang, "report.cost_title"), rows, data, notes)


def machines_report(lang: str = "en") -> Report:
    """The shipped catalog, most efficient first: each name, then its hashrate, power and efficiency."""
    catalog = list_machines()

    def ths(m: Machine) -> str:
        if m.hashrate_ths is None:
            return t(lang, "report.hashrate_unknown")
        return t(lang, "report.machine_ths", ths=fmt.number(m.hashrate_ths, None, lang))

    def watts(m: Machine) -> str:
        if m.power_w is None:
            return t(lang, "report.power_unknown")
        return t(lang, "report.machine_w", w=fmt.number(m.power_w, 0, lang))

    rows: list[Row] = []
    for m in catalog:
        j = fmt.number(m.j_per_th, 1, lang)
        rows += [(m.name, ""), ("", t(lang, "report.machine_row", ths=ths(m), w=watts(m), j=j))]
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
    return t(lang, "stress.index_value", value=fmt.number(stress.value, 0, lang), band=band)


def stress_report(view: MarketView, stress: StressIndex, now: datetime, lang: str = "en") -> Report:
    """The open miner-stress index with each component's reading and score, and the window it ranks in;
    the notes say what the components are, how they are weighted and what the bands mean."""
    multiple = stress.component(Component.DIFFICULTY_MULTIPLE)
    hashprice = stress.component(Component.HASHPRICE)
    puell = stress.component(Component.PUELL)

    def scored(reading: str, score: float) -> str:
        return t(lang, "stress.scored", reading=reading, score=fmt.number(score, 0, lang))

    rows: list[Row] = [
        (t(lang, "stress.index"), _stress_line(stress, lang)),
        (t(lang, "stress.components"), ""),
        (
            t(lang, "stress.multiple"),
            scored(
                t(lang, "report.multiple_value", multiple=fmt.number(multiple.value, 2, lang)), multiple.score
            ),
        ),
        (
            t(lang, "stress.hashprice"),
            scored(t(lang, "value.hashprice", usd=fmt.usd(hashprice.value, 2, lang)), hashprice.score),
        ),
        (t(lang, "stress.puell"), scored(fmt.number(puell.value, 2, lang), puell.score)),
        (t(lang, "stress.window"), plural(lang, "unit.day", stress.window_samples)),
        ("", f"{stress.window_start} – {stress.window_end}"),
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
    notes = [t(lang, "stress.components_note"), t(lang, "stress.bands_value"), t(lang, "stress.proxy_value")]
    return Report(t(lang, "stress.title"), rows, data, notes)
