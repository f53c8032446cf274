"""Market commands: /status /breakeven /margin /cost /stress /hashprice /difficulty /machines.

Every reply comes from the latest stored snapshot (a command never waits on an upstream API), is in the
chat's language and says how old that data is. /breakeven and /margin without arguments use the chat's
profile.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from bot.chat.context import Request, Services
from bot.chat.reply import Reply
from bot.economics.history import DailyRow
from bot.economics.indicators import (
    DIFFICULTY_RIBBON_MIN_DAYS,
    PUELL_WINDOW_DAYS,
    latest_difficulty_ribbon_compression,
    latest_puell,
)
from bot.economics.mining import hashprice_sats_per_th_day, hashprice_usd_per_ph_day
from bot.economics.production_cost import BottomUpAssumptions
from bot.economics.regression import DifficultyRegression
from bot.economics.stress import MIN_WINDOW_SAMPLES, NotEnoughHistoryError, StressIndex, stress_for_market
from bot.market.view import MarketView
from bot.render import numbers as fmt
from bot.render.i18n import missing_sources, plural, t
from bot.reports.figures import (
    Report,
    breakeven_report,
    cost_report,
    machines_report,
    margin_report,
    status_report,
    stress_report,
)
from handlers.arguments import machine_and_power
from handlers.format import html_t, table_reply

NetworkReport = Callable[[MarketView, BottomUpAssumptions, DifficultyRegression, datetime, str], Report]

INDICATOR_DAYS = max(PUELL_WINDOW_DAYS, DIFFICULTY_RIBBON_MIN_DAYS + 364)
"""Daily rows /difficulty reads: a Puell window, and a year of difficulty ribbon compression to rank."""
_PROVENANCE_LABELS = ("report.data_age", "report.sources", "report.unavailable")


def _assumptions(services: Services) -> BottomUpAssumptions:
    settings = services.settings
    return BottomUpAssumptions(
        settings.fleet_j_per_th, settings.fleet_power_usd_per_kwh, settings.electricity_share_of_cash_cost
    )


def age_footer(view: MarketView, services: Services, lang: str) -> str:
    """One italic line: how old the data is; when it is stale (``MarketView.is_stale``, the rule that
    pauses alerts) a warning naming the sources that stopped answering and since when. Replayed data says
    which day it is instead."""
    if view.is_replay:
        return html_t(lang, "market.replayed", day=view.as_of.date().isoformat())
    now = services.now()
    age = fmt.duration(now - view.as_of, lang)
    if not view.is_stale(now, services.settings.stale_after_s):
        return html_t(lang, "market.age", age=age)
    if not view.failing:
        return html_t(lang, "market.stale", age=age)
    return html_t(lang, "market.stale_missing", age=age, missing=missing_sources(lang, view.failing, now))


def _without_provenance(report: Report, lang: str) -> Report:
    """Chat replies show the age in one footer line instead of the CLI's source rows."""
    hidden = {t(lang, key) for key in _PROVENANCE_LABELS}
    return replace(report, rows=[row for row in report.rows if row[0] not in hidden])


async def view_or_reply(services: Services, lang: str) -> MarketView | Reply:
    view = await services.latest_view()
    return view if view is not None else Reply(html_t(lang, "market.no_data"), error=True)


def _chat_reply(report: Report, view: MarketView, services: Services, lang: str, read_as: str = "") -> Reply:
    """The report's table, then the echo of bare values typed (if any) and the age footer."""
    footer = "\n".join(line for line in (read_as, age_footer(view, services, lang)) if line)
    return table_reply(_without_provenance(report, lang), footer)


async def _network_report(request: Request, services: Services, build: NetworkReport) -> Reply:
    """A report on the whole network (status, cost) from the latest stored snapshot."""
    lang = request.chat.language
    view = await view_or_reply(services, lang)
    if isinstance(view, Reply):
        return view
    report = build(view, _assumptions(services), services.regression, services.now(), lang)
    return _chat_reply(report, view, services, lang)


async def _stress(view: MarketView, services: Services) -> StressIndex | NotEnoughHistoryError:
    """The miner-stress index at the latest snapshot against the stored daily series, or why there is none."""
    baseline = await services.stress_baseline(view.as_of.date())
    if isinstance(baseline, NotEnoughHistoryError):
        return baseline
    return stress_for_market(view.market, baseline, services.regression)


async def status(request: Request, services: Services) -> Reply:
    """/status — price, difficulty, hashrate, hashprice, production cost, stress index, next adjustment."""
    lang = request.chat.language
    view = await view_or_reply(services, lang)
    if isinstance(view, Reply):
        return view
    stress = await _stress(view, services)
    report = status_report(
        view, _assumptions(services), services.regression, services.now(), lang, stress=stress
    )
    return _chat_reply(report, view, services, lang)


async def stress(request: Request, services: Services) -> Reply:
    """/stress — the open miner-stress index (0-100 proxy) with each component and its score."""
    lang = request.chat.language
    view = await view_or_reply(services, lang)
    if isinstance(view, Reply):
        return view
    index = await _stress(view, services)
    if isinstance(index, NotEnoughHistoryError):
        days, need = fmt.number(index.days, 0, lang), fmt.number(MIN_WINDOW_SAMPLES, 0, lang)
        return Reply(html_t(lang, "stress.no_history", days=days, need=need), error=True)
    return _chat_reply(stress_report(view, index, services.now(), lang), view, services, lang)


