"""Alert text: one short, HTML-safe line per ``AlertEvent``, from per-language message catalogs.

A catalog maps message ids to ``str.format`` templates, says how to spell a duration (plural rules
differ by language: 1 day / 2 days, 1 день / 2 дня / 5 дней) and which language formats its numbers and
model names. A language without a catalog, or a catalog without some message, falls back to English.
Every field is passed through ``html.escape`` (reasons, machine names and rule texts come from users and
upstreams), so the text is safe for Telegram's and Discord's HTML-ish modes and plain terminals.

English shows a threshold rule in the grammar a user types (``price below $60,000``); another language
spells it in its own words and number formats (``цена BTC ниже 60 000 $``), and says why data is stale
from the event's parts instead of the upstreams' English diagnosis.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.alerts.events import AlertEvent, EventKind
from bot.alerts.grammar import DEFAULT_MIN_INTERVAL_S, describe_rule
from bot.alerts.rules import Metric, Op, Rule, default_band
from bot.economics.fleet import Advice
from bot.economics.indicators import RIBBONS_MIN_CAPITULATION_DAYS
from bot.render import numbers as fmt
from bot.render.i18n import missing_sources, model_name, plural, t


@dataclass(frozen=True, slots=True)
class Catalog:
    """One language: message templates by id, how to spell a duration given in seconds, the language
    whose number formats and model names fill the templates, and the words that spell a threshold rule
    (none: the rule grammar itself, as in English)."""

    templates: Mapping[str, str]
    duration: Callable[[float], str]
    lang: str = "en"
    rule_words: Mapping[str, str] | None = None


def spell_duration(lang: str) -> Callable[[float], str]:
    """Seconds -> the nearest whole days, hours or minutes with the right plural: ``2 days``, ``5 дней``."""

    def spell(seconds: float) -> str:
        for size, unit in ((86_400, "unit.day"), (3600, "unit.hour")):
            if seconds >= size:
                return plural(lang, unit, round(seconds / size))
        return plural(lang, "unit.minute", max(1, round(seconds / 60)))

    return spell


EN = Catalog(
    templates={
        "regime_capitulation": (
            "⚠️ Miner capitulation: BTC {price} is {premium} below the production cost {cost} ({model}); "
            "recovery above {recovery}."
        ),
        "regime_recovery": (
            "✅ Recovery: BTC {price} is back {premium} above the production cost {cost} ({model}); "
            "capitulation lasted {lasted}."
        ),
        "ribbons_capitulation": (
            "📉 Hash Ribbons capitulation: the 30-day hashrate average ({fast}) fell below the 60-day "
            "({slow}); BTC {price}."
        ),
        "ribbons_recovery": (
            "📈 Hash Ribbons recovery: the 30-day hashrate average ({fast}) is back above the 60-day "
            "({slow}); BTC {price}."
        ),
        "ribbons_recovery_lasted": (
            "📈 Hash Ribbons recovery: the 30-day hashrate average ({fast}) is back above the 60-day "
            "({slow}) after {lasted} of capitulation; BTC {price}."
        ),
        "ribbons_recovery_short": (
            "📈 Hash Ribbons recovery: the 30-day hashrate average ({fast}) is back above the 60-day "
            "({slow}) after only {lasted} of capitulation, too short for a buy signal; BTC {price}."
        ),
        "ribbons_buy": (
            "🟢 Hash Ribbons buy signal: miners have recovered and the 10-day price average is above the "
            "20-day; BTC {price}."
        ),
        "retarget": "⛏ Difficulty adjusted {change} at block {height}: {old} → {new}.",
        "retarget_daily": "⛏ Difficulty adjusted {change}: {old} → {new}.",
        "threshold": "🔔 {rule}: now {value}.",
        "margin_warning": (
            "⚠️ {machine}: the next difficulty adjustment (est. {change}) would push your margin below zero: "
            "hashprice {hashprice} → {next_hashprice}, your breakeven {breakeven}."
        ),
        "fleet_advice": "🔔 Fleet line #{line}{site}: {advice}",
        "fleet_adjustment_loss": (
            "⚠️ Fleet line #{line}{site}, {count}× {machine}: the adjustment{when} ({change} est.) takes it "
            "from {before} to {after}; it would lose money at today's price."
        ),
        "fleet_adjustment_profit": (
            "✅ Fleet line #{line}{site}, {count}× {machine}: the adjustment{when} ({change} est.) takes it "
            "from {before} to {after}; it would pay again at today's price."
        ),
        "fleet_when": " in ~{left} ({date})",
        "data_stale": "⏸ Data is stale ({reason}); alerts are paused until sources recover.",
        "data_missing": "⏸ No market data yet ({reason}); alerts start once the sources answer.",
        "data_fresh": "▶️ Data is fresh again after {lasted}; alerts resumed.",
        "data_first": "▶️ Market data arrived after {lasted} without; alerts are on.",
        "stale_price": "no confirmed BTC price",
        "stale_network": "no confirmed network data",
        "stale_unknown": "sources unavailable",
    },
    duration=spell_duration("en"),
)
RU = Catalog(
    templates={
        "regime_capitulation": (
            "⚠️ Капитуляция майнеров: BTC {price} — на {premium} ниже себестоимости добычи {cost} ({model}); "
            "восстановление — выше {recovery}."
        ),
        "regime_recovery": (
            "✅ Восстановление: BTC {price} снова на {premium} выше себестоимости добычи {cost} ({model}); "
            "капитуляция длилась {lasted}."
        ),
        "ribbons_capitulation": (
            "📉 Hash Ribbons, капитуляция: 30-дневное среднее хешрейта ({fast}) опустилось ниже 60-дневного "
            "({slow}); BTC {price}."
        ),
        "ribbons_recovery": (
            "📈 Hash Ribbons, восстановление: 30-дневное среднее хешрейта ({fast}) снова выше 60-дневного "
            "({slow}); BTC {price}."
        ),
        "ribbons_recovery_lasted": (
            "📈 Hash Ribbons, восстановление: 30-дневное среднее хешрейта ({fast}) снова выше 60-дневного "
            "({slow}) после капитуляции длиной {lasted}; BTC {price}."
        ),
        "ribbons_recovery_short": (
            "📈 Hash Ribbons, восстановление: 30-дневное среднее хешрейта ({fast}) снова выше 60-дневного "
            "({slow}) после капитуляции длиной всего {lasted} — слишком короткой для сигнала на покупку; "
            "BTC {price}."
        ),
        "ribbons_buy": (
            "🟢 Hash Ribbons, сигнал на покупку: майнеры восстановились, и 10-дневная средняя цены выше "
            "20-дневной; BTC {price}."
        ),
        "retarget": "⛏ Сложность изменилась на {change} на блоке {height}: {old} → {new}.",
        "retarget_daily": "⛏ Сложность изменилась на {change}: {old} → {new}.",
        "threshold": "🔔 {rule}: сейчас {value}.",
        "margin_warning": (
            "⚠️ {machine}: следующая корректировка сложности (оценка {change}) уведёт вашу маржу ниже нуля: "
            "хешпрайс {hashprice} → {next_hashprice}, ваша точка безубыточности {breakeven}."
        ),
        "fleet_advice": "🔔 Линия парка №{line}{site}: {advice}",
        "fleet_adjustment_loss": (
            "⚠️ Линия парка №{line}{site}, {count}× {machine}: корректировка{when} ({change}, оценка) "
            "изменит маржу с {before} до {after}; при сегодняшней цене линия уйдёт в убыток."
        ),
        "fleet_adjustment_profit": (
            "✅ Линия парка №{line}{site}, {count}× {machine}: корректировка{when} ({change}, оценка) "
            "изменит маржу с {before} до {after}; при сегодняшней цене линия снова окупится."
        ),
        "fleet_when": " через ~{left} ({date})",
        "data_stale": (
            "⏸ Данные устарели ({reason}); оповещения приостановлены, пока источники не восстановятся."
        ),
        "data_missing": (
            "⏸ Рыночных данных пока нет ({reason}); оповещения начнутся, когда источники ответят."
        ),
        "data_fresh": "▶️ Данные снова свежие (перерыв длился {lasted}); оповещения возобновлены.",
        "data_first": "▶️ Рыночные данные получены (ждали {lasted}); оповещения включены.",
        "stale_price": "нет подтверждённой цены BTC",
        "stale_network": "нет подтверждённых данных сети",
        "stale_unknown": "источники недоступны",
    },
    duration=spell_duration("ru"),
    lang="ru",
    rule_words={
        "price": "цена BTC",
        "hashprice": "хешпрайс",
        "margin": "маржа",
        "breakeven": "безубыточный тариф",
        "premium": "премия к себестоимости",
        "difficulty": "следующая корректировка сложности",
        "stress": "индекс стресса майнеров",
        "below": "ниже",
        "above": "выше",
        "band": "возврат за {band} от порога",
        "repeat": "с повтором",
        "every": "не чаще раза в {interval}",
    },
)
CATALOGS: dict[str, Catalog] = {"en": EN, "ru": RU}
BREAKEVEN_PRICE_DIGITS = 3
"""Significant digits of a breakeven BTC price in a sentence: ``$71.2k``."""


def _pct(value: float, lang: str, decimals: int = 1, *, signed: bool = False) -> str:
    """``-11.1645`` -> ``−11.16%`` (typographic minus in every language); ``signed`` adds ``+`` to gains."""
    return fmt.percent(value / 100, decimals, signed=signed, lang=lang).replace("-", "−")


def _hashprice(value: float, lang: str) -> str:
    return t(lang, "value.hashprice", usd=fmt.usd(value, 2, lang))


def _hashrate(ths: float, lang: str) -> str:
    return fmt.big(ths * 1e12, "H/s", lang)


_RULE_VALUE: dict[Metric, Callable[[float, str], str]] = {
    Metric.PRICE: lambda value, lang: fmt.usd(value, 0, lang),
    Metric.HASHPRICE: _hashprice,
    Metric.MARGIN: _pct,
    Metric.BREAKEVEN: fmt.usd_per_kwh,
    Metric.PREMIUM: lambda value, lang: _pct(value, lang, signed=True),
    Metric.DIFFICULTY: lambda value, lang: _pct(value, lang, 2, signed=True),
    Metric.STRESS: lambda value, lang: f"{fmt.number(value, 1, lang)} / 100",
}

Fields = tuple[str, dict[str, str]]


def _regime(data: dict[str, Any], catalog: Catalog, message: str) -> Fields:
    """Price exact; cost, recovery level and premium to the digits the cost model supports ("$87k", "23%")."""
    lang = catalog.lang
    digits = int(data["cost_significant_digits"])
    fields = {
        "price": fmt.usd(data["price_usd"], 0, lang),
        "premium": _pct(abs(data["premium_pct"]), lang, 0),
        "cost": fmt.usd_approx(data["cost_usd_per_btc"], digits, lang),
        "model": model_name(lang, str(data["cost_model"])),
    }
    if "recovery_above_usd" in data:
        fields["recovery"] = fmt.usd_approx(data["recovery_above_usd"], digits, lang)
    if "capitulation_seconds" in data:
        fields["lasted"] = catalog.duration(data["capitulation_seconds"])
    return message, fields


def _ribbons(data: dict[str, Any], lang: str, message: str) -> Fields:
    """A recovery that knows its capitulation's length says it, and says when it was too short for a buy."""
    fast, slow = _hashrate(data["sma30_ths"], lang), _hashrate(data["sma60_ths"], lang)
    fields = {"fast": fast, "slow": slow, "price": fmt.usd(data["price_usd"], 0, lang)}
    days = data.get("capitulation_days")
    if message != EventKind.RIBBONS_RECOVERY.value or days is None:
        return message, fields
    short = days < RIBBONS_MIN_CAPITULATION_DAYS
    fields["lasted"] = plural(lang, "unit.day", int(days))
    return f"{message}_short" if short else f"{message}_lasted", fields


