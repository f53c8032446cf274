"""Forgiving parsers for the numbers people type: power prices, BTC prices, percentages.

Shared by the CLI and the chat handlers so ``5.5c`` means the same everywhere. Each parser returns a plain
float in the unit of its name or raises ``ValueError`` with a one-line message that names the value and
shows a correct example.
"""

from __future__ import annotations

import math
import re

from bot.economics.fleet import Period, Tariff

MAX_POWER_USD_PER_KWH = 5.0
MIN_PRICE_USD = 100.0
MAX_PRICE_USD = 10_000_000.0

_NUMBER = r"[0-9]+(?:[.,][0-9]+)?|[.,][0-9]+"
_POWER_RE = re.compile(
    rf"^\$?(?P<num>{_NUMBER})\s*(?P<unit>c|¢|cents?|/kwh|\$/kwh|usd/kwh|c/kwh|¢/kwh)?$", re.IGNORECASE
)
_PRICE_RE = re.compile(rf"^\$?(?P<num>{_NUMBER})\s*(?P<suffix>k|m)?$", re.IGNORECASE)
_PERCENT_RE = re.compile(rf"^(?P<num>-?(?:{_NUMBER}))\s*%?$")


def _to_float(text: str) -> float:
    return float(text.replace(",", "."))


def parse_power_usd_per_kwh(text: str) -> float:
    """``0.055``, ``$0.055``, ``5.5c``, ``5.5¢`` or ``0.055/kWh`` -> 0.055 $/kWh.

    A bare number of 1 or more is read as cents (``6`` -> $0.06/kWh), since nobody pays $6/kWh.
    """
    cleaned = text.strip().replace(" ", "")
    match = _POWER_RE.match(cleaned)
    if not match:
        raise ValueError(f"'{text}' is not a power price; write it like 0.055, $0.055 or 5.5c")
    value = _to_float(match["num"])
    unit = (match["unit"] or "").lower()
    in_cents = unit.startswith(("c", "¢")) or (not unit and value >= 1)
    usd_per_kwh = value / 100 if in_cents else value
    if not math.isfinite(usd_per_kwh) or usd_per_kwh <= 0 or usd_per_kwh > MAX_POWER_USD_PER_KWH:
        raise ValueError(f"power price '{text}' is out of range; write it like 0.055 or 5.5c")
    return usd_per_kwh


def parse_price_usd(text: str) -> float:
    """``60000``, ``60,000``, ``$60k``, ``60.5k`` or ``1.2m`` -> USD per BTC, within $100..$10M."""
    cleaned = text.strip().replace(" ", "").replace("_", "")
    if re.fullmatch(r"\$?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?[kKmM]?", cleaned):
        cleaned = cleaned.replace(",", "")
    match = _PRICE_RE.match(cleaned)
    if not match:
        raise ValueError(f"'{text}' is not a BTC price; write it like 60000 or 60k")
    value = _to_float(match["num"]) * {"": 1, "k": 1e3, "m": 1e6}[(match["suffix"] or "").lower()]
    if not MIN_PRICE_USD <= value <= MAX_PRICE_USD:
        raise ValueError(f"BTC price '{text}' is out of range; write it like 60000 or 60k")
    return value


def parse_percent(text: str, *, name: str, low: float = 0.0, high: float = 100.0) -> float:
    """``2``, ``2%`` or ``2.5 %`` -> the number of percent, checked against ``low..high``."""
    match = _PERCENT_RE.match(text.strip())
    if not match:
        raise ValueError(f"{name} '{text}' is not a percentage; write it like 2 or 2.5%")
    value = _to_float(match["num"])
    if not low <= value <= high:
        raise ValueError(f"{name} '{text}' must be between {low:g}% and {high:g}%")
    return value


def parse_positive(text: str, *, name: str, example: str, high: float = math.inf) -> float:
    """A finite number above zero (and at most ``high``), or a one-line error naming ``name``."""
    try:
        value = float(text.strip().replace("_", ""))
    except ValueError:
        raise ValueError(f"{name} '{text}' is not a number; write it like {example}") from None
    if not math.isfinite(value) or value <= 0 or value > high:
        raise ValueError(f"{name} '{text}' is out of range; write it like {example}")
    return value


TARIFF_NAME = re.compile(r"[a-z0-9_-]{1,16}")
"""What a tariff may be called: short enough for a table cell."""
_PERIOD_RE = re.compile(r"(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})\s+(?P<price>[^\s;]+)")
_ZONE_RE = re.compile(r"^(?:UTC|[A-Za-z_]+(?:/[A-Za-z0-9_+-]+)+)$")


def parse_clock_minute(text: str) -> int:
    """``14:00`` -> 840, ``24:00`` -> 1440 (the end of the day)."""
    hours, _, minutes = text.partition(":")
    value = int(hours) * 60 + int(minutes)
    if int(minutes) > 59 or value > 1440:
        raise ValueError(f"'{text}' is not a time of day; write it like 14:00")
    return value


def parse_tariff(name: str, text: str) -> Tariff:
    """``texas``, ``0.045; 14:00-20:00 0.12 America/Chicago`` -> a tariff: the base price all day, each
    ``HH:MM-HH:MM PRICE`` period over it (later ones win), in an IANA time zone (default UTC)."""
    if not TARIFF_NAME.fullmatch(name):
        raise ValueError(f"tariff name '{name}' must be 1 to 16 lowercase letters, digits, '-' or '_'")
    zones = [token for token in text.replace(";", " ").split() if _ZONE_RE.match(token)]
    if len(zones) > 1:
        raise ValueError("give one time zone, like America/Chicago")
    rest = text
    for zone in zones:
        rest = rest.replace(zone, " ")
    periods = [
        Period(
            parse_clock_minute(match["start"]),
            parse_clock_minute(match["end"]),
            parse_power_usd_per_kwh(match["price"]),
        )
        for match in _PERIOD_RE.finditer(rest)
    ]
    base = _PERIOD_RE.sub(" ", rest).replace(";", " ").split()
    if len(base) != 1:
        raise ValueError("start with one base price, like 0.045, then periods like 14:00-20:00 0.12")
    return Tariff(name, parse_power_usd_per_kwh(base[0]), tuple(periods), zones[0] if zones else "UTC")
