"""Market commands: /status /breakeven /margin /cost /hashprice /difficulty /machines.

Every reply comes from the latest stored snapshot (a command never waits on an upstream API) and says how
old that data is. /breakeven and /margin without arguments use the chat's profile.
"""

from __future__ import annotations

import html
from dataclasses import replace

from bot.economics.machines import UnknownMachine
from bot.economics.mining import hashprice_sats_per_th_day, hashprice_usd_per_ph_day
from bot.economics.production_cost import BottomUpAssumptions
from bot.market import MarketView
from bot.render import numbers as fmt
from bot.reports import Report, breakeven_report, cost_report, machines_report, margin_report, status_report
from handlers.arguments import machine_from_text, power_from_text, split_machine_and_power
from handlers.context import Request, Services
from handlers.format import error_html, report_html
from handlers.reply import Reply

NO_DATA = "No market data yet: the first poll has not finished. Try again in a minute."
STALE_AFTER_S = 15 * 60


def _assumptions(services: Services) -> BottomUpAssumptions:
    settings = services.settings
    return BottomUpAssumptions(
        settings.fleet_j_per_th, settings.fleet_power_usd_per_kwh, settings.electricity_share_of_cash_cost
    )


def _age_footer(view: MarketView, services: Services) -> str:
    age = services.now() - view.as_of
    text = f"<i>Data {fmt.duration(age)} old.</i>"
    if age.total_seconds() > STALE_AFTER_S:
        text = f"⚠️ <i>Data is {fmt.duration(age)} old: sources are not answering.</i>"
    return text


def _without_provenance(report: Report) -> Report:
    """Chat replies show the age in one footer line instead of the CLI's source rows."""
    hidden = ("Data age", "Sources", "Unavailable")
    return replace(report, rows=[row for row in report.rows if row[0] not in hidden])


async def _view_or_reply(services: Services) -> MarketView | Reply:
    view = await services.latest_view()
    return view if view is not None else Reply(NO_DATA, error=True)


def _chat_reply(report: Report, view: MarketView, services: Services) -> Reply:
    return Reply(report_html(_without_provenance(report), _age_footer(view, services)))


async def status(request: Request, services: Services) -> Reply:
    """/status — price, difficulty, hashrate, hashprice, production cost, next adjustment."""
    view = await _view_or_reply(services)
    if isinstance(view, Reply):
        return view
    report = status_report(view, _assumptions(services), services.regression, services.now())
    return _chat_reply(report, view, services)


async def breakeven(request: Request, services: Services) -> Reply:
    """/breakeven [MACHINE] [POWER] — breakeven power price, BTC price and efficiency."""
    return await _machine_command(request, services, margin=False)


async def margin(request: Request, services: Services) -> Reply:
    """/margin [MACHINE] [POWER] — revenue, power cost and profit per day for the chat's fleet."""
    return await _machine_command(request, services, margin=True)


async def _machine_command(request: Request, services: Services, *, margin: bool) -> Reply:
    example = f"/{request.command} s19xp 5.5c"
    profile = await services.profile(request.chat)
    machine_text, power_text = split_machine_and_power(request.args)
    try:
        machine = machine_from_text(machine_text) if machine_text else profile.machine
        power = power_from_text(power_text, profile.operating.power_usd_per_kwh)
    except UnknownMachine as error:
        suggestions = ", ".join(error.suggestions)
        return Reply(
            error_html(f"Unknown machine '{error.text}'. Closest: {suggestions}.", example), error=True
        )
    except ValueError as error:
        return Reply(error_html(str(error), example), error=True)
    view = await _view_or_reply(services)
    if isinstance(view, Reply):
        return view
    operating = replace(profile.operating, power_usd_per_kwh=power)
    now = services.now()
    count = profile.count if not machine_text else 1
    report = (
        margin_report(view, machine, operating, count, now)
        if margin
        else breakeven_report(view, machine, operating, now)
    )
    return _chat_reply(report, view, services)


async def cost(request: Request, services: Services) -> Reply:
    """/cost — the network's production cost per BTC under both models, with assumptions."""
    view = await _view_or_reply(services)
    if isinstance(view, Reply):
        return view
    report = cost_report(view, _assumptions(services), services.regression, services.now())
    return _chat_reply(report, view, services)


async def hashprice(request: Request, services: Services) -> Reply:
    """/hashprice — USD/PH/day and sats/TH/day right now."""
    view = await _view_or_reply(services)
    if isinstance(view, Reply):
        return view
    market = view.market
    text = (
        f"<b>Hashprice</b>: {fmt.usd(hashprice_usd_per_ph_day(market), 2)}/PH/day · "
        f"{hashprice_sats_per_th_day(market):.1f} sats/TH/day\n"
        f"BTC {fmt.usd(market.price_usd)}, difficulty {fmt.big(market.difficulty)}, "
        f"fees {market.fees_per_block_btc:.3f} BTC/block\n{_age_footer(view, services)}"
    )
    return Reply(text)


async def difficulty(request: Request, services: Services) -> Reply:
    """/difficulty — current difficulty and the estimated next adjustment."""
    view = await _view_or_reply(services)
    if isinstance(view, Reply):
        return view
    lines = [f"<b>Difficulty</b>: {fmt.big(view.market.difficulty)} at block {view.market.height:,}"]
    adjustment = view.adjustment
    if adjustment is None:
        lines.append("Next adjustment: no estimate from the current sources.")
    else:
        eta = adjustment.estimated_retarget_at
        when = f", ≈ {eta:%Y-%m-%d %H:%M} UTC" if eta else ""
        lines.append(
            f"Next adjustment: <b>{adjustment.difficulty_change_pct:+.2f}%</b> at block "
            f"{adjustment.next_retarget_height:,} ({adjustment.remaining_blocks:,} blocks{when})"
        )
        if adjustment.previous_retarget_pct is not None:
            lines.append(f"Previous adjustment: {adjustment.previous_retarget_pct:+.2f}%")
    lines.append(_age_footer(view, services))
    return Reply("\n".join(lines))


async def machines(request: Request, services: Services) -> Reply:
    """/machines — the catalog, most efficient first."""
    report = machines_report()
    return Reply(report_html(report, html.escape("Use a name with /breakeven, e.g. /breakeven s21 5c")))