def _retarget(data: dict[str, Any], lang: str) -> Fields:
    fields = {
        "change": _pct(data["change_pct"], lang, 2, signed=True),
        "old": fmt.big(data["old_difficulty"], "", lang),
        "new": fmt.big(data["new_difficulty"], "", lang),
    }
    if data.get("height") is None:
        return "retarget_daily", fields
    return "retarget", {**fields, "height": fmt.number(data["height"], 0, lang)}


def describe_rule_in(rule: Rule, lang: str) -> str:
    """``rule`` as a chat in ``lang`` reads it: the rule grammar in English (``describe_rule``), words and
    the language's number formats elsewhere; options only when not the default, as ``describe_rule``."""
    catalog = CATALOGS.get(lang, EN)
    words = catalog.rule_words
    if words is None:
        return describe_rule(rule)
    value = _RULE_VALUE[rule.metric]
    text = f"{words[rule.metric.value]} {words[rule.op.value]} {value(rule.threshold, catalog.lang)}"
    options = []
    if rule.band != default_band(rule.metric, rule.threshold):
        options.append(words["band"].format(band=value(rule.band, catalog.lang).lstrip("+")))
    if rule.repeat:
        options.append(words["repeat"])
    if rule.min_interval_s != DEFAULT_MIN_INTERVAL_S:
        options.append(words["every"].format(interval=catalog.duration(rule.min_interval_s)))
    return ", ".join([text, *options])


