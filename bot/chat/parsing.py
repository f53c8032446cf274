"""The forgiving grammar of what people type: machines, efficiencies, power prices, BTC prices, percentages.

Shared by the CLI and the chat handlers so ``s19 5.5c`` means the same everywhere. Each parser returns a
value in the unit of its name or raises ``ValueError`` with a one-line message that names the value and
shows a correct example; machine and power-price mistakes are ``ArgumentError``s, which chats render in
their own language. A value typed without its unit (``1``, ``21.5``, ``200@3500``) comes back with a
``Reading`` that says how it was read, so every reply can echo it.

Power prices: ``$0.06``, ``0.06/kWh`` are dollars per kWh; ``6c``, ``6¢``, ``6 cents`` are cents. A bare
number is dollars when it is below 1 (``0.06``, ``.06``) and cents from 1 up (``6``, ``5.5``), since
nobody mines at $6/kWh; either reading is echoed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from bot.economics.fleet import Period, Tariff
from bot.economics.machines import Machine, PowerUnknown, UnknownMachine, closest_machine_names, parse_machine
from bot.render.i18n import t

MAX_POWER_USD_PER_KWH = 5.0
MIN_PRICE_USD = 100.0
MAX_PRICE_USD = 10_000_000.0

_NUMBER = r"[0-9]+(?:[.,][0-9]+)?|[.,][0-9]+"
_POWER_RE = re.compile(
    rf"^\$?(?P<num>{_NUMBER})\s*(?P<unit>c|¢|cents?|/kwh|\$/kwh|usd/kwh|c/kwh|¢/kwh)?$", re.IGNORECASE
)
_PRICE_RE = re.compile(rf"^\$?(?P<num>{_NUMBER})\s*(?P<suffix>k|m)?$", re.IGNORECASE)
_PERCENT_RE = re.compile(rf"^(?P<num>-?(?:{_NUMBER}))\s*%?$")


ReadingKind = Literal["usd_per_kwh", "cents_per_kwh", "j_per_th", "th_at_w"]


@dataclass(frozen=True, slots=True)
class Reading:
    """How a value typed without its unit was read: ``1`` as 1¢/kWh, ``21.5`` as 21.5 J/TH.

    ``value`` is in $/kWh for the power kinds and J/TH for the machine kinds; ``th_at_w`` also keeps the
    hashrate and power it was given.
    """

    typed: str
    kind: ReadingKind
    value: float
    hashrate_ths: float | None = None
    power_w: float | None = None


class ArgumentError(ValueError):
    """A typed value the grammar refuses, as a message-catalog ``key`` and its ``fields``.

    Chats render it in their language (``bot.render.i18n``); ``str()`` is the English text the CLI prints.
    """

    def __init__(self, key: str, **fields: str) -> None:
        super().__init__(t("en", key, **fields))
        self.key = key
        self.fields = fields


@dataclass(frozen=True, slots=True)
class MachineArguments:
    """What ``MACHINE [POWER]`` held: each part ``None`` when not typed, and how bare values were read."""

    machine: Machine | None
    power_usd_per_kwh: float | None
    readings: tuple[Reading, ...]


def _to_float(text: str) -> float:
    return float(text.replace(",", "."))


def read_power_usd_per_kwh(text: str) -> tuple[float, Reading | None]:
    """``0.055``, ``$0.055``, ``5.5c``, ``5.5¢`` or ``0.055/kWh`` -> 0.055 $/kWh, with the ``Reading`` of a
    bare number (below 1: dollars; 1 or more: cents) or ``None`` when the unit was typed.

    Raises ``ArgumentError`` (``error.bad_power``) for anything else, zero, negative or above $5/kWh.
    """
    cleaned = text.strip().replace(" ", "")
    match = _POWER_RE.match(cleaned)
    if not match:
        raise ArgumentError("error.bad_power", text=text.strip())
    value = _to_float(match["num"])
    unit = (match["unit"] or "").lower()
    in_cents = unit.startswith(("c", "¢")) or (not unit and value >= 1)
    usd_per_kwh = value / 100 if in_cents else value
    if not math.isfinite(usd_per_kwh) or usd_per_kwh <= 0 or usd_per_kwh > MAX_POWER_USD_PER_KWH:
        raise ArgumentError("error.bad_power", text=text.strip())
    if unit or cleaned.startswith("$"):
        return usd_per_kwh, None
    return usd_per_kwh, Reading(cleaned, "cents_per_kwh" if in_cents else "usd_per_kwh", usd_per_kwh)


def parse_power_usd_per_kwh(text: str) -> float:
    """The power price of ``read_power_usd_per_kwh`` without its reading."""
    return read_power_usd_per_kwh(text)[0]


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


_BARE_J_PER_TH = re.compile(r"[-+]?(?:\d+(?:[.,]\d*)?|[.,]\d+)")
_TH_AT_W = re.compile(
    r"(?P<ths>\d+(?:\.\d+)?)\s*(?P<th>th(?:/s)?)?\s*@\s*(?P<w>\d+(?:\.\d+)?)\s*(?P<watt>w)?", re.IGNORECASE
)
_VALUE_LIKE = re.compile(r"^[-+$.,0-9¢]")
"""A token that starts like a number is never the tail of a machine name: it is the next argument."""
_DIGITS_APART = re.compile(r"\d\s+\d")
_UNIT_APART = re.compile(r"(?<=[0-9])\s+(c|¢|cents?|/kwh)(?=\s|$)", re.IGNORECASE)
"""A power unit typed apart from its number (``5 cents``), joined back to it."""
_POWER_ALONE = re.compile(
    r"\$[0-9.,]+(?:\s*/\s*kwh)?|[0-9.,]+\s*(?:[c¢]|cents?|/kwh)|0?[.,][0-9]+", re.IGNORECASE
)
"""A lone word that can only be a power price (a unit, or a number below 1: no machine is under 3 J/TH);
the machine is then the chat's own."""


