"""The chat grammar of threshold rules, shared by ``/subscribe`` and ``minerwatch backtest --rule``.

``METRIC OP VALUE [band AMOUNT] [repeat] [every DURATION]``, case-insensitive:

* METRIC: price (USD), hashprice (USD/PH/day), margin (%), breakeven (power price, $/kWh), premium (% over
  production cost), difficulty (% estimated next change), stress (the open miner-stress index, 0 to 100);
* OP: ``below | under | <`` or ``above | over | >``;
* VALUE in the metric's unit, as ``bot.chat.parsing`` reads it (``60k``, ``$60,000``, ``5.5c``, ``-10%``);
* ``band`` moves the re-arm level away from the threshold (default ``rules.default_band``), ``repeat``
  fires again while the condition holds, ``every`` sets the minimum interval between fires (``30m``,
  ``6h``, ``1d``; default 1 h).

Every mistake raises ``ValueError`` with one line that says what is wrong and shows a correct rule.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from bot.alerts.rules import Metric, Op, Rule, default_band
from bot.chat.parsing import parse_percent, parse_positive, parse_power_usd_per_kwh, parse_price_usd

DEFAULT_MIN_INTERVAL_S = 3600
"""``Rule.min_interval_s``'s default: one fire per hour at most."""
MIN_INTERVAL_RANGE_S = (60, 30 * 86_400)

OPS = {
    "below": Op.BELOW,
    "under": Op.BELOW,
    "<": Op.BELOW,
    "above": Op.ABOVE,
    "over": Op.ABOVE,
    ">": Op.ABOVE,
}
_DURATION_RE = re.compile(r"(?P<count>[0-9]+)(?P<unit>m|min|h|d)")
_DURATION_UNITS_S = {"m": 60, "min": 60, "h": 3600, "d": 86_400}


def _percent(low: float, high: float) -> Callable[[str], float]:
    return lambda text: parse_percent(text.removeprefix("+"), name="value", low=low, high=high)


def _hashprice(text: str) -> float:
    bare = text.removeprefix("$").removesuffix("/ph/day").removesuffix("/ph")
    return parse_positive(bare, name="hashprice", example="35", high=1e5)


def _usd_amount(text: str) -> float:
    bare = text.removeprefix("$").replace(",", "")
    value = float(bare.removesuffix("k")) * (1000.0 if bare.endswith("k") else 1.0)
    if not 0 <= value < math.inf:
        raise ValueError(text)
    return value


def _hashprice_amount(text: str) -> float:
    return _usd_amount(text.removesuffix("/ph/day").removesuffix("/ph"))


@dataclass(frozen=True, slots=True)
class _Grammar:
    """How one metric's value and band are written, and a correct example of each."""

    noun: str
    example: str
    value: Callable[[str], float]
    band: Callable[[str], float]
    band_example: str


GRAMMARS: dict[Metric, _Grammar] = {
    Metric.PRICE: _Grammar(
        "BTC price ($100 to $10M)", "price below 60k", parse_price_usd, _usd_amount, "500"
    ),
    Metric.HASHPRICE: _Grammar(
        "hashprice (USD per PH/s per day)", "hashprice below 35", _hashprice, _hashprice_amount, "1"
    ),
    Metric.MARGIN: _Grammar(
        "margin (a percentage below 100)", "margin below 0", _percent(-10_000, 99.9), _percent(0, 100), "2"
    ),
    Metric.BREAKEVEN: _Grammar(
        "power price ($/kWh, like 0.05 or 5c)",
        "breakeven below 5c",
        parse_power_usd_per_kwh,
        parse_power_usd_per_kwh,
        "0.2c",
    ),
    Metric.PREMIUM: _Grammar(
        "premium (a percentage above -100)",
        "premium below -10%",
        _percent(-99.9, 10_000),
        _percent(0, 100),
        "2",
    ),
    Metric.DIFFICULTY: _Grammar(
        "difficulty change (a percentage from -75 to 300)",
        "difficulty above 5%",
        _percent(-75, 300),
        _percent(0, 100),
        "1",
    ),
    Metric.STRESS: _Grammar(
        "miner-stress index (0 to 100)", "stress below 25", _percent(0, 100), _percent(0, 100), "2"
    ),
}
EXAMPLE = GRAMMARS[Metric.PRICE].example


def _words(text: str) -> list[str]:
    """Lower-case words; ``<``/``>`` split off, and a unit typed apart from its number joined back."""
    spaced = re.sub(r"([<>])", r" \1 ", text.strip().lower())
    return re.sub(r"(?<=[0-9])\s+(k|m|%|c|¢|h|d|min)(?=\s|$)", r"\1", spaced).split()