def _event_rule(data: dict[str, Any]) -> Rule:
    """The rule a threshold event fired for (events stored before options travelled take the defaults)."""
    metric, threshold = Metric(data["metric"]), float(data["threshold"])
    return Rule(
        metric,
        Op(data["op"]),
        threshold,
        float(data.get("band", default_band(metric, threshold))),
        bool(data.get("repeat", False)),
        int(data.get("min_interval_s", DEFAULT_MIN_INTERVAL_S)),
    )


def _threshold(data: dict[str, Any], catalog: Catalog) -> Fields:
    rule = (
        str(data["rule"]) if catalog.rule_words is None else describe_rule_in(_event_rule(data), catalog.lang)
    )
    return "threshold", {
        "rule": rule,
        "value": _RULE_VALUE[Metric(data["metric"])](data["value"], catalog.lang),
    }


def _stale(data: dict[str, Any], catalog: Catalog, at: datetime) -> Fields:
    """English keeps the operators' diagnosis; another language says what is missing and which sources
    stopped answering since when."""
    if catalog.rule_words is None:
        return "data_stale", {"reason": str(data["reason"])}
    missing = data.get("missing")
    template = catalog.templates.get(f"stale_{missing}" if missing else "stale_unknown", "")
    reason = template or catalog.templates["stale_unknown"]
    failing = {source: datetime.fromisoformat(since) for source, since in data.get("failing", {}).items()}
    if failing:
        reason += "; " + missing_sources(catalog.lang, failing, at)
    return "data_stale", {"reason": reason}


