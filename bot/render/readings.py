"""The echo of values typed without their unit: ``Read as: 1 → 1¢/kWh.`` in the reader's language."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.chat.parsing import Reading
from bot.render import numbers as fmt
from bot.render.i18n import t


def describe_reading(reading: Reading, lang: str = "en") -> str:
    """``1 → 1¢/kWh``, ``0.06 → $0.06/kWh``, ``21.5 → 21.5 J/TH`` or
    ``200@3500 → 200 TH/s at 3,500 W = 17.5 J/TH``."""
    j = fmt.number(reading.value, None, lang)
    if reading.kind == "usd_per_kwh":
        return t(lang, "read.usd_per_kwh", typed=reading.typed, usd=j)
    if reading.kind == "cents_per_kwh":
        cents = fmt.number(round(reading.value * 100, 10), None, lang)
        return t(lang, "read.cents_per_kwh", typed=reading.typed, cents=cents)
    if reading.kind == "j_per_th":
        return t(lang, "read.j_per_th", typed=reading.typed, j=j)
    ths = fmt.number(reading.hashrate_ths or 0, None, lang)
    watts = fmt.number(reading.power_w or 0, None, lang)
    return t(lang, "read.th_at_w", typed=reading.typed, ths=ths, w=watts, j=j)


def read_as_line(readings: Sequence[Reading], lang: str = "en") -> str:
    """One line echoing every reading (``Read as: 1 → 1¢/kWh.``), or ``""`` when there is none."""
    if not readings:
        return ""
    return t(lang, "read.line", readings=", ".join(describe_reading(reading, lang) for reading in readings))


def read_as_data(readings: Sequence[Reading]) -> list[dict[str, Any]]:
    """The readings for ``--json``: what was typed, the value under a key that names its unit, the echo."""
    unit = {"usd_per_kwh": "usd_per_kwh", "cents_per_kwh": "usd_per_kwh", "j_per_th": "j_per_th"}
    return [
        {
            "typed": reading.typed,
            unit.get(reading.kind, "j_per_th"): reading.value,
            "read_as": describe_reading(reading),
        }
        for reading in readings
    ]
