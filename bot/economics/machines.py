"""ASIC catalog and machine lookup (manufacturers' nameplate figures, stock mode; sources per row).

Efficiency ``j_per_th`` is ``power_w / hashrate_ths`` (W/TH = J/TH) when both are known, else the
catalog's quoted J/TH. A catalog machine without a published wall power is listed with its power
"unknown" and is never costed: ``parse_machine`` refuses it (``PowerUnknown``) and asks for the user's own
figures. The catalog text is ``bot/data/machines.csv`` (every row cites its source); parsing
and lookup here are pure, and the shipped catalog is read once through ``bot.data.load_machines``.
"""

from __future__ import annotations

import csv
import difflib
import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

MAKER_WORDS = ("avalonminer", "antminer", "bitmain", "whatsminer", "microbt", "avalon", "canaan")
"""Stripped from names before matching, longest first so "avalonminer" goes before "avalon"."""
MAX_MACHINE_HASHRATE_THS = 10_000.0
MAX_MACHINE_POWER_W = 50_000.0
MIN_PLAUSIBLE_J_PER_TH = 3.0
MAX_PLAUSIBLE_J_PER_TH = 200.0
"""Plausibility bounds for one machine: today's best hydro units are ≈ 10 J/TH and ≈ 1 PH/s at ≈ 11 kW;
an Antminer S9 (2016) is ≈ 98 J/TH."""

CATALOG_COLUMNS = ("name", "maker", "hashrate_ths", "power_w", "j_per_th", "year", "aliases", "source")