def _margin_warning(data: dict[str, Any], lang: str) -> Fields:
    return "margin_warning", {
        "machine": str(data["machine"]),
        "change": _pct(data["difficulty_change_pct"], lang, 2, signed=True),
        "hashprice": _hashprice(data["hashprice_usd_per_ph_day"], lang),
        "next_hashprice": _hashprice(data["next_hashprice_usd_per_ph_day"], lang),
        "breakeven": _hashprice(data["breakeven_hashprice_usd_per_ph_day"], lang),
    }


def advice_sentence(data: dict[str, Any], lang: str) -> str:
    """ "⛔ Switch off the 40 Antminer S19j Pro: -$0.66 per machine per day at $0.0550/kWh; they turn
    positive above $79.6k BTC or below $0.0461/kWh." from ``bot.alerts.fleet.line_data`` (plain text)."""
    key = "fleet.advice_run" if data["advice"] == Advice.RUN.value else "fleet.advice_off"
    return t(
        lang,
        key,
        count=data["count"],
        machine=data["machine"],
        profit=fmt.usd(data["profit_usd_per_unit_day"], 2, lang),
        unit=t(lang, f"fleet.per_{data['unit']}"),
        power=fmt.usd_per_kwh(data["power_usd_per_kwh"], lang),
        price=fmt.usd_approx(data["breakeven_price_usd"], BREAKEVEN_PRICE_DIGITS, lang),
        breakeven=fmt.usd_per_kwh(data["breakeven_power_usd_per_kwh"], lang),
    )


