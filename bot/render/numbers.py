"""Number formatting at the edge: money is rounded only here, never in the economics.

Every function takes ``lang`` (default English, which the CLI uses). English: ``$66,680``,
``$0.0406/kWh``, ``-11.1%``. Russian: a no-break space groups thousands, a comma marks decimals, the sign
is a typographic minus and units follow the number: ``66 680 $``, ``0,0406 $/кВт·ч``, ``−11,1 %``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

NBSP = "\u00a0"


@dataclass(frozen=True, slots=True)
class _Style:
    group: str
    decimal: str
    minus: str
    percent: str
    """Suffix of a percentage, with its space if the language puts one."""
    currency_first: bool
    per_kwh: str
    time_units: tuple[str, str, str, str]
    """Day, hour, minute and second abbreviations for ``duration``."""
    unit_space: str
    """Between a count and its time unit."""


_STYLES: dict[str, _Style] = {
    "en": _Style(",", ".", "-", "%", True, "/kWh", ("d", "h", "m", "s"), ""),
    "ru": _Style(NBSP, ",", "−", f"{NBSP}%", False, "/кВт·ч", ("д", "ч", "мин", "с"), NBSP),
}


def _style(lang: str) -> _Style:
    return _STYLES.get(lang, _STYLES["en"])


def number(value: float, decimals: int | None = 0, lang: str = "en", *, signed: bool = False) -> str:
    """Grouped thousands in ``lang``: ``1234.5`` -> ``1,234.5`` / ``1 234,5``; ``decimals=None`` trims
    like ``:g``; ``signed`` puts ``+`` before gains."""
    if not math.isfinite(value):
        return "n/a"
    style = _style(lang)
    spec = ",g" if decimals is None else f",.{decimals}f"
    text = format(abs(value), spec)
    text = text.replace(",", "\0").replace(".", style.decimal).replace("\0", style.group)
    zero = not any(c in "123456789" for c in text)
    sign = style.minus if value < 0 and not zero else "+" if signed and value > 0 and not zero else ""
    return sign + text


def usd(value: float, decimals: int | None = 0, lang: str = "en") -> str:
    """``66680.4`` -> ``$66,680`` (``66 680 $``); negative values keep their sign in front: ``-$1.20``."""
    if not math.isfinite(value):
        return "n/a"
    style = _style(lang)
    amount = number(value, decimals, lang)
    sign = style.minus if amount.startswith(style.minus) else ""
    amount = amount.removeprefix(sign)
    return f"{sign}${amount}" if style.currency_first else f"{sign}{amount}{NBSP}$"


_SCALES: dict[str, tuple[tuple[float, str], ...]] = {
    "en": ((1e9, "B"), (1e6, "M"), (1e3, "k")),
    "ru": ((1e9, f"{NBSP}млрд"), (1e6, f"{NBSP}млн"), (1e3, f"{NBSP}тыс.")),
}


def usd_approx(value: float, significant_digits: int, lang: str = "en") -> str:
    """A model output to the digits it is known to: ``86943, 2`` -> ``$87k`` (``87 тыс. $``),
    ``1_234_567, 2`` -> ``$1.2M``, ``631.4, 2`` -> ``$630``, ``4.234, 2`` -> ``$4.2``."""
    if not math.isfinite(value) or value == 0:
        return usd(value, 0, lang)
    if significant_digits < 1:
        raise ValueError(f"significant_digits must be at least 1, got {significant_digits!r}")
    exponent = math.floor(math.log10(abs(value)))
    rounded = round(value, significant_digits - 1 - exponent)
    for size, suffix in _SCALES.get(lang, _SCALES["en"]):
        if abs(rounded) >= size:
            scaled = rounded / size
            decimals = max(0, significant_digits - 1 - math.floor(math.log10(abs(scaled))))
            amount = number(scaled, decimals, lang)
            return f"${amount}{suffix}" if _style(lang).currency_first else f"{amount}{suffix}{NBSP}$"
    return usd(rounded, max(0, significant_digits - 1 - exponent), lang)


def usd_per_kwh(value: float, lang: str = "en", decimals: int | None = 4) -> str:
    """Power prices to a hundredth of a cent: ``$0.0406/kWh`` (``0,0406 $/кВт·ч``)."""
    if not math.isfinite(value):
        return "n/a"
    return f"{usd(value, decimals, lang)}{_style(lang).per_kwh}"


def percent(fraction: float, decimals: int | None = 1, *, signed: bool = True, lang: str = "en") -> str:
    """``-0.1107`` -> ``-11.1%`` (``−11,1 %``); with ``signed`` a plus sign marks gains."""
    if not math.isfinite(fraction):
        return "n/a"
    return number(fraction * 100, decimals, lang, signed=signed) + _style(lang).percent


def big(value: float, unit: str = "", lang: str = "en") -> str:
    """Short form for large numbers: ``125.86e12`` -> ``125.86 T`` (``125,86 T``)."""
    for threshold, suffix in ((1e18, "E"), (1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M")):
        if abs(value) >= threshold:
            return f"{number(value / threshold, 2, lang)} {suffix}{unit}".rstrip()
    return f"{number(value, 2, lang)} {unit}".rstrip()


def duration(delta: timedelta, lang: str = "en") -> str:
    """Human duration, coarse: ``3d 4h``, ``5h 12m``, ``42s`` (``3 д 4 ч``, ``5 ч 12 мин``, ``42 с``)."""
    seconds = max(0, int(delta.total_seconds()))
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, seconds = divmod(rest, 60)
    style = _style(lang)
    d, h, m, s = style.time_units
    space = style.unit_space
    if days:
        return f"{days}{space}{d} {hours}{space}{h}"
    if hours:
        return f"{hours}{space}{h} {minutes}{space}{m}"
    if minutes:
        return f"{minutes}{space}{m} {seconds}{space}{s}"
    return f"{seconds}{space}{s}"