_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)"
_RATED = re.compile(
    rf"(?P<hashrate>{_NUMBER})\s*(?P<hashrate_unit>th|ph)(?:/s)?\s*@\s*(?P<power>{_NUMBER})\s*(?P<power_unit>k?w)",
    re.IGNORECASE,
)
_NAME_CHARACTER = re.compile(r"[A-Za-z0-9+\-_.\s]")
"""What a typed machine name may hold: the catalog's letters, digits and ``+``, and separators."""
_EFFICIENCY = re.compile(rf"(?P<j_per_th>{_NUMBER})\s*[jw]\s*/\s*th", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Machine:
    """A mining machine at nameplate: hashrate (TH/s), wall power (W) and efficiency (J/TH)."""

    name: str
    hashrate_ths: float | None
    power_w: float | None
    j_per_th: float
    year: int | None
    maker: str | None = None
    aliases: tuple[str, ...] = ()
    source: str | None = None
    """Where the nameplate figures come from (catalog rows); ``None`` for user-described machines."""

    @property
    def power_unknown(self) -> bool:
        """A catalog machine whose wall power is not published (it cannot be costed from the catalog)."""
        return self.source is not None and self.power_w is None


class PowerUnknown(ValueError):  # noqa: N818 (reads as the condition, like UnknownMachine)
    """A catalog machine was asked for money maths but its wall power is not published."""

    def __init__(self, machine: Machine) -> None:
        super().__init__(f"power of {machine.name} is unknown; give it as 200TH@3500W")
        self.machine = machine


class UnknownMachine(LookupError):  # noqa: N818 (public name fixed by the bot's API)
    """No catalog machine matches ``text``; ``suggestions`` holds the 3 closest catalog names and ``junk``
    the characters of ``text`` that no machine name has (``"✓"`` in ``"s19✓"``)."""

    def __init__(self, text: str, suggestions: tuple[str, ...], junk: str = "") -> None:
        refused = f" ({junk!r} is in no machine name)" if junk else ""
        super().__init__(f"unknown machine {text!r}{refused}; closest: {', '.join(suggestions)}")
        self.text = text
        self.suggestions = suggestions
        self.junk = junk


def normalise_machine_name(text: str) -> str:
    """Matching key: lower case, "plus" → "+", "hydro" → "hyd", maker names and non-alphanumerics removed.

    ``"Antminer S21 XP Hydro"``, ``"s21-xp-hyd"`` and ``"S21XPHyd"`` all give ``"s21xphyd"``.
    """
    key = text.lower().replace("plus", "+").replace("hydro", "hyd")
    for maker in MAKER_WORDS:
        key = key.replace(maker, "")
    return re.sub(r"[^a-z0-9+]", "", key)


def _check(quantity: str, value: float, unit: str, low: float, high: float) -> float:
    """``value`` if it is positive and within ``[low, high]``, else a ``ValueError`` naming it."""
    if not math.isfinite(value) or value <= 0 or not low <= value <= high:
        raise ValueError(
            f"{quantity} {value:g} {unit} is not plausible for one machine ({low:g}-{high:g} {unit})"
        )
    return value


def _check_hashrate_ths(value: float) -> float:
    return _check("hashrate", value, "TH/s", 0.0, MAX_MACHINE_HASHRATE_THS)


def _check_power_w(value: float) -> float:
    return _check("power", value, "W", 0.0, MAX_MACHINE_POWER_W)


def _check_j_per_th(value: float) -> float:
    return _check("efficiency", value, "J/TH", MIN_PLAUSIBLE_J_PER_TH, MAX_PLAUSIBLE_J_PER_TH)


def _optional_float(text: str) -> float | None:
    return float(text) if text.strip() else None


def parse_machines_csv(text: str) -> list[Machine]:
    """Parse the catalog CSV (columns ``CATALOG_COLUMNS``; ``aliases`` separated by ``;``).

    Each row needs hashrate and power, or a quoted ``j_per_th`` (the power is then unknown), and a source.
    Raises ``ValueError`` naming the line and the problem, including two machines sharing a matching key.
    """
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff")))
    missing = set(CATALOG_COLUMNS) - set(reader.fieldnames or ())
    if missing:
        raise ValueError(f"line 1: machine catalog lacks columns {sorted(missing)}")
    machines: list[Machine] = []
    owners: dict[str, str] = {}
    for record in reader:
        line = reader.line_num
        try:
            hashrate_ths = _optional_float(record["hashrate_ths"])
            power_w = _optional_float(record["power_w"])
            quoted_j_per_th = _optional_float(record["j_per_th"])
            if hashrate_ths is not None and power_w is not None:
                j_per_th = _check_power_w(power_w) / _check_hashrate_ths(hashrate_ths)
            elif quoted_j_per_th is not None:
                j_per_th = quoted_j_per_th
            else:
                raise ValueError("needs hashrate_ths and power_w, or j_per_th")
            if not record["source"].strip():
                raise ValueError("source is empty")
            machine = Machine(
                name=record["name"].strip(),
                hashrate_ths=hashrate_ths,
                power_w=power_w,
                j_per_th=_check_j_per_th(j_per_th),
                year=int(record["year"]) if record["year"].strip() else None,
                maker=record["maker"].strip() or None,
                aliases=tuple(alias.strip() for alias in record["aliases"].split(";") if alias.strip()),
                source=record["source"].strip(),
            )
        except ValueError as error:
            raise ValueError(f"line {line}: {error}") from None
        for key in {normalise_machine_name(name) for name in (machine.name, *machine.aliases)}:
            if key in owners:
                raise ValueError(f"line {line}: {machine.name!r} and {owners[key]!r} both match {key!r}")
            owners[key] = machine.name
        machines.append(machine)
    return machines


def _catalog(catalog: Sequence[Machine] | None) -> Sequence[Machine]:
    if catalog is not None:
        return catalog
    from bot.data import load_machines  # deferred: bot.data imports this module to parse the catalog

    return load_machines()


def list_machines(catalog: Sequence[Machine] | None = None) -> list[Machine]:
    """The catalog (default: the shipped one), most efficient first (ascending J/TH, then name)."""
    return sorted(_catalog(catalog), key=lambda machine: (machine.j_per_th, machine.name))


def closest_machine_names(text: str, catalog: Sequence[Machine] | None = None) -> tuple[str, ...]:
    """The 3 catalog names closest to ``text`` by ``difflib`` ratio of their matching keys."""
    key = normalise_machine_name(text)
    scored: list[tuple[float, str]] = []
    for machine in _catalog(catalog):
        keys = [normalise_machine_name(name) for name in (machine.name, *machine.aliases)]
        scored.append((max(difflib.SequenceMatcher(None, key, k).ratio() for k in keys), machine.name))
    scored.sort(key=lambda item: -item[0])
    return tuple(name for _, name in scored[:3])


def find_machine(text: str, catalog: Sequence[Machine] | None = None) -> Machine:
    """Catalog machine whose name or alias matches ``text`` after ``normalise_machine_name``.

    Only exact key matches resolve (a near miss could silently pick the wrong machine), and only from text
    whose every character may be in a name (``s19✓`` is not S19); otherwise raises ``UnknownMachine`` with
    the 3 closest catalog names and the refused characters.
    """
    junk = "".join(dict.fromkeys(char for char in text if not _NAME_CHARACTER.fullmatch(char)))
    key = normalise_machine_name(text)
    if key and not junk:
        for machine in _catalog(catalog):
            if key in {normalise_machine_name(name) for name in (machine.name, *machine.aliases)}:
                return machine
    raise UnknownMachine(text, closest_machine_names(text, catalog), junk)


def parse_machine(text: str, catalog: Sequence[Machine] | None = None) -> Machine:
    """A catalog machine, or a custom one: ``200TH@3500W``, ``0.2 PH/s @ 3.5 kW`` or ``17.5J/TH``.

    Units are case-insensitive and blanks are allowed. ``17.5J/TH`` describes efficiency only (hashrate and
    power ``None``). Zero, negative or implausible values raise ``ValueError`` naming the value; a catalog
    machine whose power is unknown raises ``PowerUnknown`` (a ``ValueError``) asking for the user's figures.
    """
    stripped = text.strip()
    try:
        custom = _parse_custom(stripped)
    except ValueError as error:
        raise ValueError(f"{text!r}: {error}") from None
    if custom is not None:
        return custom
    machine = find_machine(stripped, catalog)
    if machine.power_unknown:
        raise PowerUnknown(machine)
    return machine


def _parse_custom(stripped: str) -> Machine | None:
    rated = _RATED.fullmatch(stripped)
    if rated is not None:
        hashrate_ths = float(rated["hashrate"]) * (1000.0 if rated["hashrate_unit"].lower() == "ph" else 1.0)
        power_w = float(rated["power"]) * (1000.0 if rated["power_unit"].lower() == "kw" else 1.0)
        _check_hashrate_ths(hashrate_ths)
        _check_power_w(power_w)
        return Machine(
            name=f"custom {hashrate_ths:g} TH/s @ {power_w:g} W",
            hashrate_ths=hashrate_ths,
            power_w=power_w,
            j_per_th=_check_j_per_th(power_w / hashrate_ths),
            year=None,
        )
    efficiency = _EFFICIENCY.fullmatch(stripped)
    if efficiency is not None:
        j_per_th = _check_j_per_th(float(efficiency["j_per_th"]))
        return Machine(
            name=f"custom {j_per_th:g} J/TH", hashrate_ths=None, power_w=None, j_per_th=j_per_th, year=None
        )
    return None