def _site(data: dict[str, Any], lang: str) -> str:
    return t(lang, "fleet.site", site=data["site"]) if data.get("site") else ""


def _fleet_adjustment(event: AlertEvent, catalog: Catalog) -> Fields:
    data, lang = event.data, catalog.lang
    when = ""
    if data.get("estimated_at"):
        eta = datetime.fromisoformat(data["estimated_at"])
        left = fmt.duration(eta - event.occurred_at, lang)
        when = catalog.templates.get("fleet_when", EN.templates["fleet_when"]).format(
            left=left, date=f"{eta:%Y-%m-%d}"
        )
    return f"fleet_adjustment_{data['turns']}", {
        "line": str(data["line"]),
        "site": _site(data, lang),
        "count": str(data["count"]),
        "machine": str(data["machine"]),
        "when": when,
        "change": _pct(data["difficulty_change_pct"], lang, 1, signed=True),
        "before": fmt.percent(data["margin_pct"] / 100, lang=lang),
        "after": fmt.percent(data["margin_after_pct"] / 100, lang=lang),
    }


def _fields(event: AlertEvent, catalog: Catalog) -> Fields:
    data, kind, lang = event.data, event.kind, catalog.lang
    if kind in (EventKind.REGIME_CAPITULATION, EventKind.REGIME_RECOVERY):
        return _regime(data, catalog, kind.value)
    if kind in (EventKind.RIBBONS_CAPITULATION, EventKind.RIBBONS_RECOVERY, EventKind.RIBBONS_BUY):
        return _ribbons(data, lang, kind.value)
    if kind is EventKind.RETARGET:
        return _retarget(data, lang)
    if kind is EventKind.THRESHOLD:
        return _threshold(data, catalog)
    if kind is EventKind.MARGIN_WARNING:
        return _margin_warning(data, lang)
    if kind is EventKind.FLEET_ADVICE:
        return "fleet_advice", {
            "line": str(data["line"]),
            "site": _site(data, lang),
            "advice": advice_sentence(data, lang),
        }
    if kind is EventKind.FLEET_ADJUSTMENT:
        return _fleet_adjustment(event, catalog)
    if kind is EventKind.DATA_STALE:
        message, fields = _stale(data, catalog, event.occurred_at)
        return ("data_missing" if data.get("no_data_yet") else message), fields
    lasted = catalog.duration(data["stale_seconds"])
    return "data_first" if data.get("first_data") else "data_fresh", {"lasted": lasted}


def render_event(event: AlertEvent, lang: str = "en") -> str:
    """The message for ``event`` in ``lang`` (English when there is no catalog or message for it)."""
    catalog = CATALOGS.get(lang, EN)
    message, fields = _fields(event, catalog)
    template = catalog.templates.get(message, EN.templates[message])
    return template.format(**{name: html.escape(value) for name, value in fields.items()})