async def breakeven(request: Request, services: Services) -> Reply:
    """/breakeven [MACHINE] [POWER] — breakeven power price, BTC price and efficiency."""
    return await _machine_command(request, services, margin=False)


async def margin(request: Request, services: Services) -> Reply:
    """/margin [MACHINE] [POWER] — revenue, power cost and profit per day for the chat's fleet."""
    return await _machine_command(request, services, margin=True)


async def _machine_command(request: Request, services: Services, *, margin: bool) -> Reply:
    lang = request.chat.language
    profile = await services.profile(request.chat)
    parsed = machine_and_power(
        lang,
        request.args,
        profile.machine,
        profile.operating.power_usd_per_kwh,
        f"/{request.command} s19xp 5.5c",
    )
    if isinstance(parsed, Reply):
        return parsed
    view = await view_or_reply(services, lang)
    if isinstance(view, Reply):
        return view
    machine = parsed.machine
    operating = replace(profile.operating, power_usd_per_kwh=parsed.power_usd_per_kwh)
    now = services.now()
    count = 1 if parsed.machine_typed else profile.count
    report = (
        margin_report(view, machine, operating, count, now, lang)
        if margin
        else breakeven_report(view, machine, operating, now, lang)
    )
    return _chat_reply(report, view, services, lang, parsed.read_as_html(lang))


async def cost(request: Request, services: Services) -> Reply:
    """/cost — the network's production cost per BTC under both models, with assumptions."""
    return await _network_report(request, services, cost_report)


async def hashprice(request: Request, services: Services) -> Reply:
    """/hashprice — USD/PH/day and sats/TH/day right now."""
    lang = request.chat.language
    view = await view_or_reply(services, lang)
    if isinstance(view, Reply):
        return view
    market = view.market
    text = html_t(
        lang,
        "market.hashprice",
        usd=fmt.usd(hashprice_usd_per_ph_day(market), 2, lang),
        sats=fmt.number(hashprice_sats_per_th_day(market), 1, lang),
        price=fmt.usd(market.price_usd, 0, lang),
        difficulty=fmt.big(market.difficulty, "", lang),
        fees=t(lang, "report.fees_unknown")
        if market.fees_per_block_btc is None
        else t(lang, "market.fees", fees=fmt.number(market.fees_per_block_btc, 3, lang)),
    )
    return Reply(f"{text}\n{age_footer(view, services, lang)}")


async def difficulty(request: Request, services: Services) -> Reply:
    """/difficulty — difficulty, the estimated next adjustment, Puell multiple and ribbon compression."""
    lang = request.chat.language
    view = await view_or_reply(services, lang)
    if isinstance(view, Reply):
        return view
    market = view.market
    lines = [
        html_t(
            lang,
            "market.difficulty",
            difficulty=fmt.big(market.difficulty, "", lang),
            height=fmt.number(market.height, 0, lang),
        )
    ]
    adjustment = view.adjustment
    if adjustment is None:
        lines.append(html_t(lang, "market.next_unknown"))
    else:
        eta = adjustment.estimated_retarget_at
        lines.append(
            html_t(
                lang,
                "market.next",
                change=fmt.percent(adjustment.difficulty_change_pct / 100, 2, lang=lang),
                height=fmt.number(adjustment.next_retarget_height, 0, lang),
                blocks=plural(lang, "unit.block", adjustment.remaining_blocks),
                when=t(lang, "market.next_when", when=f"{eta:%Y-%m-%d %H:%M}") if eta else "",
            )
        )
        if adjustment.previous_retarget_pct is not None:
            change = fmt.percent(adjustment.previous_retarget_pct / 100, 2, lang=lang)
            lines.append(html_t(lang, "market.previous", change=change))
    lines += _miner_indicator_lines(await services.daily_rows(INDICATOR_DAYS), lang)
    lines.append(age_footer(view, services, lang))
    return Reply("\n".join(lines))


def _miner_indicator_lines(rows: list[DailyRow], lang: str) -> list[str]:
    """Puell multiple and difficulty ribbon compression on the latest stored day, each with its meaning, or
    why it is unknown (a day without recorded issuance is never filled with a guess)."""
    puell, compression = latest_puell(rows), latest_difficulty_ribbon_compression(rows)
    if puell is None or compression is None:
        return [html_t(lang, "market.no_daily")]
    lines = []
    if puell.value is None:
        lines.append(html_t(lang, "market.puell_unknown", day=puell.day, missing=puell.missing_days))
    else:
        lines.append(html_t(lang, "market.puell", value=fmt.number(puell.value, 2, lang), day=puell.day))
    if compression.value is None:
        lines.append(
            html_t(lang, "market.compression_unknown", day=compression.day, missing=compression.missing_days)
        )
    else:
        rank = compression.year_rank
        lines.append(
            html_t(
                lang,
                "market.compression",
                value=fmt.number(compression.value, 4, lang),
                day=compression.day,
                rank=""
                if rank is None
                else t(lang, "market.compression_rank", rank=fmt.percent(rank, 0, signed=False, lang=lang)),
            )
        )
    return lines


async def machines(request: Request, services: Services) -> Reply:
    """/machines — the catalog, most efficient first."""
    lang = request.chat.language
    return table_reply(machines_report(lang), html_t(lang, "market.machines_hint"))