def read_machine(text: str, catalog: Sequence[Machine] | None = None) -> tuple[Machine, Reading | None]:
    """A catalog name (``s19xp``), ``200TH@3500W``, ``17.5J/TH``, a bare J/TH (``21.5``) or ``TH@W``
    (``200@3500`` = 200 TH/s at 3,500 W), with the ``Reading`` of a value typed without units.

    Raises ``UnknownMachine`` (with the closest catalog names), ``PowerUnknown`` or ``ValueError``.
    """
    stripped = text.strip()
    if _BARE_J_PER_TH.fullmatch(stripped):
        machine = parse_machine(f"{_to_float(stripped)}J/TH")
        return machine, Reading(stripped, "j_per_th", machine.j_per_th)
    rated = _TH_AT_W.fullmatch(stripped)
    if rated and not (rated["th"] and rated["watt"]):
        machine = parse_machine(f"{rated['ths']}TH@{rated['w']}W")
        return machine, Reading(stripped, "th_at_w", machine.j_per_th, machine.hashrate_ths, machine.power_w)
    if _DIGITS_APART.search(stripped) and not re.search(r"[@/]", stripped):
        raise UnknownMachine(stripped, closest_machine_names(stripped, catalog))  # "a1 6" is not "A16"
    return parse_machine(stripped, catalog), None


def _machine_error(error: Exception, text: str) -> ArgumentError:
    """The catalog message for a machine ``read_machine`` refused."""
    if isinstance(error, UnknownMachine):
        closest = ", ".join(error.suggestions)
        if error.junk:
            return ArgumentError("error.machine_junk", text=error.text, junk=error.junk, closest=closest)
        return ArgumentError("error.unknown_machine", text=error.text, closest=closest)
    if isinstance(error, PowerUnknown):
        return ArgumentError("error.power_unknown", name=error.machine.name)
    return ArgumentError("error.bad_machine", text=text)


def parse_machine_arguments(text: str, catalog: Sequence[Machine] | None = None) -> MachineArguments:
    """``[MACHINE] [POWER]``: ``s19 xp 5.5c``, ``21.5 0.06``, ``200@3500 6c``, ``"S21 Pro" $0.06``, ``5c``.

    The machine is the longest run of leading words that names one; the words after it must start like a
    number and are the power price, so ``s19 -1`` is an error about the power price ``-1``, while
    ``s19 banana`` is an unknown machine. Raises ``ArgumentError``.
    """
    glued = _UNIT_APART.sub(r"\1", text.replace('"', " "))
    tokens = glued.split()
    if not tokens:
        return MachineArguments(None, None, ())
    if _POWER_ALONE.fullmatch(" ".join(tokens)):
        power, reading = read_power_usd_per_kwh(" ".join(tokens))
        return MachineArguments(None, power, () if reading is None else (reading,))
    shortest = len(tokens)
    while shortest > 1 and _VALUE_LIKE.match(tokens[shortest - 1]):
        shortest -= 1
    for end in range(len(tokens), shortest, -1):
        machine_text = " ".join(tokens[:end])
        try:
            machine, reading = read_machine(machine_text, catalog)
        except UnknownMachine:
            continue  # the last words may be the power price: try the name without them
        except ValueError as error:
            raise _machine_error(error, machine_text) from None
        return _with_power(machine, reading, tokens[end:])
    machine_text = " ".join(tokens[:shortest])
    try:
        machine, reading = read_machine(machine_text, catalog)
    except (UnknownMachine, ValueError) as error:
        raise _machine_error(error, machine_text) from None
    return _with_power(machine, reading, tokens[shortest:])


def _with_power(machine: Machine, reading: Reading | None, rest: list[str]) -> MachineArguments:
    readings = () if reading is None else (reading,)
    if not rest:
        return MachineArguments(machine, None, readings)
    if len(rest) > 1:
        raise ArgumentError("error.extra_arguments", machine=machine.name, rest=" ".join(rest))
    power, power_reading = read_power_usd_per_kwh(rest[0])
    return MachineArguments(machine, power, readings if power_reading is None else (*readings, power_reading))


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