def _metric(word: str) -> Metric:
    names = [metric.value for metric in Metric]
    if word in names:
        return Metric(word)
    close = difflib.get_close_matches(word, names, n=1, cutoff=0.6)
    if close:
        example = GRAMMARS[Metric(close[0])].example
        raise ValueError(f"unknown metric '{word}' (did you mean {close[0]}?); try: {example}")
    raise ValueError(f"unknown metric '{word}' (one of {', '.join(names)}); try: {EXAMPLE}")


def _parsed(parse: Callable[[str], float], word: str | None) -> float | None:
    if word is None:
        return None
    try:
        return parse(word)
    except ValueError:
        return None


def _shown(word: str | None) -> str:
    return "nothing" if word is None else f"'{word}'"


def _interval_s(word: str | None) -> int | None:
    match = _DURATION_RE.fullmatch(word or "")
    seconds = int(match["count"]) * _DURATION_UNITS_S[match["unit"]] if match else 0
    low, high = MIN_INTERVAL_RANGE_S
    return seconds if low <= seconds <= high else None


def parse_rule(text: str) -> Rule:
    """``price below 60k``, ``margin < 10%``, ``breakeven under 5c band 0.2c repeat every 6h`` -> ``Rule``."""
    words = _words(text)
    if not words:
        raise ValueError(f"empty rule; try: {EXAMPLE}")
    metric = _metric(words[0])
    grammar = GRAMMARS[metric]
    if len(words) < 2 or words[1] not in OPS:
        shown = _shown(words[1] if len(words) > 1 else None)
        raise ValueError(f"expected below or above after {metric}, got {shown}; try: {grammar.example}")
    threshold = _parsed(grammar.value, words[2] if len(words) > 2 else None)
    if threshold is None:
        shown = _shown(words[2] if len(words) > 2 else None)
        raise ValueError(f"expected a {grammar.noun}, got {shown}; try: {grammar.example}")

    band: float | None = None
    interval_s: int | None = None
    seen: set[str] = set()
    rest = iter(words[3:])
    for word in rest:
        if word in seen:
            raise ValueError(f"'{word}' is given twice; try: {grammar.example} repeat every 6h")
        seen.add(word)
        if word == "band":
            amount = next(rest, None)
            band = _parsed(grammar.band, amount)
            if band is None:
                raise ValueError(
                    f"band needs an amount in the unit of {metric}, got {_shown(amount)}; "
                    f"try: {grammar.example} band {grammar.band_example}"
                )
        elif word == "every":
            duration = next(rest, None)
            interval_s = _interval_s(duration)
            if interval_s is None:
                raise ValueError(
                    f"every needs a duration from 1m to 30d, got {_shown(duration)}; "
                    f"try: {grammar.example} every 6h"
                )
        elif word != "repeat":
            raise ValueError(
                f"unexpected '{word}' (options: band AMOUNT, repeat, every 6h); "
                f"try: {grammar.example} repeat every 6h"
            )
    return Rule(
        metric=metric,
        op=OPS[words[1]],
        threshold=threshold,
        band=default_band(metric, threshold) if band is None else band,
        repeat="repeat" in seen,
        min_interval_s=DEFAULT_MIN_INTERVAL_S if interval_s is None else interval_s,
    )


def _trim(number: str) -> str:
    return number.rstrip("0").rstrip(".") if "." in number else number


def format_amount(metric: Metric, value: float) -> str:
    """A value in the metric's unit, spelled so ``parse_rule`` reads it back: ``$60,000``, ``+5%``, ``25``."""
    if metric is Metric.PRICE:
        return f"${_trim(f'{value:,.2f}')}"
    if metric is Metric.HASHPRICE:
        return f"${_trim(f'{value:.2f}')}/PH/day"
    if metric is Metric.BREAKEVEN:
        return f"${_trim(f'{value:.5f}')}/kWh"
    if metric is Metric.STRESS:
        return _trim(f"{value:.2f}")
    sign = "+" if metric is Metric.DIFFICULTY and value > 0 else ""
    return f"{sign}{_trim(f'{value:.2f}')}%"


def _format_interval(seconds: int) -> str:
    for unit, size in (("d", 86_400), ("h", 3600)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds // 60}m"


def describe_rule(rule: Rule) -> str:
    """Canonical text of ``rule`` (``price below $60,000``); options appear only when not the default."""
    parts = [rule.metric.value, rule.op.value, format_amount(rule.metric, rule.threshold)]
    if rule.band != default_band(rule.metric, rule.threshold):
        parts += ["band", format_amount(rule.metric, rule.band).removeprefix("+")]
    if rule.repeat:
        parts.append("repeat")
    if rule.min_interval_s != DEFAULT_MIN_INTERVAL_S:
        parts += ["every", _format_interval(rule.min_interval_s)]
    return " ".join(parts)
