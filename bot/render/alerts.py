"""Alert text: one short, HTML-safe line per ``AlertEvent``, from per-language message catalogs.

A catalog maps message ids to ``str.format`` templates and says how to spell a duration (plural rules
differ by language). A language without a catalog, or a catalog without some message, falls back to
English. Every field is passed through ``html.escape`` (reasons, machine names and rule texts come from
users and upstreams), so the text is safe for Telegram's and Discord's HTML-ish modes and plain terminals.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.alerts.events import AlertEvent, EventKind
from bot.alerts.rules import Metric
from bot.render import numbers as fmt


@dataclass(frozen=True, slots=True)
class Catalog:
    """One language: message templates by id, and how to spell a duration given in seconds."""

    templates: Mapping[str, str]
    duration: Callable[[float], str]


def _en_duration(seconds: float) -> str:
    for size, unit in ((86_400, "day"), (3600, "hour")):
        if seconds >= size:
            count = round(seconds / size)
            return f"{count} {unit}{'' if count == 1 else 's'}"
    count = max(1, round(seconds / 60))
    return f"{count} minute{'' if count == 1 else 's'}"


EN = Catalog(
    templates={
        "regime_capitulation": (
            "⚠️ Miner capitulation: BTC {price} is {premium} below the production cost {cost} ({model})."
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
        "data_stale": "⏸ Data is stale ({reason}); alerts are paused until sources recover.",
        "data_fresh": "▶️ Data is fresh again after {lasted}; alerts resumed.",
    },
    duration=_en_duration,
)
CATALOGS: dict[str, Catalog] = {"en": EN}


def _pct(value: float, decimals: int = 1, *, signed: bool = False) -> str:
    """``-11.1645`` -> ``−11.16%`` (typographic minus); ``signed`` adds ``+`` to gains."""
    text = f"{value:+.{decimals}f}%" if signed else f"{value:.{decimals}f}%"
    return text.replace("-", "−")


def _hashprice(value: float) -> str:
    return f"{fmt.usd(value, 2)}/PH/day"


def _hashrate(ths: float) -> str:
    return fmt.big(ths * 1e12, "H/s")


_RULE_VALUE: dict[Metric, Callable[[float], str]] = {
    Metric.PRICE: fmt.usd,
    Metric.HASHPRICE: _hashprice,
    Metric.MARGIN: _pct,
    Metric.BREAKEVEN: fmt.usd_per_kwh,
    Metric.PREMIUM: lambda value: _pct(value, signed=True),
    Metric.DIFFICULTY: lambda value: _pct(value, 2, signed=True),
}

Fields = tuple[str, dict[str, str]]


def _regime(data: dict[str, Any], catalog: Catalog, message: str) -> Fields:
    fields = {
        "price": fmt.usd(data["price_usd"]),
        "premium": _pct(abs(data["premium_pct"])),
        "cost": fmt.usd(data["cost_usd_per_btc"]),
        "model": str(data["cost_model"]),
    }
    if "capitulation_seconds" in data:
        fields["lasted"] = catalog.duration(data["capitulation_seconds"])
    return message, fields


def _ribbons(data: dict[str, Any], message: str) -> Fields:
    fast, slow = _hashrate(data["sma30_ths"]), _hashrate(data["sma60_ths"])
    return message, {"fast": fast, "slow": slow, "price": fmt.usd(data["price_usd"])}


def _retarget(data: dict[str, Any]) -> Fields:
    fields = {
        "change": _pct(data["change_pct"], 2, signed=True),
        "old": fmt.big(data["old_difficulty"]),
        "new": fmt.big(data["new_difficulty"]),
    }
    if data.get("height") is None:
        return "retarget_daily", fields
    return "retarget", {**fields, "height": f"{data['height']:,}"}


def _threshold(data: dict[str, Any]) -> Fields:
    return "threshold", {
        "rule": str(data["rule"]),
        "value": _RULE_VALUE[Metric(data["metric"])](data["value"]),
    }


def _margin_warning(data: dict[str, Any]) -> Fields:
    return "margin_warning", {
        "machine": str(data["machine"]),
        "change": _pct(data["difficulty_change_pct"], 2, signed=True),
        "hashprice": _hashprice(data["hashprice_usd_per_ph_day"]),
        "next_hashprice": _hashprice(data["next_hashprice_usd_per_ph_day"]),
        "breakeven": _hashprice(data["breakeven_hashprice_usd_per_ph_day"]),
    }


def _fields(event: AlertEvent, catalog: Catalog) -> Fields:
    data, kind = event.data, event.kind
    if kind in (EventKind.REGIME_CAPITULATION, EventKind.REGIME_RECOVERY):
        return _regime(data, catalog, kind.value)
    if kind in (EventKind.RIBBONS_CAPITULATION, EventKind.RIBBONS_RECOVERY, EventKind.RIBBONS_BUY):
        return _ribbons(data, kind.value)
    if kind is EventKind.RETARGET:
        return _retarget(data)
    if kind is EventKind.THRESHOLD:
        return _threshold(data)
    if kind is EventKind.MARGIN_WARNING:
        return _margin_warning(data)
    if kind is EventKind.DATA_STALE:
        return "data_stale", {"reason": str(data["reason"])}
    return "data_fresh", {"lasted": catalog.duration(data["stale_seconds"])}


def render_event(event: AlertEvent, lang: str = "en") -> str:
    """The message for ``event`` in ``lang`` (English when there is no catalog or message for it)."""
    catalog = CATALOGS.get(lang, EN)
    message, fields = _fields(event, catalog)
    template = catalog.templates.get(message, EN.templates[message])
    return template.format(**{name: html.escape(value) for name, value in fields.items()})
